// tinta fuse: a fusion colorizer exported from the trainer's model and a small quantized classifier
// (opset 12, com.microsoft QLinearAdd / QLinearGlobalAveragePool, opset-12 Unsqueeze/Squeeze/Softmax)
// become one graph that takes L alone. Its output must equal running the two models separately (the
// classifier on the input computed in TypeScript with sdk/color) within 1e-4, on onnxruntime-node and
// onnxruntime-web, for a batch of two; its preprocessing must match the TypeScript reference; opset
// conversions must keep the meaning of what they rewrite; the metadata records the classifier; the
// SDK runs the fused model like a plain one; and everything that does not fit fails clearly.
import { before, after, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, existsSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { Command } from 'commander';
import { fuseModels, fuseFiles, buildEmbeddingModel } from '../converters/fuse.ts';
import { classifierInputFromL, resolveDescriptor, type ResolvedDescriptor } from '../converters/fuse-classifier.ts';
import { emitClassifierInput } from '../converters/fuse-preprocess.ts';
import { reconcileOpset } from '../converters/fuse-opset.ts';
import { quantizeModel } from '../converters/quantize.ts';
import { verifyContentHash, sha256Hex } from '../converters/content-hash.ts';
import { decodeModel, encodeModel, GraphBuilder, DataType, getMetadata } from '../converters/onnx/model.ts';
import { registerFuse } from '../cli/commands/fuse.ts';
import type { EmbeddingDescriptor } from '../trainer/embedding/descriptor.ts';
import { softmax } from '../trainer/embedding/preprocess.ts';
import { buildMetadata, parseModelInfo, MetaKeys, type ModelInfo } from '../sdk/model/metadata.ts';
import { labToSrgb } from '../sdk/color/lab.ts';
import { preprocess, decodeAb, postprocess } from '../sdk/core/pipeline.ts';
import { createColorizer } from '../sdk/node.ts';
import { TintaError, ErrorCodes } from '../sdk/errors.ts';
import { buildTestClassifier, buildFusionColorizer } from './fuse-fixtures.ts';
import { syntheticPhoto } from './sdk-fixtures.ts';
import { expectCode } from './converters-fixtures.ts';

type Ort = typeof ortNode;
const runtimes: [string, Ort][] = [['onnxruntime-node', ortNode], ['onnxruntime-web', ortWeb as unknown as Ort]];
ortWeb.env.wasm.numThreads = 1;
ortNode.env.logLevel = 'error';
ortWeb.env.logLevel = 'error';

const TOL = 1e-4;
const D = 10;
const DESCRIPTOR: EmbeddingDescriptor = { name: 'testnet', inputSize: [32, 32], layout: 'NCHW', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], outputKind: 'logits' };
let dir: string;
let colorizer: Uint8Array; // embedding source 'testnet'
let classifier: Uint8Array;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tinta-fuse-'));
  colorizer = await buildFusionColorizer({ dim: D, embeddingSource: 'testnet' });
  classifier = buildTestClassifier({ classes: D });
});
after(() => rmSync(dir, { recursive: true, force: true }));

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** A smooth, image-like L plane / 100 (what tinta colorizers take), different per seed. */
function smoothInput(w: number, h: number, seed: number): Float32Array {
  return Float32Array.from({ length: w * h }, (_, i) => {
    const x = i % w, y = Math.floor(i / w);
    return 0.5 + 0.3 * Math.sin(x / (5 + seed) + seed) * Math.cos(y / (7 + seed)) + 0.15 * Math.sin((x + 2 * y) / 3);
  });
}

// Sessions are made once per model and runtime (onnxruntime-web's are slow to create) and released at the end.
const sessions = new Map<Ort, WeakMap<Uint8Array, Promise<ortNode.InferenceSession>>>();
const opened: Promise<ortNode.InferenceSession>[] = [];
after(async () => {
  for (const s of opened) await (await s).release();
});

async function run(ort: Ort, bytes: Uint8Array, feeds: Record<string, { data: Float32Array; dims: number[] }>): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
  let byModel = sessions.get(ort);
  if (!byModel) sessions.set(ort, (byModel = new WeakMap()));
  let session = byModel.get(bytes);
  if (!session) {
    session = ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
    byModel.set(bytes, session);
    opened.push(session);
  }
  const out = await (await session).run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('float32', v.data, v.dims)])));
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [k, { data: v.data as Float32Array, dims: v.dims }]));
}

