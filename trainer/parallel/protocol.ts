/**
 * Messages between the training coordinator and its gradient workers, and the layout of the shared
 * memory they exchange gradients through.
 *
 * Every step: the coordinator sends each worker its shard of the batch (or, with 'grads-samples', the
 * dataset indices of its shard, which the worker builds itself from the photo cache); each worker computes the
 * gradients of its shard and writes them (flattened, in `trainableVariables` order) and its batch-norm
 * statistics into its own slot of a SharedArrayBuffer; the coordinator averages the slots (weighted by
 * shard size, in a fixed order) into the `mean` region; then every replica — the workers and the
 * coordinator's own model — applies the same mean gradients with the same optimizer. Identical inputs
 * through identical ops keep all replicas bit-identical without ever shipping weights.
 */
import type { ModelConfig } from '../model.ts';
import type { TrainBackend } from '../backend.ts';
import type { SampleBatch } from './shard.ts';

/** Sizes of the shared regions, in float32 elements. */
export interface SharedLayout {
  /** Total trainable parameters (one gradient slot). */
  grads: number;
  /** Total non-trainable values (batch-norm moving statistics). */
  state: number;
  workers: number;
}

/** Float offsets of the regions inside the shared buffer. */
export function regionOffsets(l: SharedLayout): { gradSlot: (w: number) => number; stateSlot: (w: number) => number; meanGrads: number; meanState: number; total: number } {
  const perWorker = l.grads + l.state;
  return {
    gradSlot: (w) => w * perWorker,
    stateSlot: (w) => w * perWorker + l.grads,
    meanGrads: l.workers * perWorker,
    meanState: l.workers * perWorker + l.grads,
    total: (l.workers + 1) * perWorker,
  };
}

/** Data a worker starts with. */
export interface WorkerInit {
  index: number;
  backend: TrainBackend;
  modelConfig: ModelConfig;
  inputSize: number;
  /** All model weights (model.weights order), to start identical to the coordinator. */
  weights: Float32Array[];
  /** Optimizer slots (Adam moments and iteration count), when resuming. */
  optimizer: { name: string; shape: number[]; data: Float32Array }[];
  adam: { beta1: number; beta2: number; epsilon: number };
  bucketWeights: Float32Array | null;
  layout: SharedLayout;
  shared: SharedArrayBuffer;
  /** For 'grads-samples': the photo cache to open and the bucket table to encode targets with. */
  data?: { cacheDir: string; buckets: { name: string; step: number; centers: Float32Array } };
}

/** Coordinator -> worker. */
export type ToWorker =
  | { type: 'grads'; step: number; n: number; size: number; buckets: number; L: Float32Array; target: Float32Array; embedding?: Float32Array; embeddingDim?: number }
  | { type: 'grads-samples'; step: number; samples: SampleBatch }
  | { type: 'apply'; step: number; learningRate: number; clipNorm: number; loss: number }
  | { type: 'exit' };

/** Worker -> coordinator. */
export type FromWorker =
  | { type: 'ready'; index: number }
  | { type: 'grads-done'; index: number; loss: number; n: number; computeMs: number }
  | { type: 'applied'; index: number; gradNorm: number }
  | { type: 'error'; index: number; error: { code?: string; message: string; stack?: string } };
