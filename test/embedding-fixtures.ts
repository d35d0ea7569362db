// Fixtures of the embedding tests: a small ImageNet-shaped classifier with random weights
// (conv 3x3 -> ReLU -> global mean -> dense to 1000 logits), built as ONNX with the project's
// GraphBuilder and as a TensorFlow.js graph model (model.json + .bin) from the same weights, and
// photos on disk (colourful, plus broken files).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { GraphBuilder, DataType, encodeModel } from '../converters/onnx/model.ts';
import { parseDescriptor, type EmbeddingDescriptor } from '../trainer/embedding/descriptor.ts';
import { normal, rng, syntheticPhoto } from './converters-fixtures.ts';

/** ImageNet's class count: the embedding contract. */
export const CLASSES = 1000;

/** Weights of the test classifier, in TensorFlow's layouts (conv HWIO, dense [in, out]). */
export interface ClassifierWeights {
  side: number;
  channels: number;
  /** [3, 3, 3, C]. */
  conv: Float32Array;
  convBias: Float32Array;
  /** [C, 1000]. */
  dense: Float32Array;
  denseBias: Float32Array;
}

/** Deterministic random weights; logits spread over a few units, so probabilities are far from uniform. */
export function classifierWeights(seed: number, side = 32, channels = 8): ClassifierWeights {
  const r = rng(seed);
  return {
    side, channels,
    conv: Float32Array.from({ length: 27 * channels }, () => normal(r) * 0.6),
    convBias: Float32Array.from({ length: channels }, () => (r() - 0.5) * 0.2),
    dense: Float32Array.from({ length: channels * CLASSES }, () => normal(r) * 3),
    denseBias: Float32Array.from({ length: CLASSES }, () => (r() - 0.5) * 0.5),
  };
}

/** The test classifier as ONNX: input `input` [N|1, 3, S, S], output `output` [N, 1000] logits (or probabilities with softmax). */
export function onnxClassifier(w: ClassifierWeights, opts: { batch?: 'N' | 1; softmax?: boolean; inputName?: string } = {}): Uint8Array {
  const C = w.channels, S = w.side;
  const g = new GraphBuilder({ name: 'test_classifier' });
  const input = opts.inputName ?? 'input';
  g.addInput(input, DataType.FLOAT, [opts.batch ?? 'N', 3, S, S]);
  // HWIO -> OIHW
  const oihw = new Float32Array(27 * C);
  for (let kh = 0; kh < 3; kh++) for (let kw = 0; kw < 3; kw++) for (let i = 0; i < 3; i++) for (let o = 0; o < C; o++) {
    oihw[((o * 3 + i) * 3 + kh) * 3 + kw] = w.conv[((kh * 3 + kw) * 3 + i) * C + o]!;
  }
  g.addInitializer('conv.w', oihw, [C, 3, 3, 3]);
  g.addInitializer('conv.b', w.convBias, [C]);
  g.addInitializer('dense.w', w.dense, [C, CLASSES]);
  g.addInitializer('dense.b', w.denseBias, [CLASSES]);
  g.addNode({ opType: 'Conv', inputs: [input, 'conv.w', 'conv.b'], outputs: ['conv'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1] } });
  g.addNode({ opType: 'Relu', inputs: ['conv'], outputs: ['relu'] });
  g.addNode({ opType: 'GlobalAveragePool', inputs: ['relu'], outputs: ['gap'] });
  g.addNode({ opType: 'Flatten', inputs: ['gap'], outputs: ['flat'], attrs: { axis: 1 } });
  g.addNode({ opType: 'Gemm', inputs: ['flat', 'dense.w', 'dense.b'], outputs: [opts.softmax ? 'logits' : 'output'] });
  if (opts.softmax) g.addNode({ opType: 'Softmax', inputs: ['logits'], outputs: ['output'], attrs: { axis: 1 } });
  g.addOutput('output', DataType.FLOAT, [opts.batch ?? 'N', CLASSES]);
  return encodeModel({ irVersion: 8, opset: [{ domain: '', version: 17 }], producerName: 'tinta-test', graph: g.build() });
}

const b64 = (s: string) => Buffer.from(s).toString('base64');
const f32 = { type: 'DT_FLOAT' };