/** The reference: per image, the classifier on the TypeScript-preprocessed input -> softmax -> the colorizer. */
async function separately(ort: Ort, x: Float32Array[], w: number, h: number, d: ResolvedDescriptor, k: Uint8Array, c: Uint8Array, soft = true): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (const xi of x) {
    const input = classifierInputFromL(Float32Array.from(xi, (v) => v / 0.01), w, h, d);
    const dims = d.layout === 'NCHW' ? [1, 3, d.height, d.width] : [1, d.height, d.width, 3];
    const scores = (await run(ort, k, { input: { data: input, dims } })).output!.data;
    const emb = soft ? softmax(scores) : Float32Array.from(scores);
    out.push((await run(ort, c, { L: { data: xi, dims: [1, 1, h, w] }, embedding: { data: emb, dims: [1, D] } })).logits!.data);
  }
  return out;
}

test('the preprocessing nodes match the TypeScript reference (crop, gray, resize, normalise; NCHW and NHWC)', async () => {
  const cases: { gray: 'lightness' | 'srgb'; layout: 'NCHW' | 'NHWC'; size: [number, number]; w: number; h: number; offset: number }[] = [
    { gray: 'lightness', layout: 'NCHW', size: [32, 32], w: 80, h: 48, offset: 0 },
    { gray: 'srgb', layout: 'NHWC', size: [24, 40], w: 40, h: 64, offset: -1 },
    { gray: 'srgb', layout: 'NCHW', size: [30, 30], w: 29, h: 31, offset: 0 },
  ];
  for (const c of cases) {
    const d: ResolvedDescriptor = {
      name: 't', height: c.size[0], width: c.size[1], mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225], layout: c.layout, output: 'logits', outputFrom: 'descriptor',
      gray: c.gray, crop: 'center', resize: 'bilinear-half-pixel', antialias: false, input: 'in', outputName: 'out',
    };
    const scale = c.offset === 0 ? 0.01 : 1 / 50;
    const g = new GraphBuilder();
    g.addInput('x', DataType.FLOAT, ['N', 1, 'H', 'W']);
    emitClassifierInput(g, 'x', { name: 'x', scale, offset: c.offset }, d, 'y', 'p/');
    g.addOutput('y', DataType.FLOAT);
    const bytes = encodeModel({ graph: g });
    const L = [smoothInput(c.w, c.h, 1), smoothInput(c.w, c.h, 2)].map((p) => Float32Array.from(p, (v) => v * 100));
    const x = new Float32Array(2 * c.w * c.h);
    L.forEach((p, i) => x.set(Float32Array.from(p, (v) => v * scale + c.offset), i * c.w * c.h));
    const got = (await run(ortNode, bytes, { x: { data: x, dims: [2, 1, c.h, c.w] } })).y!;
    assert.deepEqual(got.dims, c.layout === 'NCHW' ? [2, 3, ...c.size] : [2, ...c.size, 3], `${c.gray} ${c.layout}`);
    const m = 3 * c.size[0] * c.size[1];
    for (let i = 0; i < 2; i++) {
      const want = classifierInputFromL(Float32Array.from(x.subarray(i * c.w * c.h, (i + 1) * c.w * c.h), (v) => (v - c.offset) / scale), c.w, c.h, d);
      const diff = maxAbsDiff(got.data.subarray(i * m, (i + 1) * m), want);
      assert.ok(diff <= 1e-5, `${c.gray} ${c.layout} ${c.w}x${c.h} image ${i}: max |difference| ${diff}`);
    }
  }
});

