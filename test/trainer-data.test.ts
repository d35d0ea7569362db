// The trainer's data pipeline: scan, cache, dataset, batches, prior. Every photo is generated here
// with sharp in a temp dir; the cache is built at S = 64 (C = 80) to stay fast.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import sharp from 'sharp';
import {
  accumulateBucketHistogram, getBuckets, nearestBucket, rgba8ToLab, softEncode, softEncodeDense, type AbBuckets,
} from '../sdk/color/index.ts';
import { ErrorCodes, TintaError, type ErrorCode } from '../sdk/errors.ts';
import { decodeImage } from '../sdk/image/node.ts';
import { accumulateHistogramGrid, createAbGrid, softEncodeGrid } from '../sdk/color/ab-grid.ts';
import { INDEX_FILE, REPORT_FILE, buildCache, cacheSide, readIndex, trainSizeForSide, type CacheInfo } from '../trainer/data/cache.ts';
import { computePrior, cropParams, epochOrder, openDataset, type Batch, type Dataset } from '../trainer/data/dataset.ts';
import { createRng, hashKey, permutation } from '../trainer/data/rng.ts';
import { scanImages } from '../trainer/data/scan.ts';
import { accumulateBlockTargets, createSoftPlan } from '../sdk/color/soft-targets.ts';

const S = 64;
const C = cacheSide(S); // 80
const UNIFORM: [number, number, number] = [200, 80, 40];

let root = '';
let photos = '';
let seed: AbBuckets;

/** A colour gradient, asymmetric left-right (red rises to the right) so a mirror is visible. */
async function gradient(path: string, w: number, h: number, phase: number): Promise<void> {
  const d = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      d[i] = Math.round((255 * x) / (w - 1));
      d[i + 1] = Math.round(80 + 120 * Math.sin(y / 17 + phase));
      d[i + 2] = Math.round(255 * (1 - y / (h - 1)) * (0.3 + (0.7 * x) / w));
    }
  }
  const img = sharp(d, { raw: { width: w, height: h, channels: 3 } });
  if (path.toLowerCase().endsWith('.png')) await img.png().toFile(path);
  else if (path.endsWith('.webp')) await img.webp({ lossless: true }).toFile(path);
  else await img.jpeg({ quality: 92 }).toFile(path);
}

async function grayish(path: string, w: number, h: number, colourSquare: boolean): Promise<void> {
  const d = Buffer.alloc(w * h * 3);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = (y * w + x) * 3;
      const v = Math.round(30 + (200 * (x + y)) / (w + h));
      const red = colourSquare && x >= 40 && x < 70 && y >= 40 && y < 70;
      d[i] = red ? 220 : v;
      d[i + 1] = red ? 30 : v;
      d[i + 2] = red ? 30 : v;
    }
  }
  const img = sharp(d, { raw: { width: w, height: h, channels: 3 } });
  await (path.endsWith('.png') ? img.png() : img.jpeg({ quality: 90 })).toFile(path);
}

/** decodeImage with a call counter, to prove what a build decodes. */
function countingDecoder(): { decode: (b: Uint8Array) => ReturnType<typeof decodeImage>; calls: () => number } {
  let n = 0;
  return { decode: (b) => { n++; return decodeImage(b); }, calls: () => n };
}

function base(f: string): string {
  return f.split(/[\\/]/).pop()!;
}

