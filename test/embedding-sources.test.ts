// Embedding sources: descriptors, the classifier input made from the SDK's network-size L (as a fused
// model makes it), and the same test classifier run as ONNX (the fused model's embedding graph, on
// onnxruntime-node) and as a TF.js graph model (TypeScript preprocessing, tfjs-converter), which must
// agree: the TypeScript preprocessing equals the graph's nodes within 1e-5.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadGraphModel } from '@tensorflow/tfjs-converter';
import * as tf from '@tensorflow/tfjs-core';
import { decodeImage } from '../sdk/image/node.ts';
import { rgba8ToLab } from '../sdk/color/index.ts';
import { preprocess } from '../sdk/core/pipeline.ts';
import { networkSize } from '../sdk/core/resample.ts';
import type { ModelInfo } from '../sdk/model/metadata.ts';
import { classifierInputFromL, resolveDescriptor, type GrayMode } from '../converters/fuse-classifier.ts';
import { emitClassifierInput } from '../converters/fuse-preprocess.ts';
import { DataType, encodeModel, GraphBuilder } from '../converters/onnx/model.ts';
import { isTintaError } from '../sdk/errors.ts';
import { initBackend } from '../trainer/backend.ts';
import { BUILTIN_DESCRIPTORS, loadDescriptor, parseDescriptor } from '../trainer/embedding/descriptor.ts';
import { networkInput, softmax, type NetworkInput } from '../trainer/embedding/preprocess.ts';
import { loadOnnxSource } from '../trainer/embedding/onnx-source.ts';
import { graphModelFileHandler, loadTfjsSource } from '../trainer/embedding/tfjs-source.ts';
import { openEmbeddingSource } from '../trainer/embedding/open.ts';
import { inspectModel } from '../trainer/embedding/inspect.ts';
import { CLASSES, classifierWeights, onnxClassifier, testDescriptor, writePhotos, writeTfjsClassifier } from './embedding-fixtures.ts';
import { buildTestModel } from './sdk-fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'tinta-embedding-sources-'));
const weights = classifierWeights(7);
let photos: string[];
let inputs: NetworkInput[];

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const sum = (v: ArrayLike<number>) => Array.from(v).reduce((a, b) => a + b, 0);

before(async () => {
  await initBackend('wasm');
  photos = await writePhotos(join(root, 'photos'), 3, 96, 72);
  // A short side of 48 (multiple 8): the SDK area-averages each photo down to 64x48.
  inputs = await Promise.all(photos.map(async (p) => networkInput(await decodeImage(p), { resolution: 48, multiple: 8 })));
});

/** The preprocessing nodes of a fused model alone, as an ONNX model: input 'L' [N, 1, H, W] (L / 100), output 'x'. */
function preprocessingGraph(d: ReturnType<typeof resolveDescriptor>): Uint8Array {
  const g = new GraphBuilder({ name: 'preprocessing' });
  g.addInput('L', DataType.FLOAT, ['N', 1, 'H', 'W']);
  emitClassifierInput(g, 'L', { name: 'L', scale: 1 / 100, offset: 0 }, d, 'x', 'pre/');
  g.addOutput('x', DataType.FLOAT);
  return encodeModel({ irVersion: 8, opset: [{ domain: '', version: 17 }], producerName: 'tinta-test', graph: g.build() });
}

