/**
 * Frame-sequence data for video models: clips (a folder per clip of ordered frames), a split by
 * clip, a decoded-frame cache, and batches of frame stacks (the L of n consecutive frames as
 * channels, the soft-encoded ab of the centre frame as the target).
 *
 * The split is by clip, never by frame: neighbouring frames are near-duplicates, so a frame split
 * would validate on frames the model has all but seen. Edge frames are replicated (the stack of
 * frame 0 is [0, 0, 1] for n = 3), exactly as the SDK's ring buffer does at inference.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { DEFAULT_SOFT_K, DEFAULT_SOFT_SIGMA, createLabImage, rgba8ToLab, type AbBuckets } from '../../sdk/color/index.ts';
import { createAbGrid, softEncodeGrid, type AbGrid } from '../../sdk/color/ab-grid.ts';
import { accumulateBlockTargets, createSoftPlan, type SoftPlan } from '../../sdk/color/soft-targets.ts';
import { ErrorCodes, TintaError, isTintaError } from '../../sdk/errors.ts';
import { decodeImage, resizeImage } from '../../sdk/image/node.ts';
import { writeFileAtomic } from '../../sdk/io/atomic-node.ts';
import { isImageFileName } from '../data/scan.ts';
import { createRng, hashKey, permutation } from '../data/rng.ts';

// Domain tags, so the clip split, the epoch order and the augmentation never share a random stream.
const TAG_CLIP_SPLIT = 0xc1195;
const TAG_VIDEO_ORDER = 0x0de8;
const TAG_VIDEO_AUGMENT = 0xa07;

/** One clip: its frames in play order. */
export interface Clip {
  name: string;
  dir: string;
  /** Absolute paths, natural-sorted. */
  files: string[];
}

/** Natural order of file names: digit runs compare by value, so frame2 < frame10. */
export function naturalCompare(x: string, y: string): number {
  const re = /(\d+)|(\D+)/g;
  const xs = x.match(re) ?? [], ys = y.match(re) ?? [];
  for (let i = 0; i < Math.min(xs.length, ys.length); i++) {
    const a = xs[i]!, b = ys[i]!;
    const da = /^\d/.test(a), db = /^\d/.test(b);
    if (da && db) {
      // By value, then by length (so 007 and 7 still have a fixed order).
      const va = BigInt(a), vb = BigInt(b);
      if (va !== vb) return va < vb ? -1 : 1;
      if (a.length !== b.length) return a.length - b.length;
    } else if (a !== b) return a < b ? -1 : 1;
  }
  return xs.length - ys.length || (x < y ? -1 : x > y ? 1 : 0);
}

/** The image files directly in `dir`, natural-sorted (absolute paths). */
export async function listFrames(dir: string): Promise<string[]> {
  const root = resolve(dir);
  const entries = await readdir(root, { withFileTypes: true });
  const names: string[] = [];
  for (const e of entries) {
    if (!isImageFileName(e.name)) continue;
    const isFile = e.isFile() || (e.isSymbolicLink() && (await stat(join(root, e.name)).catch(() => undefined))?.isFile());
    if (isFile) names.push(e.name);
  }
  return names.sort(naturalCompare).map((n) => join(root, n));
}

/**
 * The clips under `root`: each sub-folder holding frames is a clip (named after it); a folder
 * that holds frames itself and no clip folders is one clip. NO_TRAINING_DATA when there is none.
 */
export async function scanClips(root: string): Promise<Clip[]> {
  const dir = resolve(root);
  let s;
  try {
    s = await stat(dir);
  } catch (e) {
    throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `The clip folder "${root}" does not exist (resolved to ${dir}).`, { cause: e, details: { path: root } });
  }
  if (!s.isDirectory()) throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `"${root}" is not a folder; pass a folder with one sub-folder of frames per clip.`, { details: { path: root } });
  const clips: Clip[] = [];
  const subdirs = (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => e.name).sort(naturalCompare);
  for (const name of subdirs) {
    const files = await listFrames(join(dir, name));
    if (files.length) clips.push({ name, dir: join(dir, name), files });
  }
  if (clips.length === 0) {
    const files = await listFrames(dir);
    if (files.length) clips.push({ name: dir.split(/[\\/]/).pop() || 'clip', dir, files });
  }
  if (clips.length === 0) throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `No frames found in "${root}": expected one sub-folder of image files per clip.`, { details: { path: root } });
  return clips;
}

/** Train/validation clips. */
export interface ClipSplit {
  train: Clip[];
  val: Clip[];
}

