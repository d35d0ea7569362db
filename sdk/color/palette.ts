/**
 * The bucket palette as a picture: every bucket drawn as a square at its (a, b) position, in the
 * colour (L, a, b) — the figure the seed uses for its 112 buckets and its per-cluster histograms.
 * a grows to the right, b grows upwards.
 */
import { TintaError, ErrorCodes } from '../errors.ts';
import type { AbBuckets } from './buckets.ts';
import { labToRgba8 } from './lab.ts';

/** Options of renderPalette. */
export interface PaletteOptions {
  /** Lightness the buckets are drawn at (0-100); default 65. */
  L?: number;
  /** Side of one bucket square in pixels; default 16. */
  cell?: number;
  /** Gap between squares in pixels; default 1. */
  gap?: number;
  /**
   * Per-bucket weights (length Q). Buckets with weight 0 are drawn as empty outlines, as in the
   * seed's cluster figures; with `shade: true` filled buckets are shown lighter the smaller their weight.
   */
  weights?: ArrayLike<number>;
  shade?: boolean;
}

/** An RGBA8 picture (structurally the same as ImageData). */
export interface PaletteImage {
  data: Uint8ClampedArray;
  width: number;
  height: number;
}

const BACKGROUND = 255;
const EMPTY = 225;

/** Render the bucket table as an RGBA8 image. */
export function renderPalette(t: AbBuckets, opts: PaletteOptions = {}): PaletteImage {
  const L = opts.L ?? 65;
  const cell = opts.cell ?? 16;
  const gap = opts.gap ?? 1;
  if (!(L >= 0 && L <= 100)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Palette lightness must be in [0, 100]; got ${L}.`);
  if (!(Number.isInteger(cell) && cell >= 1 && cell <= 256)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Palette cell size must be an integer in [1, 256]; got ${cell}.`);
  if (opts.weights && opts.weights.length !== t.count) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Palette weights have ${opts.weights.length} values for ${t.count} buckets.`);
  }
  const c = t.centers;
  // Grid step: the table's own, else the smallest non-zero spacing along a.
  let step = t.step;
  if (!(step > 0)) {
    step = Infinity;
    for (let i = 0; i < t.count; i++) for (let j = 0; j < t.count; j++) {
      const d = Math.abs(c[2 * i]! - c[2 * j]!);
      if (d > 1e-6 && d < step) step = d;
    }
    if (!Number.isFinite(step)) step = 1;
  }
  let amin = Infinity, amax = -Infinity, bmin = Infinity, bmax = -Infinity;
  for (let i = 0; i < t.count; i++) {
    amin = Math.min(amin, c[2 * i]!); amax = Math.max(amax, c[2 * i]!);
    bmin = Math.min(bmin, c[2 * i + 1]!); bmax = Math.max(bmax, c[2 * i + 1]!);
  }
  const cols = Math.round((amax - amin) / step) + 1;
  const rows = Math.round((bmax - bmin) / step) + 1;
  const pitch = cell + gap;
  const width = cols * pitch + gap, height = rows * pitch + gap;
  const data = new Uint8ClampedArray(width * height * 4).fill(BACKGROUND);
  let wmax = 0;
  if (opts.weights) for (let i = 0; i < t.count; i++) wmax = Math.max(wmax, opts.weights[i]!);
  const rgba = labToRgba8([L], [0], [0]);
  for (let q = 0; q < t.count; q++) {
    const a = c[2 * q]!, b = c[2 * q + 1]!;
    const col = Math.round((a - amin) / step);
    const row = rows - 1 - Math.round((b - bmin) / step);
    const w = opts.weights ? opts.weights[q]! : 1;
    let r: number, g: number, bl: number;
    if (w > 0) {
      labToRgba8([L], [a], [b], rgba);
      r = rgba[0]!; g = rgba[1]!; bl = rgba[2]!;
      if (opts.shade && wmax > 0) {
        const k = Math.sqrt(w / wmax); // sqrt so rare buckets stay visible
        r = 255 - (255 - r) * k; g = 255 - (255 - g) * k; bl = 255 - (255 - bl) * k;
      }
    } else {
      r = g = bl = EMPTY;
    }
    const x0 = gap + col * pitch, y0 = gap + row * pitch;
    for (let y = y0; y < y0 + cell; y++) {
      for (let x = x0; x < x0 + cell; x++) {
        const p = 4 * (y * width + x);
        data[p] = r; data[p + 1] = g; data[p + 2] = bl; data[p + 3] = 255;
      }
    }
  }
  return { data, width, height };
}
