/**
 * Reading the photo cache for training: samples by index, a content-stable train/val split,
 * reproducible epoch orders, and batches of (L input, soft-encoded ab target) at training size S.
 *
 * Samples are read with positioned reads from the shard files rather than loading shards into
 * memory: a sample is one contiguous C*C*3 read (~70 KB at S = 128) that the OS page cache serves
 * at memory speed once warm, and the process holds no copy of the data set, so RSS stays flat
 * whether the cache is 100 MB or 10 GB.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DEFAULT_SOFT_K, DEFAULT_SOFT_SIGMA, bucketPrior, createLabImage, rgba8ToLab, type AbBuckets, type LabImage } from '../../sdk/color/index.ts';
import { ErrorCodes, TintaError } from '../../sdk/errors.ts';
import { accumulateHistogramGrid, createAbGrid, softEncodeGrid, type AbGrid } from '../../sdk/color/ab-grid.ts';
import { accumulateBlockTargets, createSoftPlan, type SoftPlan } from '../../sdk/color/soft-targets.ts';
import { INDEX_FILE, readIndex, trainSizeForSide, type CacheIndex } from './cache.ts';
import { createRng, hashHex, hashKey, permutation } from './rng.ts';

// Domain tags, so the split, the epoch order and the augmentation never share a random stream.
const TAG_ORDER = 0x0de7;
const TAG_AUGMENT = 0xa06;
const TAG_SPLIT = 0x5b1;

/** One training batch, all tensors NHWC and row-major. */
export interface Batch {
  n: number;
  /** Training size S; the target grid is S/4 x S/4. */
  size: number;
  /** Number of buckets Q. */
  q: number;
  /** [n, S, S, 1]: L / 100, in [0, 1]. */
  L: Float32Array;
  /** [n, S/4, S/4, Q]: per output pixel, the mean soft-encoding of the 4x4 input pixels it covers. */
  target: Float32Array;
  /** [n, S/4, S/4, 2]: mean (a, b) of each 4x4 block. */
  abLow: Float32Array;
  /** [n * S/4 * S/4]: the bucket nearest to each abLow. */
  hardIndex: Uint16Array;
}

/** Options of Dataset.makeBatch. */
export interface BatchOptions {
  /** Dataset indices of the samples, in batch order. */
  indices: ArrayLike<number>;
  /** Training size S: a multiple of 8, at most the cache side. */
  size: number;
  buckets: AbBuckets;
  seed: number;
  /** Random crop and horizontal flip (else the centre crop, unflipped). */
  augment: boolean;
  /** With `augment`, the epoch and step that, with `seed` and the sample, key the random draws. */
  epoch?: number;
  step?: number;
  softK?: number;
  softSigma?: number;
}

/** Where a sample is cut from its C x C square, and whether it is mirrored. */
export interface CropParams {
  x: number;
  y: number;
  flip: boolean;
}

/** A train/val split as dataset indices (ascending). */
export interface Split {
  train: Uint32Array;
  val: Uint32Array;
}

/** An opened photo cache. Call close() when done (it holds the shard files open). */
export interface Dataset {
  readonly cacheDir: string;
  /** Cache side C. */
  readonly size: number;
  readonly count: number;
  /** Where sample i came from. */
  info(i: number): { file: string; sha1: string };
  /** The C x C RGB8 pixels of sample i (into `out` when given). */
  sampleRgb(i: number, out?: Uint8Array): Uint8Array;
  /** Split by content hash: a photo's side depends only on its bytes and the seed, never on the other photos. */
  split(opts: { valFraction: number; seed: number }): Split;
  /** Build one batch (into `into`'s arrays when their shapes match). */
  makeBatch(opts: BatchOptions, into?: Batch): Batch;
  close(): void;
}

/** The crop and flip of one sample: random from (seed, epoch, step, sample) with augment, else centred. */
export function cropParams(side: number, size: number, augment: boolean, seed = 0, epoch = 0, step = 0, sample = 0): CropParams {
  const room = side - size;
  if (!augment) return { x: room >> 1, y: room >> 1, flip: false };
  const rng = createRng(hashKey(seed, epoch, step, sample, TAG_AUGMENT));
  const x = rng.int(room + 1);
  const y = rng.int(room + 1);
  return { x, y, flip: rng.float() < 0.5 };
}

/** The order in which an epoch visits samples: a seeded Fisher-Yates permutation of 0..count-1. */
export function epochOrder(count: number, seed: number, epoch: number): Uint32Array {
  return permutation(count, createRng(hashKey(seed, epoch, TAG_ORDER)));
}

function bad(message: string): never {
  throw new TintaError(ErrorCodes.BAD_ARGUMENT, message);
}

