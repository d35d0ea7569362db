/**
 * tf.layers (NHWC, Keras configs) -> the exporter's NCHW intermediate form.
 *
 * Every supported layer class maps to one IR operation with its weights transposed to ONNX layout;
 * anything else is an UNSUPPORTED_LAYER error naming the layer and its class, raised before any
 * output is written. Dropout-like layers are identities: they only act while training, and tfjs
 * itself skips them in `predict`, so dropping them changes no output.
 */
import { TintaError, ErrorCodes } from '../sdk/errors.ts';
import type { LayerGraph, LayerSpec, LayerWeight } from './layer-graph.ts';
import type { Activation, IrGraph, IrNode, IrOp } from './ir.ts';

/** Layer classes that do nothing at inference time and are exported as identities. */
export const INFERENCE_IDENTITY_LAYERS: ReadonlySet<string> = new Set(['Dropout', 'SpatialDropout1D', 'SpatialDropout2D', 'GaussianNoise', 'GaussianDropout', 'AlphaDropout']);

/** Layer classes the exporter translates. */
export const SUPPORTED_LAYERS: readonly string[] = [
  'InputLayer', 'Conv2D', 'Conv2DTranspose', 'Dense', 'BatchNormalization', 'UpSampling2D', 'Concatenate',
  'TintaSpatialTile', 'Activation', 'ReLU', 'Softmax', 'Add', ...INFERENCE_IDENTITY_LAYERS,
];

/** What lowering found besides the graph. */
export interface LowerResult {
  graph: IrGraph;
  /** Layers exported as identities (Dropout and friends). */
  identityLayers: string[];
}

function unsupported(layer: LayerSpec, why: string): TintaError {
  return new TintaError(ErrorCodes.UNSUPPORTED_LAYER, `Layer "${layer.name}" (${layer.className}) cannot be exported to ONNX: ${why}.`, {
    details: { layer: layer.name, className: layer.className },
  });
}

function pair(v: unknown, fallback: number): [number, number] {
  if (typeof v === 'number') return [v, v];
  if (Array.isArray(v) && v.length === 2 && v.every((x) => typeof x === 'number')) return [v[0] as number, v[1] as number];
  return [fallback, fallback];
}

function activationOf(layer: LayerSpec, raw: unknown): Activation | null {
  const name = raw == null ? 'linear' : String(raw);
  switch (name) {
    case 'linear': return null;
    case 'relu': case 'relu6': case 'sigmoid': case 'tanh': case 'softmax': return name;
    default: throw unsupported(layer, `activation "${name}" is not supported (use relu, relu6, sigmoid, tanh, softmax or linear)`);
  }
}

function weight(layer: LayerSpec, short: string, shape?: number[]): LayerWeight {
  const w = layer.weights.get(short);
  if (!w) throw new TintaError(ErrorCodes.CHECKPOINT_INVALID, `Layer "${layer.name}" (${layer.className}) has no "${short}" weight.`, { details: { layer: layer.name } });
  const n = w.shape.reduce((a, b) => a * b, 1);
  if (n !== w.data.length || (shape && w.shape.join('x') !== shape.join('x'))) {
    throw new TintaError(ErrorCodes.CHECKPOINT_INVALID, `Weight "${layer.name}/${short}" has shape [${w.shape}] (${w.data.length} values)${shape ? `, expected [${shape}]` : ''}.`, { details: { layer: layer.name } });
  }
  return w;
}

function channelsLast(layer: LayerSpec): void {
  const f = layer.config.data_format;
  if (f !== undefined && f !== null && f !== 'channels_last') throw unsupported(layer, `data_format "${String(f)}" (only channels_last)`);
}

/** NHWC axis (possibly negative) -> NCHW axis, for a tensor of `rank`. */
export function toNchwAxis(axis: number, rank: number): number {
  const a = axis < 0 ? axis + rank : axis;
  if (rank === 2) return a;
  return [0, 2, 3, 1][a] ?? -1;
}

