/**
 * The image types every tinta module trades in, and the checks that guard them.
 * Runtime-agnostic: no Node or DOM imports, so the browser SDK, workers and the
 * trainer share one definition.
 */

import { ErrorCodes, TintaError, check } from '../errors.ts';

/** 8-bit RGBA, row-major, 4 bytes per pixel: the same layout as DOM `ImageData`. */
export interface RgbaImage {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

/**
 * Float RGB in one planar (CHW) buffer: `data` holds the R plane, then G, then B,
 * each `width * height` long, values sRGB-encoded (not linearised) in [0, 1].
 * One buffer rather than three so it can be handed to a [3, h, w] tensor or
 * transferred to a worker without copying; `data.subarray(k * n, (k + 1) * n)`
 * gives plane k.
 */
export interface RgbPlanarF32 {
  data: Float32Array;
  width: number;
  height: number;
}

/** Default decode limit: 100 Mpx, about 400 MB as RGBA8 and 1.2 GB as float RGB. */
export const DEFAULT_MAX_PIXELS = 100_000_000;

// A tag check rather than `instanceof`, so arrays from another realm (vm, iframe) pass too.
function isUint8Clamped(x: unknown): x is Uint8ClampedArray {
  return ArrayBuffer.isView(x) && (x as { [Symbol.toStringTag]?: unknown })[Symbol.toStringTag] === 'Uint8ClampedArray';
}

/** Throw IMAGE_ZERO_SIZE / IMAGE_BAD_PIXELS unless `img` is a well-formed RgbaImage. */
export function validateRgba(img: unknown, what = 'image'): asserts img is RgbaImage {
  if (typeof img !== 'object' || img === null) {
    throw new TintaError(ErrorCodes.IMAGE_BAD_PIXELS, `The ${what} is not an RgbaImage ({ data, width, height }); got ${img === null ? 'null' : typeof img}.`);
  }
  const { data, width, height } = img as Partial<RgbaImage>;
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || (width as number) < 0 || (height as number) < 0) {
    throw new TintaError(ErrorCodes.IMAGE_BAD_PIXELS, `The ${what} has invalid dimensions ${String(width)}x${String(height)}; width and height must be positive integers.`, {
      details: { width, height },
    });
  }
  if (width === 0 || height === 0) {
    throw new TintaError(ErrorCodes.IMAGE_ZERO_SIZE, `The ${what} is ${width}x${height}: it has no pixels. Images need a width and height of at least 1.`, {
      details: { width, height },
    });
  }
  if (!isUint8Clamped(data)) {
    throw new TintaError(ErrorCodes.IMAGE_BAD_PIXELS, `The ${what}'s data must be a Uint8ClampedArray of RGBA bytes (wrap a Uint8Array with new Uint8ClampedArray(u8.buffer, u8.byteOffset, u8.length)).`, {
      details: { width, height },
    });
  }
  const expected = (width as number) * (height as number) * 4;
  if (data.length !== expected) {
    throw new TintaError(
      ErrorCodes.IMAGE_BAD_PIXELS,
      `The ${what} is ${width}x${height} but has ${data.length} bytes of data; RGBA needs width*height*4 = ${expected}.`,
      { details: { width, height, expected, actual: data.length } },
    );
  }
}

function mpx(n: number): string {
  return `${(n / 1e6).toFixed(1)} Mpx`;
}

/** Throw IMAGE_TOO_LARGE when width*height exceeds `maxPixels`; `source` names the file for the message. */
export function checkPixelLimit(width: number, height: number, maxPixels: number = DEFAULT_MAX_PIXELS, source = 'The image'): void {
  check(typeof maxPixels === 'number' && maxPixels > 0, `maxPixels must be a positive number (or Infinity), got ${String(maxPixels)}`);
  const pixels = width * height;
  if (pixels > maxPixels) {
    throw new TintaError(
      ErrorCodes.IMAGE_TOO_LARGE,
      `${source} is ${width}x${height} (${mpx(pixels)}), over the limit of ${maxPixels} pixels (${mpx(maxPixels)}). ` +
        'Downscale it first, or pass a larger maxPixels if you have the memory (about 4 bytes per pixel, more while decoding).',
      { details: { width, height, pixels, maxPixels } },
    );
  }
}
