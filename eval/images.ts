/** Picking and loading the photos an evaluation or analysis works on. */
import { decodeImage, resizeImage } from '../sdk/image/node.ts';
import type { Rgba8 } from './metrics.ts';

/** `count` indices spread evenly over [0, n) (all of them when count >= n): a --limit that is not just the first folder. */
export function spreadIndices(n: number, count: number): number[] {
  if (count >= n) return Array.from({ length: n }, (_, i) => i);
  return Array.from({ length: count }, (_, i) => Math.floor((i * n) / count));
}

/** Decodes a photo and downscales it (Lanczos) so its long side is at most `size` (0: as is). */
export async function loadEvalImage(file: string, size: number): Promise<Rgba8> {
  const img = await decodeImage(file);
  const long = Math.max(img.width, img.height);
  if (size <= 0 || long <= size) return img;
  const s = size / long;
  return resizeImage(img, Math.max(1, Math.round(img.width * s)), Math.max(1, Math.round(img.height * s)));
}
