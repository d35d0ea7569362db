/**
 * Quality metrics on ab predictions, as the colorization literature reports them.
 * AuC (Zhang et al. 2016): the fraction of pixels whose ab error (Euclidean, in ab units) is within a
 * threshold t, integrated over t = 0..150 and normalised to [0, 1]; optionally each pixel weighted
 * (e.g. by the inverse frequency of its ground-truth bucket, the "rebalanced" AuC).
 */
import { TintaError, ErrorCodes } from '../sdk/errors.ts';

/** Default largest threshold of the AuC curve. */
export const AUC_MAX_THRESHOLD = 150;

/** Weighted histogram of ab errors at integer resolution, for accumulating AuC over many images. */
export class AbErrorHistogram {
  readonly bins: Float64Array;
  total = 0;

  constructor(readonly maxThreshold = AUC_MAX_THRESHOLD) {
    this.bins = new Float64Array(maxThreshold + 2);
  }

  /** Add the per-pixel errors between predicted and true ab planes (optional per-pixel weights). */
  add(predA: ArrayLike<number>, predB: ArrayLike<number>, trueA: ArrayLike<number>, trueB: ArrayLike<number>, weights?: ArrayLike<number>): this {
    const n = predA.length;
    if (predB.length !== n || trueA.length !== n || trueB.length !== n || (weights && weights.length !== n)) {
      throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'AuC: predicted and true ab planes (and weights) must have the same length.');
    }
    const top = this.maxThreshold + 1;
    for (let i = 0; i < n; i++) {
      const e = Math.hypot(predA[i]! - trueA[i]!, predB[i]! - trueB[i]!);
      // Errors in (t-1, t] first count at threshold t; an error of exactly 0 counts from t = 0.
      const k = Math.min(top, Math.ceil(e));
      const w = weights ? weights[i]! : 1;
      this.bins[k]! += w;
      this.total += w;
    }
    return this;
  }

  /** The AuC in [0, 1]: mean over t = 0..max of the (weighted) fraction with error <= t. */
  auc(): number {
    if (this.total === 0) return 0;
    let cum = 0, area = 0;
    for (let t = 0; t <= this.maxThreshold; t++) {
      cum += this.bins[t]!;
      area += cum / this.total;
    }
    return area / (this.maxThreshold + 1);
  }
}

/** AuC of one prediction (convenience over AbErrorHistogram). */
export function abAuc(predA: ArrayLike<number>, predB: ArrayLike<number>, trueA: ArrayLike<number>, trueB: ArrayLike<number>, weights?: ArrayLike<number>): number {
  return new AbErrorHistogram().add(predA, predB, trueA, trueB, weights).auc();
}
