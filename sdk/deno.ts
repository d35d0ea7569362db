/**
 * tinta for Deno: createColorizer() on onnxruntime-web (wasm), sessions in a module Worker by
 * default, models cached with the Cache API. Inputs: encoded bytes, a file path, raw RGBA.
 */
import { ErrorCodes, TintaError } from './errors.ts';
import { runtimeFacts } from './env.ts';
import { validateRgba, checkPixelLimit, type RgbaImage } from './image/types.ts';
import { denoRuntime } from './runtime/deno.ts';
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

/** What colorize() accepts in Deno: encoded image bytes, a file path, or raw RGBA. */
export type DenoImageInput = Uint8Array | ArrayBuffer | string | RawRgba;

// Deno's own Worker, taken before onnxruntime-web can run: its Node build (the one Deno resolves)
// replaces globalThis.Worker with Node's worker_threads Worker when its wasm starts.
const DenoWorker: typeof Worker | undefined = (globalThis as { Worker?: typeof Worker }).Worker;
// Literal, as in browser.ts: Deno runs the .ts from the sources; the build rewrites it to '.js'.
const startWorker = (): Worker => new DenoWorker!(new URL('./worker/entry-deno.ts', import.meta.url), { type: 'module', name: 'tinta' });

async function toImageSource(input: DenoImageInput, o: { transfer: boolean; maxPixels: number }): Promise<{ source: ImageSource; transfer: Transferable[] }> {
  if (typeof input === 'string') return { source: { kind: 'path', path: input }, transfer: [] };
  if (input instanceof Uint8Array || input instanceof ArrayBuffer) {
    const bytes = new Uint8Array(input.byteLength);
    bytes.set(input instanceof ArrayBuffer ? new Uint8Array(input) : input);
    return { source: { kind: 'encoded', bytes }, transfer: [bytes.buffer] };
  }
  if (typeof input === 'object' && input !== null && 'data' in input) {
    const d = input.data;
    const data = d instanceof Uint8ClampedArray ? d : new Uint8ClampedArray(d.buffer, d.byteOffset, d.byteLength);
    const image: RgbaImage = { data, width: input.width, height: input.height };
    validateRgba(image, 'image');
    checkPixelLimit(image.width, image.height, o.maxPixels);
    const whole = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength && data.buffer instanceof ArrayBuffer;
    if (o.transfer && whole) return { source: { kind: 'rgba', image }, transfer: [data.buffer] };
    const copy = data.slice();
    return { source: { kind: 'rgba', image: { data: copy, width: image.width, height: image.height } }, transfer: [copy.buffer] };
  }
  throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'colorize: expected encoded image bytes, a file path, or raw RGBA { data, width, height }.');
}

function denoPlatform(): Platform<DenoImageInput> {
  const facts = runtimeFacts();
  return {
    runtime: denoRuntime,
    toImageSource,
    ...(facts.hasWebWorker && DenoWorker ? { spawnWorker: webWorkerSpawner(startWorker) } : {}),
    workerByDefault: facts.hasWebWorker && DenoWorker !== undefined && !facts.inWorker,
    cacheFor: (option) => (facts.hasCacheApi ? cacheApiCache(option === true ? undefined : option) : null),
  };
}

/** Loads a model and returns a colorizer for Deno (see ColorizerOptions). */
export function createColorizer(options?: ColorizerOptions): Promise<Colorizer<DenoImageInput>> {
  return createColorizerWith(denoPlatform(), options);
}

export * from './public.ts';
