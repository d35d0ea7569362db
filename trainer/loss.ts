/**
 * The training loss: per-pixel cross-entropy against soft-encoded targets, optionally weighted by
 * the class-rebalancing weights of the colour core (Zhang et al. 2016). A pixel's weight is the
 * expected bucket weight under its target distribution, sum_q t_q w_q, which equals w of the
 * nearest bucket for a one-hot target and stays smooth for soft ones.
 */
import * as tf from '@tensorflow/tfjs-core';

/**
 * Mean weighted soft cross-entropy. `logits` and `target` are [B, H, W, Q]; `bucketWeights` [Q]
 * (omit for the plain loss). Returns a scalar.
 */
export function colorizationLoss(logits: tf.Tensor4D, target: tf.Tensor4D, bucketWeights?: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const logp = tf.logSoftmax(logits, -1);
    const perPixel = tf.neg(tf.sum(tf.mul(target, logp), -1)); // [B, H, W]
    if (!bucketWeights) return tf.mean(perPixel) as tf.Scalar;
    const w = tf.sum(tf.mul(target, bucketWeights), -1);
    return tf.mean(tf.mul(perPixel, w)) as tf.Scalar;
  });
}

/** Fraction of pixels whose most likely bucket is the target's hard bucket. */
export function bucketAccuracy(logits: tf.Tensor4D, hardIndex: Uint16Array | Int32Array): number {
  const pred = tf.tidy(() => tf.reshape(tf.argMax(logits, -1), [-1]));
  const p = pred.dataSync();
  pred.dispose();
  let hit = 0;
  for (let i = 0; i < p.length; i++) if (p[i] === hardIndex[i]) hit++;
  return p.length ? hit / p.length : 0;
}
