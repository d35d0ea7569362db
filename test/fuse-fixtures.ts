// Fixtures of the fuse tests: a small image classifier with random weights built the way the ONNX
// model zoo's quantized MobileNetV2 is (opset 12, QLinearConv, com.microsoft QLinearAdd and
// QLinearGlobalAveragePool, an opset-12 Unsqueeze with an axes attribute in the flatten path),
// and a tiny fusion colorizer exported from the trainer's model builder.
import { initBackend } from '../trainer/backend.ts';
import { buildModel, presetConfig } from '../trainer/model.ts';
import { exportModel } from '../converters/export.ts';
import { GraphBuilder, DataType, encodeModel, type Dim } from '../converters/onnx/model.ts';
import { normal, randomizeWeights, rng } from './converters-fixtures.ts';

/** Options of `buildTestClassifier`. */
export interface TestClassifierOptions {
  /** Input side (default 32). */
  size?: number;
  /** Output classes (default 10). */
  classes?: number;
  seed?: number;
  /** End in an opset-12 Softmax (the output holds probabilities, not logits). */
  softmax?: boolean;
  /** NHWC input [N, S, S, 3] (a Transpose in front), as TensorFlow exports have. */
  nhwc?: boolean;
  /** Default-domain opset (default 12). */
  opset?: number;
  /** Extra nodes appended to the graph (to test refusals); they read 'logits'. */
  extraNodes?: { opType: string; attrs?: Record<string, number | number[] | string>; outputs?: number }[];
}

/**
 * Bytes of a small quantized image classifier: input 'input' [N, 3, S, S] (ImageNet-normalised),
 * output 'output' [N, classes] (logits, or probabilities with `softmax`).
 */
