/**
 * Decoding a per-pixel bucket distribution to ab: the annealed mean of Zhang et al. (2016).
 * With temperature T the distribution p is re-shaped to p^(1/T) (renormalised) and its mean ab
 * taken: T = 1 is the plain mean (washed out), T -> 0 the mode (vivid but patchy); 0.38 balances.
 */
import { TintaError, ErrorCodes } from '../errors.ts';
import type { AbBuckets } from './buckets.ts';

export const DEFAULT_TEMPERATURE = 0.38;

/** Temperatures at or below this are decoded as the mode (argmax) to avoid dividing by ~0. */
export const MODE_TEMPERATURE = 1e-4;

/** How the distribution is stored and what it holds. */
export interface DistributionLayout {
  /** Number of pixels. */
  pixels: number;
  /** 'chw': bucket-major (ONNX NCHW output, [Q, H*W]); 'hwc': pixel-major (tfjs NHWC, [H*W, Q]). */
  layout: 'chw' | 'hwc';
  /** 'logits' (pre-softmax) or 'probs' (softmax output, > 0). */
  kind: 'logits' | 'probs';
}

/** Planar ab output. */
export interface AbPlanes {
  a: Float32Array;
  b: Float32Array;
}

/**
 * Annealed-mean ab of every pixel of `dist` (length Q * pixels) under temperature `temperature`.
 * Works in the log domain with the per-pixel maximum subtracted, so any T > 0 is stable.
 */
export function annealedMean(
  dist: ArrayLike<number>,
  t: AbBuckets,
  shape: DistributionLayout,
  temperature: number = DEFAULT_TEMPERATURE,
  out: AbPlanes = { a: new Float32Array(shape.pixels), b: new Float32Array(shape.pixels) },
): AbPlanes {
  const n = shape.pixels;
  const q = t.count;
  if (dist.length !== n * q) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `annealedMean: expected ${q} buckets x ${n} pixels = ${n * q} values; got ${dist.length}.`);
  }
  if (!(temperature >= 0) || !Number.isFinite(temperature)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Temperature must be a finite number >= 0; got ${temperature}.`);
  }
  const c = t.centers;
  const logDomain = shape.kind === 'logits';
  // Strides: element (pixel i, bucket j) lives at i*ps + j*qs.
  const ps = shape.layout === 'hwc' ? q : 1;
  const qs = shape.layout === 'hwc' ? 1 : n;
  const val = (i: number, j: number): number => {
    const v = dist[i * ps + j * qs]!;
    return logDomain ? v : Math.log(v > 1e-30 ? v : 1e-30);
  };
  const { a, b } = out;
  if (temperature <= MODE_TEMPERATURE) {
    for (let i = 0; i < n; i++) {
      let best = 0, bv = -Infinity;
      for (let j = 0; j < q; j++) {
        const v = val(i, j);
        if (v > bv) { bv = v; best = j; }
      }
      a[i] = c[2 * best]!;
      b[i] = c[2 * best + 1]!;
    }
    return out;
  }
  const invT = 1 / temperature;
  if (shape.layout === 'chw') {
    // Bucket-major (the SDK's path): sweep planes in order so memory is read sequentially, with the
    // log taken once per value for probabilities and no per-element indirection.
    const plane = (j: number): Float32Array => {
      if (logDomain && dist instanceof Float32Array) return dist.subarray(j * n, (j + 1) * n);
      const z = new Float32Array(n);
      for (let i = 0; i < n; i++) { const v = dist[j * n + i]!; z[i] = logDomain ? v : Math.log(v > 1e-30 ? v : 1e-30); }
      return z;
    };
    const planes = Array.from({ length: q }, (_, j) => plane(j));
    const mx = new Float32Array(n).fill(-Infinity);
    for (let j = 0; j < q; j++) { const z = planes[j]!; for (let i = 0; i < n; i++) if (z[i]! > mx[i]!) mx[i] = z[i]!; }
    const sw = new Float32Array(n), sa = new Float32Array(n), sb = new Float32Array(n);
    for (let j = 0; j < q; j++) {
      const z = planes[j]!;
      const ca = c[2 * j]!, cb = c[2 * j + 1]!;
      for (let i = 0; i < n; i++) {
        const w = Math.exp((z[i]! - mx[i]!) * invT);
        sw[i]! += w;
        sa[i]! += w * ca;
        sb[i]! += w * cb;
      }
    }
    for (let i = 0; i < n; i++) { a[i] = sa[i]! / sw[i]!; b[i] = sb[i]! / sw[i]!; }
    return out;
  }
  for (let i = 0; i < n; i++) {
    let mx = -Infinity;
    for (let j = 0; j < q; j++) { const v = val(i, j); if (v > mx) mx = v; }
    let sw = 0, sa = 0, sb = 0;
    for (let j = 0; j < q; j++) {
      const w = Math.exp((val(i, j) - mx) * invT);
      sw += w;
      sa += w * c[2 * j]!;
      sb += w * c[2 * j + 1]!;
    }
    a[i] = sa / sw;
    b[i] = sb / sw;
  }
  return out;
}

/** Scale chroma: a, b multiplied by `saturation` in place (1 = unchanged, 0 = gray). */
export function applySaturation(ab: AbPlanes, saturation: number): AbPlanes {
  if (!(saturation >= 0) || !Number.isFinite(saturation)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Saturation must be a finite number >= 0; got ${saturation}.`);
  }
  if (saturation === 1) return ab;
  for (let i = 0; i < ab.a.length; i++) { ab.a[i] = ab.a[i]! * saturation; ab.b[i] = ab.b[i]! * saturation; }
  return ab;
}