/**
 * Split clips by clip: the named `valClips`, else `valCount` clips drawn by a seeded permutation
 * of the names (so adding a clip never moves the others). Unknown names are BAD_ARGUMENT.
 */
export function splitClips(clips: Clip[], o: { valClips?: string[]; valCount?: number; seed: number }): ClipSplit {
  if (o.valClips?.length) {
    const names = new Set(clips.map((c) => c.name));
    const unknown = o.valClips.filter((n) => !names.has(n));
    if (unknown.length) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Unknown validation clip(s) ${unknown.join(', ')}; the clips are ${[...names].join(', ')}.`);
    const val = new Set(o.valClips);
    return { train: clips.filter((c) => !val.has(c.name)), val: clips.filter((c) => val.has(c.name)) };
  }
  const k = o.valCount ?? Math.max(1, Math.round(clips.length * 0.25));
  if (!(Number.isInteger(k) && k >= 0 && k < clips.length)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Cannot hold out ${k} of ${clips.length} clips: at least one must remain for training.`);
  }
  // Rank clips by a keyed hash of their name: stable whatever other clips exist.
  const key = (c: Clip) => hashKey(o.seed, TAG_CLIP_SPLIT, ...[...createHash('sha1').update(c.name).digest()].slice(0, 8));
  const ranked = [...clips].sort((a, b) => key(a) - key(b) || naturalCompare(a.name, b.name));
  const val = new Set(ranked.slice(0, k).map((c) => c.name));
  return { train: clips.filter((c) => !val.has(c.name)), val: clips.filter((c) => val.has(c.name)) };
}

/** A clip's frames, decoded and resized (short side = the cache side), as RGB8. */
export interface ClipFrames {
  name: string;
  width: number;
  height: number;
  count: number;
  /** [count, height, width, 3]. */
  rgb: Uint8Array;
}

/** Frame size with the short side at `side`, aspect kept. */
export function frameSizeFor(width: number, height: number, side: number): { width: number; height: number } {
  const s = side / Math.min(width, height);
  return { width: Math.max(side, Math.round(width * s)), height: Math.max(side, Math.round(height * s)) };
}

const CACHE_FORMAT = 'tinta-clip-cache-1';

/**
 * Decode a clip's frames at short side `side`, through a cache in `cacheDir` keyed by the files'
 * paths, sizes and mtimes: a second run reads one file per clip instead of decoding every frame.
 * A frame that cannot be decoded makes the whole clip unusable (a hole would be a false cut):
 * the IMAGE_* error is thrown for the caller to skip and report the clip.
 */
export async function loadClipFrames(clip: Clip, o: { side: number; cacheDir?: string }): Promise<ClipFrames> {
  const stats = await Promise.all(clip.files.map(async (f) => { const s = await stat(f); return `${f}|${s.size}|${s.mtimeMs}`; }));
  const key = createHash('sha1').update(`${CACHE_FORMAT}\n${o.side}\n${stats.join('\n')}`).digest('hex').slice(0, 16);
  const base = o.cacheDir ? join(resolve(o.cacheDir), `${clip.name.replace(/[^\w.-]/g, '_')}-${key}`) : undefined;
  if (base) {
    try {
      const head = JSON.parse(await readFile(`${base}.json`, 'utf8')) as { format: string; width: number; height: number; count: number };
      const rgb = new Uint8Array(await readFile(`${base}.rgb`));
      if (head.format === CACHE_FORMAT && rgb.length === head.count * head.width * head.height * 3) return { name: clip.name, width: head.width, height: head.height, count: head.count, rgb };
    } catch {
      // No (or a damaged) cache entry: decode below.
    }
  }
  let width = 0, height = 0, rgb = new Uint8Array(0);
  for (let i = 0; i < clip.files.length; i++) {
    const img = await decodeImage(clip.files[i]!);
    if (i === 0) {
      ({ width, height } = frameSizeFor(img.width, img.height, o.side));
      rgb = new Uint8Array(clip.files.length * width * height * 3);
    }
    // Every frame to the first one's size: a clip is one shot.
    const r = await resizeImage(img, width, height);
    const d = r.data, off = i * width * height * 3;
    for (let p = 0, q = off; p < d.length; p += 4, q += 3) { rgb[q] = d[p]!; rgb[q + 1] = d[p + 1]!; rgb[q + 2] = d[p + 2]!; }
  }
  const frames: ClipFrames = { name: clip.name, width, height, count: clip.files.length, rgb };
  if (base) {
    await mkdir(resolve(o.cacheDir!), { recursive: true });
    await writeFileAtomic(`${base}.rgb`, rgb);
    await writeFileAtomic(`${base}.json`, JSON.stringify({ format: CACHE_FORMAT, clip: clip.name, width, height, count: frames.count, files: clip.files.length }));
  }
  return frames;
}

