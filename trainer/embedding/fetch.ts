/**
 * `tinta models fetch`: download a catalog network from its publisher into the models folder.
 *
 * The bytes stream into a hidden temporary file beside the target while their sha256 is computed;
 * only when size and hash match the catalog is the file fsync'ed and renamed into place. An
 * interrupted or mismatching download therefore never leaves a file under the real name, and a file
 * already there counts as cached only after the same check.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { TintaError, ErrorCodes, formatBytes } from '../../sdk/errors.ts';
import { CLASSIFIERS, findLocal, modelsDir, type ClassifierEntry } from './catalog.ts';

/** Progress of a fetch. */
export type FetchProgress =
  | { status: 'download'; url: string; loaded: number; total: number | null }
  | { status: 'verify'; path: string };

/** Options of fetchModel. */
export interface FetchOptions {
  /** Models folder (default: modelsDir()). */
  dir?: string;
  /** Download from `<baseUrl>/<file>` instead of the publisher (a mirror); default $TINTA_MODELS_BASE_URL. The pinned hash still applies. */
  baseUrl?: string;
  /** Install from a local file instead of downloading (checked the same way). */
  from?: string;
  /** Download even when a verified file is present. */
  force?: boolean;
  /** The catalog to look `name` up in (default CLASSIFIERS; tests pass their own). */
  catalog?: Readonly<Record<string, ClassifierEntry>>;
  signal?: AbortSignal;
  onProgress?: (p: FetchProgress) => void;
}

/** What fetchModel did. */
export interface FetchResult {
  name: string;
  path: string;
  /** True when a verified file was already there and nothing was downloaded. */
  cached: boolean;
  bytes: number;
  sha256: string;
  /** Where the bytes came from (URL or local file); null when cached. */
  from: string | null;
}

async function syncDir(dir: string): Promise<void> {
  const d = await open(dir, 'r').catch(() => undefined);
  if (d) await d.sync().catch(() => undefined).finally(() => d.close());
}

/** Stream `chunks` into `dest` through a temp file, verifying size and sha256 before the rename. */
async function writeVerified(
  chunks: AsyncIterable<Uint8Array>, dest: string, expect: { sha256: string | null; bytes: number | null }, what: string, onChunk?: (loaded: number) => void,
): Promise<{ bytes: number; sha256: string }> {
  const dir = dirname(dest);
  const tmp = join(dir, `.${basename(dest)}.${process.pid}.${randomBytes(4).toString('hex')}.download`);
  const hash = createHash('sha256');
  let fh: FileHandle | undefined;
  let loaded = 0;
  try {
    fh = await open(tmp, 'wx');
    for await (const chunk of chunks) {
      loaded += chunk.length;
      if (expect.bytes !== null && loaded > expect.bytes) {
        throw new TintaError(ErrorCodes.MODEL_INTEGRITY, `${what} is larger than the published ${formatBytes(expect.bytes)}; it is not the expected file.`, { details: { expected: expect.bytes } });
      }
      hash.update(chunk);
      await fh.write(chunk);
      onChunk?.(loaded);
    }
    const sha256 = hash.digest('hex');
    if (expect.bytes !== null && loaded !== expect.bytes) {
      throw new TintaError(ErrorCodes.DOWNLOAD_FAILED, `${what} ended after ${formatBytes(loaded)} of ${formatBytes(expect.bytes)} (connection cut?). Nothing was kept; try again.`, { details: { loaded, expected: expect.bytes } });
    }
    if (expect.sha256 !== null && sha256 !== expect.sha256) {
      throw new TintaError(ErrorCodes.MODEL_INTEGRITY, `${what} has sha256 ${sha256}, not the pinned ${expect.sha256}. Nothing was kept.`, { details: { sha256, expected: expect.sha256 } });
    }
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, dest);
    await syncDir(dir);
    return { bytes: loaded, sha256 };
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
}