async function rejectsWith(p: Promise<unknown>, code: ErrorCode): Promise<TintaError> {
  let caught: unknown;
  await assert.rejects(p, (e: unknown) => {
    caught = e;
    return true;
  });
  assert.ok(caught instanceof TintaError, `expected a TintaError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  return caught;
}

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'tinta-data-'));
  photos = join(root, 'photos');
  mkdirSync(join(photos, 'nested', 'deeper'), { recursive: true });
  await gradient(join(photos, 'grad-a.jpg'), 160, 120, 0);
  writeFileSync(join(photos, 'copy-of-grad-a.jpg'), readFileSync(join(photos, 'grad-a.jpg')));
  await gradient(join(photos, 'nested', 'deeper', 'grad-b.PNG'), 100, 140, 2);
  await sharp({ create: { width: 90, height: 90, channels: 3, background: { r: UNIFORM[0], g: UNIFORM[1], b: UNIFORM[2] } } }).png().toFile(join(photos, 'nested', 'uniform.png'));
  await grayish(join(photos, 'gray.jpg'), 120, 120, false);
  await grayish(join(photos, 'nested', 'nearly-gray.png'), 120, 120, true);
  let s = 12345;
  const junk = Buffer.alloc(4000);
  for (let i = 0; i < junk.length; i++) junk[i] = (s = (s * 1103515245 + 12345) >>> 0) >>> 24;
  writeFileSync(join(photos, 'corrupt.jpg'), junk);
  const full = readFileSync(join(photos, 'grad-a.jpg'));
  await gradient(join(root, 'other.jpg'), 200, 150, 1);
  const other = readFileSync(join(root, 'other.jpg'));
  writeFileSync(join(photos, 'truncated.jpg'), other.subarray(0, Math.floor(other.length * 0.6)));
  writeFileSync(join(photos, 'notes.txt'), 'not a photo');
  assert.ok(full.length > 1000);
  seed = getBuckets('seed');
});

after(() => {
  rmSync(root, { recursive: true, force: true });
});

describe('rng', () => {
  test('seeded generators and keys are deterministic, and keys separate nearby tuples', () => {
    const a = createRng(42), b = createRng(42);
    for (let i = 0; i < 100; i++) assert.equal(a.uint32(), b.uint32());
    assert.notEqual(hashKey(1, 0, 7, 3), hashKey(1, 0, 8, 3));
    assert.notEqual(hashKey(1, 2), hashKey(2, 1));
    const r = createRng(9);
    for (let i = 0; i < 1000; i++) {
      const x = r.float();
      assert.ok(x >= 0 && x < 1);
      const k = r.int(7);
      assert.ok(Number.isInteger(k) && k >= 0 && k < 7);
    }
    const p = permutation(1000, createRng(3));
    assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
  });

  test('epochOrder: a permutation, the same for the same (seed, epoch), different across epochs', () => {
    const o1 = epochOrder(50, 7, 0), o2 = epochOrder(50, 7, 0), o3 = epochOrder(50, 7, 1);
    assert.deepEqual(o1, o2);
    assert.notDeepEqual(o1, o3);
    assert.deepEqual([...o3].sort((x, y) => x - y), Array.from({ length: 50 }, (_, i) => i));
  });
});

describe('sizes', () => {
  test('cache side: 15% margin rounded up to a multiple of 8, and its inverse', () => {
    assert.deepEqual([64, 128, 176, 224].map(cacheSide), [80, 152, 208, 264]);
    for (const s of [64, 128, 176, 224, 160, 320]) assert.equal(trainSizeForSide(cacheSide(s)), s);
    for (const bad of [0, 60, 65, -8, 1.5]) assert.throws(() => cacheSide(bad), (e: unknown) => e instanceof TintaError && e.code === ErrorCodes.BAD_ARGUMENT);
  });
});

describe('scanImages', () => {
  test('recursive, image extensions only (any case), sorted, deduplicated', async () => {
    const files = await scanImages([photos, join(photos, 'nested'), photos]);
    assert.deepEqual(files.map((f) => f.slice(photos.length + 1).split(/[\\/]/).join('/')), [
      'copy-of-grad-a.jpg', 'corrupt.jpg', 'grad-a.jpg', 'gray.jpg', 'nested/deeper/grad-b.PNG', 'nested/nearly-gray.png', 'nested/uniform.png', 'truncated.jpg',
    ]);
  });

  test('a missing folder is NO_TRAINING_DATA naming it', async () => {
    const missing = join(root, 'nope');
    const e = await rejectsWith(scanImages([photos, missing]), ErrorCodes.NO_TRAINING_DATA);
    assert.equal(e.details.path, missing);
    assert.match(e.message, /nope/);
  });
});

describe('soft-encoding equivalence', () => {
  // Random points, bucket centres, exact ties between neighbours and out-of-square values. Not NaN:
  // the core's output for a NaN pixel carries indices left over from the pixel before it, so it
  // depends on the call, and no photo yields NaN.
  function points(t: AbBuckets): { a: Float32Array; b: Float32Array } {
    const r = createRng(5);
    const a: number[] = [], b: number[] = [];
    for (let i = 0; i < 4100; i++) {
      a.push((r.float() - 0.5) * 200);
      b.push((r.float() - 0.5) * 220);
    }
    for (let q = 0; q < t.count; q += 3) {
      a.push(t.centers[2 * q]!, t.centers[2 * q]! + t.step / 2);
      b.push(t.centers[2 * q + 1]!, t.centers[2 * q + 1]! + t.step / 2);
    }
    a.push(300, -500, 0, 0.125, 7, -7);
    b.push(0, 20, 140, 0.125, 0, 7);
    return { a: Float32Array.from(a), b: Float32Array.from(b) };
  }

  for (const scheme of ['seed', 'zhang313'] as const) {
    test(`cell grid gives exactly the core's softEncode and histogram (${scheme})`, () => {
      const t = getBuckets(scheme);
      const { a, b } = points(t);
      const g = createAbGrid(t, 5);
      const ref = softEncode(t, a, b);
      const got = softEncodeGrid(g, a, b);
      assert.deepEqual(got.index, ref.index);
      assert.deepEqual(got.weight, ref.weight);
      assert.deepEqual(softEncodeGrid(g, a, b, { k: 1 }), softEncode(t, a, b, { k: 1 }));
      assert.deepEqual(accumulateHistogramGrid(createAbGrid(t, 1), a, b), accumulateBucketHistogram(t, a, b));
    });

    test(`block targets match the core's soft-encodings averaged per 4x4 block (${scheme})`, () => {
      const t = getBuckets(scheme);
      const { a: pa, b: pb } = points(t);
      // 4096 pixels: the special points first, then random ones.
      const n = 1, side = 64, q = t.count, o = side / 4;
      const keep = [...pa.keys()];
      const order = [...keep.filter((i) => i >= 4100), ...keep.filter((i) => i < 4100)].slice(0, side * side);
      const a = Float32Array.from(order, (i) => pa[i]!), b = Float32Array.from(order, (i) => pb[i]!);
      assert.equal(a.length, side * side);
      const target = new Float32Array(n * o * o * q);
      accumulateBlockTargets(createSoftPlan(t, 5, 5), a, b, n, side, target);
      const dense = softEncodeDense(t, a, b);
      let worst = 0;
      for (let by = 0; by < o; by++) for (let bx = 0; bx < o; bx++) {
        for (let k = 0; k < q; k++) {
          let m = 0;
          for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) m += dense[((4 * by + r) * side + 4 * bx + c) * q + k]! / 16;
          worst = Math.max(worst, Math.abs(m - target[(by * o + bx) * q + k]!));
        }
      }
      assert.ok(worst < 1e-6, `worst difference ${worst}`);
    });
  }
});