/** Reusable buffers for batch building, grown on demand. */
interface Scratch {
  crop: Uint8Array;
  lab: LabImage;
  lowA: Float32Array;
  lowB: Float32Array;
}

/** Open the cache built by buildCache in `cacheDir`; NO_TRAINING_DATA when there is none or it is empty. */
export async function openDataset(cacheDir: string): Promise<Dataset> {
  const dir = resolve(cacheDir);
  const idx = await readIndex(dir);
  if (!idx) {
    throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `"${cacheDir}" holds no photo cache (no valid ${INDEX_FILE}). Build it first with buildCache.`, {
      details: { cacheDir: dir },
    });
  }
  if (idx.samples.length === 0) {
    throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `The photo cache in "${cacheDir}" has no colour photos. See its report.json for what was skipped, and check the photo folders.`, {
      details: { cacheDir: dir },
    });
  }
  return createDataset(dir, idx);
}

function createDataset(dir: string, idx: CacheIndex): Dataset {
  const C = idx.side;
  const bytes = idx.sampleBytes;
  const count = idx.samples.length;
  const fds: (number | undefined)[] = new Array(idx.shards.length).fill(undefined);
  const plans = new Map<AbBuckets, Map<string, AbGrid | SoftPlan>>();
  const scratch: Scratch = { crop: new Uint8Array(0), lab: createLabImage(0, 0), lowA: new Float32Array(0), lowB: new Float32Array(0) };
  let closed = false;

  const fd = (shard: number): number => {
    if (closed) throw new TintaError(ErrorCodes.DISPOSED, 'The dataset was closed.');
    let f = fds[shard];
    if (f === undefined) {
      const p = join(dir, idx.shards[shard]!.name);
      try {
        f = openSync(p, 'r');
      } catch (e) {
        throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `Cache shard "${p}" is missing; rebuild the cache.`, { cause: e, details: { path: p } });
      }
      if (fstatSync(f).size < idx.shards[shard]!.bytes) {
        closeSync(f);
        throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `Cache shard "${p}" is shorter than its index says; rebuild the cache.`, { details: { path: p } });
      }
      fds[shard] = f;
    }
    return f;
  };

  const sampleRgb = (i: number, out?: Uint8Array): Uint8Array => {
    if (!(Number.isSafeInteger(i) && i >= 0 && i < count)) bad(`Sample index ${i} is out of range [0, ${count}).`);
    const buf = out ?? new Uint8Array(bytes);
    if (buf.length < bytes) bad(`sampleRgb: out needs ${bytes} bytes; got ${buf.length}.`);
    const s = idx.samples[i]!;
    const f = fd(s.shard);
    let done = 0;
    while (done < bytes) {
      const r = readSync(f, buf, done, bytes - done, s.offset + done);
      if (r === 0) throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `Cache shard ${idx.shards[s.shard]!.name} ended early; rebuild the cache.`);
      done += r;
    }
    return buf;
  };

  // Grids and plans are per bucket table and cost a little to set up (plans also learn cells as
  // batches touch them), so they live as long as the dataset.
  const gridFor = (buckets: AbBuckets, k: number): AbGrid => {
    const key = `grid:${k}`;
    let m = plans.get(buckets);
    if (!m) plans.set(buckets, (m = new Map()));
    let g = m.get(key) as AbGrid | undefined;
    if (!g) m.set(key, (g = createAbGrid(buckets, k)));
    return g;
  };
  const planFor = (buckets: AbBuckets, k: number, sigma: number): SoftPlan => {
    const key = `plan:${k}:${sigma}`;
    let m = plans.get(buckets);
    if (!m) plans.set(buckets, (m = new Map()));
    let p = m.get(key) as SoftPlan | undefined;
    if (!p) m.set(key, (p = createSoftPlan(buckets, k, sigma)));
    return p;
  };

  const makeBatch = (opts: BatchOptions, into?: Batch): Batch => {
    const S = opts.size, n = opts.indices.length, q = opts.buckets.count;
    const k = opts.softK ?? DEFAULT_SOFT_K;
    const sigma = opts.softSigma ?? DEFAULT_SOFT_SIGMA;
    if (!(Number.isSafeInteger(S) && S >= 8 && S % 8 === 0 && S <= C)) bad(`The batch size S must be a multiple of 8 from 8 to the cache side ${C}; got ${S}.`);
    if (n < 1) bad('makeBatch needs at least one sample index.');
    if (opts.augment && !(Number.isSafeInteger(opts.epoch) && Number.isSafeInteger(opts.step))) {
      bad('makeBatch with augment needs integer epoch and step: with seed and the sample they key the crops and flips, so a batch can be rebuilt.');
    }
    const o = S >> 2, px = S * S, lowPx = o * o;
    const batch: Batch =
      into && into.n === n && into.size === S && into.q === q
        ? into
        : { n, size: S, q, L: new Float32Array(n * px), target: new Float32Array(n * lowPx * q), abLow: new Float32Array(n * lowPx * 2), hardIndex: new Uint16Array(n * lowPx) };
    if (scratch.crop.length < n * px * 3) {
      scratch.crop = new Uint8Array(n * px * 3);
      scratch.lab = createLabImage(n * px, 1);
      scratch.lowA = new Float32Array(n * lowPx);
      scratch.lowB = new Float32Array(n * lowPx);
    }
    const rgb = new Uint8Array(bytes);
    // Cut (and mirror) every sample into one buffer, so colour conversion and soft-encoding each
    // run once over the whole batch.
    for (let j = 0; j < n; j++) {
      const i = opts.indices[j]!;
      sampleRgb(i, rgb);
      cropInto(rgb, C, S, cropParams(C, S, opts.augment, opts.seed, opts.epoch, opts.step, i), scratch.crop, j * px * 3);
    }
    const total = n * px;
    const lab = rgba8ToLab(scratch.crop, total, 1, sliceLab(scratch.lab, total), 3);
    const L = batch.L;
    for (let p = 0; p < total; p++) L[p] = lab.L[p]! * 0.01;

    const target = batch.target, abLow = batch.abLow;
    target.fill(0);
    accumulateBlockTargets(planFor(opts.buckets, k, sigma), lab.a.subarray(0, total), lab.b.subarray(0, total), n, S, target);
    blockMeanAb(lab, n, S, abLow);
    // The nearest bucket of each stored (float32) block mean: a 1-nearest soft-encoding is exactly that.
    const nLow = n * lowPx, lowA = scratch.lowA.subarray(0, nLow), lowB = scratch.lowB.subarray(0, nLow);
    for (let b = 0; b < nLow; b++) {
      lowA[b] = abLow[2 * b]!;
      lowB[b] = abLow[2 * b + 1]!;
    }
    batch.hardIndex.set(softEncodeGrid(gridFor(opts.buckets, 1), lowA, lowB, { k: 1 }).index.subarray(0, nLow));
    return batch;
  };

  const split = ({ valFraction, seed }: { valFraction: number; seed: number }): Split => {
    if (!(valFraction >= 0 && valFraction < 1)) bad(`valFraction must be in [0, 1); got ${valFraction}.`);
    const train: number[] = [], val: number[] = [];
    const key = hashKey(seed, TAG_SPLIT);
    for (let i = 0; i < count; i++) (hashHex(idx.samples[i]!.sha1, key) / 4294967296 < valFraction ? val : train).push(i);
    return { train: Uint32Array.from(train), val: Uint32Array.from(val) };
  };

  return {
    cacheDir: dir,
    size: C,
    count,
    info: (i) => {
      const s = idx.samples[i];
      if (!s) bad(`Sample index ${i} is out of range [0, ${count}).`);
      return { file: join(idx.dirs[s.dir] ?? '', s.file), sha1: s.sha1 };
    },
    sampleRgb,
    split,
    makeBatch,
    close: () => {
      for (const f of fds) if (f !== undefined) closeSync(f);
      fds.fill(undefined);
      closed = true;
    },
  };
}

