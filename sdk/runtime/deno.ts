/**
 * The Deno adapter: onnxruntime-web on wasm (Deno resolves its Node build, which loads the .wasm
 * from the package). Files through Deno.readFile. Encoded images go through the Node decoder
 * (sharp, via Deno's npm support) when it loads; otherwise pass raw RGBA.
 */
import { ErrorCodes, TintaError } from '../errors.ts';
import { checkPixelLimit, type RgbaImage } from '../image/types.ts';
import { reason } from './ort.ts';
import { applyWasmSettings, appliedWasmThreads, createWasmSession, loadOrtWeb } from './ort-web.ts';
import type { ImageSource, ModelSession, Provider, RuntimeAdapter, RuntimeWarning, SessionOptions } from './types.ts';

interface DenoFs {
  readFile(path: string | URL): Promise<Uint8Array>;
  errors: { NotFound: new (...a: never[]) => Error; IsADirectory?: new (...a: never[]) => Error };
}
const deno = (): DenoFs => (globalThis as unknown as { Deno: DenoFs }).Deno;


async function createSession(bytes: Uint8Array, provider: Provider, opts: SessionOptions, onWarning: (w: RuntimeWarning) => void): Promise<ModelSession> {
  if (provider !== 'wasm') throw new TintaError(ErrorCodes.BACKEND_UNAVAILABLE, `Provider '${provider}' is not available in Deno; use 'wasm'.`, { details: { provider } });
  const ort = await loadOrtWeb();
  applyWasmSettings(ort, opts.threads ?? 1, opts.wasmPaths, onWarning);
  // onnxruntime-web's Node build (what Deno loads) sets globalThis.Worker to worker_threads'
  // Worker when its wasm starts, breaking the app's Web Workers. On one thread it never spawns
  // one, so Deno's Worker is put back.
  const g = globalThis as { Worker?: unknown };
  const webWorker = g.Worker;
  try {
    return await createWasmSession(ort, bytes, opts.label);
  } finally {
    if (appliedWasmThreads() === 1 && g.Worker !== webWorker) g.Worker = webWorker;
  }
}

async function decodeImage(src: ImageSource, maxPixels: number): Promise<RgbaImage> {
  if (src.kind === 'rgba') {
    checkPixelLimit(src.image.width, src.image.height, maxPixels);
    return src.image;
  }
  if (src.kind === 'bitmap') throw new TintaError(ErrorCodes.IMAGE_UNSUPPORTED, 'ImageBitmap input is not supported in Deno; pass bytes, a path or raw RGBA.');
  let decode: typeof import('../image/node.ts').decodeImage;
  try {
    ({ decodeImage: decode } = await import('../image/node.ts'));
  } catch (e) {
    throw new TintaError(ErrorCodes.IMAGE_UNSUPPORTED, `Decoding encoded images in Deno needs sharp, which did not load (${reason(e)}); pass raw RGBA ({ data, width, height }) instead.`, { cause: e });
  }
  return decode(src.kind === 'path' ? src.path : src.bytes, { maxPixels });
}

async function readFile(path: string | URL): Promise<Uint8Array> {
  const d = deno();
  try {
    return await d.readFile(path);
  } catch (e) {
    const notFound = e instanceof d.errors.NotFound || (d.errors.IsADirectory !== undefined && e instanceof d.errors.IsADirectory);
    throw new TintaError(ErrorCodes.MODEL_NOT_FOUND, notFound ? `Model file "${String(path)}" does not exist.` : `Model file "${String(path)}" could not be read (${reason(e)}).`, {
      cause: e,
      details: { path: String(path) },
    });
  }
}

/** The Deno adapter. */
export const denoRuntime: RuntimeAdapter = Object.freeze({
  name: 'deno' as const,
  async isAvailable(provider: Provider): Promise<boolean> {
    return provider === 'wasm';
  },
  createSession,
  decodeImage,
  readFile,
});