test("the 'srgb' gray curve is sdk/color's Lab -> sRGB of the neutral colour over the whole L range", async () => {
  const n = 10001;
  const d = resolveDescriptor({ name: 'ramp', inputSize: [1, n], layout: 'NCHW', mean: [0, 0, 0], std: [1, 1, 1], outputKind: 'logits' }, { inputs: [{ name: 'in' }], outputs: [{ name: 'out' }], nodes: [] }, { gray: 'srgb' });
  const g = new GraphBuilder();
  g.addInput('x', DataType.FLOAT, [1, 1, 1, n]);
  emitClassifierInput(g, 'x', { name: 'x', scale: 0.01, offset: 0 }, d, 'y', 'p/');
  g.addOutput('y', DataType.FLOAT);
  const x = Float32Array.from({ length: n }, (_, i) => i / (n - 1));
  const y = (await run(ortNode, encodeModel({ graph: g }), { x: { data: x, dims: [1, 1, 1, n] } })).y!.data;
  let worst = 0;
  for (let i = 0; i < n; i++) {
    const rgb = labToSrgb(x[i]! / 0.01, 0, 0);
    for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(y[c * n + i]! - rgb[c]!));
  }
  assert.ok(worst < 1e-6, `max |difference| from labToSrgb ${worst}`);
  assert.ok(Math.abs(y[0]! - 0) < 1e-7 && Math.abs(y[n - 1]! - 1) < 1e-6, 'black stays 0 and white 1');
});

test(`parity: the fused model equals classifier -> softmax -> colorizer run separately, within ${TOL}, batch of 2, on both runtimes`, async () => {
  const { bytes, report } = fuseModels(colorizer, classifier, { descriptor: DESCRIPTOR });
  assert.deepEqual(decodeModel(bytes).graph.inputs.map((v) => [v.name, v.shape]), [['L', ['N', 1, 'H', 'W']]]);
  for (const [w, h] of [[64, 64], [80, 48]] as const) {
    const x = [smoothInput(w, h, 1), smoothInput(w, h, 3)];
    const batch = new Float32Array(2 * w * h);
    batch.set(x[0]!, 0);
    batch.set(x[1]!, w * h);
    for (const [name, ort] of runtimes) {
      const fused = (await run(ort, bytes, { L: { data: batch, dims: [2, 1, h, w] } })).logits!;
      assert.deepEqual(fused.dims, [2, 112, h / 4, w / 4]);
      const ref = await separately(ort, x, w, h, report.descriptor, classifier, colorizer);
      const per = fused.data.length / 2;
      for (let i = 0; i < 2; i++) {
        const diff = maxAbsDiff(fused.data.subarray(i * per, (i + 1) * per), ref[i]!);
        assert.ok(diff <= TOL, `${name} ${w}x${h} image ${i}: max |difference| ${diff}`);
      }
      // The two images get different embeddings: the classifier really runs per image.
      assert.ok(maxAbsDiff(ref[0]!, ref[1]!) > 1e-3, `${name}: the images' outputs differ`);
    }
  }
});

test('an embedding model built alone computes exactly the embedding inside the fused graph', async () => {
  const fused = decodeModel(fuseModels(colorizer, classifier, { descriptor: DESCRIPTOR }).bytes);
  fused.graph.outputs.push({ name: 'embedding', elemType: DataType.FLOAT });
  const em = buildEmbeddingModel(classifier, { descriptor: DESCRIPTOR });
  assert.equal(em.dim, D);
  const x = smoothInput(72, 56, 5);
  const inside = (await run(ortNode, encodeModel(fused), { L: { data: x, dims: [1, 1, 56, 72] } })).embedding!;
  const alone = (await run(ortNode, em.bytes, { L: { data: x, dims: [1, 1, 56, 72] } })).embedding!;
  assert.deepEqual(alone.dims, [1, D]);
  assert.deepEqual(Array.from(alone.data), Array.from(inside.data));
  assert.ok(Math.abs(alone.data.reduce((a, v) => a + v, 0) - 1) < 1e-5, 'softmax probabilities');
});

test('a classifier that outputs probabilities (opset-12 Softmax, converted) gets no second softmax', async () => {
  const k = buildTestClassifier({ classes: D, softmax: true, seed: 11 });
  const { bytes, report } = fuseModels(colorizer, k, { descriptor: { ...DESCRIPTOR, outputKind: 'auto' } });
  assert.equal(report.descriptor.output, 'probabilities');
  assert.equal(report.descriptor.outputFrom, 'graph');
  assert.ok(report.converted.some((c) => c.includes('(Softmax)@13')), report.converted.join('; '));
  assert.ok(!decodeModel(bytes).graph.nodes.some((n) => n.name?.startsWith('emb/embedding') && n.opType === 'Softmax'));
  const x = [smoothInput(48, 48, 2)];
  const fused = (await run(ortNode, bytes, { L: { data: x[0]!, dims: [1, 1, 48, 48] } })).logits!;
  const ref = await separately(ortNode, x, 48, 48, report.descriptor, k, colorizer, false);
  const diff = maxAbsDiff(fused.data, ref[0]!);
  assert.ok(diff <= TOL, `max |difference| ${diff}`);
  // The explicit option wins over the descriptor.
  assert.equal(fuseModels(colorizer, k, { descriptor: DESCRIPTOR, embeddingOutput: 'probabilities' }).report.descriptor.outputFrom, 'option');
});

