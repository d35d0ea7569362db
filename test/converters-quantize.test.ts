// Quantization of exported models. Random-weight networks have near-uniform logits, where the
// argmax flips on any rounding (int8 agreement on one is ~86-95%), which says nothing about real
// models; so the main fixture is a tiny fusion network trained for 30 Adam steps on synthetic
// photos whose colours follow their structure, which gives peaked, image-dependent logits. On it:
// int8 (QDQ, fused by onnxruntime into QLinearConv) must keep >= 97% of argmax buckets, fp16
// >= 99.5%, both must run in onnxruntime-node and -web, and bad inputs must fail clearly. The int8
// pipeline's parts are checked on their own too: channel equalization must leave the float network
// unchanged, float convs must keep precise weights (onnxruntime must not requantize them), conv
// weights must be safe from int16 pair saturation, and the accuracy fallback must keep the convs
// nearest the output float, within its compute budget.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { initBackend } from '../trainer/backend.ts';
import { buildModel, presetConfig } from '../trainer/model.ts';
import { exportModel } from '../converters/export.ts';
import { quantizeModel, calibrationInputs, normalisedL, type CalibrationImage } from '../converters/quantize.ts';
import { measureAgreement } from '../converters/agreement.ts';
import { syntheticEmbeddings } from '../converters/calibration.ts';
import { float16Bits, float16Value } from '../converters/fp16.ts';
import { verifyContentHash } from '../converters/content-hash.ts';
import { DataType, decodeModel, encodeModel } from '../converters/onnx/model.ts';
import { findEqualizable, equalize } from '../converters/equalize.ts';
import { channelAbsMax, collectStats } from '../converters/calibrate.ts';
import { convWeightsInt8 } from '../converters/qdq.ts';
import { getBuckets } from '../sdk/color/buckets.ts';
import { parseModelInfo } from '../sdk/model/metadata.ts';
import { readOnnxMetadata } from '../sdk/model/onnx-metadata.ts';
import { writeImage } from '../sdk/image/node.ts';
import { TintaError, ErrorCodes } from '../sdk/errors.ts';
import { randomizeWeights, syntheticPhoto, trainBriefly, expectCode } from './converters-fixtures.ts';

type Ort = typeof ortNode;
ortWeb.env.wasm.numThreads = 1;
ortNode.env.logLevel = 'error';
ortWeb.env.logLevel = 'error';

const SIZE = 64;
let dir: string;
let fp32: Uint8Array;
let calibration: CalibrationImage[];
let heldOut: CalibrationImage[];
let embeddings: Float32Array[];

before(async () => {
  await initBackend('wasm');
  dir = mkdtempSync(join(tmpdir(), 'tinta-quantize-'));
  const model = buildModel(presetConfig('tiny', { fusion: true, widthMultiplier: 0.25 }));
  randomizeWeights(model, 3);
  const photos = Array.from({ length: 12 }, (_, i) => syntheticPhoto(SIZE, SIZE, 100 + i));
  embeddings = syntheticEmbeddings(12, 1000, 9);
  const losses = trainBriefly(model, photos, getBuckets('seed'), { steps: 30, batch: 4, embeddings });
  assert.ok(losses.at(-1)! < losses[0]! - 0.5, `training should lower the loss: ${losses[0]} -> ${losses.at(-1)}`);
  fp32 = exportModel(model, { buckets: 'seed', provenance: { preset: 'tiny' } });
  calibration = photos.slice(0, 8).map(normalisedL);
  heldOut = Array.from({ length: 4 }, (_, i) => normalisedL(syntheticPhoto(SIZE, SIZE, 500 + i)));
  model.dispose();
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function logits(ort: Ort, bytes: Uint8Array, img: CalibrationImage, emb: Float32Array): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const out = await s.run({
      L: new ort.Tensor('float32', img.data, [1, 1, img.height, img.width]),
      embedding: new ort.Tensor('float32', emb, [1, emb.length]),
    });
    return out.logits!.data as Float32Array;
  } finally {
    await s.release();
  }
}

