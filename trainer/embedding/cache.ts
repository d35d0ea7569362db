/**
 * The embedding cache `tinta embed` writes and `tinta train --fusion` reads: one probability vector
 * per image content, keyed by the sha256 of the file bytes (the sha1 is kept too, because the photo
 * cache of the trainer names samples by sha1).
 *
 * A folder with `embeddings.json` (the header: source name, model hash, descriptor, how the
 * classifier input was made, dimension, what the vectors are) and `embeddings.bin`, an append-only
 * file of fixed-size records:
 *
 *     sha256 (32 bytes) | sha1 (20 bytes) | check (uint32 LE) | dim float32 LE
 *
 * `check` is the first 4 bytes of the sha256 of the rest of the record, so a record torn or zeroed by
 * a crash is recognised and dropped. Each batch is appended with one write and fsync'ed, so a crash
 * loses at most the batch being written; a later run recomputes what is missing.
 */
import { createHash } from 'node:crypto';
import { mkdir, open, readFile, stat, truncate, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { TintaError, ErrorCodes } from '../../sdk/errors.ts';
import { writeFileAtomic } from '../../sdk/io/atomic-node.ts';
import { acquirePidLock } from '../lock.ts';
import type { ResolvedDescriptor } from '../../converters/fuse-classifier.ts';
import type { NetworkView } from './preprocess.ts';

/** Header file name inside the cache folder. */
export const HEADER_FILE = 'embeddings.json';
/** Record file name inside the cache folder. */
export const DATA_FILE = 'embeddings.bin';
/** Last run's report inside the cache folder. */
export const EMBED_REPORT_FILE = 'report.json';

const FORMAT = 'tinta-embeddings';
// Version 1 caches were made from a Lanczos resize of the photo in sRGB, not from the SDK's L.
const VERSION = 2;
const LOCK_FILE = 'embed.lock';
const KEY_BYTES = 32 + 20 + 4;

/** How a photo became the classifier's input: the SDK's network view, then a fused model's preprocessing. */
export interface EmbeddingPreprocessing {
  /** The network size the SDK gives the photo (sdk/core/pipeline.ts preprocess). */
  network: NetworkView;
  /** Every choice between L and the classifier (crop, gray, resize, normalisation, output), as `tinta fuse` records it. */
  classifier: ResolvedDescriptor;
  /** What ran it: the fused model's own nodes in onnxruntime, or their TypeScript twin before a TF.js model. */
  ranBy: 'onnx-embedding-graph' | 'typescript-preprocessing';
}

/** What identifies the embeddings of a cache: a second run must agree on all of it. */
export interface EmbeddingIdentity {
  /** The source name (e.g. 'mobilenetv2'), recorded in checkpoints and ONNX metadata. */
  source: string;
  /** The model file and its sha256 (for TF.js: of model.json and its weight files). */
  model: { file: string; sha256: string; format: 'onnx' | 'tfjs' };
  /** The descriptor in its JSON form. */
  descriptor: Record<string, unknown>;
  preprocessing: EmbeddingPreprocessing;
}

/** The header (embeddings.json). */
export interface EmbeddingCacheHeader extends EmbeddingIdentity {
  format: typeof FORMAT;
  version: typeof VERSION;
  dim: number;
  /** What a vector is: the classifier's softmax probabilities. */
  stores: 'softmax-probabilities';
  /** Bytes per record and their layout. */
  record: { bytes: number; layout: string };
  createdAt: string;
}

/** An opened cache for reading. */
export interface EmbeddingCache {
  readonly dir: string;
  readonly header: EmbeddingCacheHeader;
  readonly source: string;
  readonly dim: number;
  readonly count: number;
  /** How the classifier input was made (gray mode, network size, ...). */
  readonly preprocessing: EmbeddingPreprocessing;
  /** The vector of the content with this sha256 (hex), if cached. */
  get(sha256: string): Float32Array | undefined;
  /** The vector of the content with this sha1 (hex), if cached. */
  getBySha1(sha1: string): Float32Array | undefined;
}

/** One vector to store. */
export interface EmbeddingRecord {
  sha256: string;
  sha1: string;
  vector: Float32Array;
}

function recordBytes(dim: number): number {
  return KEY_BYTES + 4 * dim;
}

function checkOf(rec: Uint8Array): number {
  const h = createHash('sha256').update(rec.subarray(0, 52)).update(rec.subarray(KEY_BYTES)).digest();
  return h.readUInt32LE(0);
}

function encodeRecord(r: EmbeddingRecord, dim: number, out: Uint8Array, at: number): void {
  if (r.vector.length !== dim) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `An embedding has ${r.vector.length} values; this cache holds ${dim}-d vectors.`);
  if (!/^[0-9a-f]{64}$/.test(r.sha256) || !/^[0-9a-f]{40}$/.test(r.sha1)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'An embedding record needs a hex sha256 and sha1.');
  const rec = out.subarray(at, at + recordBytes(dim));
  rec.set(Buffer.from(r.sha256, 'hex'), 0);
  rec.set(Buffer.from(r.sha1, 'hex'), 32);
  new Uint8Array(rec.buffer, rec.byteOffset + KEY_BYTES, 4 * dim).set(new Uint8Array(r.vector.buffer, r.vector.byteOffset, 4 * dim));
  new DataView(rec.buffer, rec.byteOffset).setUint32(52, checkOf(rec), true);
}

