/**
 * tinta for browsers: createColorizer() on onnxruntime-web (WebGPU when an adapter is really
 * returned, else wasm), sessions in a module Web Worker by default, models cached with the
 * Cache API. Importing this module has no side effects: ORT loads and is configured on first use.
 *
 *   const c = await createColorizer({ model: '/models/tinta.onnx', wasmPaths: '/ort/' });
 *   const r = await c.colorize(imgElement);
 *   canvas.getContext('2d').putImageData(r.toImageData(), 0, 0);
 */
import { ErrorCodes, TintaError } from './errors.ts';
import { runtimeFacts } from './env.ts';
import { validateRgba, checkPixelLimit, type RgbaImage } from './image/types.ts';
import { browserRuntime } from './runtime/browser.ts';
import { webWorkerSpawner } from './worker/spawn-web.ts';
import { cacheApiCache } from './loader/cache-web.ts';
import { createColorizerWith, type Colorizer, type Platform } from './colorizer.ts';
import type { ColorizerOptions } from './options.ts';
import type { ImageSource } from './runtime/types.ts';

/** Raw RGBA pixels. */
export interface RawRgba {
  data: Uint8ClampedArray | Uint8Array;
  width: number;
  height: number;
}

/** What colorize() accepts in browsers. */
export type BrowserImageInput =
  | ImageBitmapSource // <img>, <canvas>, <video>, ImageBitmap, OffscreenCanvas, VideoFrame, Blob, ImageData
  | ArrayBuffer
  | Uint8Array
  | string // a URL
  | URL
  | RawRgba;

// Written out literally so bundlers bundle the worker; the build rewrites '.ts' to '.js'.
const startWorker = (): Worker => new Worker(new URL('./worker/entry-browser.ts', import.meta.url), { type: 'module', name: 'tinta' });

function rgbaSource(data: Uint8ClampedArray | Uint8Array, width: number, height: number, o: { transfer: boolean; maxPixels: number }): { source: ImageSource; transfer: Transferable[] } {
  const view = data instanceof Uint8ClampedArray ? data : new Uint8ClampedArray(data.buffer, data.byteOffset, data.byteLength);
  const image: RgbaImage = { data: view, width, height };
  validateRgba(image, 'image');
  checkPixelLimit(width, height, o.maxPixels);
  const whole = view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && view.buffer instanceof ArrayBuffer;
  if (o.transfer && whole) return { source: { kind: 'rgba', image }, transfer: [view.buffer] };
  const copy = view.slice();
  return { source: { kind: 'rgba', image: { data: copy, width, height } }, transfer: [copy.buffer] };
}

function encoded(bytes: Uint8Array): { source: ImageSource; transfer: Transferable[] } {
  return { source: { kind: 'encoded', bytes }, transfer: [bytes.buffer] };
}

async function toImageSource(input: BrowserImageInput, o: { transfer: boolean; maxPixels: number }): Promise<{ source: ImageSource; transfer: Transferable[] }> {
  if (typeof input === 'string' || input instanceof URL) {
    const url = new URL(String(input), globalThis.location?.href);
    const res = await fetch(url).catch((e: unknown) => {
      throw new TintaError(ErrorCodes.IMAGE_NOT_FOUND, `Could not fetch the image ${url.href}: ${e instanceof Error ? e.message : String(e)}.`, { cause: e });
    });
    if (!res.ok) throw new TintaError(ErrorCodes.IMAGE_NOT_FOUND, `Could not fetch the image ${url.href}: HTTP ${res.status}.`, { details: { url: url.href, status: res.status } });
    return encoded(new Uint8Array(await res.arrayBuffer()));
  }
  if (input instanceof ArrayBuffer) return encoded(new Uint8Array(input.slice(0)));
  if (input instanceof Uint8Array) return encoded(input.slice());
  if (typeof Blob !== 'undefined' && input instanceof Blob) return encoded(new Uint8Array(await input.arrayBuffer()));
  if (runtimeFacts().hasImageData && input instanceof ImageData) return rgbaSource(input.data, input.width, input.height, o);
  if (typeof input === 'object' && input !== null && 'data' in input && 'width' in input && 'height' in input && !(input instanceof EventTarget)) {
    const r = input as RawRgba;
    return rgbaSource(r.data, r.width, r.height, o);
  }
  // Elements, canvases, video frames, bitmaps: snapshot as an ImageBitmap (transferable).
  try {
    const bitmap = await createImageBitmap(input as ImageBitmapSource);
    return { source: { kind: 'bitmap', bitmap }, transfer: [bitmap] };
  } catch (e) {
    throw new TintaError(ErrorCodes.IMAGE_UNSUPPORTED, `colorize: this input cannot be read as an image (${e instanceof Error ? e.message : String(e)}). Pass an <img> that has loaded, a canvas, a Blob, bytes, a URL or raw RGBA.`, { cause: e });
  }
}

function browserPlatform(): Platform<BrowserImageInput> {
  const facts = runtimeFacts();
  return {
    runtime: browserRuntime,
    toImageSource,
    ...(facts.hasWebWorker ? { spawnWorker: webWorkerSpawner(startWorker) } : {}),
    // Already in a worker: run inline rather than nesting workers.
    workerByDefault: facts.hasWebWorker && !facts.inWorker,
    cacheFor: (option) => (facts.hasCacheApi ? cacheApiCache(option === true ? undefined : option) : null),
    ...(globalThis.location ? { baseUrl: globalThis.location.href } : {}),
    ...(facts.hasImageData ? { makeImageData: (rgba: Uint8ClampedArray, w: number, h: number) => new ImageData(rgba as Uint8ClampedArray<ArrayBuffer>, w, h) } : {}),
  };
}

/** Loads a model and returns a colorizer for the browser (see ColorizerOptions; `cache` may name a Cache API cache). */
export function createColorizer(options?: ColorizerOptions): Promise<Colorizer<BrowserImageInput>> {
  return createColorizerWith(browserPlatform(), options);
}

export * from './public.ts';