describe('descriptors and input', () => {
  test("networkInput is the SDK's own preprocess: network size, L, and the L / 100 a fused model reads", async () => {
    const img = await decodeImage(photos[0]!);
    const view = { resolution: 48, multiple: 8 };
    const n = networkInput(img, view);
    assert.deepEqual([n.width, n.height], [64, 48]);
    assert.deepEqual(networkSize(96, 72, 48, 8), { width: 64, height: 48 });
    const info = { spatialMultiple: 8, input: { name: 'L', scale: 0.01, offset: 0 }, frames: 1 } as unknown as ModelInfo;
    const sdk = preprocess(img, info, 48);
    assert.deepEqual(Array.from(n.L), Array.from(sdk.netL));
    assert.deepEqual(Array.from(n.x), Array.from(sdk.input.data));
    assert.ok(Math.max(...n.L) - Math.min(...n.L) > 20, 'a photo, not a flat plane');
  });

  test("a uniform gray photo reaches the classifier as its own sRGB gray ('srgb') or as L / 100 ('lightness'), normalised, NCHW or NHWC", () => {
    const data = new Uint8ClampedArray(20 * 12 * 4).map((_, i) => (i % 4 === 3 ? 255 : 128));
    const L = rgba8ToLab(new Uint8ClampedArray([128, 128, 128, 255]), 1, 1).L[0]!;
    assert.ok(Math.abs(L - 53.585) < 0.01, `L of sRGB 128: ${L}`);
    const n = networkInput({ data, width: 20, height: 12 }, { resolution: 8, multiple: 4 });
    assert.deepEqual([n.width, n.height], [12, 8]);
    const S = 8;
    for (const [gray, value] of [['srgb', 128 / 255], ['lightness', L / 100]] as const) {
      for (const layout of ['NCHW', 'NHWC'] as const) {
        const d = testDescriptor(layout, S);
        const pre = resolveDescriptor(d, { inputs: [{ name: 'input' }], outputs: [{ name: 'output' }], nodes: [] }, { gray });
        const x = classifierInputFromL(n.L, n.width, n.height, pre);
        assert.equal(x.length, 3 * S * S);
        for (let c = 0; c < 3; c++) {
          const want = (value - d.mean[c]!) / d.std[c]!;
          const at = (p: number) => (layout === 'NCHW' ? c * S * S + p : p * 3 + c);
          for (const p of [0, 27, S * S - 1]) assert.ok(Math.abs(x[at(p)]! - want) < 1e-4, `${gray} ${layout} channel ${c} pixel ${p}: ${x[at(p)]} vs ${want}`);
        }
      }
    }
  });

  test("the TF.js route's TypeScript preprocessing equals the fused graph's nodes within 1e-5 on photos at their network size", async () => {
    // The default view (short side 256) and a 224 input, as for MobileNetV2: a 256 -> 224 resize,
    // on a photo and on pixel noise (fine detail is where float32 and double coordinates part).
    let seed = 12345;
    const noise = new Uint8ClampedArray(400 * 300 * 4).map((_, i) => (i % 4 === 3 ? 255 : (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24));
    const big = [networkInput(await decodeImage(photos[0]!)), networkInput({ data: noise, width: 400, height: 300 })];
    let worst = 0;
    for (const gray of ['srgb', 'lightness'] as GrayMode[]) {
      for (const [layout, side] of [['NCHW', 224], ['NHWC', 224], ['NCHW', 32]] as const) {
        const pre = resolveDescriptor(testDescriptor(layout, side), { inputs: [{ name: 'input' }], outputs: [{ name: 'output' }], nodes: [] }, { gray });
        const s = await ort.InferenceSession.create(preprocessingGraph(pre));
        try {
          for (const n of side === 32 ? inputs : big) {
            const graph = (await s.run({ L: new ort.Tensor('float32', n.x, [1, 1, n.height, n.width]) })).x!.data as Float32Array;
            const ts = classifierInputFromL(n.L, n.width, n.height, pre);
            const d = maxDiff(graph, ts);
            worst = Math.max(worst, d);
            assert.ok(d < 1e-5, `${gray} ${layout} ${side}: graph vs TypeScript differ by ${d}`);
          }
        } finally {
          await s.release();
        }
      }
    }
    assert.ok(worst < 1e-5, `worst ${worst}`);
  });

  test('descriptors: built-ins, named normalisations, and clear errors for bad fields', async () => {
    const m = BUILTIN_DESCRIPTORS.mobilenetv2!;
    assert.deepEqual([m.inputSize, m.layout, m.input, m.output, m.outputKind], [[224, 224], 'NCHW', 'input', 'output', 'logits']);
    const irv2 = BUILTIN_DESCRIPTORS['inception-resnet-v2']!;
    assert.deepEqual([irv2.inputSize, irv2.layout, irv2.mean, irv2.std, irv2.outputKind], [[299, 299], 'NHWC', [0.5, 0.5, 0.5], [0.5, 0.5, 0.5], 'probs']);
    const d = parseDescriptor({ name: 'x', inputSize: [10, 12], normalization: 'inception' });
    assert.deepEqual([d.inputSize, d.layout, d.outputKind], [[10, 12], 'NCHW', 'auto']);
    const cases: [unknown, RegExp][] = [
      [{ name: 'x', inputSize: 0, normalization: 'unit' }, /inputSize/],
      [{ name: 'x', inputSize: 8 }, /normalization.*required/],
      [{ name: 'x', inputSize: 8, normalization: 'caffe' }, /unknown "normalization" "caffe"/],
      [{ name: 'x', inputSize: 8, normalization: { mean: [0, 0], std: [1, 1, 1] } }, /normalization.mean/],
      [{ name: 'x', inputSize: 8, normalization: { mean: 0, std: [1, 0, 1] } }, /normalization.std/],
      [{ name: 'x', inputSize: 8, normalization: 'unit', layout: 'CHW' }, /layout/],
      [{ name: 'bad name', inputSize: 8, normalization: 'unit' }, /"name"/],
      [[1, 2], /JSON object/],
    ];
    for (const [raw, re] of cases) assert.throws(() => parseDescriptor(raw), (e) => isTintaError(e, 'BAD_ARGUMENT') && re.test((e as Error).message), JSON.stringify(raw));
    const file = join(root, 'desc.json');
    writeFileSync(file, JSON.stringify({ inputSize: 16, normalization: 'unit', layout: 'NHWC' }));
    assert.equal((await loadDescriptor(file, 'from-file')).name, 'from-file');
    await assert.rejects(loadDescriptor(join(root, 'missing.json')), (e) => isTintaError(e, 'BAD_ARGUMENT') && /neither a built-in/.test((e as Error).message));
  });
});

describe('sources', () => {
  test('the hand-written TF.js graph model loads with loadGraphModel through the file IO handler', async () => {
    const path = writeTfjsClassifier(join(root, 'tfjs-load'), weights);
    const model = await loadGraphModel(graphModelFileHandler(path));
    assert.deepEqual(model.inputs.map((t) => [t.name, t.shape]), [['input', [-1, 32, 32, 3]]]);
    const y = model.execute(tf.zeros([2, 32, 32, 3])) as tf.Tensor;
    assert.deepEqual(y.shape, [2, CLASSES]);
    y.dispose();
    model.dispose();
  });

  test('the ONNX (NCHW) and TF.js (NHWC) forms of one classifier give the same softmax probabilities', async () => {
    const onnx = await loadOnnxSource(onnxClassifier(weights), testDescriptor('NCHW'));
    const tfjs = await loadTfjsSource(writeTfjsClassifier(join(root, 'tfjs'), weights), testDescriptor('NHWC'));
    try {
      assert.deepEqual([onnx.preprocessing.gray, tfjs.preprocessing.gray], ['srgb', 'srgb']);
      const a = await onnx.embed(inputs);
      const b = await tfjs.embed(inputs);
      assert.equal(a.length, 3);
      for (let i = 0; i < 3; i++) {
        assert.equal(a[i]!.length, CLASSES);
        assert.ok(Math.abs(sum(a[i]!) - 1) < 1e-5, `sum ${sum(a[i]!)}`);
        assert.ok(Math.max(...a[i]!) > 0.01, `max probability ${Math.max(...a[i]!)} (uniform would be 0.001)`);
        const d = maxDiff(a[i]!, b[i]!);
        assert.ok(d < 1e-5, `photo ${i}: ONNX vs TF.js differ by ${d}`);
      }
      assert.ok(maxDiff(a[0]!, a[1]!) > 1e-3, 'different photos give different embeddings');
    } finally {
      await onnx.dispose();
      await tfjs.dispose();
    }
  });

  test('a fixed batch of 1 gives the same results; softmax outputs are kept as probabilities', async () => {
    const free = await loadOnnxSource(onnxClassifier(weights), testDescriptor('NCHW'));
    const one = await loadOnnxSource(onnxClassifier(weights, { batch: 1 }), testDescriptor('NCHW'));
    const probs = await loadOnnxSource(onnxClassifier(weights, { softmax: true }), testDescriptor('NCHW', 32, { outputKind: 'probs' }));
    const auto = await loadOnnxSource(onnxClassifier(weights, { softmax: true }), testDescriptor('NCHW', 32, { outputKind: 'auto' }));
    try {
      const a = await free.embed(inputs), b = await one.embed(inputs), c = await probs.embed(inputs), d = await auto.embed(inputs);
      for (let i = 0; i < inputs.length; i++) {
        assert.ok(maxDiff(a[i]!, b[i]!) < 1e-6);
        assert.ok(maxDiff(a[i]!, c[i]!) < 1e-6);
        assert.ok(maxDiff(a[i]!, d[i]!) < 1e-6);
      }
    } finally {
      for (const s of [free, one, probs, auto]) await s.dispose();
    }
  });

  test('a model that does not fit its descriptor is MODEL_INVALID saying what differs', async () => {
    const bytes = onnxClassifier(weights);
    await assert.rejects(loadOnnxSource(bytes, testDescriptor('NHWC')), (e) => isTintaError(e, 'MODEL_INVALID') && /\[N, 3, 32, 32\].*NHWC.*looks like NCHW/s.test((e as Error).message));
    await assert.rejects(loadOnnxSource(bytes, testDescriptor('NCHW', 224)), (e) => isTintaError(e, 'MODEL_INVALID') && /224x224/.test((e as Error).message));
    await assert.rejects(loadOnnxSource(bytes, testDescriptor('NCHW', 32, { input: 'data' })), (e) => isTintaError(e, 'MODEL_INVALID') && /no input "data".*"input"/.test((e as Error).message));
    await assert.rejects(loadOnnxSource(bytes, testDescriptor('NCHW', 32, { classes: 1001 })), (e) => isTintaError(e, 'MODEL_INVALID') && /1000 classes.*says 1001/.test((e as Error).message));
    const logitsAsProbs = await loadOnnxSource(bytes, testDescriptor('NCHW', 32, { outputKind: 'probs' }));
    await assert.rejects(logitsAsProbs.embed(inputs.slice(0, 1)), (e) => isTintaError(e, 'MODEL_INVALID') && /"outputKind": "logits"/.test((e as Error).message));
    await logitsAsProbs.dispose();
    await assert.rejects(loadOnnxSource(new Uint8Array([1, 2, 3]), testDescriptor('NCHW')), (e) => isTintaError(e, 'MODEL_INVALID'));
  });

  test('openEmbeddingSource: a path without a descriptor is inferred from its input shape; missing or wrong models say what to do', async () => {
    const file = join(root, 'classifier.onnx');
    writeFileSync(file, onnxClassifier(weights));
    const o = await openEmbeddingSource(file);
    try {
      assert.equal(o.source.name, 'classifier');
      assert.deepEqual([o.source.descriptor.inputSize, o.source.descriptor.layout, o.source.descriptor.outputKind], [[32, 32], 'NCHW', 'auto']);
      assert.match(o.notice ?? '', /no --descriptor.*ImageNet mean\/std/);
      assert.equal(o.identity.model.file, 'classifier.onnx');
      assert.match(o.identity.model.sha256, /^[0-9a-f]{64}$/);
      // Logits through 'auto' still come out as probabilities.
      const [v] = await o.source.embed(inputs.slice(0, 1));
      assert.ok(Math.abs(sum(v!) - 1) < 1e-5);
    } finally {
      await o.source.dispose();
    }
    const empty = mkdtempSync(join(root, 'models-'));
    await assert.rejects(openEmbeddingSource('mobilenetv2', { modelsDir: empty }), (e) => isTintaError(e, 'MODEL_NOT_FOUND') && /tinta models fetch mobilenetv2/.test((e as Error).message));
    await assert.rejects(openEmbeddingSource('inception-resnet-v2', { modelsDir: empty }), (e) => isTintaError(e, 'MODEL_NOT_FOUND') && /tf2onnx/.test((e as Error).message));
    await assert.rejects(openEmbeddingSource(join(root, 'nope.onnx')), (e) => isTintaError(e, 'MODEL_NOT_FOUND') && /neither a built-in/.test((e as Error).message));
    const colorizer = join(root, 'colorizer.onnx');
    writeFileSync(colorizer, buildTestModel());
    await assert.rejects(openEmbeddingSource(colorizer), (e) => isTintaError(e, 'MODEL_INVALID') && /colorization model/.test((e as Error).message));
  });

  test('inspectModel reports a TF.js model\'s tensors and hashes its weights with it', async () => {
    const dir = join(root, 'tfjs-inspect');
    writeTfjsClassifier(dir, weights);
    const a = await inspectModel(dir);
    assert.equal(a.format, 'tfjs');
    assert.deepEqual(a.inputs.map((t) => [t.name, t.shape]), [['input', [null, 32, 32, 3]]]);
    assert.deepEqual(a.outputs.map((t) => t.name), ['output']);
    writeTfjsClassifier(dir, classifierWeights(8));
    const b = await inspectModel(join(dir, 'model.json'));
    assert.notEqual(a.sha256, b.sha256, 'new weights, same model.json: a different hash');
  });

  test('softmax is stable for large logits', () => {
    const p = softmax([1000, 999, -1000]);
    assert.ok(Math.abs(p[0]! - 1 / (1 + Math.exp(-1))) < 1e-6 && p[2] === 0);
  });
});
