// Shared fixtures of the converter tests and the model benchmark: deterministic random weights
// that look like a trained network's (batch-norm statistics away from 0/1), and synthetic photos
// with the structure calibration cares about (smooth gradients, flat shapes with edges, grain).
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { nearestBucket, type AbBuckets } from '../sdk/color/buckets.ts';
import { rgba8ToLab } from '../sdk/color/lab.ts';
import { createRng } from '../trainer/data/rng.ts';
import assert from 'node:assert/strict';
import { TintaError } from '../sdk/errors.ts';

/** A small deterministic PRNG (mulberry32) returning values in [0, 1). */
export function rng(seed: number): () => number {
  return createRng(seed).float;
}

/** A standard normal sample from `r` (Box-Muller). */
export function normal(r: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/**
 * Give every weight of `model` a deterministic, non-trivial value: He-scaled kernels, small biases,
 * batch-norm gamma in [0.5, 1.5] (every 5th negative in the layers named in `negativeGamma`, which
 * blocks the fold through their ReLU),
 * beta in [-0.3, 0.3], moving mean in [-0.5, 1.5], moving variance in [0.3, 2.3].
 */
export function randomizeWeights(model: tfl.LayersModel, seed: number, opts: { negativeGamma?: string[] } = {}): void {
  const r = rng(seed);
  const values = model.weights.map((w) => {
    const shape = w.shape as number[];
    const n = shape.reduce((a, b) => a * b, 1);
    const name = w.originalName;
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      if (name.endsWith('moving_variance')) v[i] = 0.3 + 2 * r();
      else if (name.endsWith('moving_mean')) v[i] = r() * 2 - 0.5;
      else if (name.endsWith('gamma')) v[i] = (opts.negativeGamma?.some((l) => name.startsWith(`${l}/`)) && i % 5 === 0 ? -1 : 1) * (0.5 + r());
      else if (name.endsWith('beta') || name.endsWith('bias')) v[i] = (r() - 0.5) * 0.6;
      else {
        // Conv2DTranspose kernels are [kh, kw, cout, cin]: their fan-in is kh * kw * cin.
        const fanIn = shape.length === 4 && name.includes('_up') ? shape[0]! * shape[1]! * shape[3]! : shape.slice(0, -1).reduce((a, b) => a * b, 1);
        v[i] = normal(r) * Math.sqrt(2 / fanIn);
      }
    }
    return tf.tensor(v, shape);
  });
  model.setWeights(values);
  tf.dispose(values);
}

/**
 * An RGBA8 photo-like image: a smooth gradient background, a few flat shapes with soft edges, grain.
 * Colour follows structure the way it does in photos (squares warm, discs cool, the background
 * green to sky blue), so a network can learn it from L and its predictions are not arbitrary.
 */
export function syntheticPhoto(width: number, height: number, seed: number): { data: Uint8ClampedArray; width: number; height: number } {
  const r = rng(seed);
  const c0 = [40 + r() * 60, 110 + r() * 80, 40 + r() * 50], c1 = [90 + r() * 60, 150 + r() * 60, 200 + r() * 55];
  const angle = r() * Math.PI * 2;
  const dx = Math.cos(angle), dy = Math.sin(angle);
  const shapes = Array.from({ length: 3 + Math.floor(r() * 4) }, () => {
    const square = r() < 0.5;
    const v = 0.4 + r() * 0.6;
    return {
      x: r() * width, y: r() * height, rad: (0.1 + r() * 0.25) * Math.min(width, height), square,
      colour: square ? [230 * v, (40 + r() * 90) * v, 30 * v] : [30 * v, (70 + r() * 80) * v, 220 * v],
    };
  });
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const t = Math.min(1, Math.max(0, 0.5 + ((x / width - 0.5) * dx + (y / height - 0.5) * dy)));
      const px = [0, 1, 2].map((k) => c0[k]! * (1 - t) + c1[k]! * t);
      for (const s of shapes) {
        const d = s.square ? Math.max(Math.abs(x - s.x), Math.abs(y - s.y)) : Math.hypot(x - s.x, y - s.y);
        const a = Math.min(1, Math.max(0, (s.rad - d) / 2)); // ~2 px soft edge
        for (let k = 0; k < 3; k++) px[k] = px[k]! * (1 - a) + s.colour[k]! * a;
      }
      const grain = normal(r) * 3;
      const o = (y * width + x) * 4;
      for (let k = 0; k < 3; k++) data[o + k] = px[k]! + grain;
      data[o + 3] = 255;
    }
  }
  return { data, width, height };
}

/**
 * Train `model` for `steps` Adam steps on `images` with softmax cross-entropy against the hard
 * bucket of each output pixel's mean ab (4x4 blocks), batch norms in inference mode; fusion models
 * get `embeddings` (one per image). Enough for peaked, image-dependent logits, which is what
 * quantization is judged on. Returns the losses.
 */
export function trainBriefly(
  model: tfl.LayersModel,
  images: { data: Uint8ClampedArray; width: number; height: number }[],
  buckets: AbBuckets,
  opts: { steps: number; batch?: number; learningRate?: number; embeddings?: Float32Array[] },
): number[] {
  const { width: w, height: h } = images[0]!;
  const ow = w / 4, oh = h / 4, q = buckets.count;
  const xs: Float32Array[] = [], ys: Float32Array[] = [];
  for (const img of images) {
    const lab = rgba8ToLab(img.data, w, h);
    xs.push(Float32Array.from(lab.L, (v) => v / 100));
    const y = new Float32Array(oh * ow * q);
    for (let by = 0; by < oh; by++) {
      for (let bx = 0; bx < ow; bx++) {
        let a = 0, b = 0;
        for (let yy = 0; yy < 4; yy++) for (let xx = 0; xx < 4; xx++) { const i = (by * 4 + yy) * w + bx * 4 + xx; a += lab.a[i]!; b += lab.b[i]!; }
        y[(by * ow + bx) * q + nearestBucket(buckets, a / 16, b / 16)] = 1;
      }
    }
    ys.push(y);
  }
  const batch = Math.min(opts.batch ?? 4, images.length);
  const optimizer = tf.train.adam(opts.learningRate ?? 3e-3);
  const losses: number[] = [];
  for (let step = 0; step < opts.steps; step++) {
    const pick = Array.from({ length: batch }, (_, k) => (step * batch + k) % images.length);
    const loss = tf.tidy(() => {
      const x = tf.tensor4d(concat(pick.map((i) => xs[i]!)), [batch, h, w, 1]);
      const y = tf.tensor4d(concat(pick.map((i) => ys[i]!)), [batch, oh, ow, q]);
      const e = opts.embeddings;
      const inputs = e ? [x, tf.tensor2d(concat(pick.map((i) => e[i % e.length]!)), [batch, e[0]!.length])] : x;
      return optimizer.minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(inputs) as tf.Tensor) as tf.Scalar, true)!;
    });
    losses.push(loss.dataSync()[0]!);
    loss.dispose();
  }
  optimizer.dispose();
  return losses;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

/** An `assert.throws`/`rejects` validator: a TintaError with `code` (and a message matching `re`). */
export function expectCode(code: string, re?: RegExp): (e: unknown) => true {
  return (e: unknown) => {
    assert.ok(e instanceof TintaError, `expected a TintaError, got ${String(e)}`);
    assert.equal(e.code, code, e.message);
    if (re) assert.match(e.message, re);
    return true;
  };
}