/** Walk the records in `bytes`: valid ones are passed to `visit`; returns the count of damaged ones. */
function scanRecords(bytes: Uint8Array, dim: number, visit: (sha256: string, sha1: string, floatsAt: number) => void): { damaged: number; whole: number } {
  const rb = recordBytes(dim);
  const whole = Math.floor(bytes.length / rb);
  let damaged = 0;
  for (let i = 0; i < whole; i++) {
    const rec = bytes.subarray(i * rb, (i + 1) * rb);
    if (new DataView(rec.buffer, rec.byteOffset).getUint32(52, true) !== checkOf(rec)) { damaged++; continue; }
    visit(Buffer.from(rec.subarray(0, 32)).toString('hex'), Buffer.from(rec.subarray(32, 52)).toString('hex'), i * rb + KEY_BYTES);
  }
  return { damaged, whole };
}

function parseHeader(text: string, dir: string): EmbeddingCacheHeader {
  let h: Partial<EmbeddingCacheHeader>;
  try {
    h = JSON.parse(text) as Partial<EmbeddingCacheHeader>;
  } catch (e) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `${join(dir, HEADER_FILE)} is not valid JSON; remove the folder and run \`tinta embed\` again.`, { cause: e });
  }
  if (h.format === FORMAT && (h.version as number) === 1) {
    throw new TintaError(ErrorCodes.CONFIG_CONFLICT, `${dir} was made by an earlier \`tinta embed\` that resized the photo itself (Lanczos, sRGB, L/100); a fused model computes its embedding from the SDK's L, so these vectors would not match it. Embed the photos again into a new folder.`, { details: { dir } });
  }
  if (h.format !== FORMAT || h.version !== VERSION || typeof h.source !== 'string' || !Number.isInteger(h.dim) || (h.dim as number) < 1 || typeof h.preprocessing?.classifier?.gray !== 'string') {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `${dir} is not a tinta embedding cache of version ${VERSION} (see ${HEADER_FILE}); make one with \`tinta embed\`.`, { details: { dir } });
  }
  return h as EmbeddingCacheHeader;
}

async function readHeaderText(abs: string, dir: string): Promise<string> {
  try {
    return await readFile(join(abs, HEADER_FILE), 'utf8');
  } catch (e) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `"${dir}" holds no embedding cache (no ${HEADER_FILE}). Make one with \`tinta embed --data DIR --embedding mobilenetv2 --out ${dir}\`.`, { cause: e, details: { dir: abs } });
  }
}

/** The header of a cache made by `tinta embed` (how its vectors were made), without reading the vectors. */
export async function readEmbeddingCacheHeader(dir: string): Promise<EmbeddingCacheHeader> {
  const abs = resolve(dir);
  return parseHeader(await readHeaderText(abs, dir), abs);
}

/** Open a cache made by `tinta embed` for reading (all vectors in memory: 4 KB per photo at 1000-d). */
export async function readEmbeddingCache(dir: string): Promise<EmbeddingCache> {
  const abs = resolve(dir);
  const header = parseHeader(await readHeaderText(abs, dir), abs);
  const bytes = await readFile(join(abs, DATA_FILE)).catch(() => new Uint8Array(0));
  // One aligned copy of all floats; vectors are views into it.
  const floats = new Float32Array(bytes.length >> 2);
  new Uint8Array(floats.buffer).set(bytes.subarray(0, floats.length * 4));
  const by256 = new Map<string, Float32Array>(), by1 = new Map<string, Float32Array>();
  scanRecords(bytes, header.dim, (s256, s1, at) => {
    const v = floats.subarray(at >> 2, (at >> 2) + header.dim);
    by256.set(s256, v);
    by1.set(s1, v);
  });
  return {
    dir: abs, header, source: header.source, dim: header.dim, count: by256.size, preprocessing: header.preprocessing,
    get: (s) => by256.get(s),
    getBySha1: (s) => by1.get(s),
  };
}

function acquireLock(dir: string): Promise<() => Promise<void>> {
  return acquirePidLock(join(dir, LOCK_FILE), {
    held: (pid) => new TintaError(ErrorCodes.CONFIG_CONFLICT, `Another \`tinta embed\` (process ${pid}) is writing to "${dir}". Wait for it to finish or use another --out.`, { details: { dir, pid } }),
    failed: () => new TintaError(ErrorCodes.CONFIG_CONFLICT, `Could not take the lock of "${dir}".`, { details: { dir } }),
  });
}

/** A cache opened for appending. */
export interface EmbeddingCacheWriter {
  readonly dir: string;
  /** Vectors already stored (valid records). */
  readonly count: number;
  /** Values per vector (null until the first batch of a new cache). */
  readonly dim: number | null;
  /** Damaged records found on opening (they are recomputed). */
  readonly damaged: number;
  has(sha256: string): boolean;
  /** Append one batch with one write, then fsync; the header is written with the first batch. */
  append(records: readonly EmbeddingRecord[]): Promise<void>;
  close(): Promise<void>;
}

