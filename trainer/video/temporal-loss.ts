/**
 * The temporal-consistency term for video training. Batches come in pairs of rows (the stacks
 * centred on frames t and t+1, same crop); where the centre frame's L does not change between the
 * two, the predicted colour should not change either. Penalised: the total-variation distance
 * between the two predicted bucket distributions, 0.5 * sum_q |p_t - p_t+1| (in [0, 1]), weighted
 * per output pixel by exp(-(dL / sigma)^2) of the block-mean L change dL. Total variation rather
 * than an ab distance because flicker is a switch of the winning buckets, which the annealed mean
 * turns into a jump, however close the two distributions' means are.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ErrorCodes, TintaError } from '../../sdk/errors.ts';
import { colorizationLoss } from '../loss.ts';
import { trainableVariables } from '../step.ts';

/** Default scale of the L change (L units) under which a pixel counts as static. */
export const DEFAULT_TEMPORAL_SIGMA = 2;

/** Per output pixel of each pair, the static-ness weight exp(-(dL/sigma)^2); `lLow` is [2P, h, w] (pairs as consecutive rows). */
export function staticWeights(lLow: Float32Array, pairs: number, pixels: number, sigma = DEFAULT_TEMPORAL_SIGMA): Float32Array {
  if (lLow.length !== 2 * pairs * pixels) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `staticWeights: ${lLow.length} L values for ${pairs} pairs of ${pixels} pixels.`);
  if (!(sigma > 0)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `The temporal sigma must be > 0; got ${sigma}.`);
  const w = new Float32Array(pairs * pixels);
  for (let p = 0; p < pairs; p++) {
    for (let i = 0; i < pixels; i++) {
      const d = (lLow[(2 * p + 1) * pixels + i]! - lLow[2 * p * pixels + i]!) / sigma;
      w[p * pixels + i] = Math.exp(-d * d);
    }
  }
  return w;
}

/** The temporal term of `logits` [2P, h, w, Q] (pairs as consecutive rows) with weights [P, h, w]: mean of w * TV(p_t, p_t+1). */
export function temporalLoss(logits: tf.Tensor4D, weights: tf.Tensor3D): tf.Scalar {
  return tf.tidy(() => {
    const [n, h, w, q] = logits.shape;
    const p = tf.reshape(tf.softmax(logits, -1), [n / 2, 2, h, w, q]);
    const [a, b] = tf.split(p, 2, 1);
    const tv = tf.mul(0.5, tf.sum(tf.abs(tf.sub(a!, b!)), -1)); // [P, 1, h, w]
    return tf.mean(tf.mul(tf.reshape(tv, [n / 2, h, w]), weights)) as tf.Scalar;
  });
}

/** Gradients of cross-entropy (every row) + `weight` * the temporal term; ordered like trainableVariables(model). */
export function computeVideoGradients(
  model: tfl.LayersModel,
  batch: { L: tf.Tensor4D; target: tf.Tensor4D },
  o: { bucketWeights?: tf.Tensor1D; temporalWeight: number; staticWeights?: tf.Tensor3D },
): { loss: number; ce: number; temporal: number; grads: tf.Tensor[] } {
  const vars = trainableVariables(model);
  let ce = 0, tl = 0;
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.apply(batch.L, { training: true }) as tf.Tensor4D;
    const c = colorizationLoss(logits, batch.target, o.bucketWeights);
    if (!(o.temporalWeight > 0) || !o.staticWeights) {
      ce = c.dataSync()[0]!;
      return c;
    }
    const t = temporalLoss(logits, o.staticWeights);
    ce = c.dataSync()[0]!;
    tl = t.dataSync()[0]!;
    return tf.add(c, tf.mul(t, o.temporalWeight)) as tf.Scalar;
  }, vars);
  const loss = value.dataSync()[0]!;
  value.dispose();
  return { loss, ce, temporal: tl, grads: vars.map((v) => grads[v.name]!) };
}
