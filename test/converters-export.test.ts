// ONNX export: tinta networks (tiny and seed presets, with and without fusion, three upsampling
// modes) with random trained-looking weights go checkpoint -> ONNX, and the same inputs through
// tfjs (wasm), onnxruntime-node and onnxruntime-web (WASM) must give the same logits within 1e-4,
// at two input sizes from one file. Also: the graph's shape (NCHW, no Transpose, folded batch
// norms), its metadata contract and content hash, bucket tables from the config, and clear errors
// with nothing left at the output path.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { initBackend } from '../trainer/backend.ts';
import { buildModel, presetConfig, type Preset, type Upsampling } from '../trainer/model.ts';
import { saveCheckpoint } from '../trainer/checkpoint.ts';
import { exportCheckpoint, exportModel } from '../converters/export.ts';
import { verifyContentHash, sha256Hex } from '../converters/content-hash.ts';
import { decodeModel, encodeModel, toposort } from '../converters/onnx/model.ts';
import { readOnnxMetadata } from '../sdk/model/onnx-metadata.ts';
import { MetaKeys, parseModelInfo } from '../sdk/model/metadata.ts';
import { getBuckets, serializeBuckets } from '../sdk/color/buckets.ts';
import { TintaError, ErrorCodes } from '../sdk/errors.ts';
import { randomizeWeights, rng, expectCode } from './converters-fixtures.ts';

type Ort = typeof ortNode;
const runtimes: [string, Ort][] = [
  ['onnxruntime-node', ortNode],
  ['onnxruntime-web', ortWeb as unknown as Ort],
];
ortWeb.env.wasm.numThreads = 1;
ortNode.env.logLevel = 'error';
ortWeb.env.logLevel = 'error';

const TOL = 1e-4;
const SIZES: [number, number][] = [[64, 64], [48, 80]];
let dir: string;