// tf 'same' padding for an input size divisible by the stride (guaranteed by the model's spatial
// multiple): total = max(k_eff - s, 0), the odd pixel going to the end.
function samePads(k: [number, number], d: [number, number], s: [number, number]): [number, number, number, number] {
  const tot = [0, 1].map((i) => Math.max((k[i]! - 1) * d[i]! + 1 - s[i]!, 0));
  return [Math.floor(tot[0]! / 2), Math.floor(tot[1]! / 2), tot[0]! - Math.floor(tot[0]! / 2), tot[1]! - Math.floor(tot[1]! / 2)];
}

function lowerConv(layer: LayerSpec, x: IrNode): { op: IrOp; channels: number; stride: number } {
  channelsLast(layer);
  if (x.rank !== 4) throw unsupported(layer, 'its input is not a feature map');
  const transpose = layer.className === 'Conv2DTranspose';
  const k = pair(layer.config.kernel_size, 1);
  const s = pair(layer.config.strides, 1);
  const d = pair(layer.config.dilation_rate, 1);
  const padding = layer.config.padding ?? 'valid';
  if (padding !== 'same' && padding !== 'valid') throw unsupported(layer, `padding "${String(padding)}"`);
  if (transpose && (d[0] !== 1 || d[1] !== 1)) throw unsupported(layer, 'dilated transposed convolution');
  // One stride per layer keeps the output stride (hence the metadata) a single number.
  if (s[0] !== s[1]) throw unsupported(layer, `unequal strides [${s}]`);
  // Then tf's output size in*s needs no output_padding.
  if (transpose && s[0] > k[0]) throw unsupported(layer, 'a stride larger than the kernel');
  const filters = Number(layer.config.filters);
  const cin = x.channels;
  // tfjs kernels: Conv2D [kh, kw, cin, cout], Conv2DTranspose [kh, kw, cout, cin].
  const kw = weight(layer, 'kernel', transpose ? [k[0], k[1], filters, cin] : [k[0], k[1], cin, filters]);
  const bias = layer.config.use_bias === false ? new Float32Array(filters) : Float32Array.from(weight(layer, 'bias', [filters]).data);
  const [kh, kwid] = k;
  const out = new Float32Array(kw.data.length);
  // ONNX: Conv [cout, cin, kh, kw]; ConvTranspose [cin, cout, kh, kw]. Both read element
  // (y, x, a, b) of the tfjs kernel, where (a, b) is (cin, cout) or (cout, cin) respectively.
  const [A, B] = transpose ? [filters, cin] : [cin, filters];
  for (let y = 0; y < kh; y++) {
    for (let xx = 0; xx < kwid; xx++) {
      for (let a = 0; a < A; a++) {
        for (let b = 0; b < B; b++) {
          const src = ((y * kwid + xx) * A + a) * B + b;
          out[((b * A + a) * kh + y) * kwid + xx] = kw.data[src]!;
        }
      }
    }
  }
  const pads = padding === 'same' ? samePads(k, d, s) : [0, 0, 0, 0] as [number, number, number, number];
  const op: IrOp = {
    kind: 'conv',
    transpose,
    weight: out,
    weightShape: [B, A, kh, kwid],
    bias,
    strides: s,
    pads,
    dilations: d,
    activation: activationOf(layer, layer.config.activation),
  };
  const stride = transpose ? x.stride / s[0] : x.stride * s[0];
  return { op, channels: filters, stride };
}

function lowerBatchNorm(layer: LayerSpec, x: IrNode): IrOp {
  const axis = Number(layer.config.axis ?? -1);
  if (toNchwAxis(axis, x.rank) !== 1) throw unsupported(layer, `normalisation over axis ${axis} (only the channel axis)`);
  const c = x.channels;
  const eps = Number(layer.config.epsilon ?? 1e-3);
  const mean = weight(layer, 'moving_mean', [c]).data;
  const variance = weight(layer, 'moving_variance', [c]).data;
  const gamma = layer.config.scale === false ? null : weight(layer, 'gamma', [c]).data;
  const beta = layer.config.center === false ? null : weight(layer, 'beta', [c]).data;
  const scale = new Float32Array(c);
  const shift = new Float32Array(c);
  // In double precision, so the only rounding is the final one to float32.
  for (let i = 0; i < c; i++) {
    const s = (gamma ? gamma[i]! : 1) / Math.sqrt(variance[i]! + eps);
    scale[i] = s;
    shift[i] = (beta ? beta[i]! : 0) - mean[i]! * s;
  }
  return { kind: 'affine', scale, shift };
}

