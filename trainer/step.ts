/**
 * One optimisation step, split in the two halves data-parallel training needs: computing the
 * gradients of a (shard of a) batch, and applying averaged gradients with clipping and a guard
 * against NaN/Inf. The in-process trainer and every worker replica run exactly these functions.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { TintaError, ErrorCodes } from '../sdk/errors.ts';
import { colorizationLoss } from './loss.ts';

/** A batch as tensors: L [B,S,S,F] (F stacked frames, 1 for photos), soft targets [B,S/4,S/4,Q], embedding [B,D] with fusion. */
export interface BatchTensors {
  L: tf.Tensor4D;
  target: tf.Tensor4D;
  embedding?: tf.Tensor2D;
}

/** Make the tensors of a batch from its typed arrays. */
export function batchTensors(b: { n: number; size: number; buckets: number; L: Float32Array; target: Float32Array; embedding?: Float32Array; embeddingDim?: number }): BatchTensors {
  const o = b.size / 4;
  // Video batches stack F frames per pixel; the count follows from the data, so no message has to carry it.
  const frames = b.L.length / (b.n * b.size * b.size);
  const t: BatchTensors = {
    L: tf.tensor4d(b.L, [b.n, b.size, b.size, frames]),
    target: tf.tensor4d(b.target, [b.n, o, o, b.buckets]),
  };
  if (b.embedding) t.embedding = tf.tensor2d(b.embedding, [b.n, b.embeddingDim ?? b.embedding.length / b.n]);
  return t;
}

/** The model's trainable variables, in a fixed order (gradients travel in this order). */
export function trainableVariables(model: tfl.LayersModel): tf.Variable[] {
  return model.trainableWeights.map((w) => w.read() as tf.Variable);
}

/** The model's non-trainable state (batch-norm moving statistics), in a fixed order. */
export function stateVariables(model: tfl.LayersModel): tf.Variable[] {
  return model.nonTrainableWeights.map((w) => w.read() as tf.Variable);
}

/**
 * Forward + backward on one batch in training mode (batch norm uses batch statistics and updates its
 * moving averages). Returns the loss value and gradients ordered like `trainableVariables(model)`.
 */
export function computeGradients(model: tfl.LayersModel, batch: BatchTensors, bucketWeights?: tf.Tensor1D): { loss: number; grads: tf.Tensor[] } {
  const vars = trainableVariables(model);
  const inputs = batch.embedding ? [batch.L, batch.embedding] : batch.L;
  let value: tf.Scalar, grads: tf.NamedTensorMap;
  try {
    ({ value, grads } = tf.variableGrads(() => {
      const logits = model.apply(inputs, { training: true }) as tf.Tensor4D;
      return colorizationLoss(logits, batch.target, bucketWeights);
    }, vars));
  } catch (e) {
    throw outOfMemory(e, batch) ?? e;
  }
  const loss = value.dataSync()[0]!;
  value.dispose();
  return { loss, grads: vars.map((v) => grads[v.name]!) };
}

/**
 * The WASM backend's heap is a 32-bit WebAssembly memory (at most 4 GiB); a step whose activations
 * do not fit fails deep inside a kernel with "memory access out of bounds" or an allocation abort.
 * That becomes BACKEND_FAILED with what to change; anything else is left as it is (undefined).
 */
export function outOfMemory(e: unknown, batch: { L: { shape: number[] } }): TintaError | undefined {
  const message = e instanceof Error ? e.message : String(e);
  if (!/memory access out of bounds|out of memory|\bOOM\b|Cannot enlarge memory/i.test(message)) return undefined;
  const [n, size] = batch.L.shape;
  return new TintaError(
    ErrorCodes.BACKEND_FAILED,
    `The training backend ran out of memory on ${n} image(s) of ${size}x${size} px (${message.split('\n')[0]}). ` +
      'The WASM backend has at most 4 GiB per replica: use a smaller --batch or --size, or more --workers (each replica takes its share of the batch), ' +
      'or a native backend (@tensorflow/tfjs-node). Training resumes from the last checkpoint with --resume.',
    { cause: e, details: { images: n, size } },
  );
}

/** Global L2 norm of a list of gradients. */
export function globalNorm(grads: tf.Tensor[]): number {
  return tf.tidy(() => Math.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g)))).dataSync()[0]!));
}

/** Options of applyGradients. */
export interface ApplyOptions {
  learningRate: number;
  /** Clip the global gradient norm to this value (0 = no clipping). */
  clipNorm: number;
  /** For the error message when the step diverges. */
  step: number;
  loss: number;
}

/**
 * Clip by global norm and apply with the optimizer. Refuses (TRAINING_DIVERGED) when the loss or the
 * gradient norm is not finite, before anything is changed, so no broken weights can be saved.
 * Disposes `grads`. Returns the pre-clipping gradient norm.
 */
export function applyGradients(optimizer: tf.AdamOptimizer, vars: tf.Variable[], grads: tf.Tensor[], o: ApplyOptions): number {
  const norm = globalNorm(grads);
  if (!Number.isFinite(o.loss) || !Number.isFinite(norm)) {
    tf.dispose(grads);
    throw new TintaError(
      ErrorCodes.TRAINING_DIVERGED,
      `Training diverged at step ${o.step}: loss ${o.loss}, gradient norm ${norm}. Nothing was saved from this step; ` +
        'resume from the last checkpoint with a lower --lr (or a larger --warmup).',
      { details: { step: o.step, loss: o.loss, gradNorm: norm } },
    );
  }
  const scale = o.clipNorm > 0 && norm > o.clipNorm ? o.clipNorm / norm : 1;
  const named: tf.NamedTensorMap = {};
  vars.forEach((v, i) => {
    named[v.name] = scale === 1 ? grads[i]! : tf.mul(grads[i]!, scale);
  });
  // Adam reads its learning rate at every apply, so the schedule just sets it.
  (optimizer as unknown as { learningRate: number }).learningRate = o.learningRate;
  optimizer.applyGradients(named as unknown as Parameters<tf.AdamOptimizer['applyGradients']>[0]);
  tf.dispose(Object.values(named));
  tf.dispose(grads);
  return norm;
}

/** Learning rate at `step`: linear warm-up, then cosine decay to 1% of the base rate. */
export function learningRateAt(step: number, base: number, warmupSteps: number, totalSteps: number): number {
  if (step < warmupSteps) return (base * (step + 1)) / warmupSteps;
  const span = Math.max(1, totalSteps - warmupSteps);
  const p = Math.min(1, (step - warmupSteps) / span);
  const floor = 0.01 * base;
  return floor + (base - floor) * 0.5 * (1 + Math.cos(Math.PI * p));
}