export function buildTestClassifier(o: TestClassifierOptions = {}): Uint8Array {
  const S = o.size ?? 32, D = o.classes ?? 10, C = 8;
  const r = rng(o.seed ?? 7);
  const g = new GraphBuilder({ name: 'test-classifier' });
  const inShape: Dim[] = o.nhwc ? ['batch_size', S, S, 3] : ['batch_size', 3, S, S];
  g.addInput('input', DataType.FLOAT, inShape);
  const f32 = (name: string, v: number) => g.addInitializer(name, new Float32Array([v]), []);
  const u8 = (name: string, v: number) => g.addInitializer(name, new Uint8Array([v]), [], DataType.UINT8);
  const i8 = (name: string, v: number) => g.addInitializer(name, new Int8Array([v]), [], DataType.INT8);
  // Quantization parameters: [-2.2, 2.7] covers ImageNet-normalised inputs.
  f32('in_scale', 4.9 / 255); u8('in_zp', 112);
  let x = 'input';
  if (o.nhwc) {
    g.addNode({ opType: 'Transpose', inputs: ['input'], outputs: ['input_nchw'], attrs: { perm: [0, 3, 1, 2] } });
    x = 'input_nchw';
  }
  g.addNode({ opType: 'QuantizeLinear', inputs: [x, 'in_scale', 'in_zp'], outputs: ['x_q'] });
  const conv = (name: string, input: string, inScale: number, cin: number, k: number, stride: number, outScale: number) => {
    const n = C * cin * k * k;
    const w = Float32Array.from({ length: n }, () => normal(r) * Math.sqrt(2 / (cin * k * k)));
    const wScale = w.reduce((m, v) => Math.max(m, Math.abs(v)), 0) / 127;
    g.addInitializer(`${name}.w_q`, Int8Array.from(w, (v) => Math.round(v / wScale)), [C, cin, k, k], DataType.INT8);
    f32(`${name}.w_scale`, wScale); i8(`${name}.w_zp`, 0);
    g.addInitializer(`${name}.b_q`, Int32Array.from({ length: C }, () => Math.round(((r() - 0.5) * 0.4) / (inScale * wScale))), [C], DataType.INT32);
    f32(`${name}.y_scale`, outScale); u8(`${name}.y_zp`, 128);
    const pad = (k - 1) >> 1;
    g.addNode({
      opType: 'QLinearConv',
      name,
      inputs: [input, `${name === 'conv1' ? 'in' : 'conv1.y'}_scale`, `${name === 'conv1' ? 'in' : 'conv1.y'}_zp`, `${name}.w_q`, `${name}.w_scale`, `${name}.w_zp`, `${name}.y_scale`, `${name}.y_zp`, `${name}.b_q`],
      outputs: [`${name}_q`],
      attrs: { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad], dilations: [1, 1], group: 1 },
    });
  };
  conv('conv1', 'x_q', 4.9 / 255, 3, 3, 2, 0.04);
  conv('conv2', 'conv1_q', 0.04, C, 1, 1, 0.04);
  f32('sum_scale', 0.06); u8('sum_zp', 128);
  g.addNode({
    opType: 'QLinearAdd', domain: 'com.microsoft',
    inputs: ['conv1_q', 'conv1.y_scale', 'conv1.y_zp', 'conv2_q', 'conv2.y_scale', 'conv2.y_zp', 'sum_scale', 'sum_zp'], outputs: ['sum_q'],
  });
  f32('gap_scale', 0.01); u8('gap_zp', 128);
  g.addNode({
    opType: 'QLinearGlobalAveragePool', domain: 'com.microsoft',
    inputs: ['sum_q', 'sum_scale', 'sum_zp', 'gap_scale', 'gap_zp'], outputs: ['gap_q'], attrs: { channels_last: 0 },
  });
  g.addNode({ opType: 'DequantizeLinear', inputs: ['gap_q', 'gap_scale', 'gap_zp'], outputs: ['gap'] });
  // Flatten as the zoo's MobileNetV2 does: Reshape to [Shape(gap)[0], -1], with an opset-12 Unsqueeze.
  g.addNode({ opType: 'Shape', inputs: ['gap'], outputs: ['gap_shape'] });
  g.addInitializer('zero', new BigInt64Array([0n]), [], DataType.INT64);
  g.addNode({ opType: 'Gather', inputs: ['gap_shape', 'zero'], outputs: ['batch'], attrs: { axis: 0 } });
  g.addNode({ opType: 'Unsqueeze', inputs: ['batch'], outputs: ['batch1'], attrs: { axes: [0] } });
  g.addInitializer('minus_one', new BigInt64Array([-1n]), [1]);
  g.addNode({ opType: 'Concat', inputs: ['batch1', 'minus_one'], outputs: ['flat_shape'], attrs: { axis: 0 } });
  g.addNode({ opType: 'Reshape', inputs: ['gap', 'flat_shape'], outputs: ['features'] });
  g.addInitializer('fc.w', Float32Array.from({ length: D * C }, () => normal(r) * 3), [D, C]);
  g.addInitializer('fc.b', Float32Array.from({ length: D }, () => (r() - 0.5) * 2), [D]);
  g.addNode({ opType: 'Gemm', inputs: ['features', 'fc.w', 'fc.b'], outputs: ['fc'], attrs: { transB: 1 } });
  // [N, D] -> [N, D, 1] -> [N, D]: an opset-12 Squeeze with an axes attribute too.
  g.addNode({ opType: 'Unsqueeze', inputs: ['fc'], outputs: ['fc3'], attrs: { axes: [2] } });
  const last = o.softmax ? 'logits' : 'output';
  g.addNode({ opType: 'Squeeze', inputs: ['fc3'], outputs: [last], attrs: { axes: [2] } });
  if (o.softmax) g.addNode({ opType: 'Softmax', inputs: ['logits'], outputs: ['output'], attrs: { axis: 1 } });
  for (const [i, e] of (o.extraNodes ?? []).entries()) {
    const outs = Array.from({ length: e.outputs ?? 1 }, (_, k) => `extra${i}_${k}`);
    g.addNode({ opType: e.opType, name: `extra${i}`, inputs: [last], outputs: outs, ...(e.attrs ? { attrs: e.attrs } : {}) });
    g.addOutput(outs[0]!, DataType.FLOAT);
  }
  g.addOutput('output', DataType.FLOAT, ['batch_size', D]);
  return encodeModel({
    graph: g,
    irVersion: 7,
    producer: 'tinta-test',
    opset: [{ domain: '', version: o.opset ?? 12 }, { domain: 'com.microsoft', version: 1 }],
  });
}

/** Bytes of a tiny fusion colorizer (the trainer's 'tiny' preset at width 1/4) taking a `dim`-d embedding. */
export async function buildFusionColorizer(opts: { dim?: number; seed?: number; opset?: number; embeddingSource?: string; recommendedSize?: number } = {}): Promise<Uint8Array> {
  await initBackend('cpu');
  const model = buildModel(presetConfig('tiny', { fusion: true, embeddingDim: opts.dim ?? 10, widthMultiplier: 0.25 }));
  try {
    randomizeWeights(model, opts.seed ?? 3);
    return exportModel(model, {
      buckets: 'seed',
      ...(opts.opset !== undefined ? { opset: opts.opset } : {}),
      ...(opts.embeddingSource !== undefined ? { embeddingSource: opts.embeddingSource } : {}),
      ...(opts.recommendedSize !== undefined ? { recommendedSize: opts.recommendedSize } : {}),
    });
  } finally {
    model.dispose();
  }
}