function argmaxAgreement(a: Float32Array, b: Float32Array, q: number): number {
  const n = a.length / q;
  let same = 0;
  for (let i = 0; i < n; i++) {
    let ia = 0, ib = 0;
    for (let j = 1; j < q; j++) {
      if (a[j * n + i]! > a[ia * n + i]!) ia = j;
      if (b[j * n + i]! > b[ib * n + i]!) ib = j;
    }
    if (ia === ib) same++;
  }
  return same / n;
}

let optimisedCount = 0;
/** The graph onnxruntime-node actually runs (after its QDQ fusions and weight quantization passes). */
async function optimised(bytes: Uint8Array) {
  const path = join(dir, `optimised-${optimisedCount++}.onnx`);
  const s = await ortNode.InferenceSession.create(bytes, { logSeverityLevel: 3, optimizedModelFilePath: path });
  await s.release();
  return decodeModel(new Uint8Array(readFileSync(path)));
}

/** Op types of the graph onnxruntime-node actually runs. */
async function optimisedOps(bytes: Uint8Array): Promise<Record<string, number>> {
  const ops: Record<string, number> = {};
  for (const n of (await optimised(bytes)).graph.nodes) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
  return ops;
}

function feedsOf(imgs: CalibrationImage[]) {
  return imgs.map((img, i) => ({ L: { data: img.data, dims: [1, 1, img.height, img.width] }, embedding: { data: embeddings[i % embeddings.length]!, dims: [1, 1000] } }));
}

test('int8: QDQ static quantization keeps >= 97% of argmax buckets, is about 1/4 the size and runs fused on both runtimes', async (t) => {
  const out = join(dir, 'int8.onnx');
  const { bytes, info, report } = await quantizeModel(fp32, { mode: 'int8', calibration, embeddings, output: out });
  assert.deepEqual(new Uint8Array(readFileSync(out)), bytes);
  assert.equal(info.precision, 'int8');
  assert.deepEqual(parseModelInfo(readOnnxMetadata(bytes).metadata), info);
  const before = parseModelInfo(readOnnxMetadata(fp32).metadata);
  assert.deepEqual({ ...info, precision: 'fp32', contentHash: '' }, { ...before, contentHash: '' }, 'only precision and hash change');
  assert.notEqual(info.contentHash, before.contentHash);
  assert.ok(verifyContentHash(bytes), 'content hash verifies');
  // ~0.27 at full width; this quarter-width net pays relatively more for per-channel scales, int32
  // biases and the logits conv's precise (int32) weights.
  assert.ok(report.bytes < 0.37 * report.fp32Bytes, `size ${report.bytes} vs fp32 ${report.fp32Bytes}`);
  assert.equal(report.embeddings, 'provided');
  const a = report.agreement!;
  assert.equal(a.images, 8);
  assert.ok(a.argmaxAgreement >= 0.97, `argmax agreement ${a.argmaxAgreement}`);
  assert.ok(a.meanAbError < 2, `mean ab error ${a.meanAbError}`);
  // Images it was not calibrated on.
  const held = await measureAgreement(fp32, bytes, info, feedsOf(heldOut));
  assert.ok(held.argmaxAgreement >= 0.95, `held-out argmax agreement ${held.argmaxAgreement}`);
  t.diagnostic(`int8: ${report.bytes} of ${report.fp32Bytes} bytes; calibration images: argmax ${(100 * a.argmaxAgreement).toFixed(2)}%, ab error mean ${a.meanAbError.toFixed(3)} max ${a.maxAbError.toFixed(2)}; held out: argmax ${(100 * held.argmaxAgreement).toFixed(2)}%, ab error mean ${held.meanAbError.toFixed(3)}`);
  // onnxruntime fuses every quantized conv into QLinearConv; the first (1-channel) conv and the logits conv stay float.
  const ops = await optimisedOps(bytes);
  assert.equal(ops.QLinearConv, report.quantizedConvs, JSON.stringify(ops));
  assert.deepEqual(report.floatConvs.sort(), ['enc1_conv1', 'head_logits']);
  // The target is met fully quantized, so nothing fell back; the default pipeline equalized and corrected.
  assert.equal(report.targetMet, true);
  assert.deepEqual(report.fallbackConvs, []);
  assert.ok(report.equalizedPairs > 10 && report.biasCorrected >= report.quantizedConvs, JSON.stringify(report));
  // The web runtime (WASM) runs the same file and agrees with the node runtime.
  const ln = await logits(ortNode, bytes, heldOut[0]!, embeddings[0]!);
  const lw = await logits(ortWeb as unknown as Ort, bytes, heldOut[0]!, embeddings[0]!);
  assert.ok(argmaxAgreement(ln, lw, 112) >= 0.99, 'onnxruntime-web and -node agree on the int8 model');
});

