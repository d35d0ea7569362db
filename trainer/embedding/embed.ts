/**
 * `tinta embed`: the embedding of every training photo, computed once, exactly as the fused model
 * will compute it at inference (the SDK's network input, then the fused graph's embedding half; see
 * preprocess.ts), and cached by content hash for `tinta train --fusion`. Resumable: a rerun skips
 * cached contents, and a crash loses at most the batch being written. Unreadable photos are skipped
 * and reported.
 */
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { TintaError, ErrorCodes, isTintaError } from '../../sdk/errors.ts';
import { decodeImage } from '../../sdk/image/node.ts';
import { writeFileAtomic } from '../../sdk/io/atomic-node.ts';
import { scanImages } from '../data/scan.ts';
import type { TrainBackend } from '../backend.ts';
import { EMBED_REPORT_FILE, openEmbeddingCacheWriter, type EmbeddingRecord } from './cache.ts';
import { openEmbeddingSource } from './open.ts';
import { networkInput, type NetworkInput, type NetworkView } from './preprocess.ts';
import type { GrayMode } from '../../converters/fuse-classifier.ts';

/** Options of embedImages. */
export interface EmbedOptions {
  /** Folders of photos (recursive). */
  data: string[];
  /** The cache folder. */
  out: string;
  /** A catalog name (e.g. 'mobilenetv2') or a path to an .onnx file or model.json. */
  embedding: string;
  /** A built-in descriptor name or a descriptor JSON file. */
  descriptor?: string;
  /** The gray value the classifier sees (default 'srgb'); `tinta fuse` must use the same (it reads it from the cache). */
  gray?: GrayMode;
  /** The network size the SDK gives photos: the colorizer's recommended size and spatial multiple (default 256, 8). */
  network?: NetworkView;
  /** Models folder for catalog names (default: --dir / $TINTA_MODELS / ~/.cache/tinta/models). */
  modelsDir?: string;
  /** Photos per batch: the unit of work that is committed (default 16). */
  batchSize?: number;
  /** onnxruntime threads. */
  threads?: number;
  /** TF.js backend for graph models. */
  backend?: TrainBackend;
  /** Photos decoded at once (default 4). */
  decodeConcurrency?: number;
  /** Decode limit per photo (default: the image module's 100 Mpx). */
  maxPixels?: number;
  /** Aborting commits the batches done, then rejects with ABORTED. */
  signal?: AbortSignal;
  onProgress?: (p: EmbedProgress) => void;
}

/** Progress after each batch (and a notice when a descriptor was inferred). */
export type EmbedProgress =
  | { type: 'start'; source: string; total: number; cached: number }
  | { type: 'batch'; done: number; total: number; embedded: number; cached: number; skipped: number }
  | { type: 'notice'; message: string };

/** A photo that could not be embedded. */
export interface SkippedPhoto {
  file: string;
  code: string;
  message: string;
}

/** What embedImages did (also written to CACHE/report.json). */
export interface EmbedReport {
  cacheDir: string;
  source: string;
  dim: number | null;
  /** The gray value the classifier saw and the network size photos were given. */
  gray: GrayMode;
  network: NetworkView;
  /** Photos found. */
  files: number;
  /** Photos embedded by this run. */
  embedded: number;
  /** Photos whose content was already in the cache (earlier run, or a duplicate in this one). */
  cached: number;
  skipped: SkippedPhoto[];
  /** Vectors in the cache after the run. */
  total: number;
  seconds: number;
  /** Photos embedded per second by this run (decode + classifier), 0 when none were. */
  imagesPerSec: number;
}

