/**
 * Opset reconciliation for merging two graphs: a node written for default-domain opset `from`
 * must mean the same at opset `to`. Each op's history after opset 11 is listed here: versions that
 * only added types, or attributes whose defaults keep the old behaviour, are compatible; the
 * others are converted (Squeeze, Unsqueeze, the Reduce ops and Split take their attribute as an input, old
 * Softmax is flattened to 2-D, inference Dropout becomes Identity, ...) or refused. An op this
 * table does not know is refused too, rather than guessed at. Other domains (com.microsoft, ...)
 * keep their own opset versions and are not touched.
 */
import { TintaError, ErrorCodes } from '../sdk/errors.ts';
import { GraphBuilder, type OnnxGraph, type OnnxNode, type OnnxAttribute } from './onnx/model.ts';

/** The lowest default-domain opset whose ops this module knows the history of. */
export const OLDEST_CONVERTIBLE_OPSET = 11;

/** What `reconcileOpset` changed. */
export interface OpsetReport {
  from: number;
  to: number;
  /** Nodes rewritten, as 'OpType@version: how'. */
  converted: string[];
}

// How one node is rewritten for the newer opset: the nodes that replace it.
type Convert = (n: OnnxNode, b: GraphBuilder) => OnnxNode[];

interface Change {
  /** The opset version that changed the op. */
  since: number;
  /** What changed, for messages. */
  what: string;
  /** Rewrites the node; absent: the change cannot be converted (the node is refused). */
  convert?: Convert;
  /** Whether the change matters for this node (default: always). */
  applies?: (n: OnnxNode) => boolean;
}

function intsOf(a: OnnxAttribute | undefined): bigint[] | undefined {
  return a?.type === 'ints' ? a.value.map((v) => BigInt(v)) : undefined;
}

function without(attrs: Record<string, OnnxAttribute>, key: string): Record<string, OnnxAttribute> {
  const out = { ...attrs };
  delete out[key];
  return out;
}

// An INTS attribute becomes an int64 initializer given as input `index` (inputs before it padded with '').
function attributeToInput(attr: string, index: number): Convert {
  return (n, b) => {
    const values = intsOf(n.attrs[attr]);
    if (values === undefined) return [n];
    const init = b.addInitializer(b.uniqueName(`${n.name || n.opType}.${attr}`), BigInt64Array.from(values), [values.length]);
    const inputs = [...n.inputs];
    while (inputs.length < index) inputs.push('');
    inputs[index] = init;
    return [{ ...n, inputs, attrs: without(n.attrs, attr) }];
  };
}

// The change that turned attribute `attr` into input 1 (only nodes that set it need rewriting).
function becameInput(since: number, attr: string): Change {
  return { since, what: `${attr} became an input`, convert: attributeToInput(attr, 1), applies: (n) => n.attrs[attr] !== undefined };
}

// Softmax before 13 flattened its input to 2-D at `axis` (default 1) and normalised the second
// dimension; Flatten -> Softmax(axis 1) -> Reshape back to the input's shape is exactly that.
const flattenSoftmax: Convert = (n, b): OnnxNode[] => {
  const a = n.attrs.axis;
  const axis = a?.type === 'int' ? a.value : 1;
  const base = n.name || n.opType;
  const flat = b.uniqueName(`${base}/flat`), soft = b.uniqueName(`${base}/2d`), shape = b.uniqueName(`${base}/shape`);
  const [x] = n.inputs as [string];
  const [y] = n.outputs as [string];
  return [
    { opType: 'Flatten', inputs: [x], outputs: [flat], name: b.uniqueName(`${base}/flatten`), attrs: { axis: { type: 'int', value: axis } } },
    { ...n, inputs: [flat], outputs: [soft], attrs: { axis: { type: 'int', value: 1 } } },
    { opType: 'Shape', inputs: [x], outputs: [shape], name: b.uniqueName(`${base}/input_shape`), attrs: {} as Record<string, OnnxAttribute> },
    { opType: 'Reshape', inputs: [soft, shape], outputs: [y], name: b.uniqueName(`${base}/reshape`), attrs: {} as Record<string, OnnxAttribute> },
  ];
};

// At inference Dropout passes its input through; only its optional mask output would need more.
const dropoutToIdentity: Convert = (n) => [{ opType: 'Identity', inputs: [n.inputs[0]!], outputs: [n.outputs[0]!], ...(n.name ? { name: n.name } : {}), attrs: {} }];

