// Training and inference see the same embedding: what `tinta embed` caches for a photo equals, to
// float precision, what the fused model computes inside from the input the SDK makes of that photo
// (a small int8 classifier built like the zoo's MobileNetV2, which turns float noise into different
// quantized values, so any difference in the path would show). `tinta fuse --embeddings` takes the
// cache's gray value and refuses a fuse that would compute other embeddings; `tinta quantize
// --embeddings` calibrates a fusion colorizer with the real embeddings of its calibration photos.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { decodeImage } from '../sdk/image/node.ts';
import { isTintaError } from '../sdk/errors.ts';
import { preprocess } from '../sdk/core/pipeline.ts';
import { embedImages } from '../trainer/embedding/embed.ts';
import { readEmbeddingCache } from '../trainer/embedding/cache.ts';
import { calibrationWithEmbeddings } from '../trainer/embedding/calibration.ts';
import { fuseFiles } from '../converters/fuse.ts';
import { quantizeModel } from '../converters/quantize.ts';
import { DataType, decodeModel, encodeModel } from '../converters/onnx/model.ts';
import { inProcess, writePhotos } from './embedding-fixtures.ts';
import { buildFusionColorizer, buildTestClassifier } from './fuse-fixtures.ts';

const D = 10;
const root = mkdtempSync(join(tmpdir(), 'tinta-embedding-fused-'));
const photosDir = join(root, 'photos'), classifier = join(root, 'testnet-int8.onnx'), descriptor = join(root, 'testnet.json');
const colorizer = join(root, 'fusion.onnx');
const cache = join(root, 'emb-srgb'), cacheLightness = join(root, 'emb-lightness');
let photos: string[];

const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

before(async () => {
  // Photos of three sizes and aspects: the network size, crop and resize differ for each.
  photos = [...(await writePhotos(photosDir, 2, 120, 80, 31)), ...(await writePhotos(join(photosDir, 'tall'), 1, 70, 110, 41))];
  writeFileSync(classifier, buildTestClassifier({ classes: D }));
  writeFileSync(descriptor, JSON.stringify({ name: 'testnet', inputSize: 32, layout: 'NCHW', normalization: 'imagenet', outputKind: 'logits', classes: D }));
  writeFileSync(colorizer, await buildFusionColorizer({ dim: D, embeddingSource: 'testnet' }));
  for (const [out, gray] of [[cache, 'srgb'], [cacheLightness, 'lightness']] as const) {
    const r = await embedImages({ data: [photosDir], out, embedding: classifier, descriptor, gray });
    assert.equal(r.embedded, 3);
  }
});
after(() => rmSync(root, { recursive: true, force: true }));

test("a photo's cached embedding is what the fused model computes inside from the SDK's input of that photo (within 1e-4)", async () => {
  const fused = await fuseFiles(colorizer, classifier, { embeddingCache: cache });
  assert.equal(fused.report.descriptor.gray, 'srgb', 'the gray value comes from the cache');
  // Expose the embedding the fused graph computes (the value its colorizer part reads).
  const m = decodeModel(fused.bytes);
  m.graph.outputs.push({ name: 'embedding', elemType: DataType.FLOAT });
  const session = await ort.InferenceSession.create(encodeModel(m));
  const srgb = await readEmbeddingCache(cache), lightness = await readEmbeddingCache(cacheLightness);
  let worst = 0;
  try {
    for (const p of photos) {
      // Exactly what the SDK feeds the fused model: its own preprocess at the model's recommended size.
      const prep = preprocess(await decodeImage(p), fused.info, fused.info.recommendedSize);
      const inside = (await session.run({ L: new ort.Tensor('float32', prep.input.data, [...prep.input.dims]) })).embedding!.data as Float32Array;
      const cached = srgb.get(sha256(p))!;
      assert.ok(cached, `${p} is in the cache`);
      const d = maxDiff(cached, inside);
      worst = Math.max(worst, d);
      assert.ok(d <= 1e-4, `${p}: cache vs fused model differ by ${d}`);
      // The comparison can fail: the other gray value gives other probabilities.
      assert.ok(maxDiff(lightness.get(sha256(p))!, inside) > 1e-3, `${p}: the lightness embedding differs`);
    }
  } finally {
    await session.release();
  }
  assert.ok(worst <= 1e-4, `worst ${worst}`);
});

