/**
 * Getting a model's bytes from wherever the caller points: bytes, a file path or file: URL
 * (Node, Deno), an http(s)/data/blob URL, or the name of a shipped model. Downloads report
 * progress, go through the cache, and are verified against a sha256 (the caller's `sha256`
 * option, else the manifest's) before they are used or cached.
 */
import { ErrorCodes, TintaError, formatBytes } from '../errors.ts';
import { emit, WarningCodes, type ProgressCallback } from '../progress.ts';
import type { RuntimeAdapter } from '../runtime/types.ts';
import { SHIPPED_MODELS, isShippedModel, shippedModelUrl } from '../models/manifest.ts';
import type { ModelCache } from './cache.ts';
import { sha256Hex } from './sha256.ts';

/** Where a model comes from. */
export type ModelSource = string | URL | Uint8Array | ArrayBuffer;

/** What loading needs from its caller. */
export interface LoadContext {
  runtime: Pick<RuntimeAdapter, 'name' | 'readFile'>;
  cache: ModelCache | null;
  /** Expected lower-case hex SHA-256 of the model file. */
  sha256?: string;
  onProgress?: ProgressCallback;
  signal?: AbortSignal;
  /** Base for relative model URLs where there is no file system (browsers). */
  baseUrl?: string;
}

/** Model bytes and how to name them in messages. */
export interface LoadedModel {
  bytes: Uint8Array;
  /** Sentence subject naming the model: 'Model "a.onnx"', 'The shipped model \'default\''... */
  label: string;
}

const SCHEME = /^[a-z][a-z0-9+.-]+:/i; // two letters at least, so Windows drives (C:\) stay paths

function aborted(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new TintaError(ErrorCodes.ABORTED, `Loading the model was cancelled ${what} (its AbortSignal fired).`);
}

/** Checks `bytes` against `expected` (hex sha256); MODEL_INTEGRITY on mismatch. */
export async function verifySha256(bytes: Uint8Array, expected: string, label: string, onProgress?: ProgressCallback): Promise<void> {
  emit(onProgress, { status: 'verify', sha256: expected.toLowerCase() });
  const actual = await sha256Hex(bytes);
  if (actual !== expected.toLowerCase()) {
    throw new TintaError(
      ErrorCodes.MODEL_INTEGRITY,
      `${label} does not match its expected SHA-256 (expected ${expected.toLowerCase()}, got ${actual}, ${formatBytes(bytes.length)}). ` +
        'The download is corrupt or the file was replaced; fetch it again or update the expected hash.',
      { details: { expected: expected.toLowerCase(), actual, bytes: bytes.length } },
    );
  }
}

/** Fetches `url` into memory with progress; MODEL_NOT_FOUND on 404/410, DOWNLOAD_FAILED otherwise. */
export async function download(url: string, onProgress?: ProgressCallback, signal?: AbortSignal): Promise<Uint8Array> {
  let res: Response;
  try {
    res = await fetch(url, signal ? { signal } : {});
  } catch (e) {
    aborted(signal, 'during the download');
    throw new TintaError(ErrorCodes.DOWNLOAD_FAILED, `Could not download the model from ${url}: ${e instanceof Error ? e.message : String(e)}. Check the URL and the network.`, {
      cause: e,
      details: { url },
    });
  }
  if (res.status === 404 || res.status === 410) {
    throw new TintaError(ErrorCodes.MODEL_NOT_FOUND, `There is no model at ${url} (HTTP ${res.status}). Check the URL.`, { details: { url, status: res.status } });
  }
  if (!res.ok || !res.body) {
    throw new TintaError(ErrorCodes.DOWNLOAD_FAILED, `Downloading the model from ${url} failed: HTTP ${res.status} ${res.statusText}.`, {
      details: { url, status: res.status },
    });
  }
  // Content-Length counts encoded bytes; only trust it when the body is not compressed.
  const len = res.headers.get('content-encoding') ? null : res.headers.get('content-length');
  const total = len !== null && /^\d+$/.test(len) ? Number(len) : null;
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  const reader = res.body.getReader();
  emit(onProgress, { status: 'download', url, loaded: 0, total, cached: false });
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      chunks.push(value);
      loaded += value.length;
      emit(onProgress, { status: 'download', url, loaded, total, cached: false });
    }
  } catch (e) {
    aborted(signal, 'during the download');
    throw new TintaError(ErrorCodes.DOWNLOAD_FAILED, `The download of ${url} broke off after ${formatBytes(loaded)}: ${e instanceof Error ? e.message : String(e)}.`, {
      cause: e,
      details: { url, loaded, total },
    });
  }
  if (total !== null && loaded !== total) {
    throw new TintaError(ErrorCodes.DOWNLOAD_FAILED, `The download of ${url} is incomplete: ${loaded} of ${total} bytes arrived. Try again.`, {
      details: { url, loaded, total },
    });
  }
  const bytes = new Uint8Array(loaded);
  let at = 0;
  for (const c of chunks) { bytes.set(c, at); at += c.length; }
  return bytes;
}

