/** A picture grid for eyeballing training: one row per validation image (gray | prediction | original). */
import { labToRgba8 } from '../../sdk/color/lab.ts';
import type { RgbaImage } from '../../sdk/image/types.ts';
import { resamplePlane } from '../../sdk/core/resample.ts';

/** RGBA of L (0-100, S x S) with ab predicted at S/4 (planar), upsampled linearly by the SDK's resampler. */
export function colorizeTile(L: Float32Array, size: number, abLowA: Float32Array, abLowB: Float32Array): Uint8ClampedArray {
  const o = size / 4;
  return labToRgba8(L, resamplePlane(abLowA, o, o, size, size), resamplePlane(abLowB, o, o, size, size));
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