test('int8 with min-max ranges, and with fp32 batch-norm shifts, also holds 97% fully quantized', async (t) => {
  const p = await quantizeModel(fp32, { mode: 'int8', calibration, embeddings, method: 'minmax', targetAgreement: 0 });
  assert.equal(p.report.method, 'minmax');
  assert.equal(p.report.targetMet, null);
  assert.ok(p.report.agreement!.argmaxAgreement >= 0.97, `min-max: ${p.report.agreement!.argmaxAgreement}`);
  const f = await quantizeModel(fp32, { mode: 'int8', calibration, embeddings, quantizeAddConstants: false, targetAgreement: 0 });
  assert.equal(f.report.quantizedAdds, 0);
  assert.ok(f.report.agreement!.argmaxAgreement >= 0.97, `float adds: ${f.report.agreement!.argmaxAgreement}`);
  t.diagnostic(`argmax agreement: min-max ${(100 * p.report.agreement!.argmaxAgreement).toFixed(2)}%, float batch-norm shifts ${(100 * f.report.agreement!.argmaxAgreement).toFixed(2)}%`);
});

test('channel equalization leaves the float network unchanged', async () => {
  const m = decodeModel(fp32);
  const pairs = findEqualizable(m);
  // Every conv -> [Relu] -> [Add] -> [Resize] -> conv chain; not through the fusion concat.
  assert.ok(pairs.some((p) => p.producer === 'dec3_conv3' && p.consumer === 'head_conv1' && p.add === 'dec3_bn'), JSON.stringify(pairs));
  assert.ok(pairs.some((p) => p.tensors.includes('dec3_up_out')), 'through the Resize');
  assert.ok(!pairs.some((p) => p.producer === 'enc4_conv2'), 'enc4_conv2 also feeds the fusion tile');
  const stats = await collectStats(m, [...new Set(pairs.flatMap((p) => p.tensors))], feedsOf(calibration.slice(0, 2)));
  const { divisors } = equalize(m, pairs, channelAbsMax(stats), () => 0.5);
  const spread = Math.max(...[...divisors.values()].map((d) => Math.max(...d) / Math.min(...d)));
  assert.ok(spread > 1.5, `channels were rescaled (largest spread ${spread})`);
  const a = await logits(ortNode, fp32, heldOut[0]!, embeddings[0]!);
  const b = await logits(ortNode, encodeModel(m), heldOut[0]!, embeddings[0]!);
  let d = 0, mx = 0;
  for (let i = 0; i < a.length; i++) { d = Math.max(d, Math.abs(a[i]! - b[i]!)); mx = Math.max(mx, Math.abs(a[i]!)); }
  assert.ok(d < 1e-4 * mx, `equalized logits within float rounding: ${d} (max |logit| ${mx})`);
});