/** A URL's bytes through the cache (http/https only), verified before use and before caching. */
async function fromUrl(url: URL, label: string, ctx: LoadContext, sha256: string | undefined): Promise<Uint8Array> {
  const href = url.href;
  const cacheable = ctx.cache !== null && (url.protocol === 'http:' || url.protocol === 'https:');
  if (cacheable) {
    let hit: Uint8Array | undefined;
    try {
      hit = await ctx.cache!.match(href);
    } catch (e) {
      emit(ctx.onProgress, { status: 'warning', code: WarningCodes.CACHE_READ_FAILED, message: `The model cache could not be read (${e instanceof Error ? e.message : String(e)}); downloading instead.` });
    }
    if (hit) {
      emit(ctx.onProgress, { status: 'download', url: href, loaded: hit.length, total: hit.length, cached: true });
      if (!sha256) return hit;
      try {
        await verifySha256(hit, sha256, label, ctx.onProgress);
        return hit;
      } catch (e) {
        if (!(e instanceof TintaError && e.code === ErrorCodes.MODEL_INTEGRITY)) throw e;
        emit(ctx.onProgress, { status: 'warning', code: WarningCodes.CACHE_STALE, message: `The cached copy of ${href} does not match its SHA-256; downloading it again.` });
      }
    }
  }
  aborted(ctx.signal, 'before the download');
  const bytes = await download(href, ctx.onProgress, ctx.signal);
  if (sha256) await verifySha256(bytes, sha256, label, ctx.onProgress);
  if (cacheable) {
    try {
      await ctx.cache!.put(href, bytes);
    } catch (e) {
      emit(ctx.onProgress, { status: 'warning', code: WarningCodes.CACHE_WRITE_FAILED, message: `The model could not be cached (${e instanceof Error ? e.message : String(e)}); it will be downloaded again next time.` });
    }
  }
  return bytes;
}

async function fromFile(path: string | URL, label: string, ctx: LoadContext): Promise<Uint8Array> {
  if (!ctx.runtime.readFile) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `${label} is a file path, but ${ctx.runtime.name} has no file system; pass a URL or the model's bytes.`);
  }
  return ctx.runtime.readFile(path);
}

/** Loads a model's bytes from `source` (see ModelSource); verifies them when a sha256 is known. */
export async function loadModelBytes(source: ModelSource, ctx: LoadContext): Promise<LoadedModel> {
  aborted(ctx.signal, 'before it started');
  let bytes: Uint8Array;
  let label: string;
  let sha256 = ctx.sha256;
  let verified = false;
  if (source instanceof Uint8Array || source instanceof ArrayBuffer) {
    // A view, not a copy: the caller's bytes are read, never transferred or changed.
    bytes = source instanceof ArrayBuffer ? new Uint8Array(source) : source;
    label = `The model bytes (${formatBytes(bytes.length)})`;
  } else if (typeof source === 'string' && isShippedModel(source)) {
    const entry = SHIPPED_MODELS[source]!;
    const url = shippedModelUrl(entry);
    label = `The shipped model '${source}'`;
    sha256 ??= entry.sha256 ?? undefined;
    try {
      bytes = url.protocol === 'file:' ? await fromFile(url, label, ctx) : await fromUrl(url, label, ctx, sha256);
      verified = url.protocol !== 'file:';
    } catch (e) {
      if (e instanceof TintaError && e.code === ErrorCodes.MODEL_NOT_FOUND) {
        throw new TintaError(
          ErrorCodes.MODEL_NOT_FOUND,
          `${label} (models/${entry.file}) is not installed with this package. Pass a model file, URL or bytes as \`model\`, or reinstall tinta.`,
          { cause: e, details: { model: source, file: entry.file } },
        );
      }
      throw e;
    }
  } else if (source instanceof URL || (typeof source === 'string' && SCHEME.test(source))) {
    const url = source instanceof URL ? source : new URL(source);
    label = url.protocol === 'data:' ? 'The model data: URL' : `Model ${url.href}`;
    if (url.protocol === 'file:') bytes = await fromFile(url, label, ctx);
    else {
      bytes = await fromUrl(url, label, ctx, sha256);
      verified = true;
    }
  } else if (typeof source === 'string' && source.length > 0) {
    if (ctx.runtime.readFile) {
      label = `Model "${source}"`;
      bytes = await fromFile(source, label, ctx);
    } else {
      // No file system: a relative string is a URL relative to the page or worker.
      const url = new URL(source, ctx.baseUrl);
      label = `Model ${url.href}`;
      bytes = await fromUrl(url, label, ctx, sha256);
      verified = true;
    }
  } else {
    throw new TintaError(
      ErrorCodes.BAD_ARGUMENT,
      `model must be a shipped model name (${Object.keys(SHIPPED_MODELS).map((n) => `'${n}'`).join(', ')}), a file path, a URL, or the model's bytes; got ${source === '' ? 'an empty string' : typeof source}.`,
    );
  }
  if (bytes.length === 0) {
    throw new TintaError(ErrorCodes.MODEL_INVALID, `${label} is empty (0 bytes): not an ONNX model.`, { details: { bytes: 0 } });
  }
  if (sha256 && !verified) await verifySha256(bytes, sha256, label, ctx.onProgress);
  aborted(ctx.signal, 'after it was read');
  return { bytes, label };
}
