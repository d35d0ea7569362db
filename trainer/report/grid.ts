/** A picture grid for eyeballing training: one row per validation image (gray | prediction | original). */
import { labToRgba8 } from '../../sdk/color/lab.ts';
import type { RgbaImage } from '../../sdk/image/types.ts';

/** Bilinear x`factor` upsampling of a planar float plane (edge-clamped, pixel centres aligned). */
export function upsamplePlane(src: Float32Array, w: number, h: number, factor: number): Float32Array {
  const W = w * factor, H = h * factor;
  const out = new Float32Array(W * H);
  for (let y = 0; y < H; y++) {
    const fy = Math.min(h - 1, Math.max(0, (y + 0.5) / factor - 0.5));
    const y0 = Math.floor(fy), y1 = Math.min(h - 1, y0 + 1), ty = fy - y0;
    for (let x = 0; x < W; x++) {
      const fx = Math.min(w - 1, Math.max(0, (x + 0.5) / factor - 0.5));
      const x0 = Math.floor(fx), x1 = Math.min(w - 1, x0 + 1), tx = fx - x0;
      const a = src[y0 * w + x0]! * (1 - tx) + src[y0 * w + x1]! * tx;
      const b = src[y1 * w + x0]! * (1 - tx) + src[y1 * w + x1]! * tx;
      out[y * W + x] = a * (1 - ty) + b * ty;
    }
  }
  return out;
}

/** RGBA of L (0-100, S x S) with ab predicted at S/4 (planar), upsampled bilinearly. */
export function colorizeTile(L: Float32Array, size: number, abLowA: Float32Array, abLowB: Float32Array): Uint8ClampedArray {
  const o = size / 4;
  return labToRgba8(L, upsamplePlane(abLowA, o, o, 4), upsamplePlane(abLowB, o, o, 4));
}

/** Lay out rows of equally sized RGBA tiles with a white gap. */
export function tileGrid(rows: Uint8ClampedArray[][], size: number, gap = 4): RgbaImage {
  const cols = Math.max(...rows.map((r) => r.length));
  const W = cols * size + (cols + 1) * gap, H = rows.length * size + (rows.length + 1) * gap;
  const data = new Uint8ClampedArray(W * H * 4).fill(255);
  rows.forEach((row, r) => row.forEach((tile, c) => {
    const x0 = gap + c * (size + gap), y0 = gap + r * (size + gap);
    for (let y = 0; y < size; y++) data.set(tile.subarray(y * size * 4, (y + 1) * size * 4), ((y0 + y) * W + x0) * 4);
  }));
  return { data, width: W, height: H };
}
