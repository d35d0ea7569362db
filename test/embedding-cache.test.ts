// `tinta embed` / embedImages and the embedding cache: content-hash keys, bad photos skipped and
// reported, resume after an interruption or a torn write, and refusal to mix sources or preprocessings.
import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { appendFileSync, copyFileSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createHash } from 'node:crypto';
import { decodeImage } from '../sdk/image/node.ts';
import { isTintaError } from '../sdk/errors.ts';
import { embedImages } from '../trainer/embedding/embed.ts';
import { DATA_FILE, HEADER_FILE, readEmbeddingCache } from '../trainer/embedding/cache.ts';
import { descriptorToJson } from '../trainer/embedding/descriptor.ts';
import { loadOnnxSource } from '../trainer/embedding/onnx-source.ts';
import { networkInput } from '../trainer/embedding/preprocess.ts';
import { CLASSES, classifierWeights, onnxClassifier, testDescriptor, inProcess, writeBrokenPhotos, writePhotos, writeTfjsClassifier } from './embedding-fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'tinta-embedding-cache-'));
const BIN = new URL('../bin/tinta.mjs', import.meta.url).pathname;
const weights = classifierWeights(11);
const model = join(root, 'testnet.onnx');
const descriptor = join(root, 'testnet.json');
const photosDir = join(root, 'photos');
let photos: string[];
const RECORD = 56 + 4 * CLASSES;

const sha = (alg: 'sha256' | 'sha1', file: string) => createHash(alg).update(readFileSync(file)).digest('hex');

before(async () => {
  writeFileSync(model, onnxClassifier(weights));
  writeFileSync(descriptor, JSON.stringify(descriptorToJson(testDescriptor('NCHW'))));
  photos = await writePhotos(photosDir, 5);
  await writeBrokenPhotos(join(photosDir, 'broken'));
  copyFileSync(photos[0]!, join(photosDir, 'copy-of-photo-0.png'));
});