interface Prepared {
  records: { sha256: string; sha1: string }[];
  inputs: NetworkInput[];
  cached: number;
  skipped: SkippedPhoto[];
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (x: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => { for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i]!); };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** Embed every photo under `data` into the cache `out`; see EmbedOptions. */
export async function embedImages(opts: EmbedOptions): Promise<EmbedReport> {
  const t0 = performance.now();
  const batchSize = opts.batchSize ?? 16;
  if (!(Number.isInteger(batchSize) && batchSize >= 1)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `The batch size must be a positive integer; got ${batchSize}.`);
  const files = await scanImages(opts.data);
  const { source, identity, notice } = await openEmbeddingSource(opts.embedding, {
    ...(opts.descriptor !== undefined ? { descriptor: opts.descriptor } : {}), ...(opts.modelsDir !== undefined ? { modelsDir: opts.modelsDir } : {}),
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}), ...(opts.backend !== undefined ? { backend: opts.backend } : {}),
    ...(opts.gray !== undefined ? { gray: opts.gray } : {}), ...(opts.network !== undefined ? { network: opts.network } : {}),
  });
  const network = identity.preprocessing.network;
  if (notice) opts.onProgress?.({ type: 'notice', message: notice });
  let writer;
  try {
    writer = await openEmbeddingCacheWriter(opts.out, identity);
  } catch (e) {
    await source.dispose();
    throw e;
  }
  const seen = new Set<string>();
  const report: EmbedReport = { cacheDir: writer.dir, source: source.name, dim: null, gray: source.preprocessing.gray, network, files: files.length, embedded: 0, cached: 0, skipped: [], total: 0, seconds: 0, imagesPerSec: 0 };
  let embedSeconds = 0;

  const prepare = async (chunk: string[]): Promise<Prepared> => {
    const p: Prepared = { records: [], inputs: [], cached: 0, skipped: [] };
    const one = async (file: string) => {
      let bytes: Buffer;
      try {
        bytes = await readFile(file);
      } catch (e) {
        return { file, error: { code: ErrorCodes.IMAGE_NOT_FOUND, message: `Could not read "${file}" (${(e as NodeJS.ErrnoException).code ?? String(e)}).` } };
      }
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      // Cached contents are known before decoding, so a rerun costs a read and a hash per photo.
      if (writer.has(sha256) || seen.has(sha256)) return { file, cached: true as const };
      seen.add(sha256);
      const sha1 = createHash('sha1').update(bytes).digest('hex');
      try {
        const img = await decodeImage(bytes, opts.maxPixels !== undefined ? { maxPixels: opts.maxPixels } : {});
        return { file, sha256, sha1, input: networkInput(img, network) };
      } catch (e) {
        seen.delete(sha256);
        return { file, error: isTintaError(e) ? { code: e.code, message: e.message } : { code: ErrorCodes.IMAGE_DECODE_FAILED, message: (e as Error).message } };
      }
    };
    for (const r of await mapLimit(chunk, opts.decodeConcurrency ?? 4, one)) {
      if ('cached' in r) p.cached++;
      else if ('error' in r) p.skipped.push({ file: r.file, ...r.error! });
      else { p.records.push({ sha256: r.sha256!, sha1: r.sha1! }); p.inputs.push(r.input!); }
    }
    return p;
  };

  let next: Promise<Prepared> | undefined;
  try {
    opts.onProgress?.({ type: 'start', source: source.name, total: files.length, cached: writer.count });
    const chunks: string[][] = [];
    for (let i = 0; i < files.length; i += batchSize) chunks.push(files.slice(i, i + batchSize));
    let done = 0;
    // Decoding of the next batch overlaps the classifier run of this one.
    next = chunks.length ? prepare(chunks[0]!) : undefined;
    for (let c = 0; c < chunks.length; c++) {
      const p = await next!;
      next = c + 1 < chunks.length && !opts.signal?.aborted ? prepare(chunks[c + 1]!) : undefined;
      if (p.inputs.length) {
        const te = performance.now();
        const vectors = await source.embed(p.inputs);
        const recs: EmbeddingRecord[] = p.records.map((r, i) => ({ ...r, vector: vectors[i]! }));
        await writer.append(recs);
        embedSeconds += (performance.now() - te) / 1000;
        report.dim = vectors[0]!.length;
      }
      report.embedded += p.inputs.length;
      report.cached += p.cached;
      report.skipped.push(...p.skipped);
      done += chunks[c]!.length;
      opts.onProgress?.({ type: 'batch', done, total: files.length, embedded: report.embedded, cached: report.cached, skipped: report.skipped.length });
      if (opts.signal?.aborted && c + 1 < chunks.length) {
        throw new TintaError(ErrorCodes.ABORTED, `Embedding was interrupted after ${done} of ${files.length} photos; the ${report.embedded} embedded so far are kept. Run the same command again to continue.`);
      }
    }
  } finally {
    // A batch still being decoded when the loop stops (error or abort) is dropped, never left dangling.
    await next?.catch(() => undefined);
    report.total = writer.count;
    report.dim = writer.dim;
    report.seconds = (performance.now() - t0) / 1000;
    report.imagesPerSec = report.embedded > 0 ? report.embedded / report.seconds : 0;
    await writer.close();
    await source.dispose();
    await writeFileAtomic(join(report.cacheDir, EMBED_REPORT_FILE), JSON.stringify({ ...report, classifierSeconds: embedSeconds }, null, 2) + '\n').catch(() => undefined);
  }
  return report;
}