/** Copy the S x S window at (x, y) of a C x C RGB8 sample into `out` at `at`, mirrored when `flip`. */
function cropInto(rgb: Uint8Array, C: number, S: number, { x, y, flip }: CropParams, out: Uint8Array, at: number): void {
  let d = at;
  for (let r = 0; r < S; r++) {
    const row = ((y + r) * C + x) * 3;
    if (!flip) {
      out.set(rgb.subarray(row, row + S * 3), d);
      d += S * 3;
      continue;
    }
    for (let c = row + (S - 1) * 3; c >= row; c -= 3, d += 3) {
      out[d] = rgb[c]!;
      out[d + 1] = rgb[c + 1]!;
      out[d + 2] = rgb[c + 2]!;
    }
  }
}

/** Mean (a, b) of every 4x4 block of n S x S Lab images, interleaved into `out` ([n, S/4, S/4, 2]). */
function blockMeanAb(lab: LabImage, n: number, S: number, out: Float32Array): void {
  const o = S >> 2, la = lab.a, lb = lab.b;
  // Summed in double, row by row within the block, exactly as computePrior does, so both see the
  // same float32 means.
  for (let j = 0, blk = 0; j < n; j++) {
    for (let by = 0; by < o; by++) {
      for (let bx = 0; bx < o; bx++, blk++) {
        let sa = 0, sb = 0;
        for (let r = 0; r < 4; r++) {
          const p0 = (j * S + 4 * by + r) * S + 4 * bx;
          for (let c = 0; c < 4; c++) {
            sa += la[p0 + c]! * 0.0625;
            sb += lb[p0 + c]! * 0.0625;
          }
        }
        out[2 * blk] = sa;
        out[2 * blk + 1] = sb;
      }
    }
  }
}