test('pair-safe int8 weights: no two same-sign weights a u8s8 kernel adds in int16 can saturate it', () => {
  let s = 7;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296) * 2 - 1;
  const dims = [6, 8, 3, 3];
  const w = Float32Array.from({ length: 6 * 8 * 9 }, rnd);
  // Channel 0: two large same-sign neighbours in [kh][kw][cin] order; channel 1: in [cin][kh][kw]
  // order; channel 5: one large weight, signs alternating so that no pair has the same sign.
  w[0 * 72 + 0 * 9 + 4] = 3; w[0 * 72 + 1 * 9 + 4] = 2.9;
  w[1 * 72 + 2 * 9 + 0] = -3; w[1 * 72 + 2 * 9 + 1] = -3;
  for (let i = 0; i < 72; i++) w[5 * 72 + i] = (i % 2 ? -1 : 1) * (i === 40 ? 2 : Math.abs(w[5 * 72 + i]!));
  const { q, scales } = convWeightsInt8(w, dims, 'pair-safe');
  const plain = convWeightsInt8(w, dims, 'int8');
  for (let o = 0; o < 6; o++) {
    const at = (c: number, t: number) => q[o * 72 + c * 9 + t]!;
    for (let k = 0; k + 1 < 72; k += 2) {
      for (const [a, b] of [[at(k % 8, Math.floor(k / 8)), at((k + 1) % 8, Math.floor((k + 1) / 8))], [at(Math.floor(k / 9), k % 9), at(Math.floor((k + 1) / 9), (k + 1) % 9)]] as const) {
        if (Math.sign(a) === Math.sign(b)) assert.ok(255 * Math.abs(a + b) <= 32767, `channel ${o}: pair ${a}, ${b} could saturate`);
      }
    }
    for (let i = o * 72; i < (o + 1) * 72; i++) assert.ok(Math.abs(q[i]! * scales[o]! - w[i]!) <= scales[o]! / 2 + 1e-6);
  }
  assert.ok(scales[0]! > 1.8 * plain.scales[0]! && scales[1]! > 1.8 * plain.scales[1]!, 'the risky channels get a wider step');
  assert.equal(scales[5], plain.scales[5], 'a channel without risky pairs keeps the full 8-bit grid');
});

test('float convs keep precise weights, and the accuracy fallback keeps the convs nearest the output float, within budget', async (t) => {
  // Kept float by hand: head_conv1 reads a quantized tensor, head_conv2 a float one.
  const k = await quantizeModel(fp32, { mode: 'int8', calibration, embeddings, keepFloat: ['head_conv1', 'head_conv2'], targetAgreement: 0 });
  assert.deepEqual(k.report.floatConvs.sort(), ['enc1_conv1', 'head_conv1', 'head_conv2', 'head_logits']);
  const g = await optimised(k.bytes);
  assert.equal(g.graph.nodes.filter((n) => n.opType === 'QLinearConv').length, k.report.quantizedConvs);
  // onnxruntime turns the float weights of a conv fed by a DequantizeLinear into per-tensor int8 on
  // its own; with int32 weights behind a per-channel DequantizeLinear it must not: no float conv of
  // the graph it runs reads int8 weights (only the fusion Gemm does, stored weight-only).
  const int8 = new Set(g.graph.initializers.filter((x) => x.dataType === DataType.INT8).map((x) => x.name));
  const dqInt8 = new Set(g.graph.nodes.filter((n) => n.opType === 'DequantizeLinear' && int8.has(n.inputs[0]!)).flatMap((n) => n.outputs));
  const floatConvs = g.graph.nodes.filter((n) => /Conv$/.test(n.opType) && n.opType !== 'QLinearConv');
  assert.ok(floatConvs.length >= 4, floatConvs.map((n) => n.opType).join());
  assert.deepEqual(floatConvs.filter((n) => dqInt8.has(n.inputs[1]!)).map((n) => n.name), [], 'no float conv reads int8 weights');
  assert.ok(k.report.agreement!.argmaxAgreement >= 0.97);
  // An unreachable target: convs fall back from the output backwards until the budget is spent.
  const f = await quantizeModel(fp32, { mode: 'int8', calibration: calibration.slice(0, 4), embeddings, targetAgreement: 1, maxFloatMacs: 0.3 });
  const order = ['head_conv2', 'head_conv1', 'dec3_conv3', 'dec3_conv2', 'dec3_conv1'];
  assert.deepEqual(f.report.fallbackConvs, order.slice(0, f.report.fallbackConvs.length));
  assert.ok(f.report.floatMacs <= 0.3 + 1e-9, `float share ${f.report.floatMacs}`);
  for (const c of f.report.fallbackConvs) assert.ok(f.report.floatConvs.includes(c));
  assert.equal(f.report.targetMet, f.report.agreement!.argmaxAgreement >= 1);
  const ops = await optimisedOps(f.bytes);
  assert.equal(ops.QLinearConv, f.report.quantizedConvs, JSON.stringify(ops));
  t.diagnostic(`kept float by hand: argmax ${(100 * k.report.agreement!.argmaxAgreement).toFixed(2)}%; fallback to ${f.report.fallbackConvs.join(', ') || 'none'} (${(100 * f.report.floatMacs).toFixed(1)}% of MACs float): argmax ${(100 * f.report.agreement!.argmaxAgreement).toFixed(2)}%`);
});

