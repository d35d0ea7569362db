/**
 * The training photo cache: every photo decoded once, cut to a C x C square and stored as RGB8 in
 * append-only shard files, with a JSON index. Training then reads fixed-size samples at known
 * offsets instead of decoding JPEGs every epoch.
 *
 * Entries are keyed by (sha1 of the file bytes, C): a second build over the same photos decodes
 * nothing, a build with new photos decodes only those, and renaming or copying a photo costs no
 * decode. A file whose path, size and mtime match the last build is trusted to have the same sha1,
 * so a warm build does not even read the photos (pass `rehash: true` to re-read everything).
 *
 * Crash safety: shard bytes are only ever appended, and the index is replaced (temp file + rename)
 * only after the shards are fsync'ed, so the index never points at unwritten bytes. Whatever a
 * crash leaves beyond the indexed length of a shard is cut off by the next build. The dataset view
 * (`samples`) is replaced only when a build completes; the progress a build makes on the way
 * (decoded photos) is committed as it goes, so an interrupted build loses little work.
 */
import { createHash } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { mkdir, open, readFile, readdir, stat, truncate, unlink, type FileHandle } from 'node:fs/promises';
import { writeFileAtomic } from '../../sdk/io/atomic-node.ts';
import { join, relative, resolve, sep } from 'node:path';
import { rgba8ToLab } from '../../sdk/color/index.ts';
import { ErrorCodes, TintaError, isTintaError } from '../../sdk/errors.ts';
import { decodeImage, resizeImage } from '../../sdk/image/node.ts';
import type { RgbaImage } from '../../sdk/image/types.ts';
import { scanImages } from './scan.ts';
import { acquirePidLock } from '../lock.ts';

/** Index file name inside the cache folder. */
export const INDEX_FILE = 'index.json';
/** Build report file name inside the cache folder. */
export const REPORT_FILE = 'report.json';
/** Shards are closed once the next sample would take them past this many bytes. */
export const SHARD_TARGET_BYTES = 64 * 1024 * 1024;
/** A photo counts as colour when any pixel's chroma sqrt(a^2 + b^2) exceeds this. */
export const GRAYSCALE_CHROMA = 5;

const INDEX_FORMAT = 'tinta-photo-cache';
const INDEX_VERSION = 1;
const LOCK_FILE = 'build.lock';
// Intermediate commits keep an interrupted build's work; each rewrites the index, so not too often.
const COMMIT_EVERY = 256;

/** Cache side C for training size S: 15% margin for random crops, rounded up to a multiple of 8. */
export function cacheSide(trainSize: number): number {
  if (!(Number.isSafeInteger(trainSize) && trainSize >= 8 && trainSize % 8 === 0)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `The training size must be a positive multiple of 8 (e.g. 64, 128, 176, 224); got ${trainSize}.`);
  }
  // Integer arithmetic: S * 1.15 in floating point lands just below or above whole numbers.
  return Math.ceil((trainSize * 115) / 800) * 8;
}

/** The largest training size S whose cache side fits in C (the inverse of cacheSide). */
export function trainSizeForSide(side: number): number {
  let s = 8 * Math.floor(side / 8);
  while (s > 8 && cacheSide(s) > side) s -= 8;
  return s;
}

/** One shard file and how many of its bytes the index vouches for. */
export interface ShardRecord {
  name: string;
  bytes: number;
}

/** One sample of the dataset view: where the photo was and where its pixels are. */
export interface SampleRecord {
  /** Path relative to its source folder (`dirs[dir]`), with '/' separators. */
  file: string;
  dir: number;
  sha1: string;
  shard: number;
  offset: number;
}

/** What the cache knows about one file content: stored pixels, grayscale, or a decode failure. */
export type KnownRecord = { shard: number; offset: number } | { grayscale: true } | { error: string; message: string };

/** The on-disk index (index.json). */
export interface CacheIndex {
  format: typeof INDEX_FORMAT;
  version: typeof INDEX_VERSION;
  /** Cache side C. */
  side: number;
  /** C * C * 3. */
  sampleBytes: number;
  shards: ShardRecord[];
  /** Absolute source folders of the last completed build. */
  dirs: string[];
  /** The dataset view of the last completed build, in scan order. */
  samples: SampleRecord[];
  /** sha1 -> outcome, for every content ever processed at this side (including photos since removed). */
  known: Record<string, KnownRecord>;
  /** Absolute path -> [size, mtimeMs, sha1]: lets a warm build skip reading unchanged files. */
  stats: Record<string, [number, number, string]>;
}