test('fuse takes the gray value from the cache and refuses a fuse that would compute other embeddings (FUSE_FAILED)', async () => {
  const fromLightness = await fuseFiles(colorizer, classifier, { embeddingCache: cacheLightness });
  assert.equal(fromLightness.report.descriptor.gray, 'lightness');
  const failsWith = (re: RegExp) => (e: unknown) => isTintaError(e, 'FUSE_FAILED') && re.test((e as Error).message);
  await assert.rejects(fuseFiles(colorizer, classifier, { embeddingCache: cacheLightness, gray: 'srgb' }), failsWith(/--gray srgb differs from the embedding cache .*emb-lightness, made with --gray lightness/));
  const other = join(root, 'other-int8.onnx');
  writeFileSync(other, buildTestClassifier({ classes: D, seed: 8 }));
  await assert.rejects(fuseFiles(colorizer, other, { embeddingCache: cache }), failsWith(/was computed with testnet-int8\.onnx .* not with this classifier file/));
  const at128 = join(root, 'fusion-128.onnx');
  writeFileSync(at128, await buildFusionColorizer({ dim: D, embeddingSource: 'testnet', recommendedSize: 128 }));
  await assert.rejects(fuseFiles(at128, classifier, { embeddingCache: cache }), failsWith(/network size: the training embeddings have short side 256 \(multiple 8\), the fused model would have 128 .*export with --size/s));
  const inception = { name: 'testnet', inputSize: [32, 32] as const, layout: 'NCHW' as const, mean: [0.5, 0.5, 0.5] as const, std: [0.5, 0.5, 0.5] as const, outputKind: 'logits' as const, classes: D };
  await assert.rejects(fuseFiles(colorizer, classifier, { embeddingCache: cache, descriptor: inception }), failsWith(/classifier preprocessing: the training embeddings have .*"mean":\[0\.485/));
  await assert.rejects(fuseFiles(colorizer, classifier, { embeddingCache: join(root, 'no-cache') }), (e) => isTintaError(e, 'BAD_ARGUMENT') && /holds no embedding cache/.test((e as Error).message));

  const out = join(root, 'fused.onnx');
  const r = await inProcess(['fuse', colorizer, '--embedding', classifier, '--embeddings', cache, '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /centre crop, srgb gray, 32x32 NCHW/);
  assert.match(r.stdout, /matches the training embeddings in .*emb-srgb/);
  const bad = await inProcess(['fuse', colorizer, '--embedding', classifier, '--embeddings', cacheLightness, '--gray', 'srgb', '-o', out]);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--gray srgb differs.*\[FUSE_FAILED\]/s);
});

test('quantize --embeddings calibrates a fusion colorizer with the real embedding of each calibration photo', async () => {
  const calib = join(root, 'calib');
  mkdirSync(calib, { recursive: true });
  // Named so that the folder's sorted order is the order of `photos`.
  photos.forEach((p, i) => copyFileSync(p, join(calib, `${i}-${p.split('/').pop()!}`)));
  const [stranger] = await writePhotos(join(calib, 'new'), 1, 64, 64, 77);
  const c = await calibrationWithEmbeddings(calib, cache, { size: 32, limit: 8 });
  assert.equal(c.calibration.length, 3);
  assert.deepEqual(c.skipped, [{ file: stranger, reason: 'no-embedding' }]);
  const srgb = await readEmbeddingCache(cache);
  photos.forEach((p, i) => assert.equal(maxDiff(c.embeddings[i]!, srgb.get(sha256(p))!), 0, `calibration photo ${i} carries its own embedding`));
  assert.deepEqual([c.calibration[0]!.width, c.calibration[0]!.height], [32, 32]);

  const q = await quantizeModel(new Uint8Array(readFileSync(colorizer)), { mode: 'int8', calibration: c.calibration, embeddings: c.embeddings, targetAgreement: 0 });
  assert.equal(q.report.embeddings, 'provided');
  const out = join(root, 'fusion.int8.onnx');
  const r = await inProcess(['quantize', colorizer, '--int8', '--calibrate', calib, '--embeddings', cache, '--size', '32', '--target-agreement', '0', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /fusion embeddings for calibration: real, from .*emb-srgb/);
  assert.match(r.stderr, /1 photos of .* passed over \(1 without an embedding/);
  await assert.rejects(calibrationWithEmbeddings(join(calib, 'new'), cache), (e) => isTintaError(e, 'QUANTIZE_FAILED') && /No photo in .* has an embedding/.test((e as Error).message));
});