function sliceLab(lab: LabImage, n: number): LabImage {
  return { width: n, height: 1, L: lab.L.subarray(0, n), a: lab.a.subarray(0, n), b: lab.b.subarray(0, n) };
}

/** Options of computePrior. */
export interface PriorOptions {
  /** Training size S whose centre crop is measured (default: the largest S the cache side allows). */
  size?: number;
  /** Measure every `stride`-th output pixel along each axis (default 2: a quarter of them). */
  stride?: number;
  /** Use at most this many samples, evenly spread over `indices` (default 4096). */
  maxSamples?: number;
}

/**
 * The empirical bucket prior of a set of samples: hard bucket counts of block-mean ab (4x4 input
 * pixels, as a target pixel sees them) over each sample's centre crop, then the colour core's
 * bucketPrior with smoothSigma 5. Subsampling, for speed: only every `stride`-th block along each
 * axis is measured (stride 2: 1 pixel in 64 of the crop counted, 1 in 4 converted to Lab), and at
 * most `maxSamples` samples, evenly spaced over `indices`. At S = 128 that is still 256 counts per
 * photo, far more than a histogram of ~300 bins needs.
 */
export function computePrior(ds: Dataset, indices: ArrayLike<number>, buckets: AbBuckets, opts: PriorOptions = {}): { hist: Float64Array; prior: Float32Array } {
  const C = ds.size;
  const S = opts.size ?? trainSizeForSide(C);
  const stride = opts.stride ?? 2;
  if (!(Number.isSafeInteger(S) && S >= 8 && S % 8 === 0 && S <= C)) bad(`computePrior: size must be a multiple of 8 from 8 to the cache side ${C}; got ${S}.`);
  if (!(Number.isSafeInteger(stride) && stride >= 1)) bad(`computePrior: stride must be a positive integer; got ${stride}.`);
  const hist = new Float64Array(buckets.count);
  const m = Math.min(indices.length, Math.max(1, Math.floor(opts.maxSamples ?? 4096)));
  const grid = createAbGrid(buckets, 1);
  const o = S >> 2, per = Math.ceil(o / stride) ** 2; // measured blocks per sample
  const CHUNK = 64; // samples per histogram call: amortises the grouping by cell, bounds the memory
  const rgb = new Uint8Array(C * C * 3), patches = new Uint8Array(CHUNK * per * 48), lab = createLabImage(CHUNK * per * 16, 1);
  const lowA = new Float32Array(CHUNK * per), lowB = new Float32Array(CHUNK * per);
  const { x: x0, y: y0 } = cropParams(C, S, false);
  for (let c0 = 0; c0 < m; c0 += CHUNK) {
    const nc = Math.min(m, c0 + CHUNK) - c0;
    // Copy the chosen 4x4 blocks as 16 consecutive pixels each, so one Lab call covers the chunk.
    let d = 0;
    for (let j = 0; j < nc; j++) {
      ds.sampleRgb(indices[Math.floor(((c0 + j) * indices.length) / m)]!, rgb);
      for (let by = 0; by < o; by += stride) {
        for (let bx = 0; bx < o; bx += stride) {
          for (let r = 0; r < 4; r++) {
            // A byte loop: a subarray view per 12 bytes would cost more than the copy.
            const src = ((y0 + 4 * by + r) * C + x0 + 4 * bx) * 3;
            for (let t = 0; t < 12; t++) patches[d++] = rgb[src + t]!;
          }
        }
      }
    }
    const nb = nc * per;
    const l = rgba8ToLab(patches, nb * 16, 1, sliceLab(lab, nb * 16), 3);
    for (let blk = 0, p = 0; blk < nb; blk++) {
      let sa = 0, sb = 0;
      for (let t = 0; t < 16; t++, p++) {
        sa += l.a[p]! * 0.0625;
        sb += l.b[p]! * 0.0625;
      }
      lowA[blk] = sa;
      lowB[blk] = sb;
    }
    accumulateHistogramGrid(grid, lowA.subarray(0, nb), lowB.subarray(0, nb), hist);
  }
  return { hist, prior: bucketPrior(buckets, hist, { smoothSigma: 5 }) };
}