/** Load many clips; a clip with an undecodable frame is skipped and reported, not fatal. */
export async function loadClips(clips: Clip[], o: { side: number; cacheDir?: string; onClip?: (done: number, total: number, name: string) => void }): Promise<{ frames: ClipFrames[]; skipped: { clip: string; reason: string; code?: string }[] }> {
  const frames: ClipFrames[] = [];
  const skipped: { clip: string; reason: string; code?: string }[] = [];
  for (let i = 0; i < clips.length; i++) {
    try {
      frames.push(await loadClipFrames(clips[i]!, o));
    } catch (e) {
      if (!(isTintaError(e) && e.code.startsWith('IMAGE_'))) throw e;
      skipped.push({ clip: clips[i]!.name, reason: e.message, code: e.code });
    }
    o.onClip?.(i + 1, clips.length, clips[i]!.name);
  }
  return { frames, skipped };
}

/** Frame indices of the stack centred on `centre`: centre-r..centre+r, clamped to the clip (edges replicated). */
export function stackIndices(count: number, centre: number, frames: number): number[] {
  const r = (frames - 1) >> 1;
  const out: number[] = [];
  for (let k = -r; k <= r; k++) out.push(Math.min(count - 1, Math.max(0, centre + k)));
  return out;
}

/** One training sample: the stack centred on frame `centre` of clip `clip`. */
export interface StackSample {
  clip: number;
  centre: number;
}

/** Every frame of every clip as a sample centre (with `pairs`, only frames that have a successor). */
export function allSamples(clips: ClipFrames[], o: { pairs?: boolean; every?: number } = {}): StackSample[] {
  const out: StackSample[] = [];
  const every = o.every ?? 1;
  clips.forEach((c, clip) => {
    const last = o.pairs ? c.count - 2 : c.count - 1;
    for (let centre = 0; centre <= last; centre += every) out.push({ clip, centre });
  });
  return out;
}

/** The order an epoch visits samples: a seeded permutation. */
export function videoEpochOrder(count: number, seed: number, epoch: number): Uint32Array {
  return permutation(count, createRng(hashKey(seed, epoch, TAG_VIDEO_ORDER)));
}

/** A batch of frame stacks, NHWC, row-major (the shape trainer/step.ts's host batches have, with F channels). */
export interface StackBatch {
  n: number;
  size: number;
  q: number;
  frames: number;
  /** [n, S, S, F]: L / 100 of the stacked frames, oldest first. */
  L: Float32Array;
  /** [n, S/4, S/4, Q]: block-mean soft targets of the centre frame. */
  target: Float32Array;
  /** [n, S/4, S/4, 2]: block-mean ab of the centre frame. */
  abLow: Float32Array;
  /** [n, S/4, S/4]: block-mean L (0-100) of the centre frame (the temporal term compares neighbours with it). */
  lLow: Float32Array;
  /** [n * S/4 * S/4]: bucket nearest to each abLow. */
  hardIndex: Uint16Array;
}

/** Options of makeStackBatch. */
export interface StackBatchOptions {
  size: number;
  frames: number;
  buckets: AbBuckets;
  seed: number;
  /** Random crop, horizontal flip and time reversal (else the centre crop, as is). */
  augment: boolean;
  epoch?: number;
  step?: number;
  /**
   * Each sample becomes two consecutive rows: the stacks centred on `centre` and `centre + 1`
   * (same crop and flip), for the temporal-consistency term.
   */
  pairs?: boolean;
}

/** Builds stack batches; holds the bucket plans and scratch buffers between batches. */
export class StackBatcher {
  private plan: SoftPlan | undefined;
  private grid: AbGrid | undefined;
  private buckets: AbBuckets | undefined;

  constructor(private readonly clips: ClipFrames[]) {}