/** A file that could not be used, with the TintaError code that said why. */
export interface UnreadableFile {
  file: string;
  code: string;
  message: string;
}

/** The build report (also written to report.json). File paths are as scanned, joined to the folder as given. */
export interface CacheReport {
  samples: number;
  skipped: {
    grayscale: string[];
    unreadable: UnreadableFile[];
    /** Files whose bytes equal an earlier file's: one sample is kept per content. */
    duplicates: string[];
  };
}

/** What buildCache returns: the report plus where and what was built. */
export interface CacheInfo extends CacheReport {
  cacheDir: string;
  /** Cache side C. */
  side: number;
  /** Training size S the cache was built for. */
  trainSize: number;
  /** Photos decoded by this build (0 when everything was cached). */
  decoded: number;
  /** Files whose outcome came from the cache. */
  reused: number;
  /** Bytes of shard data the index references (including photos no longer in the view). */
  shardBytes: number;
}

/** Progress of a build, reported after each file. */
export interface CacheProgress {
  done: number;
  total: number;
  file: string;
  decoded: number;
  reused: number;
}

/** Options of buildCache. */
export interface BuildCacheOptions {
  /** Folders to scan recursively for photos. */
  dirs: string[];
  /** Folder for shards, index.json and report.json (created if missing). */
  cacheDir: string;
  /** Training size S (multiple of 8); samples are stored at C = cacheSide(S). */
  size: number;
  onProgress?: (p: CacheProgress) => void;
  /** Aborting commits the work done so far, then rejects with an ABORTED TintaError. */
  signal?: AbortSignal;
  /** Decode limit per photo (default: the image module's 100 Mpx). */
  maxPixels?: number;
  /** Photos decoded at once (default min(4, cores)); each holds one full-size decoded photo. */
  concurrency?: number;
  /** Re-read and re-hash every file instead of trusting unchanged path/size/mtime. */
  rehash?: boolean;
  /** Decoder to use (default the image module's decodeImage); tests inject a counting one. */
  decode?: (bytes: Uint8Array, file: string) => Promise<RgbaImage>;
}

// ---------------------------------------------------------------------------------------------
// Index I/O

function emptyIndex(side: number): CacheIndex {
  return { format: INDEX_FORMAT, version: INDEX_VERSION, side, sampleBytes: side * side * 3, shards: [], dirs: [], samples: [], known: {}, stats: {} };
}