/** What differs between two preprocessings, one line each (empty when they agree); `a` and `b` name the sides. */
export function preprocessingConflicts(x: EmbeddingPreprocessing, y: EmbeddingPreprocessing, a: string, b: string): string[] {
  const out: string[] = [];
  if (x.classifier.gray !== y.classifier.gray) out.push(`gray value: ${a} '${x.classifier.gray}', ${b} '${y.classifier.gray}'`);
  if (x.network.resolution !== y.network.resolution || x.network.multiple !== y.network.multiple) {
    out.push(`network size: ${a} short side ${x.network.resolution} (multiple ${x.network.multiple}), ${b} ${y.network.resolution} (multiple ${y.network.multiple})`);
  }
  // Where the output kind was decided does not change the vectors.
  const rest = (p: EmbeddingPreprocessing) => JSON.stringify({ ...p.classifier, gray: undefined, outputFrom: undefined });
  if (rest(x) !== rest(y)) out.push(`classifier preprocessing: ${a} ${rest(x)}, ${b} ${rest(y)}`);
  return out;
}

function identityConflicts(h: EmbeddingCacheHeader, id: EmbeddingIdentity): string[] {
  const out: string[] = [];
  if (h.source !== id.source) out.push(`source: the cache has "${h.source}", requested "${id.source}"`);
  if (h.model?.sha256 !== id.model.sha256) out.push(`model file: the cache was made with ${h.model?.file} (sha256 ${h.model?.sha256?.slice(0, 12)}…), requested ${id.model.file} (sha256 ${id.model.sha256.slice(0, 12)}…)`);
  if (JSON.stringify(h.descriptor) !== JSON.stringify(id.descriptor)) out.push(`descriptor: the cache has ${JSON.stringify(h.descriptor)}, requested ${JSON.stringify(id.descriptor)}`);
  out.push(...preprocessingConflicts(h.preprocessing, id.preprocessing, 'the cache has', 'requested'));
  return out;
}

/**
 * Open (or create) the cache in `dir` for appending embeddings of `id`. A cache made with another
 * source, model or descriptor is a CONFIG_CONFLICT: its vectors would mean something else. A torn
 * tail from a crash is cut off.
 */
export async function openEmbeddingCacheWriter(dir: string, id: EmbeddingIdentity): Promise<EmbeddingCacheWriter> {
  const abs = resolve(dir);
  await mkdir(abs, { recursive: true });
  const unlock = await acquireLock(abs);
  try {
    let header: EmbeddingCacheHeader | undefined;
    const text = await readFile(join(abs, HEADER_FILE), 'utf8').catch(() => undefined);
    if (text !== undefined) {
      header = parseHeader(text, abs);
      const diff = identityConflicts(header, id);
      if (diff.length) {
        throw new TintaError(ErrorCodes.CONFIG_CONFLICT, `The embedding cache ${dir} was made differently:\n  ${diff.join('\n  ')}\nUse another --out folder (or delete this one).`, { details: { dir: abs } });
      }
    }
    const dataPath = join(abs, DATA_FILE);
    const keys = new Set<string>();
    let damaged = 0;
    if (header) {
      const bytes = await readFile(dataPath).catch(() => new Uint8Array(0));
      const r = scanRecords(bytes, header.dim, (s256) => keys.add(s256));
      damaged = r.damaged;
      const keep = r.whole * recordBytes(header.dim);
      if (bytes.length > keep) await truncate(dataPath, keep);
    } else if (await stat(dataPath).catch(() => undefined)) {
      await truncate(dataPath, 0); // records without a header cannot be read: start over
    }
    let fh: FileHandle | undefined;
    return {
      dir: abs,
      get count() { return keys.size; },
      get dim() { return header?.dim ?? null; },
      damaged,
      has: (s) => keys.has(s),
      async append(records) {
        if (records.length === 0) return;
        if (!header) {
          const dim = records[0]!.vector.length;
          header = {
            format: FORMAT, version: VERSION, ...id, dim, stores: 'softmax-probabilities',
            record: { bytes: recordBytes(dim), layout: `sha256[32] sha1[20] check:uint32le float32le[${dim}]` }, createdAt: new Date().toISOString(),
          };
          await writeFileAtomic(join(abs, HEADER_FILE), JSON.stringify(header, null, 2) + '\n');
        }
        const rb = recordBytes(header.dim);
        const buf = new Uint8Array(rb * records.length);
        records.forEach((r, i) => encodeRecord(r, header!.dim, buf, i * rb));
        fh ??= await open(dataPath, 'a');
        for (let off = 0; off < buf.length; ) off += (await fh.write(buf, off)).bytesWritten;
        await fh.sync();
        for (const r of records) keys.add(r.sha256);
      },
      async close() {
        await fh?.close();
        fh = undefined;
        await unlock();
      },
    };
  } catch (e) {
    await unlock();
    throw e;
  }
}