/** Lower a layer graph to the NCHW intermediate form (weights copied, never shared with the input). */
export function lowerLayerGraph(lg: LayerGraph): LowerResult {
  const nodes: IrNode[] = [];
  const byId = new Map<string, IrNode>();
  // Layer name -> id of the IR node holding its output (identities alias their input).
  const alias = new Map<string, string>();
  const identityLayers: string[] = [];
  const inputOf = (layer: LayerSpec, i: number): IrNode => {
    const src = layer.inbound[i];
    const id = src === undefined ? undefined : alias.get(src);
    const n = id === undefined ? undefined : byId.get(id);
    if (!n) throw new TintaError(ErrorCodes.CHECKPOINT_INVALID, `Layer "${layer.name}" reads "${String(src)}", which is not defined before it.`, { details: { layer: layer.name } });
    return n;
  };
  const add = (layer: LayerSpec, op: IrOp, inputs: IrNode[], rank: 2 | 4, channels: number, stride: number) => {
    const node: IrNode = { id: layer.name, op, inputs: inputs.map((n) => n.id), rank, channels, stride };
    nodes.push(node);
    byId.set(node.id, node);
    alias.set(layer.name, node.id);
  };
  for (const layer of lg.layers) {
    const cls = layer.className;
    const arity = (n: number) => {
      if (layer.inbound.length !== n) throw unsupported(layer, `it has ${layer.inbound.length} inputs where ${n} are expected`);
    };
    switch (cls) {
      case 'InputLayer': {
        const shape = (layer.config.batch_input_shape ?? layer.config.batchInputShape) as (number | null)[] | undefined;
        if (!Array.isArray(shape) || (shape.length !== 4 && shape.length !== 2)) throw unsupported(layer, `input shape [${String(shape)}] (only [N,H,W,C] images and [N,D] vectors)`);
        const ch = shape[shape.length - 1];
        if (typeof ch !== 'number') throw unsupported(layer, 'its channel count is not fixed');
        add(layer, { kind: 'input' }, [], shape.length as 2 | 4, ch, 1);
        break;
      }
      case 'Conv2D':
      case 'Conv2DTranspose': {
        arity(1);
        const x = inputOf(layer, 0);
        const { op, channels, stride } = lowerConv(layer, x);
        add(layer, op, [x], 4, channels, stride);
        break;
      }
      case 'Dense': {
        arity(1);
        const x = inputOf(layer, 0);
        if (x.rank !== 2) throw unsupported(layer, 'Dense on a feature map (only on [N, D] vectors)');
        const units = Number(layer.config.units);
        const w = weight(layer, 'kernel', [x.channels, units]);
        const bias = layer.config.use_bias === false ? new Float32Array(units) : Float32Array.from(weight(layer, 'bias', [units]).data);
        add(layer, { kind: 'gemm', weight: Float32Array.from(w.data), weightShape: [x.channels, units], bias, activation: activationOf(layer, layer.config.activation) }, [x], 2, units, 1);
        break;
      }
      case 'BatchNormalization': {
        arity(1);
        const x = inputOf(layer, 0);
        add(layer, lowerBatchNorm(layer, x), [x], x.rank, x.channels, x.stride);
        break;
      }
      case 'UpSampling2D': {
        arity(1);
        channelsLast(layer);
        const x = inputOf(layer, 0);
        if (x.rank !== 4) throw unsupported(layer, 'its input is not a feature map');
        const f = pair(layer.config.size, 2);
        const interp = layer.config.interpolation ?? 'nearest';
        if (interp !== 'nearest' && interp !== 'bilinear') throw unsupported(layer, `interpolation "${String(interp)}"`);
        if (f[0] !== f[1]) throw unsupported(layer, `unequal factors [${f}]`);
        add(layer, { kind: 'resize', mode: interp === 'nearest' ? 'nearest' : 'linear', factors: f }, [x], 4, x.channels, x.stride / f[0]);
        break;
      }
      case 'Concatenate': {
        if (layer.inbound.length < 2) throw unsupported(layer, 'fewer than 2 inputs');
        const xs = layer.inbound.map((_, i) => inputOf(layer, i));
        const rank = xs[0]!.rank;
        if (xs.some((x) => x.rank !== rank)) throw unsupported(layer, 'inputs of different ranks');
        const axis = toNchwAxis(Number(layer.config.axis ?? -1), rank);
        if (axis < 1) throw unsupported(layer, `concatenation over axis ${String(layer.config.axis)}`);
        const channels = axis === 1 ? xs.reduce((a, x) => a + x.channels, 0) : xs[0]!.channels;
        add(layer, { kind: 'concat', axis }, xs, rank, channels, xs[0]!.stride);
        break;
      }
      case 'TintaSpatialTile': {
        arity(2);
        const feat = inputOf(layer, 0), vec = inputOf(layer, 1);
        if (feat.rank !== 4 || vec.rank !== 2) throw unsupported(layer, 'it needs a feature map and a vector');
        add(layer, { kind: 'tile' }, [feat, vec], 4, vec.channels, feat.stride);
        break;
      }
      case 'Activation':
      case 'ReLU':
      case 'Softmax': {
        arity(1);
        const x = inputOf(layer, 0);
        let act: Activation | null;
        let axis = 1;
        if (cls === 'Activation') act = activationOf(layer, layer.config.activation);
        else if (cls === 'Softmax') {
          act = 'softmax';
          axis = toNchwAxis(Number(layer.config.axis ?? -1), x.rank);
        } else {
          const max = layer.config.max_value;
          if (Number(layer.config.negative_slope ?? 0) !== 0 || Number(layer.config.threshold ?? 0) !== 0) throw unsupported(layer, 'leaky or thresholded ReLU');
          if (max != null && max !== 6) throw unsupported(layer, `max_value ${String(max)} (only 6 or none)`);
          act = max === 6 ? 'relu6' : 'relu';
        }
        if (act === null) {
          alias.set(layer.name, x.id);
          identityLayers.push(layer.name);
        } else {
          add(layer, { kind: 'activation', activation: act, axis }, [x], x.rank, x.channels, x.stride);
        }
        break;
      }
      case 'Add': {
        if (layer.inbound.length < 2) throw unsupported(layer, 'fewer than 2 inputs');
        const xs = layer.inbound.map((_, i) => inputOf(layer, i));
        if (xs.some((x) => x.rank !== xs[0]!.rank || x.channels !== xs[0]!.channels)) throw unsupported(layer, 'inputs of different shapes');
        add(layer, { kind: 'add' }, xs, xs[0]!.rank, xs[0]!.channels, xs[0]!.stride);
        break;
      }
      default: {
        if (INFERENCE_IDENTITY_LAYERS.has(cls)) {
          arity(1);
          alias.set(layer.name, inputOf(layer, 0).id);
          identityLayers.push(layer.name);
          break;
        }
        throw unsupported(layer, `the class is not supported (supported: ${SUPPORTED_LAYERS.join(', ')})`);
      }
    }
  }
  const resolve = (name: string, what: string) => {
    const id = alias.get(name);
    if (id === undefined) throw new TintaError(ErrorCodes.CHECKPOINT_INVALID, `The model's ${what} "${name}" is not one of its layers.`);
    return id;
  };
  if (lg.outputs.length !== 1) throw new TintaError(ErrorCodes.EXPORT_FAILED, `A tinta model has one output; this one has ${lg.outputs.length}.`);
  return {
    graph: { name: lg.name, nodes, inputs: lg.inputs.map((n) => resolve(n, 'input')), output: resolve(lg.outputs[0]!, 'output') },
    identityLayers,
  };
}
