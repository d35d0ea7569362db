/**
 * Batches named by their samples, so that data-parallel replicas build their own shards.
 *
 * Building a training batch (read the cached pixels, crop, flip, RGB -> Lab, soft-encode the targets)
 * costs about as much per image as a few percent of a training step. Done once for the whole batch on
 * the coordinator's thread, it is serial work the other replicas wait through; done per shard by each
 * replica, it runs in parallel and the batch's pixels and targets never cross threads. Every sample's
 * crop and flip are keyed by its dataset index (see cropParams), so a shard built on its own equals
 * the same slice of the whole batch, bit for bit.
 */
import type { Dataset } from '../data/dataset.ts';
import type { AbBuckets } from '../../sdk/color/buckets.ts';
import { TintaError, ErrorCodes } from '../../sdk/errors.ts';
import type { HostBatch } from './pool.ts';

/** The photo cache a stepper builds sample batches from, and the bucket table of the targets. */
export interface SampleSource {
  dataset: Dataset;
  buckets: AbBuckets;
}

/** The stepper's sample source, or BAD_ARGUMENT when it was made without one. */
export function requireSource(source: SampleSource | undefined): SampleSource {
  if (!source) throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'stepSamples needs a stepper made with a photo cache (its `data` option).');
  return source;
}

/** A training batch as the dataset indices of its samples and the keys of their random crops. */
export interface SampleBatch {
  /** Dataset indices, in batch order. */
  indices: Uint32Array;
  /** Training size S. */
  size: number;
  seed: number;
  /** Random crops and flips (keyed by seed, epoch, stepInEpoch and each sample), else centre crops. */
  augment: boolean;
  epoch: number;
  stepInEpoch: number;
  /** With fusion: [n, D] embeddings of the samples, in batch order. */
  embedding?: Float32Array;
  embeddingDim?: number;
}

/** Samples [start, start + k) of a sample batch. */
export function sliceSamples(b: SampleBatch, start: number, k: number): SampleBatch {
  const out: SampleBatch = { ...b, indices: b.indices.slice(start, start + k) };
  if (b.embedding && b.embeddingDim) out.embedding = b.embedding.slice(start * b.embeddingDim, (start + k) * b.embeddingDim);
  else delete out.embedding;
  return out;
}

/** Build the pixels and targets of a sample batch from the dataset (the whole batch, or a shard from sliceSamples). */
export function buildSamples({ dataset, buckets }: SampleSource, b: SampleBatch): HostBatch {
  const made = dataset.makeBatch({ indices: b.indices, size: b.size, buckets, seed: b.seed, augment: b.augment, epoch: b.epoch, step: b.stepInEpoch });
  const host: HostBatch = { n: made.n, size: made.size, buckets: made.q, L: made.L, target: made.target };
  if (b.embedding && b.embeddingDim) {
    host.embedding = b.embedding;
    host.embeddingDim = b.embeddingDim;
  }
  return host;
}