test('opsets and domains: opset 12 + com.microsoft merged at 17; metadata kept, kind fused, classifier recorded, content hash', () => {
  const { bytes, info, report } = fuseModels(colorizer, classifier, { descriptor: DESCRIPTOR });
  const m = decodeModel(bytes);
  assert.deepEqual(m.opset, [{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }]);
  assert.equal(m.irVersion, 8);
  assert.equal(report.classifierOpset, 12);
  assert.deepEqual(report.converted.map((c) => c.split('@')[0]), ["'Unsqueeze' (Unsqueeze)", "'Unsqueeze_1' (Unsqueeze)", "'Squeeze' (Squeeze)"]);
  const ops = m.graph.nodes.filter((n) => n.domain === 'com.microsoft').map((n) => n.opType).sort();
  assert.deepEqual(ops, ['QLinearAdd', 'QLinearGlobalAveragePool']);
  // Every classifier name is prefixed; the colorizer's are untouched.
  const plain = decodeModel(colorizer);
  const plainNames = new Set(plain.graph.nodes.map((n) => n.name));
  for (const n of m.graph.nodes) assert.ok(plainNames.has(n.name) || n.name!.startsWith('emb/'), n.name);
  assert.ok(m.graph.initializers.some((t) => t.name === 'emb/conv1.w_q'));
  // Metadata: the colorizer's, with kind fused and the classifier recorded.
  const plainInfo = parseModelInfo(getMetadata(plain));
  assert.equal(info.kind, 'fused');
  assert.deepEqual(info.buckets.centers, plainInfo.buckets.centers);
  assert.deepEqual([info.input, info.output, info.temperature, info.spatialMultiple, info.provenance], [plainInfo.input, plainInfo.output, plainInfo.temperature, plainInfo.spatialMultiple, plainInfo.provenance]);
  assert.equal(info.embedding?.input, '');
  assert.equal(info.embedding?.dim, D);
  assert.equal(info.embedding?.source, 'testnet');
  assert.equal(info.embedding?.classifier?.name, 'testnet');
  assert.equal(info.embedding?.classifier?.sha256, sha256Hex(classifier));
  assert.deepEqual(info.embedding?.classifier?.descriptor, { ...report.descriptor });
  assert.deepEqual(parseModelInfo(getMetadata(m)), info);
  assert.ok(verifyContentHash(bytes));
  assert.notEqual(info.contentHash, plainInfo.contentHash);
});