// Flattening at the last axis changes nothing: old and new Softmax agree there.
const notLastAxis = (n: OnnxNode) => !(n.attrs.axis?.type === 'int' && n.attrs.axis.value === -1);
const hasMaskOutput = (n: OnnxNode) => (n.outputs[1] ?? '') !== '';
const stringAttr = (n: OnnxNode, key: string) => {
  const a = n.attrs[key];
  return a?.type === 'string' ? (typeof a.value === 'string' ? a.value : new TextDecoder().decode(a.value)) : undefined;
};

const REDUCE_18 = ['ReduceMean', 'ReduceMax', 'ReduceMin', 'ReduceProd', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceSumSquare'];

/** Default-domain ops whose meaning or signature changed after opset 11, by version. */
const CHANGES: Readonly<Record<string, readonly Change[]>> = Object.freeze({
  Dropout: [{ since: 12, what: 'ratio became an input (inference Dropout is an identity)', convert: dropoutToIdentity, applies: (n) => !hasMaskOutput(n) }, { since: 12, what: 'ratio became an input; its mask output is used', applies: hasMaskOutput }],
  Squeeze: [becameInput(13, 'axes')],
  Unsqueeze: [becameInput(13, 'axes')],
  ReduceSum: [becameInput(13, 'axes')],
  Split: [
    becameInput(13, 'split'),
    {
      since: 18,
      what: 'an equal split needs num_outputs',
      // The old equal split needed a divisible axis, where num_outputs splits the same way.
      convert: (n) => [{ ...n, attrs: { ...n.attrs, num_outputs: { type: 'int', value: n.outputs.length } } }],
      applies: (n) => n.attrs.split === undefined && (n.inputs[1] ?? '') === '' && n.attrs.num_outputs === undefined,
    },
  ],
  Softmax: [{ since: 13, what: 'no longer flattens its input to 2-D', convert: flattenSoftmax, applies: notLastAxis }],
  LogSoftmax: [{ since: 13, what: 'no longer flattens its input to 2-D', convert: flattenSoftmax, applies: notLastAxis }],
  Hardmax: [{ since: 13, what: 'no longer flattens its input to 2-D', convert: flattenSoftmax, applies: notLastAxis }],
  Resize: [{ since: 13, what: "coordinate_transformation_mode 'tf_half_pixel_for_nn' was removed", applies: (n) => stringAttr(n, 'coordinate_transformation_mode') === 'tf_half_pixel_for_nn' }],
  BatchNormalization: [{ since: 14, what: 'the training-mode outputs changed', applies: (n) => n.outputs.slice(1).some((o) => o !== '') }],
  RoiAlign: [{
    since: 16,
    what: "coordinate_transformation_mode was added with default 'half_pixel'",
    convert: (n) => [{ ...n, attrs: { ...n.attrs, coordinate_transformation_mode: { type: 'string', value: 'output_half_pixel' } } }],
    applies: (n) => n.attrs.coordinate_transformation_mode === undefined,
  }],
  ...Object.fromEntries(REDUCE_18.map((op) => [op, [becameInput(18, 'axes')]])),
  GridSample: [{ since: 20, what: "modes were renamed ('bilinear' -> 'linear', 'bicubic' -> 'cubic')" }],
  DFT: [{ since: 20, what: 'axis became an input' }],
  GroupNormalization: [{ since: 21, what: 'scale and bias became per channel' }],
});

/**
 * Default-domain ops whose later versions (up to opset 26) only add types, or attributes whose
 * defaults keep the old behaviour.
 */
const COMPATIBLE: ReadonlySet<string> = new Set([
  'Abs', 'Acos', 'Acosh', 'Add', 'And', 'ArgMax', 'ArgMin', 'Asin', 'Asinh', 'Atan', 'Atanh', 'AveragePool',
  'BatchNormalization', 'BitShift', 'Cast', 'Ceil', 'Celu', 'Clip', 'Compress', 'Concat', 'Constant', 'ConstantOfShape',
  'Conv', 'ConvInteger', 'ConvTranspose', 'Cos', 'Cosh', 'CumSum', 'DepthToSpace', 'DequantizeLinear', 'Det', 'Div',
  'Dropout', 'DynamicQuantizeLinear', 'Einsum', 'Elu', 'Equal', 'Erf', 'Exp', 'Expand', 'EyeLike', 'Flatten', 'Floor',
  'GRU', 'Gather', 'GatherElements', 'GatherND', 'Gemm', 'GlobalAveragePool', 'GlobalLpPool', 'GlobalMaxPool', 'Greater',
  'GreaterOrEqual', 'HardSigmoid', 'HardSwish', 'Hardmax', 'Identity', 'If', 'InstanceNormalization', 'IsInf', 'IsNaN',
  'LRN', 'LSTM', 'LeakyRelu', 'Less', 'LessOrEqual', 'Log', 'LogSoftmax', 'Loop', 'LpNormalization', 'LpPool', 'MatMul',
  'MatMulInteger', 'Max', 'MaxPool', 'MaxRoiPool', 'MaxUnpool', 'Mean', 'MeanVarianceNormalization', 'Min', 'Mod', 'Mul',
  'Neg', 'NonMaxSuppression', 'NonZero', 'Not', 'OneHot', 'Or', 'PRelu', 'Pad', 'Pow', 'QLinearConv', 'QLinearMatMul',
  'QuantizeLinear', 'RNN', 'Range', 'Reciprocal', 'ReduceL1', 'ReduceL2', 'ReduceLogSum', 'ReduceLogSumExp', 'ReduceMax',
  'ReduceMean', 'ReduceMin', 'ReduceProd', 'ReduceSum', 'ReduceSumSquare', 'Relu', 'Reshape', 'Resize', 'ReverseSequence',
  'RoiAlign', 'Round', 'Scan', 'ScatterElements', 'ScatterND', 'Selu', 'Shape', 'Shrink', 'Sigmoid', 'Sign', 'Sin', 'Sinh',
  'Size', 'Slice', 'Softmax', 'Softplus', 'Softsign', 'SpaceToDepth', 'Split', 'Sqrt', 'Squeeze', 'Sub', 'Sum', 'Tan',
  'Tanh', 'ThresholdedRelu', 'Tile', 'TopK', 'Transpose', 'Trilu', 'Unique', 'Unsqueeze', 'Where', 'Xor',
]);

const isDefaultDomain = (n: OnnxNode) => !n.domain || n.domain === 'ai.onnx';

function label(n: OnnxNode): string {
  return n.name ? `'${n.name}' (${n.opType})` : n.opType;
}

/**
 * Rewrites the default-domain nodes of `graph` (and of its subgraphs) written for opset `from` so
 * that they mean the same at opset `to`; new constants go into `graph`'s initializers. FUSE_FAILED
 * lists every node that cannot be carried over, with the reason.
 */
export function reconcileOpset(graph: OnnxGraph, from: number, to: number, what: string): OpsetReport {
  const report: OpsetReport = { from, to, converted: [] };
  if (from === to) return report;
  if (from > to) throw new TintaError(ErrorCodes.FUSE_FAILED, `internal: cannot lower ${what} from opset ${from} to ${to}.`);
  if (from < OLDEST_CONVERTIBLE_OPSET) {
    throw new TintaError(ErrorCodes.FUSE_FAILED, `${what} is opset ${from}; tinta carries graphs over from opset ${OLDEST_CONVERTIBLE_OPSET} or later. Convert it to opset ${OLDEST_CONVERTIBLE_OPSET}+ first (e.g. with onnx's version_converter).`);
  }
  const b = new GraphBuilder(graph);
  const problems: string[] = [];
  const visit = (g: OnnxGraph) => {
    const out: OnnxNode[] = [];
    for (const n of g.nodes) {
      for (const a of Object.values(n.attrs)) {
        if (a.type === 'graph') visit(a.value);
        else if (a.type === 'graphs') a.value.forEach(visit);
      }
      if (!isDefaultDomain(n)) {
        out.push(n);
        continue;
      }
      const changes = (CHANGES[n.opType] ?? []).filter((c) => c.since > from && c.since <= to && (c.applies?.(n) ?? true));
      if (!COMPATIBLE.has(n.opType) && !CHANGES[n.opType]) {
        problems.push(`${label(n)}: not an op tinta knows the history of from opset ${from} to ${to}`);
        out.push(n);
        continue;
      }
      let nodes = [n];
      for (const c of changes) {
        if (!c.convert) {
          problems.push(`${label(n)}: ${c.what} in opset ${c.since}`);
          break;
        }
        nodes = nodes.flatMap((m) => (m.opType === n.opType ? c.convert!(m, b) : [m]));
        report.converted.push(`${label(n)}@${c.since}: ${c.what}`);
      }
      out.push(...nodes);
    }
    g.nodes = out;
  };
  visit(graph);
  if (problems.length) {
    throw new TintaError(
      ErrorCodes.FUSE_FAILED,
      `${what} is opset ${from} and has to run at opset ${to}, but ${problems.length} node${problems.length === 1 ? '' : 's'} cannot be carried over:\n  ${problems.join('\n  ')}`,
      { details: { from, to, problems } },
    );
  }
  return report;
}