before(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'tinta-export-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** tfjs logits (NHWC) for one input, as a flat array in NCHW order. */
function tfjsLogits(model: tfl.LayersModel, L: Float32Array, h: number, w: number, emb?: Float32Array): { data: Float32Array; dims: number[] } {
  return tf.tidy(() => {
    const inputs: tf.Tensor[] = [tf.tensor4d(L, [1, h, w, 1])];
    if (emb) inputs.push(tf.tensor2d(emb, [1, emb.length]));
    const y = model.predict(inputs.length === 1 ? inputs[0]! : inputs) as tf.Tensor;
    const nchw = tf.transpose(y, [0, 3, 1, 2]);
    return { data: nchw.dataSync() as Float32Array, dims: nchw.shape };
  });
}

async function runOnnx(ort: Ort, bytes: Uint8Array, L: Float32Array, h: number, w: number, emb?: Float32Array) {
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const feeds: Record<string, ortNode.Tensor> = { L: new ort.Tensor('float32', L, [1, 1, h, w]) };
    if (emb) feeds.embedding = new ort.Tensor('float32', emb, [1, emb.length]);
    const out = await session.run(feeds);
    return out.logits!;
  } finally {
    await session.release();
  }
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const CASES: { preset: Preset; upsampling: Upsampling; fusion: boolean; width: number }[] = [
  { preset: 'tiny', upsampling: 'nearest', fusion: false, width: 0.5 },
  { preset: 'tiny', upsampling: 'nearest', fusion: true, width: 0.5 },
  { preset: 'tiny', upsampling: 'bilinear', fusion: false, width: 0.5 },
  { preset: 'tiny', upsampling: 'transpose', fusion: true, width: 0.5 },
  { preset: 'seed', upsampling: 'nearest', fusion: false, width: 0.25 },
  { preset: 'seed', upsampling: 'bilinear', fusion: true, width: 0.25 },
  { preset: 'seed', upsampling: 'transpose', fusion: false, width: 0.25 },
];

for (const [k, c] of CASES.entries()) {
  test(`${c.preset} (${c.upsampling}${c.fusion ? ', fusion' : ''}): tfjs, onnxruntime-node and onnxruntime-web agree within ${TOL} at 64x64 and 48x80`, async () => {
    const model = buildModel(presetConfig(c.preset, { fusion: c.fusion, widthMultiplier: c.width, upsampling: c.upsampling }));
    // One case keeps some negative gammas, so some batch norms cannot fold through their ReLU.
    randomizeWeights(model, 11 + k, { negativeGamma: k === 2 ? ['enc2_bn', 'dec3_bn'] : [] });
    const ck = join(dir, `case${k}.tck`);
    await saveCheckpoint(ck, { model, config: { preset: c.preset, size: 64, buckets: 'seed' }, state: { step: 120, epoch: 3 }, data: { images: 1000, prior: [1, 2, 3] } });
    const out = join(dir, `case${k}.onnx`);
    const { bytes, info, report } = await exportCheckpoint(ck, { output: out });
    assert.deepEqual(new Uint8Array(readFileSync(out)), bytes);
    assert.equal(info.embedding?.dim ?? 0, c.fusion ? 1000 : 0);
    if (k === 2) assert.ok(report.ops.BatchNormalization! >= 2, JSON.stringify(report.ops));
    else assert.equal(report.ops.BatchNormalization, undefined, 'every batch norm folds when its scales are positive');
    const r = rng(k);
    for (const [h, w] of SIZES) {
      const L = Float32Array.from({ length: h * w }, () => r());
      const emb = c.fusion ? Float32Array.from({ length: 1000 }, () => r() / 100) : undefined;
      const ref = tfjsLogits(model, L, h, w, emb);
      assert.deepEqual(ref.dims, [1, 112, h / 4, w / 4]);
      for (const [name, ort] of runtimes) {
        const got = await runOnnx(ort, bytes, L, h, w, emb);
        assert.deepEqual(got.dims, ref.dims, name);
        const d = maxAbsDiff(got.data as Float32Array, ref.data);
        assert.ok(d <= TOL, `${name} ${h}x${w}: max |difference| ${d}`);
      }
    }
    model.dispose();
  });
}

test('the graph is NCHW end to end with dynamic sizes, opset 17 / IR 8, toposorted, producer tinta', async () => {
  const model = buildModel(presetConfig('tiny', { fusion: true, widthMultiplier: 0.25 }));
  randomizeWeights(model, 5);
  const m = decodeModel(exportModel(model, { buckets: 'seed' }));
  assert.equal(m.irVersion, 8);
  assert.deepEqual(m.opset, [{ domain: '', version: 17 }]);
  assert.equal(m.producerName, 'tinta');
  const ops = new Set(m.graph.nodes.map((n) => n.opType));
  assert.ok(!ops.has('Transpose') && !ops.has('Reshape'), [...ops].join(','));
  assert.deepEqual(m.graph.inputs.map((v) => [v.name, v.shape]), [['L', ['N', 1, 'H', 'W']], ['embedding', ['N', 1000]]]);
  assert.deepEqual(m.graph.outputs.map((v) => [v.name, v.shape]), [['logits', ['N', 112, 'H/4', 'W/4']]]);
  assert.deepEqual(toposort(m.graph).map((n) => n.name), m.graph.nodes.map((n) => n.name));
  // tf 'same' with stride 2 on even sizes pads only at the end.
  const s2 = m.graph.nodes.find((n) => n.name === 'enc1_conv2')!;
  assert.deepEqual(s2.attrs.pads, { type: 'ints', value: [0, 0, 1, 1] });
  model.dispose();
});

test('metadata follows the SDK contract and the content hash covers the model', async () => {
  const model = buildModel(presetConfig('tiny', { fusion: true, widthMultiplier: 0.25 }));
  randomizeWeights(model, 6);
  const ck = join(dir, 'meta.tck');
  await saveCheckpoint(ck, {
    model,
    config: { preset: 'tiny', size: 128, buckets: 'seed', embedding: { source: 'mobilenetv2' } },
    state: { step: 4200, epoch: 7 },
    data: { images: 5000, prior: [0.1, 0.2] },
  });
  const { bytes, info } = await exportCheckpoint(ck, { temperature: 0.5 });
  const read = parseModelInfo(readOnnxMetadata(bytes).metadata);
  assert.deepEqual(read, info);
  assert.equal(read.kind, 'colorizer');
  assert.equal(read.buckets.count, 112);
  assert.deepEqual(Array.from(read.buckets.centers), Array.from(getBuckets('seed').centers));
  assert.equal(read.temperature, 0.5);
  assert.deepEqual(read.input, { name: 'L', scale: 0.01, offset: 0 });
  assert.deepEqual(read.output, { name: 'logits', kind: 'logits', stride: 4 });
  assert.equal(read.spatialMultiple, 8);
  assert.deepEqual(read.embedding, { input: 'embedding', dim: 1000, source: 'mobilenetv2' });
  assert.equal(read.frames, 1);
  assert.equal(read.precision, 'fp32');
  assert.equal(read.recommendedSize, 256);
  const p = read.provenance as Record<string, unknown>;
  assert.equal(p.preset, 'tiny');
  assert.equal(p.size, 128);
  assert.equal(p.steps, 4200);
  assert.equal(p.epochs, 7);
  assert.deepEqual(p.data, { images: 5000 }, 'arrays of the data section stay out of the metadata');
  assert.equal(typeof p.exportedAt, 'string');
  assert.equal(p.tintaVersion, '0.1.0');
  // Default temperature when none is given.
  assert.equal((await exportCheckpoint(ck)).info.temperature, 0.38);
  // The hash: SHA-256 of the model encoded with the hash value blanked.
  assert.match(read.contentHash, /^[0-9a-f]{64}$/);
  assert.ok(verifyContentHash(bytes), 'content hash verifies');
  const blank = decodeModel(bytes);
  blank.metadata[MetaKeys.contentHash] = '';
  assert.equal(sha256Hex(encodeModel(blank)), read.contentHash);
  const tampered = decodeModel(bytes);
  tampered.metadata[MetaKeys.temperature] = '0.9';
  assert.equal(verifyContentHash(encodeModel(tampered)), false);
  model.dispose();
});

test('bucket tables come from the checkpoint config in each form and must match the outputs', async () => {
  const model = buildModel(presetConfig('tiny', { buckets: 313, widthMultiplier: 0.25 }));
  randomizeWeights(model, 8);
  const z = getBuckets('zhang313');
  const forms: unknown[] = ['zhang313', 313, serializeBuckets(z), { name: 'zhang313', step: 10, centers: Array.from(z.centers) }];
  for (const [i, buckets] of forms.entries()) {
    const ck = join(dir, `buckets${i}.tck`);
    await saveCheckpoint(ck, { model, config: { buckets }, state: {}, data: {} });
    const { info } = await exportCheckpoint(ck);
    assert.equal(info.buckets.count, 313, `form ${i}`);
    assert.deepEqual(Array.from(info.buckets.centers), Array.from(z.centers), `form ${i}`);
  }
  const ck = join(dir, 'buckets-bad.tck');
  await saveCheckpoint(ck, { model, config: { buckets: 'seed' }, state: {}, data: {} });
  await assert.rejects(exportCheckpoint(ck), expectCode(ErrorCodes.CHECKPOINT_INVALID, /112 buckets but the network predicts 313/));
  await saveCheckpoint(ck, { model, config: {}, state: {}, data: {} });
  await assert.rejects(exportCheckpoint(ck), expectCode(ErrorCodes.CHECKPOINT_INVALID, /no bucket table/));
  model.dispose();
});

test('a later opset exports and runs', async () => {
  const model = buildModel(presetConfig('tiny', { fusion: true, widthMultiplier: 0.25, upsampling: 'bilinear' }));
  randomizeWeights(model, 9);
  const bytes = exportModel(model, { buckets: 'seed', opset: 21 });
  const m = decodeModel(bytes);
  assert.equal(m.irVersion, 10);
  const L = Float32Array.from({ length: 32 * 40 }, (_, i) => (i % 17) / 17);
  const emb = new Float32Array(1000).fill(0.001);
  const got = await runOnnx(ortNode, bytes, L, 32, 40, emb);
  const d = maxAbsDiff(got.data as Float32Array, tfjsLogits(model, L, 32, 40, emb).data);
  assert.ok(d <= TOL, `max |difference| ${d}`);
  await assert.rejects(async () => exportModel(model, { buckets: 'seed', opset: 12 }), expectCode(ErrorCodes.BAD_ARGUMENT));
  model.dispose();
});

test('Dropout is exported as an identity (it does nothing at inference)', async () => {
  const L = tfl.input({ name: 'L', shape: [null, null, 1] });
  let x = tfl.layers.conv2d({ name: 'c1', filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(L) as tfl.SymbolicTensor;
  x = tfl.layers.dropout({ name: 'drop', rate: 0.5 }).apply(x) as tfl.SymbolicTensor;
  // Kernel 4, not 3: tfjs-backend-wasm 4.22 computes convolutions with a stride above the kernel size wrongly.
  x = tfl.layers.conv2d({ name: 'c2', filters: 112, kernelSize: 4, strides: 4, padding: 'same' }).apply(x) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: L, outputs: x });
  randomizeWeights(model, 10);
  const ck = join(dir, 'dropout.tck');
  await saveCheckpoint(ck, { model, config: {}, state: {}, data: {} });
  const { bytes, report, info } = await exportCheckpoint(ck);
  assert.deepEqual(report.identityLayers, ['drop']);
  assert.equal(info.spatialMultiple, 4);
  const Lx = Float32Array.from({ length: 32 * 32 }, (_, i) => (i % 13) / 13);
  const got = await runOnnx(ortNode, bytes, Lx, 32, 32);
  const d = maxAbsDiff(got.data as Float32Array, tfjsLogits(model, Lx, 32, 32).data);
  assert.ok(d <= TOL, `max |difference| ${d}`);
  model.dispose();
});

test('an unsupported layer is UNSUPPORTED_LAYER naming the layer and class, and nothing is written', async () => {
  const L = tfl.input({ name: 'L', shape: [null, null, 1] });
  let x = tfl.layers.conv2d({ name: 'c1', filters: 8, kernelSize: 3, padding: 'same' }).apply(L) as tfl.SymbolicTensor;
  x = tfl.layers.maxPooling2d({ name: 'pool', poolSize: 4 }).apply(x) as tfl.SymbolicTensor;
  x = tfl.layers.conv2d({ name: 'c2', filters: 112, kernelSize: 1 }).apply(x) as tfl.SymbolicTensor;
  const model = tfl.model({ inputs: L, outputs: x });
  const ck = join(dir, 'pool.tck');
  await saveCheckpoint(ck, { model, config: {}, state: {}, data: {} });
  const out = join(dir, 'pool-out', 'model.onnx');
  await assert.rejects(exportCheckpoint(ck, { output: out }), expectCode(ErrorCodes.UNSUPPORTED_LAYER, /"pool" \(MaxPooling2D\)/));
  assert.equal(existsSync(out), false);
  assert.throws(() => exportModel(model, { buckets: 'seed' }), expectCode(ErrorCodes.UNSUPPORTED_LAYER, /MaxPooling2D/));
  // An activation it cannot translate is named too.
  const L2 = tfl.input({ name: 'L', shape: [null, null, 1] });
  const y = tfl.layers.conv2d({ name: 'c', filters: 112, kernelSize: 3, strides: 4, padding: 'same', activation: 'elu' }).apply(L2) as tfl.SymbolicTensor;
  assert.throws(() => exportModel(tfl.model({ inputs: L2, outputs: y }), { buckets: 'seed' }), expectCode(ErrorCodes.UNSUPPORTED_LAYER, /"c" \(Conv2D\).*elu/));
  model.dispose();
});

test('malformed checkpoints are CHECKPOINT_INVALID and leave nothing at the output path', async () => {
  const model = buildModel(presetConfig('tiny', { widthMultiplier: 0.25 }));
  const ck = join(dir, 'good.tck');
  await saveCheckpoint(ck, { model, config: {}, state: {}, data: {} });
  const bytes = readFileSync(ck);
  const outDir = join(dir, 'bad-out');
  mkdirSync(outDir);
  const out = join(outDir, 'model.onnx');
  const cases: [string, Uint8Array][] = [
    ['truncated', bytes.subarray(0, bytes.length - 1000)],
    ['truncated header', bytes.subarray(0, 40)],
    ['garbage', Uint8Array.from({ length: 5000 }, (_, i) => (i * 7919) & 255)],
    ['empty', new Uint8Array(0)],
  ];
  for (const [what, b] of cases) {
    const p = join(dir, `${what}.tck`);
    writeFileSync(p, b);
    await assert.rejects(exportCheckpoint(p, { output: out }), expectCode(ErrorCodes.CHECKPOINT_INVALID), what);
  }
  await assert.rejects(exportCheckpoint(join(dir, 'missing.tck'), { output: out }), expectCode(ErrorCodes.CHECKPOINT_INVALID, /Cannot read/));
  // A topology that is not a model at all.
  const notModel = join(dir, 'not-model.tck');
  const { encodeCheckpoint } = await import('../trainer/checkpoint.ts');
  writeFileSync(notModel, Buffer.concat(encodeCheckpoint({ config: {}, state: {}, data: {}, modelTopology: { class_name: 'Model', config: {} }, weightSpecs: [], optimizerSpecs: [] }, new Uint8Array(0), new Uint8Array(0))));
  await assert.rejects(exportCheckpoint(notModel, { output: out }), expectCode(ErrorCodes.CHECKPOINT_INVALID, /lists no layers/));
  assert.deepEqual(readdirSync(outDir), [], 'no model and no temp file');
  // A failed write (the target is a folder) is EXPORT_FAILED and leaves no temp file behind.
  const asDir = join(outDir, 'taken.onnx');
  mkdirSync(asDir);
  await assert.rejects(exportCheckpoint(ck, { output: asDir }), expectCode(ErrorCodes.EXPORT_FAILED));
  assert.deepEqual(readdirSync(outDir), ['taken.onnx']);
  model.dispose();
});