/** Read and sanity-check index.json; undefined when absent or not a cache index of this version. */
export async function readIndex(cacheDir: string): Promise<CacheIndex | undefined> {
  let text: string;
  try {
    text = await readFile(join(cacheDir, INDEX_FILE), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const o = JSON.parse(text) as Partial<CacheIndex>;
    if (o.format !== INDEX_FORMAT || o.version !== INDEX_VERSION) return undefined;
    if (!Number.isSafeInteger(o.side) || o.sampleBytes !== o.side! * o.side! * 3) return undefined;
    if (!Array.isArray(o.shards) || !Array.isArray(o.samples) || !Array.isArray(o.dirs) || typeof o.known !== 'object' || typeof o.stats !== 'object') return undefined;
    return o as CacheIndex;
  } catch {
    return undefined; // a cache is disposable: an unreadable index means "start again", not an error
  }
}

async function syncDir(dir: string): Promise<void> {
  // Makes renames and new files durable on Linux; other systems refuse to open folders, which is fine.
  const fh = await open(dir, 'r').catch(() => undefined);
  if (fh) await fh.sync().catch(() => undefined).finally(() => fh.close());
}

// ---------------------------------------------------------------------------------------------
// Shards

function shardName(side: number, i: number): string {
  return `shard-c${side}-${String(i).padStart(4, '0')}.bin`;
}
const SHARD_PATTERN = /^shard-c\d+-\d{4,}\.bin$/;

/**
 * Make the shards agree with the index: cut tails beyond the indexed length (a crash mid-append)
 * and forget samples whose bytes are gone (a shard deleted or cut short by hand).
 */
async function repairShards(cacheDir: string, idx: CacheIndex): Promise<void> {
  const valid: number[] = [];
  for (const sh of idx.shards) {
    const p = join(cacheDir, sh.name);
    const size = await stat(p).then((s) => s.size, () => -1);
    if (size > sh.bytes) await truncate(p, sh.bytes);
    const ok = size < 0 ? 0 : Math.min(size, sh.bytes);
    valid.push(ok - (ok % idx.sampleBytes));
  }
  const fits = (r: { shard: number; offset: number }): boolean => r.shard < valid.length && r.offset + idx.sampleBytes <= valid[r.shard]!;
  for (const [sha, k] of Object.entries(idx.known)) if ('shard' in k && !fits(k)) delete idx.known[sha];
  idx.samples = idx.samples.filter(fits);
  // Appending continues at the last shard's end, so its record must match the bytes really there.
  const last = idx.shards.length - 1;
  if (last >= 0 && valid[last]! < idx.shards[last]!.bytes) {
    idx.shards[last]!.bytes = valid[last]!;
    await truncate(join(cacheDir, idx.shards[last]!.name), valid[last]!).catch(() => undefined);
  }
}

interface ShardWriter {
  append(rgb: Uint8Array): Promise<{ shard: number; offset: number }>;
  /** fsync everything appended since the last sync. */
  sync(): Promise<void>;
  close(): Promise<void>;
}

function createShardWriter(cacheDir: string, idx: CacheIndex): ShardWriter {
  let fh: FileHandle | undefined;
  let cur = -1;
  const openShard = async (i: number, fresh: boolean): Promise<void> => {
    const p = join(cacheDir, idx.shards[i]!.name);
    // A fresh shard may exist as a crash orphan: 'w' empties it. An indexed one is extended in place.
    fh = fresh ? await open(p, 'w') : await open(p, 'r+').catch(() => open(p, 'w'));
    cur = i;
  };
  return {
    async append(rgb) {
      const n = idx.sampleBytes;
      if (cur < 0 && idx.shards.length > 0 && idx.shards[idx.shards.length - 1]!.bytes + n <= SHARD_TARGET_BYTES) {
        await openShard(idx.shards.length - 1, false);
      }
      if (cur < 0 || idx.shards[cur]!.bytes + n > SHARD_TARGET_BYTES) {
        if (fh) {
          await fh.sync();
          await fh.close();
        }
        idx.shards.push({ name: shardName(idx.side, idx.shards.length), bytes: 0 });
        await openShard(idx.shards.length - 1, true);
      }
      const rec = idx.shards[cur]!;
      const offset = rec.bytes;
      let done = 0;
      while (done < n) done += (await fh!.write(rgb, done, n - done, offset + done)).bytesWritten;
      rec.bytes += n;
      return { shard: cur, offset };
    },
    async sync() {
      await fh?.sync();
    },
    async close() {
      await fh?.close();
      fh = undefined;
      cur = -1;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Lock: two builds appending to the same shard would interleave their bytes.

function acquireLock(cacheDir: string): Promise<() => Promise<void>> {
  return acquirePidLock(join(cacheDir, LOCK_FILE), {
    held: (pid) => new TintaError(ErrorCodes.CONFIG_CONFLICT, `Another cache build (process ${pid}) is writing to "${cacheDir}". Wait for it to finish or use another cache folder.`, {
      details: { cacheDir, pid },
    }),
    failed: () => new TintaError(ErrorCodes.CONFIG_CONFLICT, `Could not take the build lock of "${cacheDir}".`, { details: { cacheDir } }),
  });
}

// ---------------------------------------------------------------------------------------------
// Per-file work

type Outcome =
  | { kind: 'known'; sha1: string }
  | { kind: 'sample'; sha1: string; rgb: Uint8Array }
  | { kind: 'grayscale'; sha1: string }
  /** `sha1` is absent when the bytes could not be read: nothing to remember the failure by. */
  | { kind: 'error'; sha1?: string; code: string; message: string; remember: boolean };

interface FileJob {
  abs: string;
  /** Path for reports and the index. */
  shown: string;
  dir: number;
  rel: string;
}

/** Decode, cut to C x C (cover + centre crop) and test for colour; RGB8 bytes when colour. */
async function preparePhoto(bytes: Uint8Array, file: string, side: number, decode: NonNullable<BuildCacheOptions['decode']>): Promise<Uint8Array | undefined> {
  const img = await decode(bytes, file);
  const sq = await resizeImage(img, side, side, { fit: 'cover' });
  const n = side * side;
  const lab = rgba8ToLab(sq.data, side, side);
  const lim = GRAYSCALE_CHROMA * GRAYSCALE_CHROMA;
  let colour = false;
  for (let i = 0; i < n; i++) {
    const a = lab.a[i]!, b = lab.b[i]!;
    if (a * a + b * b > lim) {
      colour = true;
      break;
    }
  }
  if (!colour) return undefined;
  const rgb = new Uint8Array(n * 3);
  const src = sq.data;
  for (let i = 0, p = 0, q = 0; i < n; i++, p += 4, q += 3) {
    rgb[q] = src[p]!;
    rgb[q + 1] = src[p + 1]!;
    rgb[q + 2] = src[p + 2]!;
  }
  return rgb;
}

function asError(e: unknown, fallback: string): { code: string; message: string } {
  if (isTintaError(e)) return { code: e.code, message: e.message };
  return { code: fallback, message: e instanceof Error ? e.message : String(e) };
}

// ---------------------------------------------------------------------------------------------

/** Build or update the photo cache of `dirs` in `cacheDir` for training size `size`; see the module comment. */
export async function buildCache(opts: BuildCacheOptions): Promise<CacheInfo> {
  const side = cacheSide(opts.size);
  const cacheDir = resolve(opts.cacheDir);
  const decode = opts.decode ?? ((bytes: Uint8Array) => decodeImage(bytes, opts.maxPixels !== undefined ? { maxPixels: opts.maxPixels } : {}));
  const concurrency = Math.max(1, Math.floor(opts.concurrency ?? Math.min(4, availableParallelism())));
  const throwIfAborted = (): void => {
    if (opts.signal?.aborted) throw new TintaError(ErrorCodes.ABORTED, 'The cache build was aborted; the photos processed so far are kept for the next build.');
  };
  throwIfAborted();
  const files = await scanImages(opts.dirs);
  const dirs = opts.dirs.map((d) => resolve(d));
  const jobs: FileJob[] = files.map((abs) => {
    // The first folder that holds the file owns it (folders may nest).
    const dir = Math.max(0, dirs.findIndex((d) => abs.startsWith(d.endsWith(sep) ? d : d + sep)));
    const rel = relative(dirs[dir]!, abs).split(sep).join('/');
    return { abs, dir, rel, shown: join(opts.dirs[dir]!, rel) };
  });

  await mkdir(cacheDir, { recursive: true });
  const unlock = await acquireLock(cacheDir);
  const old = await readIndex(cacheDir);
  const idx = old && old.side === side ? old : emptyIndex(side);
  const writer = createShardWriter(cacheDir, idx);
  try {
    await repairShards(cacheDir, idx);
    const commit = async (): Promise<void> => {
      await writer.sync(); // the index may only name bytes that are on disk
      await syncDir(cacheDir);
      await writeFileAtomic(join(cacheDir, INDEX_FILE), JSON.stringify(idx));
    };

    let decoded = 0, reused = 0, sinceCommit = 0, done = 0;
    const inflight = new Map<string, Promise<Outcome>>();
    const examine = async (job: FileJob): Promise<Outcome> => {
      let st;
      try {
        st = await stat(job.abs);
      } catch (e) {
        return { kind: 'error', code: ErrorCodes.IMAGE_NOT_FOUND, message: `"${job.shown}" disappeared during the build (${(e as NodeJS.ErrnoException).code ?? String(e)}).`, remember: false };
      }
      const seen = idx.stats[job.abs];
      if (!opts.rehash && seen && seen[0] === st.size && seen[1] === st.mtimeMs && idx.known[seen[2]]) return { kind: 'known', sha1: seen[2] };
      let bytes: Uint8Array;
      try {
        bytes = await readFile(job.abs);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        return {
          kind: 'error',
          code: code === 'ENOENT' ? ErrorCodes.IMAGE_NOT_FOUND : ErrorCodes.IMAGE_DECODE_FAILED,
          message: `Could not read "${job.shown}" (${code ?? String(e)}).`,
          remember: false,
        };
      }
      const sha1 = createHash('sha1').update(bytes).digest('hex');
      idx.stats[job.abs] = [st.size, st.mtimeMs, sha1];
      if (idx.known[sha1]) return { kind: 'known', sha1 };
      // The same bytes under two names in one chunk are decoded once; the store loop then sees
      // the second as already known.
      let pending = inflight.get(sha1);
      if (!pending) {
        decoded++;
        pending = preparePhoto(bytes, job.abs, side, decode).then(
          (rgb): Outcome => (rgb ? { kind: 'sample', sha1, rgb } : { kind: 'grayscale', sha1 }),
          (e: unknown): Outcome => {
            const { code, message } = asError(e, ErrorCodes.IMAGE_DECODE_FAILED);
            // A size-limit refusal depends on maxPixels, not on the bytes: try again next time.
            return { kind: 'error', sha1, code, message, remember: code !== ErrorCodes.IMAGE_TOO_LARGE };
          },
        );
        inflight.set(sha1, pending);
      }
      return pending;
    };

    const samples: SampleRecord[] = [];
    const inView = new Set<string>();
    const report: CacheReport = { samples: 0, skipped: { grayscale: [], unreadable: [], duplicates: [] } };
    for (let c0 = 0; c0 < jobs.length; c0 += concurrency) {
      if (opts.signal?.aborted) {
        await commit();
        throwIfAborted();
      }
      const chunk = jobs.slice(c0, c0 + concurrency);
      // Decode in parallel, store in scan order: the shard layout does not depend on timing.
      const outcomes = await Promise.all(chunk.map(examine));
      inflight.clear();
      for (let j = 0; j < chunk.length; j++) {
        const job = chunk[j]!;
        const o = outcomes[j]!;
        let rec: KnownRecord | undefined;
        if (o.kind === 'error' && (o.sha1 === undefined || !o.remember)) {
          report.skipped.unreadable.push({ file: job.shown, code: o.code, message: o.message });
        } else {
          // Known either from an earlier build or from the same bytes earlier in this chunk.
          rec = idx.known[o.sha1!];
          if (rec) reused++;
          else if (o.kind === 'sample') {
            rec = idx.known[o.sha1] = await writer.append(o.rgb);
            sinceCommit++;
          } else if (o.kind === 'grayscale') rec = idx.known[o.sha1] = { grayscale: true };
          else if (o.kind === 'error') rec = idx.known[o.sha1!] = { error: o.code, message: o.message };
        }
        if (rec && 'error' in rec) report.skipped.unreadable.push({ file: job.shown, code: rec.error, message: rec.message });
        else if (rec && 'grayscale' in rec) report.skipped.grayscale.push(job.shown);
        else if (rec && 'shard' in rec) {
          const sha1 = (o as { sha1: string }).sha1;
          if (inView.has(sha1)) report.skipped.duplicates.push(job.shown);
          else {
            inView.add(sha1);
            samples.push({ file: job.rel, dir: job.dir, sha1, shard: rec.shard, offset: rec.offset });
          }
        }
        done++;
        opts.onProgress?.({ done, total: jobs.length, file: job.shown, decoded, reused });
      }
      if (sinceCommit >= COMMIT_EVERY) {
        await commit();
        sinceCommit = 0;
      }
    }

    // Forget stat shortcuts of files that are gone, so the index does not grow without bound.
    const present = new Set(files);
    for (const p of Object.keys(idx.stats)) if (!present.has(p)) delete idx.stats[p];
    idx.samples = samples;
    idx.dirs = dirs;
    await commit();
    report.samples = samples.length;
    const info: CacheInfo = {
      ...report,
      cacheDir,
      side,
      trainSize: opts.size,
      decoded,
      reused,
      shardBytes: idx.shards.reduce((s, x) => s + x.bytes, 0),
    };
    await writeFileAtomic(join(cacheDir, REPORT_FILE), JSON.stringify(info, null, 2));
    await removeStrayFiles(cacheDir, idx);
    return info;
  } finally {
    await writer.close().catch(() => undefined);
    await unlock();
  }
}

/** Delete shards the index no longer names (an older cache side, crash orphans) and temp files. */
async function removeStrayFiles(cacheDir: string, idx: CacheIndex): Promise<void> {
  const keep = new Set(idx.shards.map((s) => s.name));
  for (const name of await readdir(cacheDir)) {
    const stray = (SHARD_PATTERN.test(name) && !keep.has(name)) || (name.startsWith('.') && name.endsWith('.tmp'));
    if (stray) await unlink(join(cacheDir, name)).catch(() => undefined);
  }
}