describe('embedImages', () => {
  test('embeds every photo by content, skips broken ones with their error, and a rerun embeds nothing', async () => {
    const out = join(root, 'cache-a');
    const r = await embedImages({ data: [photosDir], out, embedding: model, descriptor, batchSize: 4 });
    assert.equal(r.files, 8);
    assert.equal(r.embedded, 5);
    assert.equal(r.cached, 1, 'the byte-identical copy is embedded once');
    assert.deepEqual(r.skipped.map((s) => s.file.split('/').pop()).sort(), ['not-an-image.jpg', 'truncated.jpg']);
    for (const s of r.skipped) assert.match(s.code, /^IMAGE_/);
    assert.equal(r.total, 5);
    assert.equal(r.dim, CLASSES);
    assert.equal(r.source, 'testnet');

    const cache = await readEmbeddingCache(out);
    assert.equal(cache.count, 5);
    assert.equal(cache.source, 'testnet');
    assert.equal(cache.header.stores, 'softmax-probabilities');
    assert.equal(cache.header.model.sha256, sha('sha256', model));
    assert.deepEqual(cache.preprocessing.network, { resolution: 256, multiple: 8 });
    assert.deepEqual([cache.preprocessing.classifier.gray, cache.preprocessing.classifier.crop, cache.preprocessing.ranBy], ['srgb', 'center', 'onnx-embedding-graph']);
    // The stored vector is the classifier's answer for that photo alone.
    const src = await loadOnnxSource(model, testDescriptor('NCHW'));
    const [direct] = await src.embed([networkInput(await decodeImage(photos[3]!))]);
    await src.dispose();
    const stored = cache.get(sha('sha256', photos[3]!))!;
    assert.ok(stored, 'photo 3 is in the cache');
    let worst = 0;
    for (let i = 0; i < CLASSES; i++) worst = Math.max(worst, Math.abs(stored[i]! - direct![i]!));
    assert.ok(worst < 1e-6, `stored vs direct: ${worst}`);
    assert.equal(cache.getBySha1(sha('sha1', photos[3]!)), stored);
    assert.equal(statSync(join(out, DATA_FILE)).size, 5 * RECORD);

    const again = await embedImages({ data: [photosDir], out, embedding: model, descriptor, batchSize: 4 });
    assert.deepEqual([again.embedded, again.cached, again.skipped.length, again.total], [0, 6, 2, 5]);
    assert.equal(statSync(join(out, DATA_FILE)).size, 5 * RECORD, 'nothing appended');
  });

  test('an interrupted run keeps its finished batches and the rerun does the rest; torn or damaged records are recomputed', async () => {
    const out = join(root, 'cache-b');
    const ac = new AbortController();
    await assert.rejects(
      embedImages({ data: [photosDir], out, embedding: model, descriptor, batchSize: 2, signal: ac.signal, onProgress: (p) => { if (p.type === 'batch' && p.embedded > 0) ac.abort(); } }),
      (e) => isTintaError(e, 'ABORTED') && /the 1 embedded so far are kept/.test((e as Error).message),
    );
    assert.equal((await readEmbeddingCache(out)).count, 1);
    const rest = await embedImages({ data: [photosDir], out, embedding: model, descriptor, batchSize: 2 });
    assert.deepEqual([rest.embedded, rest.total], [4, 5]);

    // A crash mid-write leaves part of a record; a bad disk block, a record whose check fails.
    const bin = join(out, DATA_FILE);
    const bytes = readFileSync(bin);
    bytes[2 * RECORD + 100] = bytes[2 * RECORD + 100]! ^ 0xff;
    writeFileSync(bin, bytes);
    appendFileSync(bin, bytes.subarray(0, RECORD / 2));
    const damaged = await readEmbeddingCache(out);
    assert.equal(damaged.count, 4, 'the damaged record and the torn tail are ignored');
    const repaired = await embedImages({ data: [photosDir], out, embedding: model, descriptor, batchSize: 2 });
    assert.deepEqual([repaired.embedded, repaired.total], [1, 5]);
    assert.equal(statSync(bin).size, 6 * RECORD, 'the torn tail was cut before appending');
  });

  test('a cache made with another source, model, descriptor, gray value or network size is not mixed into (CONFIG_CONFLICT)', async () => {
    const out = join(root, 'cache-a');
    const other = join(root, 'other.json');
    writeFileSync(other, JSON.stringify(descriptorToJson(testDescriptor('NCHW', 32, { name: 'othernet' }))));
    await assert.rejects(embedImages({ data: [photosDir], out, embedding: model, descriptor: other }), (e) => isTintaError(e, 'CONFIG_CONFLICT') && /source: the cache has "testnet", requested "othernet"/.test((e as Error).message));
    const otherModel = join(root, 'testnet2.onnx');
    writeFileSync(otherModel, onnxClassifier(classifierWeights(12)));
    await assert.rejects(embedImages({ data: [photosDir], out, embedding: otherModel, descriptor }), (e) => isTintaError(e, 'CONFIG_CONFLICT') && /model file/.test((e as Error).message));
    await assert.rejects(embedImages({ data: [photosDir], out, embedding: model, descriptor, gray: 'lightness' }), (e) => isTintaError(e, 'CONFIG_CONFLICT') && /gray value: the cache has 'srgb', requested 'lightness'/.test((e as Error).message));
    await assert.rejects(embedImages({ data: [photosDir], out, embedding: model, descriptor, network: { resolution: 128, multiple: 8 } }), (e) => isTintaError(e, 'CONFIG_CONFLICT') && /network size: the cache has short side 256 \(multiple 8\), requested 128/.test((e as Error).message));
    await assert.rejects(embedImages({ data: [photosDir], out: join(root, 'bad-view'), embedding: model, descriptor, network: { resolution: 256, multiple: 0 } }), (e) => isTintaError(e, 'BAD_ARGUMENT') && /spatial multiple/.test((e as Error).message));
    await assert.rejects(readEmbeddingCache(join(root, 'nothing-here')), (e) => isTintaError(e, 'BAD_ARGUMENT') && /tinta embed/.test((e as Error).message));
  });

  test('a TF.js graph model fills a cache with the same vectors as its ONNX twin', async () => {
    const dir = join(root, 'tfjs-net');
    writeTfjsClassifier(dir, weights);
    const desc = join(root, 'tfjs.json');
    writeFileSync(desc, JSON.stringify(descriptorToJson(testDescriptor('NHWC'))));
    const clean = join(root, 'clean');
    mkdirSync(clean, { recursive: true });
    for (const p of photos.slice(0, 3)) copyFileSync(p, join(clean, p.split('/').pop()!));
    const r = await embedImages({ data: [clean], out: join(root, 'cache-tfjs'), embedding: dir, descriptor: desc, backend: 'wasm' });
    assert.equal(r.embedded, 3);
    const a = await readEmbeddingCache(join(root, 'cache-a')), b = await readEmbeddingCache(join(root, 'cache-tfjs'));
    assert.equal(b.header.model.format, 'tfjs');
    for (const p of photos.slice(0, 3)) {
      const va = a.get(sha('sha256', p))!, vb = b.get(sha('sha256', p))!;
      let worst = 0;
      for (let i = 0; i < CLASSES; i++) worst = Math.max(worst, Math.abs(va[i]! - vb[i]!));
      assert.ok(worst < 1e-5, `${p}: ${worst}`);
    }
  });
});

describe('tinta embed', () => {
  test('prints what it did, lists skipped photos and exits 1 when some were skipped', async () => {
    const out = join(root, 'cache-cli');
    const r = await promisify(execFile)(process.execPath, [BIN, 'embed', '--data', photosDir, '--embedding', model, '--descriptor', descriptor, '--out', out], { encoding: 'utf8', timeout: 120_000 })
      .then(() => assert.fail('expected exit code 1'), (e: { code: number; stdout: string; stderr: string }) => e);
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stdout, /testnet: embedded 5 photos in [\d.]+ s \([\d.]+ photos\/s\), 1 already cached, 2 skipped; 5 1000-d embeddings/);
    assert.match(r.stdout, /srgb gray, photos at a short side of 256 \(multiple 8\), as the SDK feeds a colorizer/);
    assert.match(r.stderr, /skipped .*truncated\.jpg: .*\[IMAGE_/);
    const header = JSON.parse(readFileSync(join(out, HEADER_FILE), 'utf8')) as { source: string; dim: number };
    assert.deepEqual([header.source, header.dim], ['testnet', CLASSES]);
  });

  test('a built-in name that was never fetched is an error naming the fetch command', async () => {
    const r = await inProcess(['embed', '--data', photosDir, '--embedding', 'mobilenetv2', '--models-dir', join(root, 'no-models'), '--out', join(root, 'never')]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /run `tinta models fetch mobilenetv2`.*\[MODEL_NOT_FOUND\]/i);
  });
});