  /** The batch of `samples` (2 rows per sample with `pairs`). */
  make(samples: readonly StackSample[], o: StackBatchOptions): StackBatch {
    const S = o.size, F = o.frames, q = o.buckets.count;
    if (!(Number.isInteger(F) && F >= 1 && F % 2 === 1)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `A frame stack needs an odd number of frames (a centre frame); got ${F}.`);
    if (!(Number.isSafeInteger(S) && S >= 8 && S % 8 === 0)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `The training size must be a multiple of 8; got ${S}.`);
    if (this.buckets !== o.buckets) {
      this.buckets = o.buckets;
      this.plan = createSoftPlan(o.buckets, DEFAULT_SOFT_K, DEFAULT_SOFT_SIGMA);
      this.grid = createAbGrid(o.buckets, 1);
    }
    const rows = o.pairs ? samples.length * 2 : samples.length;
    const px = S * S, lo = S >> 2, lowPx = lo * lo;
    const L = new Float32Array(rows * px * F);
    const centreRgb = new Uint8Array(rows * px * 3);
    const crop = new Uint8Array(px * 3);
    const lab = createLabImage(px, 1);
    let row = 0;
    for (let j = 0; j < samples.length; j++) {
      const smp = samples[j]!;
      const c = this.clips[smp.clip];
      if (!c) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Sample clip ${smp.clip} is out of range [0, ${this.clips.length}).`);
      if (c.width < S || c.height < S) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Clip "${c.name}" is ${c.width}x${c.height}, smaller than the training size ${S}.`);
      let x = (c.width - S) >> 1, y = (c.height - S) >> 1, flip = false, reverse = false;
      if (o.augment) {
        if (!(Number.isSafeInteger(o.epoch) && Number.isSafeInteger(o.step))) throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'makeStackBatch with augment needs integer epoch and step (they key the crops).');
        const rng = createRng(hashKey(o.seed, o.epoch!, o.step!, smp.clip, smp.centre, TAG_VIDEO_AUGMENT));
        x = rng.int(c.width - S + 1); y = rng.int(c.height - S + 1);
        flip = rng.float() < 0.5;
        // Played backwards a clip is still a clip: twice the motions for free.
        reverse = rng.float() < 0.5;
      }
      const centres = o.pairs ? [smp.centre, Math.min(c.count - 1, smp.centre + 1)] : [smp.centre];
      for (const centre of centres) {
        const idx = stackIndices(c.count, centre, F);
        if (reverse) idx.reverse();
        for (let f = 0; f < F; f++) {
          cropFrame(c, idx[f]!, x, y, S, flip, crop);
          const l = rgba8ToLab(crop, px, 1, lab, 3).L;
          for (let p = 0, d = row * px * F + f; p < px; p++, d += F) L[d] = l[p]! * 0.01;
        }
        cropFrame(c, centre, x, y, S, flip, centreRgb.subarray(row * px * 3, (row + 1) * px * 3));
        row++;
      }
    }
    // Targets of the centre frames, once over the whole batch.
    const all = rgba8ToLab(centreRgb, rows * px, 1, createLabImage(rows * px, 1), 3);
    const target = new Float32Array(rows * lowPx * q);
    accumulateBlockTargets(this.plan!, all.a, all.b, rows, S, target);
    const abLow = new Float32Array(rows * lowPx * 2), lLow = new Float32Array(rows * lowPx);
    const la = new Float32Array(rows * lowPx), lb = new Float32Array(rows * lowPx);
    for (let r = 0, blk = 0; r < rows; r++) {
      for (let by = 0; by < lo; by++) {
        for (let bx = 0; bx < lo; bx++, blk++) {
          let sa = 0, sb = 0, sl = 0;
          for (let dy = 0; dy < 4; dy++) {
            const p0 = (r * S + 4 * by + dy) * S + 4 * bx;
            for (let dx = 0; dx < 4; dx++) { sa += all.a[p0 + dx]! * 0.0625; sb += all.b[p0 + dx]! * 0.0625; sl += all.L[p0 + dx]! * 0.0625; }
          }
          abLow[2 * blk] = sa; abLow[2 * blk + 1] = sb; lLow[blk] = sl;
          la[blk] = sa; lb[blk] = sb;
        }
      }
    }
    const hardIndex = new Uint16Array(softEncodeGrid(this.grid!, la, lb, { k: 1 }).index.subarray(0, rows * lowPx));
    return { n: rows, size: S, q, frames: F, L, target, abLow, lLow, hardIndex };
  }
}

/** Copy the S x S window at (x, y) of frame `i` of `c` into `out` (RGB8), mirrored when `flip`. */
function cropFrame(c: ClipFrames, i: number, x: number, y: number, S: number, flip: boolean, out: Uint8Array): void {
  const W = c.width, base = i * c.width * c.height * 3;
  let d = 0;
  for (let r = 0; r < S; r++) {
    const row = base + ((y + r) * W + x) * 3;
    if (!flip) { out.set(c.rgb.subarray(row, row + S * 3), d); d += S * 3; continue; }
    for (let s = row + (S - 1) * 3; s >= row; s -= 3, d += 3) { out[d] = c.rgb[s]!; out[d + 1] = c.rgb[s + 1]!; out[d + 2] = c.rgb[s + 2]!; }
  }
}
