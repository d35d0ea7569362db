/**
 * Training-side colour maths: soft-encoding of ground-truth ab into buckets, the empirical bucket
 * prior of a data set, and the class-rebalancing weights of Zhang et al. (2016).
 */
import { TintaError, ErrorCodes } from '../errors.ts';
import type { AbBuckets } from './buckets.ts';

/** Options of soft-encoding: k nearest buckets, Gaussian kernel width sigma (ab units). */
export interface SoftEncodeOptions {
  k?: number;
  sigma?: number;
}

/** Sparse soft targets: for pixel i, buckets index[i*k + j] with weights weight[i*k + j] (sum 1). */
export interface SoftTargets {
  k: number;
  index: Uint16Array;
  weight: Float32Array;
}

export const DEFAULT_SOFT_K = 5;
export const DEFAULT_SOFT_SIGMA = 5;

/** Soft-encode every pixel of planar a/b into its k nearest buckets with Gaussian weights. */
export function softEncode(t: AbBuckets, a: ArrayLike<number>, b: ArrayLike<number>, opts: SoftEncodeOptions = {}): SoftTargets {
  const k = opts.k ?? DEFAULT_SOFT_K;
  const sigma = opts.sigma ?? DEFAULT_SOFT_SIGMA;
  if (!(Number.isInteger(k) && k >= 1 && k <= t.count)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `softEncode: k must be an integer in [1, ${t.count}]; got ${k}.`);
  }
  if (!(sigma > 0)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `softEncode: sigma must be positive; got ${sigma}.`);
  const n = a.length;
  const index = new Uint16Array(n * k);
  const weight = new Float32Array(n * k);
  const c = t.centers;
  const q = t.count;
  const bestD = new Float64Array(k);
  const bestI = new Int32Array(k);
  const inv2s2 = 1 / (2 * sigma * sigma);
  for (let i = 0; i < n; i++) {
    // A non-finite ab (never produced by a real photo) is encoded as neutral gray rather than NaN weights.
    let ai = a[i]!, bi = b[i]!;
    if (!Number.isFinite(ai) || !Number.isFinite(bi)) { ai = 0; bi = 0; }
    bestD.fill(Infinity);
    bestI.fill(0);
    // Keep the k smallest squared distances by insertion: k is tiny, Q is ~100-300.
    for (let j = 0, p = 0; j < q; j++, p += 2) {
      const da = c[p]! - ai, db = c[p + 1]! - bi;
      const d = da * da + db * db;
      if (d >= bestD[k - 1]!) continue;
      let s = k - 1;
      while (s > 0 && bestD[s - 1]! > d) {
        bestD[s] = bestD[s - 1]!;
        bestI[s] = bestI[s - 1]!;
        s--;
      }
      bestD[s] = d;
      bestI[s] = j;
    }
    // Subtract the nearest distance before exponentiating: far-away pixels would underflow to 0/0.
    const d0 = bestD[0]!;
    let sum = 0;
    const o = i * k;
    for (let s = 0; s < k; s++) {
      const w = Math.exp(-(bestD[s]! - d0) * inv2s2);
      weight[o + s] = w;
      index[o + s] = bestI[s]!;
      sum += w;
    }
    for (let s = 0; s < k; s++) weight[o + s] = weight[o + s]! / sum;
  }
  return { k, index, weight };
}

/**
 * Dense soft targets, pixel-major (HWC): out[i*Q + q]. Writes into `out` (zeroed first) when given,
 * so a trainer can fill one batch buffer in place.
 */
export function softEncodeDense(
  t: AbBuckets,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  opts: SoftEncodeOptions = {},
  out: Float32Array = new Float32Array(a.length * t.count),
): Float32Array {
  const s = softEncode(t, a, b, opts);
  const q = t.count;
  if (out.length < a.length * q) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `softEncodeDense: out needs ${a.length * q} values; got ${out.length}.`);
  out.fill(0, 0, a.length * q);
  for (let i = 0; i < a.length; i++) {
    for (let j = 0; j < s.k; j++) out[i * q + s.index[i * s.k + j]!]! += s.weight[i * s.k + j]!;
  }
  return out;
}

/**
 * Add the bucket occupancy of one image to `hist` (length Q): hard counts by default, or the
 * soft-encoded mass with `soft: true`. Returns `hist` so images can be folded in one by one.
 */
export function accumulateBucketHistogram(
  t: AbBuckets,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  hist: Float64Array = new Float64Array(t.count),
  opts: { soft?: boolean } & SoftEncodeOptions = {},
): Float64Array {
  if (hist.length !== t.count) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Histogram length ${hist.length} does not match ${t.count} buckets.`);
  const s = softEncode(t, a, b, opts.soft ? opts : { k: 1 });
  for (let i = 0; i < s.index.length; i++) hist[s.index[i]!]! += s.weight[i]!;
  return hist;
}

/**
 * The empirical bucket prior: the histogram normalised to sum 1, optionally smoothed first with a
 * Gaussian of `smoothSigma` ab units over the bucket centres (Zhang et al. smooth with sigma 5).
 */
export function bucketPrior(t: AbBuckets, hist: ArrayLike<number>, opts: { smoothSigma?: number } = {}): Float32Array {
  const q = t.count;
  if (hist.length !== q) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Histogram length ${hist.length} does not match ${q} buckets.`);
  let h: ArrayLike<number> = hist;
  const sigma = opts.smoothSigma ?? 0;
  if (sigma > 0) {
    const c = t.centers;
    const sm = new Float64Array(q);
    const inv = 1 / (2 * sigma * sigma);
    for (let i = 0; i < q; i++) {
      let s = 0, ws = 0;
      for (let j = 0; j < q; j++) {
        const da = c[2 * i]! - c[2 * j]!, db = c[2 * i + 1]! - c[2 * j + 1]!;
        const w = Math.exp(-(da * da + db * db) * inv);
        s += w * hist[j]!;
        ws += w;
      }
      sm[i] = s / ws;
    }
    h = sm;
  }
  let total = 0;
  for (let i = 0; i < q; i++) {
    const v = h[i]!;
    if (!(v >= 0) || !Number.isFinite(v)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Histogram bin ${i} is ${v}; counts must be finite and >= 0.`);
    total += v;
  }
  const p = new Float32Array(q);
  if (total === 0) {
    p.fill(1 / q); // no data: nothing to prefer
    return p;
  }
  for (let i = 0; i < q; i++) p[i] = h[i]! / total;
  return p;
}

export const DEFAULT_REBALANCE_LAMBDA = 0.5;

/**
 * Class-rebalancing weights: w ∝ 1 / ((1 - λ) p + λ / Q), normalised so that Σ p_q w_q = 1
 * (the expected weight of a pixel drawn from the prior is 1, so the loss keeps its scale).
 */
export function rebalanceWeights(prior: ArrayLike<number>, lambda = DEFAULT_REBALANCE_LAMBDA): Float32Array {
  const q = prior.length;
  if (!(lambda >= 0 && lambda <= 1)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Rebalancing lambda must be in [0, 1]; got ${lambda}.`);
  if (lambda === 0 && Array.prototype.some.call(prior, (v: number) => v === 0)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'Rebalancing with lambda 0 needs a prior without empty buckets.');
  }
  const w = new Float64Array(q);
  let expect = 0;
  for (let i = 0; i < q; i++) {
    w[i] = 1 / ((1 - lambda) * prior[i]! + lambda / q);
    expect += prior[i]! * w[i]!;
  }
  const out = new Float32Array(q);
  for (let i = 0; i < q; i++) out[i] = w[i]! / expect;
  return out;
}