describe('photo cache and dataset', () => {
  let cacheDir = '';
  let first: CacheInfo;
  let ds: Dataset;
  const counter = countingDecoder();

  before(async () => {
    cacheDir = join(root, 'cache');
    first = await buildCache({ dirs: [photos], cacheDir, size: S, decode: counter.decode });
    ds = await openDataset(cacheDir);
  });
  after(() => ds?.close());

  test('first build: colour photos kept, grayscale and unreadable files reported by kind', () => {
    assert.equal(first.side, C);
    assert.equal(first.samples, 4); // grad-a, grad-b, uniform, nearly-gray
    assert.deepEqual(first.skipped.grayscale.map(base), ['gray.jpg']);
    assert.deepEqual(first.skipped.duplicates.map(base), ['grad-a.jpg']); // copy-of-grad-a.jpg sorts first
    const un = Object.fromEntries(first.skipped.unreadable.map((u) => [base(u.file), u.code]));
    assert.deepEqual(Object.keys(un).sort(), ['corrupt.jpg', 'truncated.jpg']);
    assert.equal(un['truncated.jpg'], ErrorCodes.IMAGE_TRUNCATED);
    assert.equal(un['corrupt.jpg'], ErrorCodes.IMAGE_UNSUPPORTED);
    for (const u of first.skipped.unreadable) assert.ok(u.message.length > 0);
    assert.equal(first.decoded, 7); // every distinct content once; the copy is not decoded
    assert.equal(counter.calls(), 7);
    const report = JSON.parse(readFileSync(join(cacheDir, REPORT_FILE), 'utf8')) as CacheInfo;
    assert.equal(report.samples, 4);
    assert.deepEqual(report.skipped, first.skipped);
  });

  test('the dataset: count, side, sample bytes and file names', () => {
    assert.equal(ds.size, C);
    assert.equal(ds.count, 4);
    assert.equal(ds.sampleRgb(0).length, C * C * 3);
    const names = Array.from({ length: ds.count }, (_, i) => base(ds.info(i).file)).sort();
    assert.deepEqual(names, ['copy-of-grad-a.jpg', 'grad-b.PNG', 'nearly-gray.png', 'uniform.png']);
    assert.throws(() => ds.sampleRgb(4), (e: unknown) => e instanceof TintaError && e.code === ErrorCodes.BAD_ARGUMENT);
  });

  test('a second build decodes nothing and reports the same', async () => {
    const c = countingDecoder();
    const again = await buildCache({ dirs: [photos], cacheDir, size: S, decode: c.decode });
    assert.equal(c.calls(), 0);
    assert.equal(again.decoded, 0);
    assert.equal(again.reused, 8);
    assert.equal(again.samples, 4);
    assert.deepEqual(again.skipped, first.skipped);
    // Re-hashing reads every file but still decodes nothing.
    const c2 = countingDecoder();
    const re = await buildCache({ dirs: [photos], cacheDir, size: S, decode: c2.decode, rehash: true });
    assert.equal(c2.calls(), 0);
    assert.equal(re.samples, 4);
  });

  test('batches: L in [0,1], target rows sum to 1, abLow and hardIndex consistent', () => {
    const b = ds.makeBatch({ indices: [0, 1, 2, 3], size: S, buckets: seed, seed: 1, epoch: 0, step: 0, augment: true });
    const o = S / 4, q = seed.count;
    assert.equal(b.n, 4);
    assert.equal(b.L.length, 4 * S * S);
    assert.equal(b.target.length, 4 * o * o * q);
    assert.equal(b.abLow.length, 4 * o * o * 2);
    assert.equal(b.hardIndex.length, 4 * o * o);
    for (const v of b.L) assert.ok(v >= 0 && v <= 1);
    for (let p = 0; p < 4 * o * o; p++) {
      let s = 0;
      for (let k = 0; k < q; k++) s += b.target[p * q + k]!;
      assert.ok(Math.abs(s - 1) < 1e-5, `row ${p} sums to ${s}`);
      assert.equal(b.hardIndex[p], nearestBucket(seed, b.abLow[2 * p]!, b.abLow[2 * p + 1]!));
    }
  });

  test('batches match the colour core: Lab of the centre crop, soft-encodings averaged per block', () => {
    const i = 1;
    const b = ds.makeBatch({ indices: [i], size: S, buckets: seed, seed: 0, augment: false });
    const rgb = ds.sampleRgb(i);
    const { x, y } = cropParams(C, S, false);
    const crop = new Uint8Array(S * S * 3);
    for (let r = 0; r < S; r++) crop.set(rgb.subarray(((y + r) * C + x) * 3, ((y + r) * C + x + S) * 3), r * S * 3);
    const lab = rgba8ToLab(crop, S, S, undefined, 3);
    for (let p = 0; p < S * S; p++) assert.equal(b.L[p], Math.fround(lab.L[p]! * 0.01));
    const dense = softEncodeDense(seed, lab.a, lab.b);
    const o = S / 4, q = seed.count;
    let worst = 0;
    for (let by = 0; by < o; by++) for (let bx = 0; bx < o; bx++) for (let k = 0; k < q; k++) {
      let m = 0;
      for (let r = 0; r < 4; r++) for (let c = 0; c < 4; c++) m += dense[((4 * by + r) * S + 4 * bx + c) * q + k]! / 16;
      worst = Math.max(worst, Math.abs(m - b.target[(by * o + bx) * q + k]!));
    }
    assert.ok(worst < 1e-6, `worst ${worst}`);
  });

  test('abLow of a uniformly coloured photo is its Lab ab', () => {
    const i = Array.from({ length: ds.count }, (_, k) => k).find((k) => base(ds.info(k).file) === 'uniform.png')!;
    const want = rgba8ToLab(Uint8ClampedArray.from([...UNIFORM, 255]), 1, 1);
    const b = ds.makeBatch({ indices: [i], size: S, buckets: seed, seed: 3, epoch: 2, step: 5, augment: true });
    for (let p = 0; p < (S / 4) ** 2; p++) {
      assert.ok(Math.abs(b.abLow[2 * p]! - want.a[0]!) < 1e-3, `a ${b.abLow[2 * p]} vs ${want.a[0]}`);
      assert.ok(Math.abs(b.abLow[2 * p + 1]! - want.b[0]!) < 1e-3);
    }
  });

  test('batches are reproducible from (seed, epoch, step) and differ across steps', () => {
    const opts = { indices: [3, 0, 2], size: S, buckets: seed, seed: 11, epoch: 4, augment: true };
    const a = ds.makeBatch({ ...opts, step: 9 });
    const b = ds.makeBatch({ ...opts, step: 9 });
    const c = ds.makeBatch({ ...opts, step: 10 });
    for (const k of ['L', 'target', 'abLow', 'hardIndex'] as const) assert.deepEqual(a[k], b[k]);
    assert.notDeepEqual(a.L, c.L);
    // Reusing a batch's buffers gives the same numbers.
    const into = ds.makeBatch({ ...opts, step: 1 });
    assert.equal(ds.makeBatch({ ...opts, step: 9 }, into), into);
    assert.deepEqual(into.target, a.target);
    // augment without epoch/step is refused: the batch could not be rebuilt.
    assert.throws(() => ds.makeBatch({ indices: [0], size: S, buckets: seed, seed: 1, augment: true }), (e: unknown) => e instanceof TintaError && e.code === ErrorCodes.BAD_ARGUMENT);
  });

  test('the crop and flip follow cropParams; a flip mirrors the image', () => {
    const i = Array.from({ length: ds.count }, (_, k) => k).find((k) => base(ds.info(k).file) === 'copy-of-grad-a.jpg')!;
    const centre = ds.makeBatch({ indices: [i], size: S, buckets: seed, seed: 0, augment: false });
    const c0 = cropParams(C, S, false);
    assert.deepEqual(c0, { x: (C - S) / 2, y: (C - S) / 2, flip: false });
    const seen = new Set<boolean>();
    for (let step = 0; step < 12 && seen.size < 2; step++) {
      const p = cropParams(C, S, true, 5, 0, step, i);
      if (seen.has(p.flip)) continue;
      seen.add(p.flip);
      assert.ok(p.x >= 0 && p.x <= C - S && p.y >= 0 && p.y <= C - S);
      const aug = ds.makeBatch({ indices: [i], size: S, buckets: seed, seed: 5, epoch: 0, step, augment: true });
      // Output pixel (r, c) shows sample pixel (y + r, x + c), or (y + r, x + S-1-c) when flipped;
      // the centre batch shows (c0.y + r, c0.x + c). Compare where both see the same sample pixel.
      let compared = 0, mirroredDiff = 0;
      for (let r = 0; r < S; r++) for (let c = 0; c < S; c++) {
        const sy = p.y + r, sx = p.x + (p.flip ? S - 1 - c : c);
        const cr = sy - c0.y, cc = sx - c0.x;
        if (cr < 0 || cr >= S || cc < 0 || cc >= S) continue;
        assert.equal(aug.L[r * S + c], centre.L[cr * S + cc]);
        compared++;
        mirroredDiff += Math.abs(aug.L[r * S + c]! - centre.L[r * S + c]!);
      }
      assert.ok(compared > S * S / 2);
      if (p.flip) assert.ok(mirroredDiff / (S * S) > 0.01, 'a flipped gradient differs from the unflipped one');
    }
    assert.equal(seen.size, 2, 'both a flipped and an unflipped draw within 12 steps');
  });

  test('computePrior: a distribution, equal to the core histogram of the batches\' block means', () => {
    const all = [0, 1, 2, 3];
    const { hist, prior } = computePrior(ds, all, seed, { size: S, stride: 1 });
    assert.equal(prior.length, seed.count);
    assert.ok(Math.abs(prior.reduce((s, v) => s + v, 0) - 1) < 1e-5);
    const b = ds.makeBatch({ indices: all, size: S, buckets: seed, seed: 0, augment: false });
    const m = b.hardIndex.length;
    const a = new Float32Array(m), bb = new Float32Array(m);
    for (let p = 0; p < m; p++) {
      a[p] = b.abLow[2 * p]!;
      bb[p] = b.abLow[2 * p + 1]!;
    }
    assert.deepEqual(hist, accumulateBucketHistogram(seed, a, bb));
    // The default stride 2 counts a quarter of the blocks.
    assert.equal(computePrior(ds, all, seed, { size: S }).hist.reduce((s, v) => s + v, 0), m / 4);
  });

  test('adding a photo decodes only it, and the split keeps every old photo on its side', async () => {
    const before = ds.split({ valFraction: 0.5, seed: 7 });
    const sideOf = new Map<string, string>();
    for (const i of before.train) sideOf.set(ds.info(i).sha1, 'train');
    for (const i of before.val) sideOf.set(ds.info(i).sha1, 'val');
    assert.equal(before.train.length + before.val.length, 4);
    await gradient(join(photos, 'nested', 'grad-c.webp'), 130, 90, 4);
    const c = countingDecoder();
    const info = await buildCache({ dirs: [photos], cacheDir, size: S, decode: c.decode });
    assert.equal(c.calls(), 1);
    assert.equal(info.samples, 5);
    ds.close();
    ds = await openDataset(cacheDir);
    const after = ds.split({ valFraction: 0.5, seed: 7 });
    for (const i of after.train) assert.notEqual(sideOf.get(ds.info(i).sha1), 'val');
    for (const i of after.val) assert.notEqual(sideOf.get(ds.info(i).sha1), 'train');
    assert.equal(after.train.length + after.val.length, 5);
  });

  test('a half-written shard tail is ignored by readers and cut off by the next build', async () => {
    const idx = (await readIndex(cacheDir))!;
    const last = idx.shards[idx.shards.length - 1]!;
    const shard = join(cacheDir, last.name);
    const bySha = new Map<string, Uint8Array>();
    for (let i = 0; i < ds.count; i++) bySha.set(ds.info(i).sha1, ds.sampleRgb(i));
    // A crash mid-append: bytes beyond what the index vouches for.
    appendFileSync(shard, Buffer.alloc(C * C * 3 - 100, 0xab));
    const ds2 = await openDataset(cacheDir);
    for (let i = 0; i < ds2.count; i++) assert.deepEqual(ds2.sampleRgb(i), bySha.get(ds2.info(i).sha1));
    ds2.close();
    await gradient(join(photos, 'grad-d.jpg'), 110, 110, 5);
    const c = countingDecoder();
    const info = await buildCache({ dirs: [photos], cacheDir, size: S, decode: c.decode });
    assert.equal(c.calls(), 1);
    assert.equal(info.samples, 6);
    const idx2 = (await readIndex(cacheDir))!;
    assert.equal(statSync(shard).size, idx2.shards[idx2.shards.length - 1]!.bytes);
    const added = idx2.samples.find((s) => s.file === 'grad-d.jpg')!;
    assert.equal(added.offset, last.bytes); // appended where the vouched bytes ended, over the junk
    ds.close();
    ds = await openDataset(cacheDir);
    for (let i = 0; i < ds.count; i++) {
      const want = bySha.get(ds.info(i).sha1);
      if (want) assert.deepEqual(ds.sampleRgb(i), want);
      else assert.notEqual(ds.sampleRgb(i)[0], 0xab);
    }
  });

  test('an aborted build keeps the index valid and its work for the next build', async () => {
    await gradient(join(photos, 'grad-e.jpg'), 100, 100, 6);
    await gradient(join(photos, 'grad-f.jpg'), 100, 100, 7);
    const ac = new AbortController();
    const c = countingDecoder();
    await rejectsWith(
      buildCache({ dirs: [photos], cacheDir, size: S, concurrency: 1, decode: c.decode, signal: ac.signal, onProgress: (p) => { if (base(p.file) === 'grad-e.jpg') ac.abort(); } }),
      ErrorCodes.ABORTED,
    );
    assert.equal(c.calls(), 1); // grad-e, then the abort
    // The view is still the last completed build's.
    const mid = await openDataset(cacheDir);
    assert.equal(mid.count, 6);
    mid.close();
    assert.ok(!existsSync(join(cacheDir, 'build.lock')));
    const c2 = countingDecoder();
    const info = await buildCache({ dirs: [photos], cacheDir, size: S, decode: c2.decode });
    assert.equal(c2.calls(), 1); // only grad-f: grad-e was committed by the aborted build
    assert.equal(info.samples, 8);
  });

  test('a live build lock is refused; a stale one is taken over', async () => {
    const lock = join(cacheDir, 'build.lock');
    writeFileSync(lock, String(process.pid));
    await rejectsWith(buildCache({ dirs: [photos], cacheDir, size: S }), ErrorCodes.CONFIG_CONFLICT);
    const dead = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString();
    writeFileSync(lock, dead);
    const info = await buildCache({ dirs: [photos], cacheDir, size: S });
    assert.equal(info.decoded, 0);
    assert.ok(!existsSync(lock));
  });

  test('another training size rebuilds at its side and removes the old shards', async () => {
    const other = join(root, 'cache-resize');
    await buildCache({ dirs: [join(photos, 'nested')], cacheDir: other, size: S });
    const info = await buildCache({ dirs: [join(photos, 'nested')], cacheDir: other, size: 128 });
    assert.equal(info.side, 152);
    assert.equal(info.samples, 4); // grad-b, uniform, nearly-gray, grad-c
    assert.deepEqual(readdirSync(other).filter((f) => f.endsWith('.bin')), ['shard-c152-0000.bin']);
    const d = await openDataset(other);
    assert.equal(d.size, 152);
    const b: Batch = d.makeBatch({ indices: [0, 1], size: 128, buckets: seed, seed: 0, augment: false });
    assert.equal(b.target.length, 2 * 32 * 32 * seed.count);
    d.close();
  });

  test('no cache, or no colour photo, is NO_TRAINING_DATA', async () => {
    await rejectsWith(openDataset(join(root, 'no-cache')), ErrorCodes.NO_TRAINING_DATA);
    const grayDir = join(root, 'gray-only');
    mkdirSync(grayDir);
    await grayish(join(grayDir, 'g.png'), 50, 50, false);
    const info = await buildCache({ dirs: [grayDir], cacheDir: join(root, 'cache-gray'), size: S });
    assert.equal(info.samples, 0);
    assert.equal(info.skipped.grayscale.length, 1);
    assert.ok(existsSync(join(root, 'cache-gray', INDEX_FILE)));
    await rejectsWith(openDataset(join(root, 'cache-gray')), ErrorCodes.NO_TRAINING_DATA);
  });
});
