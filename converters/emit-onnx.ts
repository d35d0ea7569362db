/**
 * The intermediate form -> an ONNX graph, NCHW end to end (no Transpose nodes): the image input
 * is `L` [N, C, H, W] with H and W dynamic, the vector input `embedding` [N, D], and the single
 * output `logits` (or `probs` when the network ends in a softmax) [N, Q, H/s, W/s].
 */
import { TintaError, ErrorCodes } from '../sdk/errors.ts';
import { DataType, GraphBuilder, ints } from './onnx/model.ts';
import type { Activation, IrGraph, IrNode } from './ir.ts';

/** The graph plus the facts the metadata needs. */
export interface EmitResult {
  builder: GraphBuilder;
  imageInput: { name: string; channels: number };
  embeddingInput: { name: string; dim: number } | null;
  output: { name: string; kind: 'logits' | 'probs'; channels: number; stride: number };
  /** Input sizes must be multiples of this (the product of the strides on the deepest path). */
  spatialMultiple: number;
}

function failed(message: string): TintaError {
  return new TintaError(ErrorCodes.EXPORT_FAILED, message);
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/** Emit `g` as ONNX nodes for `opset` (13 or later). */
export function emitOnnx(g: IrGraph, opset: number): EmitResult {
  if (!(opset >= 13)) throw failed(`The exporter writes opset 13 or later; ${opset} was asked for.`);
  const b = new GraphBuilder({ name: g.name });
  const names = new Map<string, string>();
  const node = (id: string) => g.nodes.find((n) => n.id === id)!;

  const images = g.inputs.map(node).filter((n) => n.rank === 4);
  const vectors = g.inputs.map(node).filter((n) => n.rank === 2);
  if (images.length !== 1 || vectors.length > 1) {
    throw failed(`A tinta model takes one image input and at most one embedding vector; this one has ${images.length} image and ${vectors.length} vector inputs.`);
  }
  const img = images[0]!;
  const dimOf = (s: number, axis: 'H' | 'W') => (s === 1 ? axis : `${axis}/${s}`);
  names.set(img.id, b.addInput('L', DataType.FLOAT, ['N', img.channels, 'H', 'W']));
  const emb = vectors[0];
  if (emb) names.set(emb.id, b.addInput('embedding', DataType.FLOAT, ['N', emb.channels]));

  const out = node(g.output);
  if (out.rank !== 4) throw failed('The model output is not a feature map.');
  if (!(Number.isInteger(out.stride) && out.stride >= 1)) throw failed(`The output is at 1/${out.stride} of the input; tinta needs an integer stride >= 1.`);
  const endsInSoftmax = (out.op.kind === 'activation' || out.op.kind === 'conv') && out.op.activation === 'softmax';
  const outName = endsInSoftmax ? 'probs' : 'logits';
  b.addOutput(outName, DataType.FLOAT, ['N', out.channels, dimOf(out.stride, 'H'), dimOf(out.stride, 'W')]);

  let multiple = 1;
  for (const n of g.nodes) {
    // Every stride-s layer needs its input divisible by s: the lcm of the strides reached.
    if (n.rank === 4 && Number.isInteger(n.stride)) multiple = (multiple * n.stride) / gcd(multiple, n.stride);
  }

  const valueOf = (id: string) => {
    const v = names.get(id);
    if (v === undefined) throw failed(`internal: "${id}" used before it is defined`);
    return v;
  };
  const tmp = (id: string, what: string) => b.uniqueName(`${id}/${what}`);
  const channelShape = (n: IrNode) => (n.rank === 4 ? [1, n.channels, 1, 1] : [1, n.channels]);

  // The last op of a node writes to the node's final name; activations after a conv get their own.
  const activation = (x: string, act: Activation | null, axis: number, id: string, final: string): string => {
    if (act === null) return x;
    switch (act) {
      case 'relu': b.addNode({ opType: 'Relu', inputs: [x], outputs: [final], name: b.uniqueName(`${id}/relu`) }); break;
      case 'relu6': {
        const lo = b.addInitializer(b.uniqueName(`${id}.min`), new Float32Array([0]), []);
        const hi = b.addInitializer(b.uniqueName(`${id}.max`), new Float32Array([6]), []);
        b.addNode({ opType: 'Clip', inputs: [x, lo, hi], outputs: [final], name: b.uniqueName(`${id}/relu6`) });
        break;
      }
      case 'sigmoid': b.addNode({ opType: 'Sigmoid', inputs: [x], outputs: [final], name: b.uniqueName(`${id}/sigmoid`) }); break;
      case 'tanh': b.addNode({ opType: 'Tanh', inputs: [x], outputs: [final], name: b.uniqueName(`${id}/tanh`) }); break;
      case 'softmax': b.addNode({ opType: 'Softmax', inputs: [x], outputs: [final], name: b.uniqueName(`${id}/softmax`), attrs: { axis } }); break;
    }
    return final;
  };

  for (const n of g.nodes) {
    if (n.op.kind === 'input') continue;
    // Nodes carry the layer names (readable in profiles); values get an _out suffix.
    const nodeName = b.uniqueName(n.id);
    const final = n.id === g.output ? outName : b.uniqueName(`${n.id}_out`);
    const xs = n.inputs.map(valueOf);
    const op = n.op;
    switch (op.kind) {
      case 'conv': {
        const w = b.addInitializer(b.uniqueName(`${n.id}.weight`), op.weight, op.weightShape);
        const bias = b.addInitializer(b.uniqueName(`${n.id}.bias`), op.bias, [op.bias.length]);
        const y = op.activation ? tmp(n.id, op.transpose ? 'convtranspose' : 'conv') : final;
        const attrs: Record<string, ReturnType<typeof ints>> = {
          kernel_shape: ints(op.weightShape.slice(2)),
          strides: ints(op.strides),
          pads: ints(op.pads),
          dilations: ints(op.dilations),
        };
        b.addNode({ opType: op.transpose ? 'ConvTranspose' : 'Conv', inputs: [xs[0]!, w, bias], outputs: [y], name: nodeName, attrs });
        activation(y, op.activation, 1, n.id, final);
        break;
      }
      case 'gemm': {
        const w = b.addInitializer(b.uniqueName(`${n.id}.weight`), op.weight, op.weightShape);
        const bias = b.addInitializer(b.uniqueName(`${n.id}.bias`), op.bias, [op.bias.length]);
        const y = op.activation ? tmp(n.id, 'gemm') : final;
        b.addNode({ opType: 'Gemm', inputs: [xs[0]!, w, bias], outputs: [y], name: nodeName });
        activation(y, op.activation, 1, n.id, final);
        break;
      }
      case 'affine': {
        const shape = channelShape(n);
        if (op.scale && op.shift) {
          // Inference-mode BatchNormalization with mean 0, variance 1 and epsilon 0 is exactly x*s + t.
          const c = n.channels;
          const s = b.addInitializer(b.uniqueName(`${n.id}.scale`), op.scale, [c]);
          const t = b.addInitializer(b.uniqueName(`${n.id}.shift`), op.shift, [c]);
          const m = b.addInitializer(b.uniqueName(`${n.id}.mean`), new Float32Array(c), [c]);
          const v = b.addInitializer(b.uniqueName(`${n.id}.var`), new Float32Array(c).fill(1), [c]);
          b.addNode({ opType: 'BatchNormalization', inputs: [xs[0]!, s, t, m, v], outputs: [final], name: nodeName, attrs: { epsilon: 0 } });
        } else if (op.shift) {
          const t = b.addInitializer(b.uniqueName(`${n.id}.shift`), op.shift, shape);
          b.addNode({ opType: 'Add', inputs: [xs[0]!, t], outputs: [final], name: nodeName });
        } else if (op.scale) {
          const s = b.addInitializer(b.uniqueName(`${n.id}.scale`), op.scale, shape);
          b.addNode({ opType: 'Mul', inputs: [xs[0]!, s], outputs: [final], name: nodeName });
        } else {
          b.addNode({ opType: 'Identity', inputs: [xs[0]!], outputs: [final], name: nodeName });
        }
        break;
      }
      case 'resize': {
        const scales = b.addInitializer(b.uniqueName(`${n.id}.scales`), new Float32Array([1, 1, op.factors[0], op.factors[1]]), [4]);
        // tf's resize without align_corners or half-pixel centres samples at dst / factor: 'asymmetric';
        // nearest takes the floor of that position.
        const attrs: Record<string, string> = op.mode === 'nearest'
          ? { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' }
          : { mode: 'linear', coordinate_transformation_mode: 'asymmetric' };
        b.addNode({ opType: 'Resize', inputs: [xs[0]!, '', scales], outputs: [final], name: nodeName, attrs });
        break;
      }
      case 'concat':
        b.addNode({ opType: 'Concat', inputs: xs, outputs: [final], name: nodeName, attrs: { axis: op.axis } });
        break;
      case 'tile': {
        // [N, D] -> [N, D, 1, 1] -> broadcast to [N, D, H, W] with H, W read from the feature map at run time.
        const [feat, vec] = xs as [string, string];
        const hw = tmp(n.id, 'hw');
        if (opset >= 15) {
          b.addNode({ opType: 'Shape', inputs: [feat], outputs: [hw], name: b.uniqueName(`${n.id}/shape`), attrs: { start: 2 } });
        } else {
          const full = tmp(n.id, 'shape');
          b.addNode({ opType: 'Shape', inputs: [feat], outputs: [full], name: b.uniqueName(`${n.id}/shape`) });
          const st = b.addInitializer(b.uniqueName(`${n.id}.starts`), new BigInt64Array([2n]), [1]);
          const en = b.addInitializer(b.uniqueName(`${n.id}.ends`), new BigInt64Array([4n]), [1]);
          b.addNode({ opType: 'Slice', inputs: [full, st, en], outputs: [hw], name: b.uniqueName(`${n.id}/slice`) });
        }
        const ones = b.addInitializer(b.uniqueName(`${n.id}.ones`), new BigInt64Array([1n, 1n]), [2]);
        const target = tmp(n.id, 'target');
        b.addNode({ opType: 'Concat', inputs: [ones, hw], outputs: [target], name: b.uniqueName(`${n.id}/target`), attrs: { axis: 0 } });
        const axes = b.addInitializer(b.uniqueName(`${n.id}.axes`), new BigInt64Array([2n, 3n]), [2]);
        const col = tmp(n.id, 'column');
        b.addNode({ opType: 'Unsqueeze', inputs: [vec, axes], outputs: [col], name: b.uniqueName(`${n.id}/unsqueeze`) });
        b.addNode({ opType: 'Expand', inputs: [col, target], outputs: [final], name: nodeName });
        break;
      }
      case 'activation':
        activation(xs[0]!, op.activation, op.axis, n.id, final);
        break;
      case 'add': {
        let acc = xs[0]!;
        for (let i = 1; i < xs.length; i++) {
          const y = i === xs.length - 1 ? final : tmp(n.id, `sum${i}`);
          b.addNode({ opType: 'Add', inputs: [acc, xs[i]!], outputs: [y], name: i === 1 ? nodeName : b.uniqueName(n.id) });
          acc = y;
        }
        break;
      }
    }
    names.set(n.id, final);
  }
  if (names.get(g.output) !== outName) throw failed('The model output is one of its inputs.');
  b.toposort();
  return {
    builder: b,
    imageInput: { name: 'L', channels: img.channels },
    embeddingInput: emb ? { name: 'embedding', dim: emb.channels } : null,
    output: { name: outName, kind: endsInSoftmax ? 'probs' : 'logits', channels: out.channels, stride: out.stride },
    spatialMultiple: multiple,
  };
}
