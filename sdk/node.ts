/**
 * tinta for Node: createColorizer() with onnxruntime-node ('native', default) or
 * onnxruntime-web ('wasm'), sessions in a worker thread by default, models cached under
 * $TINTA_CACHE or ~/.cache/tinta, images decoded with sharp.
 *
 *   const c = await createColorizer({ model: 'model.onnx' });
 *   const r = await c.colorize('photo.jpg');
 *   await writeImage('out.png', { data: r.rgba(), width: r.width, height: r.height });
 */
import { resolve } from 'node:path';
import { ErrorCodes, TintaError } from './errors.ts';
import { checkPixelLimit, validateRgba, type RgbaImage } from './image/types.ts';
import { nodeRuntime } from './runtime/node.ts';
import { spawnNodeWorker } from './worker/spawn-node.ts';
import { fileCache } from './loader/cache-node.ts';
import { createColorizerWith, type Colorizer, type Platform } from './colorizer.ts';
import type { ColorizerOptions } from './options.ts';
import type { ImageSource } from './runtime/types.ts';

/** Raw RGBA pixels: `data` is RGBA8, row-major, width*height*4 bytes. */
export interface RawRgba {
  data: Uint8ClampedArray | Uint8Array;
  width: number;
  height: number;
}

/** What colorize() accepts in Node: encoded image bytes (Buffer/Uint8Array/ArrayBuffer), a file path, or raw RGBA. */
export type NodeImageInput = Uint8Array | ArrayBuffer | string | RawRgba;

function ownsWholeBuffer(a: ArrayBufferView): boolean {
  return a.byteOffset === 0 && a.byteLength === a.buffer.byteLength && a.buffer instanceof ArrayBuffer;
}

async function toImageSource(input: NodeImageInput, o: { transfer: boolean; maxPixels: number }): Promise<{ source: ImageSource; transfer: Transferable[] }> {
  if (typeof input === 'string') {
    if (input.length === 0) throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'colorize: the image path is an empty string.');
    // Absolute, so the worker resolves it the same way whatever happens to the cwd later.
    return { source: { kind: 'path', path: resolve(input) }, transfer: [] };
  }
  if (input instanceof Uint8Array || input instanceof ArrayBuffer) {
    // Encoded bytes are small: always copied, so a pooled Buffer is never detached.
    const bytes = new Uint8Array(input.byteLength);
    bytes.set(input instanceof ArrayBuffer ? new Uint8Array(input) : input);
    return { source: { kind: 'encoded', bytes }, transfer: [bytes.buffer] };
  }
  if (typeof input === 'object' && input !== null && 'data' in input) {
    const d = input.data;
    const data = d instanceof Uint8Array ? new Uint8ClampedArray(d.buffer, d.byteOffset, d.byteLength) : d;
    const image: RgbaImage = { data, width: input.width, height: input.height };
    validateRgba(image, 'image');
    checkPixelLimit(image.width, image.height, o.maxPixels);
    if (o.transfer && ownsWholeBuffer(data)) return { source: { kind: 'rgba', image }, transfer: [data.buffer] };
    const copy = { data: data.slice(), width: image.width, height: image.height };
    return { source: { kind: 'rgba', image: copy }, transfer: [copy.data.buffer] };
  }
  throw new TintaError(
    ErrorCodes.BAD_ARGUMENT,
    `colorize: expected encoded image bytes (Buffer, Uint8Array, ArrayBuffer), a file path, or raw RGBA { data, width, height }; got ${input === null ? 'null' : typeof input}.`,
  );
}

/** The Node platform pieces (exported for tests and the CLI). */
export const nodePlatform: Platform<NodeImageInput> = Object.freeze({
  runtime: nodeRuntime,
  toImageSource,
  spawnWorker: spawnNodeWorker,
  workerByDefault: true,
  cacheFor: (option: true | string) => (option === true ? fileCache() : fileCache(option)),
});

/** Loads a model and returns a colorizer for Node (see ColorizerOptions). */
export function createColorizer(options?: ColorizerOptions): Promise<Colorizer<NodeImageInput>> {
  return createColorizerWith(nodePlatform, options);
}

export * from './public.ts';