test('fp16: half the size, >= 99.5% argmax agreement, runs on both runtimes', async (t) => {
  const { bytes, info, report } = await quantizeModel(fp32, { mode: 'fp16', calibration, embeddings });
  const a = report.agreement!;
  t.diagnostic(`fp16: ${report.bytes} of ${report.fp32Bytes} bytes; argmax ${(100 * a.argmaxAgreement).toFixed(2)}%, ab error mean ${a.meanAbError.toFixed(4)} max ${a.maxAbError.toFixed(3)}`);
  assert.equal(info.precision, 'fp16');
  assert.ok(verifyContentHash(bytes), 'content hash verifies');
  assert.ok(report.bytes < 0.55 * report.fp32Bytes, `size ${report.bytes} vs fp32 ${report.fp32Bytes}`);
  assert.ok(report.fp16Initializers > 20);
  assert.ok(report.agreement!.argmaxAgreement >= 0.995, `argmax agreement ${report.agreement!.argmaxAgreement}`);
  assert.ok(report.agreement!.maxAbError < 1, `max ab error ${report.agreement!.maxAbError}`);
  const ref = await logits(ortNode, fp32, heldOut[1]!, embeddings[1]!);
  for (const ort of [ortNode, ortWeb as unknown as Ort]) {
    const got = await logits(ort, bytes, heldOut[1]!, embeddings[1]!);
    let m = 0;
    for (let i = 0; i < got.length; i++) m = Math.max(m, Math.abs(got[i]! - ref[i]!));
    assert.ok(m < 0.05, `fp16 logits within 0.05 of fp32, got ${m}`);
  }
  // Without calibration images fp16 still works; the report just has no agreement.
  assert.equal((await quantizeModel(fp32, { mode: 'fp16' })).report.agreement, null);
});

test('a transposed-convolution model without fusion quantizes and runs (ConvTranspose stays float)', async () => {
  const model = buildModel(presetConfig('tiny', { widthMultiplier: 0.25, upsampling: 'transpose' }));
  randomizeWeights(model, 4);
  const bytes = exportModel(model, { buckets: 'seed' });
  const { bytes: q, report } = await quantizeModel(bytes, { mode: 'int8', calibration: calibration.slice(0, 3).map((c) => c.data) });
  assert.equal(report.embeddings, null);
  const ops = await optimisedOps(q);
  assert.ok(ops.ConvTranspose === 1 && ops.QLinearConv === report.quantizedConvs, JSON.stringify(ops));
  const s = await ortWeb.InferenceSession.create(q, { logSeverityLevel: 3 });
  const out = await s.run({ L: new ortWeb.Tensor('float32', heldOut[2]!.data, [1, 1, SIZE, SIZE]) });
  assert.deepEqual(out.logits!.dims, [1, 112, SIZE / 4, SIZE / 4]);
  await s.release();
  model.dispose();
});

test('float16 conversion rounds to nearest even and saturates to infinity', () => {
  const cases: [number, number][] = [[0, 0], [1, 0x3c00], [-2, 0xc000], [0.1, 0x2e66], [65504, 0x7bff], [65520, 0x7c00], [1e-8, 0], [6e-8, 1], [2 ** -14, 0x0400], [Infinity, 0x7c00]];
  for (const [v, h] of cases) assert.equal(float16Bits(v), h, `float16(${v})`);
  assert.ok(Number.isNaN(float16Value(float16Bits(NaN))), 'NaN stays NaN');
  // 1 + 2^-11 is halfway between 1 and the next half; ties go to the even neighbour (1).
  assert.equal(float16Bits(1 + 2 ** -11), 0x3c00);
  assert.equal(float16Bits(1 + 3 * 2 ** -11), 0x3c02);
  for (let v = -300; v < 300; v += 0.37) {
    const r = float16Value(float16Bits(v));
    assert.ok(Math.abs(r - v) <= Math.abs(v) * 2 ** -11 + 2 ** -25, `${v} -> ${r}`);
  }
});

