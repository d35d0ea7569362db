/**
 * In-process training steps (one replica on the calling thread): the path for native backends
 * (tfjs-node / -node-gpu use every core themselves) and for `--workers 1`. With `shards > 1` the batch
 * is processed as micro-batches whose gradients are averaged exactly as the worker pool averages them,
 * which is what the data-parallel equivalence test compares against.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { applyGradients, batchTensors, computeGradients, stateVariables, trainableVariables } from './step.ts';
import type { HostBatch } from './parallel/pool.ts';
import { buildSamples, requireSource, type SampleBatch, type SampleSource } from './parallel/shard.ts';

/** Anything that can run a training step on a host batch, or on a batch named by its samples in a photo cache. */
export interface Stepper {
  step(batch: HostBatch, step: number, learningRate: number, clipNorm: number): Promise<{ loss: number; gradNorm: number }>;
  /** The same step on a sample batch of the stepper's photo cache (its `data` option); BAD_ARGUMENT without one. */
  stepSamples(batch: SampleBatch, step: number, learningRate: number, clipNorm: number): Promise<{ loss: number; gradNorm: number }>;
  close(): Promise<void>;
}

/** Slice samples [start, start + k) out of a host batch. */
export function sliceBatch(b: HostBatch, start: number, k: number): HostBatch {
  const sPix = b.L.length / b.n; // S*S*F: video batches stack F frames per pixel
  const tPer = (b.size / 4) * (b.size / 4) * b.buckets;
  const out: HostBatch = {
    n: k, size: b.size, buckets: b.buckets,
    L: b.L.subarray(start * sPix, (start + k) * sPix),
    target: b.target.subarray(start * tPer, (start + k) * tPer),
  };
  if (b.embedding && b.embeddingDim) {
    out.embedding = b.embedding.subarray(start * b.embeddingDim, (start + k) * b.embeddingDim);
    out.embeddingDim = b.embeddingDim;
  }
  return out;
}

/** Shard sizes for n samples over `parts` replicas (the pool uses the same split). */
export function shardSizes(n: number, parts: number): number[] {
  const active = Math.min(parts, n);
  return Array.from({ length: active }, (_, i) => Math.floor(n / active) + (i < n % active ? 1 : 0));
}

/** A stepper on the calling thread; `data` is the photo cache for stepSamples. */
export function localStepper(model: tfl.LayersModel, optimizer: tf.AdamOptimizer, bucketWeights: Float32Array | null, shards = 1, data?: SampleSource): Stepper {
  const bw = bucketWeights ? tf.tensor1d(bucketWeights) : undefined;
  const vars = trainableVariables(model);
  const state = stateVariables(model);
  const stepper: Stepper = {
    async stepSamples(batch, step, learningRate, clipNorm) {
      return stepper.step(buildSamples(requireSource(data), batch), step, learningRate, clipNorm);
    },
    async step(batch, step, learningRate, clipNorm) {
      const sizes = shardSizes(batch.n, shards);
      if (sizes.length === 1) {
        const t = batchTensors(batch);
        const { loss, grads } = computeGradients(model, t, bw);
        tf.dispose([t.L, t.target, t.embedding]);
        const gradNorm = applyGradients(optimizer, vars, grads, { learningRate, clipNorm, step, loss });
        return { loss, gradNorm };
      }
      // Micro-batches: same start weights and state for each, float32 weighted mean in shard order.
      const startState = state.map((s) => s.dataSync().slice() as Float32Array);
      const G = vars.reduce((a, v) => a + v.size, 0);
      const S = state.reduce((a, v) => a + v.size, 0);
      const mg = new Float32Array(G), ms = new Float32Array(S);
      let loss = 0, start = 0;
      for (const k of sizes) {
        state.forEach((s, i) => { const t = tf.tensor(startState[i]!, s.shape); s.assign(t); t.dispose(); });
        const t = batchTensors(sliceBatch(batch, start, k));
        const r = computeGradients(model, t, bw);
        tf.dispose([t.L, t.target, t.embedding]);
        const w = k / batch.n;
        loss += r.loss * k;
        let o = 0;
        for (const g of r.grads) {
          const d = g.dataSync() as Float32Array;
          for (let j = 0; j < d.length; j++) mg[o + j]! += w * d[j]!;
          o += d.length;
        }
        tf.dispose(r.grads);
        o = 0;
        for (const s of state) {
          const d = s.dataSync() as Float32Array;
          for (let j = 0; j < d.length; j++) ms[o + j]! += w * d[j]!;
          o += d.length;
        }
        start += k;
      }
      loss /= batch.n;
      let o = 0;
      const grads = vars.map((v) => { const t = tf.tensor(mg.subarray(o, o + v.size), v.shape); o += v.size; return t; });
      const gradNorm = applyGradients(optimizer, vars, grads, { learningRate, clipNorm, step, loss });
      o = 0;
      for (const s of state) { const t = tf.tensor(ms.subarray(o, o + s.size), s.shape); s.assign(t); t.dispose(); o += s.size; }
      return { loss, gradNorm };
    },
    async close() {
      bw?.dispose();
    },
  };
  return stepper;
}