test('opset conversions keep the meaning: opset-11/12 graphs and their converted copies give the same outputs', async () => {
  // Old Softmax on a 3-D input (flattens at axis 1), ReduceMean/ReduceSum/Split/Squeeze/Unsqueeze with
  // attribute axes, an equal Split, and an inference Dropout with its ratio attribute (opset 11).
  const g = new GraphBuilder();
  g.addInput('x', DataType.FLOAT, [2, 3, 4]);
  g.addNode({ opType: 'Softmax', inputs: ['x'], outputs: ['sm'], attrs: { axis: 1 } });
  g.addNode({ opType: 'ReduceMean', inputs: ['x'], outputs: ['mean'], attrs: { axes: [2], keepdims: 1 } });
  g.addNode({ opType: 'ReduceSum', inputs: ['x'], outputs: ['sum'], attrs: { axes: [1] } });
  g.addNode({ opType: 'Split', inputs: ['x'], outputs: ['s0', 's1'], attrs: { axis: 2, split: [1, 3] } });
  g.addNode({ opType: 'Unsqueeze', inputs: ['s0'], outputs: ['u'], attrs: { axes: [0] } });
  g.addNode({ opType: 'Squeeze', inputs: ['u'], outputs: ['sq'], attrs: { axes: [0, 3] } });
  g.addNode({ opType: 'Dropout', inputs: ['s1'], outputs: ['drop'], attrs: { ratio: 0.5 } });
  g.addNode({ opType: 'Split', inputs: ['x'], outputs: ['h0', 'h1'], attrs: { axis: 2 } });
  for (const o of ['sm', 'mean', 'sum', 'sq', 'drop', 'h1']) g.addOutput(o, DataType.FLOAT);
  const old = encodeModel({ graph: g, opset: [{ domain: '', version: 11 }], irVersion: 6 });
  const model = decodeModel(old);
  const report = reconcileOpset(model.graph, 11, 18, 'The test graph');
  assert.equal(report.converted.length, 8, report.converted.join('; '));
  const converted = encodeModel({ ...model, opset: [{ domain: '', version: 18 }], irVersion: 8 });
  const x = Float32Array.from({ length: 24 }, (_, i) => Math.sin(i * 1.7) * 3);
  const a = await run(ortNode, old, { x: { data: x, dims: [2, 3, 4] } });
  const b = await run(ortNode, converted, { x: { data: x, dims: [2, 3, 4] } });
  for (const o of ['sm', 'mean', 'sum', 'sq', 'drop', 'h1']) {
    assert.deepEqual(b[o]!.dims, a[o]!.dims, o);
    assert.ok(maxAbsDiff(a[o]!.data, b[o]!.data) < 1e-6, o);
  }
  // The old Softmax normalised axes 1 and 2 together: the 12 values of each batch item sum to 1.
  assert.ok(Math.abs(b.sm!.data.subarray(0, 12).reduce((s, v) => s + v, 0) - 1) < 1e-5);
});

test('what cannot be fused fails with FUSE_FAILED or BAD_ARGUMENT, saying why', async () => {
  const fused = fuseModels(colorizer, classifier, { descriptor: DESCRIPTOR }).bytes;
  assert.throws(() => fuseModels(fused, classifier, { descriptor: DESCRIPTOR }), expectCode(ErrorCodes.FUSE_FAILED, /already fused/));
  const plain = await buildFusionColorizer({ dim: D });
  const noFusionMeta = decodeModel(plain);
  noFusionMeta.metadata[MetaKeys.embedding] = 'none';
  assert.throws(() => fuseModels(encodeModel(noFusionMeta), classifier, { descriptor: DESCRIPTOR }), expectCode(ErrorCodes.FUSE_FAILED, /takes L alone/));
  // Without a recorded source the descriptor must be given.
  assert.throws(() => fuseModels(plain, classifier), expectCode(ErrorCodes.BAD_ARGUMENT, /which classifier/));
  assert.throws(() => fuseModels(colorizer, classifier, { descriptor: 'mobilenetv2' }), expectCode(ErrorCodes.FUSE_FAILED, /trained on embeddings from 'testnet', not 'mobilenetv2'/));
  assert.throws(() => fuseModels(plain, classifier, { descriptor: 'nosuchnet' }), expectCode(ErrorCodes.BAD_ARGUMENT, /built-in/));
  // Sizes that do not fit.
  assert.throws(() => fuseModels(colorizer, classifier, { descriptor: { ...DESCRIPTOR, inputSize: [224, 224] } }), expectCode(ErrorCodes.FUSE_FAILED, /224x224/));
  assert.throws(() => fuseModels(colorizer, buildTestClassifier({ classes: 7 }), { descriptor: DESCRIPTOR }), expectCode(ErrorCodes.FUSE_FAILED, /7 values; the colorizer takes a 10-d/));
  assert.throws(() => fuseModels(colorizer, classifier, { descriptor: { ...DESCRIPTOR, output: 'nope' } }), expectCode(ErrorCodes.FUSE_FAILED, /no output 'nope'/));
  assert.throws(() => fuseModels(colorizer, new Uint8Array([1, 2, 3]), { descriptor: DESCRIPTOR }), expectCode(ErrorCodes.MODEL_INVALID, /^The classifier/));
  // Ops whose meaning changed without a conversion, and ops tinta does not know, are all listed.
  const bad = buildTestClassifier({
    classes: D,
    extraNodes: [{ opType: 'BatchNormalization', outputs: 3 }, { opType: 'Resize', attrs: { coordinate_transformation_mode: 'tf_half_pixel_for_nn' } }, { opType: 'Frobnicate' }],
  });
  assert.throws(() => fuseModels(colorizer, bad, { descriptor: { ...DESCRIPTOR, output: 'output' } }), (e: unknown) => {
    expectCode(ErrorCodes.FUSE_FAILED, /3 nodes cannot be carried over/)(e);
    const m = (e as TintaError).message;
    assert.match(m, /'extra0' \(BatchNormalization\): the training-mode outputs changed in opset 14/);
    assert.match(m, /\(Resize\): coordinate_transformation_mode 'tf_half_pixel_for_nn' was removed in opset 13/);
    assert.match(m, /\(Frobnicate\): not an op tinta knows/);
    return true;
  });
  assert.throws(() => fuseModels(colorizer, buildTestClassifier({ classes: D, opset: 10 }), { descriptor: DESCRIPTOR }), expectCode(ErrorCodes.FUSE_FAILED, /opset 10.*version_converter/));
  // A domain imported at two versions.
  const k2 = decodeModel(classifier);
  const c2 = decodeModel(colorizer);
  c2.opset.push({ domain: 'com.microsoft', version: 2 });
  assert.throws(() => fuseModels(encodeModel(c2), encodeModel(k2), { descriptor: DESCRIPTOR }), expectCode(ErrorCodes.FUSE_FAILED, /'com.microsoft' at different versions/));
  // Nothing is left at the output path when fusing fails.
  const cPath = join(dir, 'c.onnx'), kPath = join(dir, 'k.onnx'), out = join(dir, 'never.onnx');
  writeFileSync(cPath, fused);
  writeFileSync(kPath, classifier);
  await assert.rejects(fuseFiles(cPath, kPath, { descriptor: DESCRIPTOR, output: out }), expectCode(ErrorCodes.FUSE_FAILED));
  await assert.rejects(fuseFiles(join(dir, 'missing.onnx'), kPath, { output: out }), expectCode(ErrorCodes.MODEL_NOT_FOUND, /missing\.onnx/));
  assert.equal(existsSync(out), false);
  assert.deepEqual(readdirSync(dir).filter((f) => f.includes('never')), []);
});

