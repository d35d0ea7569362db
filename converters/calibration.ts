/**
 * Calibration data for quantization: real photos from a folder as the network sees them (the L
 * channel of CIE Lab, divided by 100, at a fixed square size), plus the stand-in embeddings used
 * for fusion models when the caller has none.
 */
import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { TintaError, ErrorCodes, isTintaError } from '../sdk/errors.ts';
import { decodeImage, resizeImage } from '../sdk/image/node.ts';
import { rgba8ToL } from '../sdk/color/lab.ts';

/** One calibration image: L/100 values, row-major, [1, 1, height, width]. */
export interface CalibrationImage {
  data: Float32Array;
  width: number;
  height: number;
}

/** File extensions read as photos. */
export const CALIBRATION_EXTENSIONS: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.avif', '.gif']);

/** The L/100 plane of an RGBA8 image (what the exported model takes as input). */
export function normalisedL(img: { data: Uint8ClampedArray | Uint8Array; width: number; height: number }): CalibrationImage {
  const L = rgba8ToL(img.data, img.width, img.height);
  for (let i = 0; i < L.length; i++) L[i] = L[i]! / 100;
  return { data: L, width: img.width, height: img.height };
}

/**
 * Up to `limit` photos of `dir` and its sub-folders (sorted by path, so runs are reproducible), each centre-cropped and
 * resized to `size` x `size` and turned into L/100. Unreadable files are skipped; no usable photo
 * at all is QUANTIZE_FAILED.
 */
export async function calibrationInputs(dir: string, opts: { size?: number; limit?: number } = {}): Promise<CalibrationImage[]> {
  const size = opts.size ?? 256;
  const limit = opts.limit ?? 32;
  if (!Number.isSafeInteger(size) || size < 8) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Calibration size must be an integer >= 8; got ${size}.`);
  if (!(limit >= 1)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Calibration limit must be >= 1; got ${limit}.`);
  let names: string[];
  try {
    // Recursive: photo folders are often organised in sub-folders.
    names = (readdirSync(dir, { recursive: true }) as string[]).filter((n) => CALIBRATION_EXTENSIONS.has(extname(n).toLowerCase())).sort();
  } catch (e) {
    throw new TintaError(ErrorCodes.QUANTIZE_FAILED, `Cannot read the calibration folder ${dir}: ${(e as Error).message}`, { cause: e, details: { dir } });
  }
  const out: CalibrationImage[] = [];
  const skipped: string[] = [];
  for (const name of names) {
    if (out.length >= limit) break;
    const path = join(dir, name);
    try {
      if (!statSync(path).isFile()) continue;
      const img = await resizeImage(await decodeImage(path), size, size, { fit: 'cover' });
      out.push(normalisedL(img));
    } catch (e) {
      if (!isTintaError(e)) throw e;
      skipped.push(name);
    }
  }
  if (out.length === 0) {
    throw new TintaError(ErrorCodes.QUANTIZE_FAILED, `No usable photo in ${dir} for calibration (${names.length} image files${skipped.length ? `, ${skipped.length} unreadable` : ''}).`, { details: { dir, skipped } });
  }
  return out;
}

/**
 * Deterministic stand-in embeddings: probability vectors (softmax of Gaussian logits, sd 2), the
 * shape of a classifier's output. Only used to calibrate fusion models when no real ones are given.
 */
export function syntheticEmbeddings(count: number, dim: number, seed = 1): Float32Array[] {
  let s = seed >>> 0;
  const uniform = () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return (s + 0.5) / 4294967296;
  };
  return Array.from({ length: count }, () => {
    const v = new Float32Array(dim);
    let max = -Infinity;
    for (let i = 0; i < dim; i++) {
      v[i] = 2 * Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
      max = Math.max(max, v[i]!);
    }
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += v[i] = Math.exp(v[i]! - max);
    for (let i = 0; i < dim; i++) v[i] = v[i]! / sum;
    return v;
  });
}
