/**
 * The Node runtime adapter: 'native' runs onnxruntime-node on its CPU execution provider,
 * 'wasm' runs onnxruntime-web's WebAssembly build (the same engine browsers use; about 4x
 * slower here, useful where no native binary exists). Both are imported on first use, so
 * importing the SDK loads neither; images are decoded with sharp (sdk/image/node.ts).
 */
import { readFile } from 'node:fs/promises';
import { ErrorCodes, TintaError } from '../errors.ts';
import { checkPixelLimit, type RgbaImage } from '../image/types.ts';
import { createOrtSession, reason, type OrtModule } from './ort.ts';
import { applyWasmSettings, createWasmSession, loadOrtWeb } from './ort-web.ts';
import type { ImageSource, ModelSession, Provider, RuntimeAdapter, RuntimeWarning, SessionOptions } from './types.ts';

let ortNode: Promise<OrtModule> | undefined;

function loadOrtNode(): Promise<OrtModule> {
  ortNode ??= import('onnxruntime-node').then(
    (m) => m as unknown as OrtModule,
    (e: unknown) => {
      ortNode = undefined;
      throw new TintaError(
        ErrorCodes.BACKEND_FAILED,
        `onnxruntime-node could not be loaded (${reason(e)}); it may have no prebuilt binary for ${process.platform}-${process.arch}. Use backend 'wasm'.`,
        { cause: e, details: { provider: 'native', reason: reason(e) } },
      );
    },
  );
  return ortNode;
}

function checkThreads(threads: number | undefined): void {
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 1)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `threads must be a positive integer; got ${String(threads)}.`);
  }
}

async function createSession(bytes: Uint8Array, provider: Provider, opts: SessionOptions, onWarning: (w: RuntimeWarning) => void): Promise<ModelSession> {
  checkThreads(opts.threads);
  if (provider === 'native') {
    const ort = await loadOrtNode();
    return createOrtSession(
      ort,
      bytes,
      'native',
      {
        executionProviders: ['cpu'],
        // Unset: ORT uses one thread per physical core.
        ...(opts.threads !== undefined ? { intraOpNumThreads: opts.threads } : {}),
        interOpNumThreads: 1,
        graphOptimizationLevel: 'all',
      },
      opts.label,
    );
  }
  if (provider === 'wasm') {
    const ort = await loadOrtWeb();
    // In Node, wasm threads would be nested worker_threads for little gain: default to 1.
    applyWasmSettings(ort, opts.threads ?? 1, opts.wasmPaths, onWarning);
    return createWasmSession(ort, bytes, opts.label);
  }
  throw new TintaError(ErrorCodes.BACKEND_UNAVAILABLE, `Provider '${provider}' is not available in Node; use 'native' or 'wasm'.`, { details: { provider } });
}

async function decodeImage(src: ImageSource, maxPixels: number): Promise<RgbaImage> {
  if (src.kind === 'rgba') {
    checkPixelLimit(src.image.width, src.image.height, maxPixels);
    return src.image;
  }
  if (src.kind === 'bitmap') {
    throw new TintaError(ErrorCodes.IMAGE_UNSUPPORTED, 'An ImageBitmap cannot be decoded in Node; pass encoded bytes, a file path or raw RGBA { data, width, height }.');
  }
  // sharp loads only when an encoded image is first seen.
  const { decodeImage: decode } = await import('../image/node.ts');
  return decode(src.kind === 'path' ? src.path : src.bytes, { maxPixels });
}

async function readModelFile(path: string | URL): Promise<Uint8Array> {
  try {
    const b = await readFile(path);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const shown = String(path);
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') {
      throw new TintaError(
        ErrorCodes.MODEL_NOT_FOUND,
        code === 'EISDIR'
          ? `Model path "${shown}" is a directory; pass the .onnx file inside it.`
          : `Model file "${shown}" does not exist. Check the path (relative paths start at ${process.cwd()}).`,
        { cause: e, details: { path: shown } },
      );
    }
    throw new TintaError(ErrorCodes.MODEL_NOT_FOUND, `Model file "${shown}" could not be read (${code ?? reason(e)}).`, { cause: e, details: { path: shown, reason: code ?? reason(e) } });
  }
}

/** The Node adapter. */
export const nodeRuntime: RuntimeAdapter = Object.freeze({
  name: 'node' as const,
  // Cheap on purpose (it runs on the main thread even when sessions live in a worker): a native
  // build that fails to load is reported by createSession, and 'auto' then falls back to wasm.
  async isAvailable(provider: Provider): Promise<boolean> {
    return provider === 'native' || provider === 'wasm';
  },
  createSession,
  decodeImage,
  readFile: readModelFile,
});