test('calibrationInputs reads photos from a folder as L/100 at the requested size, skipping unreadable files', async () => {
  const photos = join(dir, 'photos');
  mkdirSync(photos);
  for (let i = 0; i < 3; i++) await writeImage(join(photos, `p${i}.png`), syntheticPhoto(100, 70, 900 + i));
  writeFileSync(join(photos, 'broken.jpg'), new Uint8Array([0xff, 0xd8, 0xff, 1, 2, 3]));
  writeFileSync(join(photos, 'notes.txt'), 'not an image');
  const inputs = await calibrationInputs(photos, { size: 32, limit: 10 });
  assert.equal(inputs.length, 3);
  for (const c of inputs) {
    assert.equal(c.width, 32);
    assert.equal(c.height, 32);
    assert.equal(c.data.length, 32 * 32);
    assert.ok(c.data.every((v) => v >= 0 && v <= 1), 'L/100 is within [0, 1]');
  }
  assert.equal((await calibrationInputs(photos, { size: 32, limit: 2 })).length, 2);
  const empty = join(dir, 'empty');
  mkdirSync(empty);
  await assert.rejects(calibrationInputs(empty), expectCode(ErrorCodes.QUANTIZE_FAILED, /No usable photo/));
  await assert.rejects(calibrationInputs(join(dir, 'missing')), expectCode(ErrorCodes.QUANTIZE_FAILED, /Cannot read the calibration folder/));
  // They feed quantization directly.
  const { report } = await quantizeModel(fp32, { mode: 'int8', calibration: inputs, embeddings });
  assert.equal(report.calibrationImages, 3);
});

test('bad inputs fail clearly and leave nothing at the output path', async () => {
  const outDir = join(dir, 'bad');
  mkdirSync(outDir);
  const out = join(outDir, 'model.onnx');
  const bare = decodeModel(fp32);
  bare.metadata = {};
  await assert.rejects(quantizeModel(encodeModel(bare), { mode: 'int8', calibration, output: out }), expectCode(ErrorCodes.MODEL_NO_METADATA));
  await assert.rejects(quantizeModel(fp32, { mode: 'int8', output: out }), expectCode(ErrorCodes.QUANTIZE_FAILED, /calibration/));
  const int8 = (await quantizeModel(fp32, { mode: 'fp16' })).bytes;
  await assert.rejects(quantizeModel(int8, { mode: 'int8', calibration, output: out }), expectCode(ErrorCodes.QUANTIZE_FAILED, /already fp16/));
  const odd = { data: new Float32Array(60 * 60), width: 60, height: 60 };
  await assert.rejects(quantizeModel(fp32, { mode: 'int8', calibration: [odd], output: out }), expectCode(ErrorCodes.BAD_ARGUMENT, /multiples of 8/));
  await assert.rejects(quantizeModel(new Uint8Array([1, 2, 3, 4, 5]), { mode: 'fp16', output: out }), expectCode(ErrorCodes.MODEL_INVALID));
  await assert.rejects(quantizeModel(fp32, { mode: 'int4' as 'int8', output: out }), expectCode(ErrorCodes.BAD_ARGUMENT));
  await assert.rejects(quantizeModel(fp32, { mode: 'int8', calibration, keepFloat: ['no_such_conv'], output: out }), expectCode(ErrorCodes.BAD_ARGUMENT, /keepFloat/));
  await assert.rejects(quantizeModel(fp32, { mode: 'int8', calibration, targetAgreement: 97, output: out }), expectCode(ErrorCodes.BAD_ARGUMENT, /targetAgreement/));
  // A float conv between quantized ones would be fused back into QLinearConv by onnxruntime.
  await assert.rejects(quantizeModel(fp32, { mode: 'int8', calibration, keepFloat: ['dec1_conv2'], output: out }), expectCode(ErrorCodes.BAD_ARGUMENT, /between quantized convs/));
  assert.deepEqual(readdirSync(outDir), []);
  assert.equal(existsSync(out), false);
});