async function* httpChunks(url: string, signal: AbortSignal | undefined, expectBytes: number | null, onTotal: (t: number | null) => void): AsyncIterable<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'follow', ...(signal ? { signal } : {}) });
  } catch (e) {
    throw new TintaError(signal?.aborted ? ErrorCodes.ABORTED : ErrorCodes.DOWNLOAD_FAILED, `Could not download ${url}: ${(e as Error).message}${(e as Error).cause ? ` (${String(((e as Error).cause as Error).message ?? (e as Error).cause)})` : ''}.`, { cause: e, details: { url } });
  }
  if (!res.ok || !res.body) {
    await res.body?.cancel().catch(() => undefined);
    throw new TintaError(ErrorCodes.DOWNLOAD_FAILED, `Could not download ${url}: HTTP ${res.status} ${res.statusText}.`, { details: { url, status: res.status } });
  }
  const len = res.headers.get('content-length');
  const total = len !== null && /^\d+$/.test(len) ? Number(len) : null;
  onTotal(total);
  if (total !== null && expectBytes !== null && total !== expectBytes) {
    await res.body.cancel().catch(() => undefined);
    throw new TintaError(ErrorCodes.MODEL_INTEGRITY, `${url} announces ${formatBytes(total)}; the published file has ${formatBytes(expectBytes)}. Nothing was downloaded.`, { details: { url, total, expected: expectBytes } });
  }
  try {
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) yield chunk;
  } catch (e) {
    throw new TintaError(signal?.aborted ? ErrorCodes.ABORTED : ErrorCodes.DOWNLOAD_FAILED, `The download of ${url} was interrupted: ${(e as Error).message}. Nothing was kept; try again.`, { cause: e, details: { url } });
  }
}

/** Download (or install with `from`) the catalog network `name` into the models folder, verified. */
export async function fetchModel(name: string, opts: FetchOptions = {}): Promise<FetchResult> {
  const catalog = opts.catalog ?? CLASSIFIERS;
  const entry = Object.prototype.hasOwnProperty.call(catalog, name) ? catalog[name]! : undefined;
  if (!entry) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Unknown model "${name}"; the catalog has ${Object.keys(catalog).join(', ')}.`);
  const dir = modelsDir(opts.dir);
  const dest = join(dir, entry.file);
  if (!opts.force && !opts.from) {
    const local = await findLocal(entry, dir);
    if (local.present && local.verified === true) return { name, path: local.path, cached: true, bytes: local.bytes!, sha256: entry.sha256!, from: null };
  }
  await mkdir(dir, { recursive: true });
  const expect = { sha256: entry.sha256, bytes: entry.bytes };
  if (opts.from) {
    opts.onProgress?.({ status: 'verify', path: opts.from });
    let chunks: AsyncIterable<Uint8Array>;
    try {
      const s = createReadStream(opts.from);
      await new Promise<void>((res, rej) => s.once('open', () => res()).once('error', rej));
      chunks = s as AsyncIterable<Uint8Array>;
    } catch (e) {
      throw new TintaError(ErrorCodes.MODEL_NOT_FOUND, `Cannot read ${opts.from}: ${(e as Error).message}`, { cause: e, details: { path: opts.from } });
    }
    const r = await writeVerified(chunks, dest, expect, opts.from);
    return { name, path: dest, cached: false, ...r, from: opts.from };
  }
  if (entry.url === null) {
    throw new TintaError(ErrorCodes.MODEL_NOT_FOUND, `"${name}" has no file to download: ${entry.howToGet ?? 'see docs/embeddings.md.'}`, { details: { name } });
  }
  const base = opts.baseUrl ?? (process.env.TINTA_MODELS_BASE_URL || undefined);
  const url = base ? `${base.replace(/\/+$/, '')}/${entry.file}` : entry.url;
  let total: number | null = null;
  const chunks = httpChunks(url, opts.signal, entry.bytes, (t) => { total = t; });
  const r = await writeVerified(chunks, dest, expect, url, (loaded) => opts.onProgress?.({ status: 'download', url, loaded, total }));
  return { name, path: dest, cached: false, ...r, from: url };
}
