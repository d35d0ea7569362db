/** Comparing RGBA outputs across runtimes (the dist, Deno and browser tests). */

/** Pixels where some RGB channel of `a` and `b` differs by more than `tolerance` (1/255 by default). */
export function countOff(a: ArrayLike<number>, b: ArrayLike<number>, tolerance = 1): number {
  if (a.length !== b.length) throw new Error(`RGBA lengths differ: ${a.length} vs ${b.length}`);
  let off = 0;
  for (let p = 0; p < a.length; p += 4) {
    if (Math.abs(a[p]! - b[p]!) > tolerance || Math.abs(a[p + 1]! - b[p + 1]!) > tolerance || Math.abs(a[p + 2]! - b[p + 2]!) > tolerance) off++;
  }
  return off;
}

/** Mean of max(R,G,B) - min(R,G,B) over the pixels: 0 for gray, about 20+ for the fixture model's colours. */
export function meanSpread(rgba: ArrayLike<number>): number {
  let sum = 0;
  for (let p = 0; p < rgba.length; p += 4) {
    const r = rgba[p]!, g = rgba[p + 1]!, b = rgba[p + 2]!;
    sum += Math.max(r, g, b) - Math.min(r, g, b);
  }
  return sum / (rgba.length / 4);
}