/** Write the same classifier as a TF.js graph model (NHWC input `input` [-1, S, S, 3], output `output`); returns the model.json path. */
export function writeTfjsClassifier(dir: string, w: ClassifierWeights): string {
  mkdirSync(dir, { recursive: true });
  const C = w.channels, S = w.side;
  const constant = (name: string, dtype = 'DT_FLOAT') => ({ name, op: 'Const', attr: { dtype: { type: dtype }, value: { tensor: { dtype } } } });
  const node = [
    { name: 'input', op: 'Placeholder', attr: { dtype: f32, shape: { shape: { dim: [{ size: '-1' }, { size: String(S) }, { size: String(S) }, { size: '3' }] } } } },
    constant('conv/filter'), constant('conv/bias'), constant('mean/axes', 'DT_INT32'), constant('dense/kernel'), constant('dense/bias'),
    { name: 'conv/Conv2D', op: 'Conv2D', input: ['input', 'conv/filter'], attr: { T: f32, strides: { list: { i: ['1', '1', '1', '1'] } }, padding: { s: b64('SAME') }, data_format: { s: b64('NHWC') }, dilations: { list: { i: ['1', '1', '1', '1'] } } } },
    { name: 'conv/BiasAdd', op: 'BiasAdd', input: ['conv/Conv2D', 'conv/bias'], attr: { T: f32, data_format: { s: b64('NHWC') } } },
    { name: 'relu', op: 'Relu', input: ['conv/BiasAdd'], attr: { T: f32 } },
    { name: 'mean', op: 'Mean', input: ['relu', 'mean/axes'], attr: { T: f32, Tidx: { type: 'DT_INT32' }, keep_dims: { b: false } } },
    { name: 'dense/MatMul', op: 'MatMul', input: ['mean', 'dense/kernel'], attr: { T: f32, transpose_a: { b: false }, transpose_b: { b: false } } },
    { name: 'dense/BiasAdd', op: 'BiasAdd', input: ['dense/MatMul', 'dense/bias'], attr: { T: f32, data_format: { s: b64('NHWC') } } },
    { name: 'output', op: 'Identity', input: ['dense/BiasAdd'], attr: { T: f32 } },
  ];
  const weights = [
    { name: 'conv/filter', shape: [3, 3, 3, C], dtype: 'float32', data: w.conv },
    { name: 'conv/bias', shape: [C], dtype: 'float32', data: w.convBias },
    { name: 'mean/axes', shape: [2], dtype: 'int32', data: new Int32Array([1, 2]) },
    { name: 'dense/kernel', shape: [C, CLASSES], dtype: 'float32', data: w.dense },
    { name: 'dense/bias', shape: [CLASSES], dtype: 'float32', data: w.denseBias },
  ];
  const bin = Buffer.concat(weights.map((x) => Buffer.from(x.data.buffer, x.data.byteOffset, x.data.byteLength)));
  writeFileSync(join(dir, 'group1-shard1of1.bin'), bin);
  const modelJson = {
    format: 'graph-model', generatedBy: 'tinta-test', convertedBy: 'hand-written',
    modelTopology: { node, library: {}, versions: { producer: 1 } },
    weightsManifest: [{ paths: ['group1-shard1of1.bin'], weights: weights.map(({ name, shape, dtype }) => ({ name, shape, dtype })) }],
  };
  const path = join(dir, 'model.json');
  writeFileSync(path, JSON.stringify(modelJson));
  return path;
}

/** The descriptor of the test classifier for a layout. */
export function testDescriptor(layout: 'NCHW' | 'NHWC', side = 32, over: Record<string, unknown> = {}): EmbeddingDescriptor {
  return parseDescriptor({ name: 'testnet', inputSize: side, layout, normalization: 'imagenet', outputKind: 'logits', classes: CLASSES, ...over });
}

/** Write `count` distinct colourful photos (PNG, `w` x `h`) into `dir`; returns their paths. */
export async function writePhotos(dir: string, count: number, w = 48, h = 40, seed = 1): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const out: string[] = [];
  for (let k = 0; k < count; k++) {
    const img = syntheticPhoto(w, h, seed + k);
    const p = join(dir, `photo-${String(k).padStart(3, '0')}.png`);
    await sharp(Buffer.from(img.data.buffer), { raw: { width: w, height: h, channels: 4 } }).png().toFile(p);
    out.push(p);
  }
  return out;
}

/** Write files that look like photos but are not: a truncated JPEG and text named .jpg. */
export async function writeBrokenPhotos(dir: string): Promise<string[]> {
  mkdirSync(dir, { recursive: true });
  const img = syntheticPhoto(40, 40, 99);
  const jpg = await sharp(Buffer.from(img.data.buffer), { raw: { width: 40, height: 40, channels: 4 } }).jpeg().toBuffer();
  const a = join(dir, 'truncated.jpg'), b = join(dir, 'not-an-image.jpg');
  writeFileSync(a, jpg.subarray(0, Math.floor(jpg.length / 2)));
  writeFileSync(b, 'this is text, not a photo');
  return [a, b];
}

/** Run the CLI in this process (no tsx start-up), with its console output captured. */
export async function inProcess(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  // Imported here, so tests that only need the models do not load the whole CLI.
  const { main } = await import('../cli/main.ts');
  const out: string[] = [], err: string[] = [];
  const { log, error } = console;
  console.log = (...a: unknown[]) => { out.push(a.join(' ')); };
  console.error = (...a: unknown[]) => { err.push(a.join(' ')); };
  try {
    const code = await main(['node', 'tinta', ...args]);
    return { code, stdout: out.join('\n'), stderr: err.join('\n') };
  } finally {
    console.log = log;
    console.error = error;
  }
}
