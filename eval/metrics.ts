/**
 * Per-image quality metrics for colorization, on RGBA8 pictures and planar ab:
 * - PSNR on the 8-bit RGB channels (alpha ignored).
 * - Zhang et al.'s AuC of the per-pixel ab error (thresholds 0..150): AbErrorHistogram / abAuc live in
 *   trainer/metrics.ts (the trainer reports the same number during training) and are re-exported here.
 *   The class-rebalanced variant weights each pixel by the inverse frequency of its ground-truth bucket.
 * - Colourfulness of Hasler & Süsstrunk (2003).
 */
import { TintaError, ErrorCodes } from '../sdk/errors.ts';
import { quantizeAb, type AbBuckets } from '../sdk/color/index.ts';
import { AbErrorHistogram, abAuc, AUC_MAX_THRESHOLD } from '../trainer/metrics.ts';

export { AbErrorHistogram, abAuc, AUC_MAX_THRESHOLD };

/**
 * PSNR of identical images is infinite; reports and means use this cap instead (psnr() itself
 * returns Infinity). 100 dB is about one 8-bit level of error in one channel of one pixel of a
 * 256x256 image, i.e. just above anything a real difference can reach at evaluation sizes.
 */
export const PSNR_CAP_DB = 100;

/** A picture in RGBA8, row-major (structurally an ImageData / RgbaImage). */
export interface Rgba8 {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
}

function sameSize(x: Rgba8, y: Rgba8, what: string): void {
  if (x.width !== y.width || x.height !== y.height || x.data.length !== y.data.length) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `${what}: the images differ in size (${x.width}x${x.height} vs ${y.width}x${y.height}).`);
  }
  if (x.data.length !== x.width * x.height * 4) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `${what}: expected ${x.width * x.height * 4} RGBA bytes for ${x.width}x${x.height}; got ${x.data.length}.`);
  }
}

/** Mean squared error over the R, G and B channels of two RGBA8 images (8-bit units). */
export function rgbMse(x: Rgba8, y: Rgba8): number {
  sameSize(x, y, 'rgbMse');
  const a = x.data, b = y.data;
  let s = 0;
  for (let p = 0; p < a.length; p += 4) {
    const dr = a[p]! - b[p]!, dg = a[p + 1]! - b[p + 1]!, db = a[p + 2]! - b[p + 2]!;
    s += dr * dr + dg * dg + db * db;
  }
  return s / ((a.length / 4) * 3);
}

/** PSNR in dB of `y` against the reference `x` on 8-bit RGB: 10 log10(255² / MSE); Infinity when identical. */
export function psnr(x: Rgba8, y: Rgba8): number {
  const mse = rgbMse(x, y);
  return mse === 0 ? Infinity : 10 * Math.log10((255 * 255) / mse);
}

/** psnr() capped at PSNR_CAP_DB, so identical images give a finite number that means and JSON can hold. */
export function psnrCapped(x: Rgba8, y: Rgba8, cap = PSNR_CAP_DB): number {
  return Math.min(cap, psnr(x, y));
}

/**
 * Colourfulness of Hasler & Süsstrunk (2003) on 8-bit RGB: with rg = R - G and yb = (R + G)/2 - B
 * over all pixels, M = sqrt(sd_rg² + sd_yb²) + 0.3 sqrt(mean_rg² + mean_yb²) (population sd).
 * 0 for any gray image.
 */
export function colorfulness(img: Rgba8): number {
  const d = img.data;
  const n = d.length / 4;
  if (n === 0) return 0;
  let srg = 0, syb = 0, srg2 = 0, syb2 = 0;
  for (let p = 0; p < d.length; p += 4) {
    const r = d[p]!, g = d[p + 1]!, b = d[p + 2]!;
    const rg = r - g, yb = 0.5 * (r + g) - b;
    srg += rg; syb += yb; srg2 += rg * rg; syb2 += yb * yb;
  }
  const mrg = srg / n, myb = syb / n;
  // max(0, .) guards the tiny negative variances rounding can give for constant images.
  const vrg = Math.max(0, srg2 / n - mrg * mrg), vyb = Math.max(0, syb2 / n - myb * myb);
  return Math.sqrt(vrg + vyb) + 0.3 * Math.sqrt(mrg * mrg + myb * myb);
}

/**
 * Rebalancing weights for the AuC: 1 / frequency of each bucket in `hist` (counts of ground-truth
 * buckets over the evaluated set); 0 for buckets that never occur (no pixel can carry them).
 * Only ratios matter for a weighted AuC, so no normalisation.
 */
export function inverseFrequencyWeights(hist: ArrayLike<number>): Float64Array {
  let total = 0;
  for (let i = 0; i < hist.length; i++) {
    const v = hist[i]!;
    if (!(v >= 0) || !Number.isFinite(v)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Bucket histogram bin ${i} is ${v}; counts must be finite and >= 0.`);
    total += v;
  }
  const w = new Float64Array(hist.length);
  if (total === 0) return w;
  for (let i = 0; i < hist.length; i++) w[i] = hist[i]! > 0 ? total / hist[i]! : 0;
  return w;
}

/** Per-pixel weights: `bucketWeights` of each pixel's ground-truth bucket (quantizeAb of the true ab). */
export function pixelWeights(
  buckets: AbBuckets,
  trueA: ArrayLike<number>,
  trueB: ArrayLike<number>,
  bucketWeights: ArrayLike<number>,
  out: Float32Array = new Float32Array(trueA.length),
): Float32Array {
  if (bucketWeights.length !== buckets.count) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `pixelWeights: ${bucketWeights.length} weights for ${buckets.count} buckets.`);
  }
  const q = quantizeAb(buckets, trueA, trueB);
  for (let i = 0; i < q.length; i++) out[i] = bucketWeights[q[i]!]!;
  return out;
}

/**
 * The class-rebalanced AuC of one prediction: each pixel weighted by the inverse frequency of its
 * ground-truth bucket, the frequencies taken from `hist` (default: this image's own buckets).
 */
export function rebalancedAbAuc(
  buckets: AbBuckets,
  predA: ArrayLike<number>,
  predB: ArrayLike<number>,
  trueA: ArrayLike<number>,
  trueB: ArrayLike<number>,
  hist?: ArrayLike<number>,
): number {
  let h = hist;
  if (!h) {
    const counts = new Float64Array(buckets.count);
    const q = quantizeAb(buckets, trueA, trueB);
    for (let i = 0; i < q.length; i++) counts[q[i]!]!++;
    h = counts;
  }
  return abAuc(predA, predB, trueA, trueB, pixelWeights(buckets, trueA, trueB, inverseFrequencyWeights(h)));
}

/** Running mean of finite numbers (NaN/Infinity are refused: cap them first). */
export class Mean {
  private sum = 0;
  count = 0;

  /** Add one value. */
  add(v: number): this {
    if (!Number.isFinite(v)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Mean: ${v} is not a finite number.`);
    this.sum += v;
    this.count++;
    return this;
  }

  /** The mean, or NaN with no values. */
  value(): number {
    return this.count === 0 ? NaN : this.sum / this.count;
  }
}

/** The median of `values` (NaN when empty). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const s = [...values].sort((x, y) => x - y);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