test('metadata: a fused model needs its classifier record and no embedding input; a colorizer the opposite', () => {
  const base = parseModelInfo(getMetadata(decodeModel(colorizer)));
  const info = (over: Partial<ModelInfo>): Record<string, string> => buildMetadata({ ...base, ...over });
  const classifierRecord = { name: 'testnet', sha256: 'ab'.repeat(32), descriptor: { height: 32 } };
  assert.equal(parseModelInfo(info({ kind: 'fused', embedding: { input: '', dim: D, classifier: classifierRecord } })).kind, 'fused');
  for (const [what, over] of [
    ['fused with an embedding input', { kind: 'fused', embedding: { input: 'embedding', dim: D, classifier: classifierRecord } }],
    ['fused without a classifier record', { kind: 'fused', embedding: { input: '', dim: D } }],
    ['fused without an embedding', { kind: 'fused', embedding: null }],
    ['a colorizer without an embedding input', { kind: 'colorizer', embedding: { input: '', dim: D } }],
    ['a colorizer with a classifier record', { kind: 'colorizer', embedding: { input: 'embedding', dim: D, classifier: classifierRecord } }],
  ] as [string, Partial<ModelInfo>][]) {
    assert.throws(() => parseModelInfo(info(over)), expectCode(ErrorCodes.MODEL_INVALID, /tinta\.embedding does not fit tinta\.kind/), what);
  }
});

test('the Node SDK runs a fused model like a plain one and refuses a fusion model without its embedding', async () => {
  const { bytes } = fuseModels(colorizer, classifier, { descriptor: DESCRIPTOR });
  const W = 90, H = 70;
  const rgba = syntheticPhoto(W, H, 4);
  const c = await createColorizer({ model: bytes, backend: 'native', worker: false, cache: false });
  try {
    assert.equal(c.info.kind, 'fused');
    const r = await c.colorize({ data: rgba, width: W, height: H }, { resolution: 64 });
    assert.equal(r.width, W);
    // By hand: the SDK's own preprocessing, the two models separately, the SDK's own decoding.
    const info = c.info;
    const prep = preprocess({ data: rgba, width: W, height: H }, info, 64);
    const d = info.embedding!.classifier!.descriptor as unknown as ResolvedDescriptor;
    const input = classifierInputFromL(prep.netL, prep.netWidth, prep.netHeight, d);
    const emb = softmax((await run(ortNode, classifier, { input: { data: input, dims: [1, 3, 32, 32] } })).output!.data);
    const out = (await run(ortNode, colorizer, { L: { data: prep.input.data as Float32Array, dims: [...prep.input.dims] }, embedding: { data: emb, dims: [1, D] } })).logits!;
    const grid = { width: out.dims[3]!, height: out.dims[2]! };
    const abLow = decodeAb({ data: out.data, dims: [...out.dims] }, grid, info, { temperature: info.temperature, saturation: 1, upsample: 'guided' });
    const want = postprocess(prep, abLow, grid, 'guided');
    const abDiff = maxAbsDiff(r.ab().a, want.ab.subarray(0, W * H));
    assert.ok(abDiff < 1e-3, `ab max |difference| ${abDiff}`);
    assert.ok(maxAbsDiff(r.rgba(), want.rgba) <= 1);
  } finally {
    await c.dispose();
  }
  await assert.rejects(createColorizer({ model: colorizer, backend: 'native', worker: false, cache: false }), expectCode(ErrorCodes.MODEL_NEEDS_EMBEDDING, /tinta fuse/));
});

test('quantize refuses a fused model; a quantized (fp16) colorizer fuses and runs', async () => {
  const fused = fuseModels(colorizer, classifier, { descriptor: DESCRIPTOR }).bytes;
  await assert.rejects(quantizeModel(fused, { mode: 'fp16' }), expectCode(ErrorCodes.QUANTIZE_FAILED, /fused; quantize the colorizer before fusing/));
  const half = (await quantizeModel(colorizer, { mode: 'fp16' })).bytes;
  const r = fuseModels(half, classifier, { descriptor: DESCRIPTOR });
  assert.equal(r.info.precision, 'fp16');
  const x = smoothInput(48, 48, 6);
  const fromHalf = (await run(ortNode, r.bytes, { L: { data: x, dims: [1, 1, 48, 48] } })).logits!.data;
  const ref = await separately(ortNode, [x], 48, 48, r.report.descriptor, classifier, half);
  assert.ok(maxAbsDiff(fromHalf, ref[0]!) <= TOL);
});

test('tinta fuse writes the fused model and reports it; bad input exits with a coded error', async () => {
  const cPath = join(dir, 'tiny-fusion.onnx'), kPath = join(dir, 'classifier.onnx'), descPath = join(dir, 'testnet.json');
  writeFileSync(cPath, colorizer);
  writeFileSync(kPath, classifier);
  writeFileSync(descPath, JSON.stringify({ name: 'testnet', inputSize: 32, layout: 'NCHW', normalization: 'imagenet', outputKind: 'logits' }));
  const program = () => {
    const p = new Command('tinta').exitOverride();
    registerFuse(p);
    return p;
  };
  const logs: string[] = [];
  const log = console.log;
  console.log = (...a: unknown[]) => void logs.push(a.join(' '));
  try {
    await program().parseAsync(['node', 'tinta', 'fuse', cPath, '--embedding', kPath, '--descriptor', descPath]);
  } finally {
    console.log = log;
  }
  const out = join(dir, 'tiny-fusion.fused.onnx');
  assert.match(logs[0]!, /^wrote .*tiny-fusion\.fused\.onnx: .* opset 17/);
  assert.match(logs[1]!, /classifier testnet .*centre crop, srgb gray, 32x32 NCHW.*softmax of its logits -> 10-d embedding/);
  assert.match(logs.at(-1)!, /not checked against the training embeddings: pass --embeddings CACHE/);
  const written = new Uint8Array(readFileSync(out));
  assert.equal(parseModelInfo(getMetadata(decodeModel(written))).kind, 'fused');
  await assert.rejects(program().parseAsync(['node', 'tinta', 'fuse', cPath, '--embedding', kPath, '--descriptor', 'mobilenetv2']), expectCode(ErrorCodes.FUSE_FAILED, /testnet/));
  await assert.rejects(program().parseAsync(['node', 'tinta', 'fuse', cPath]), /required option '--embedding/);
});
