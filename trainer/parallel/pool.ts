/**
 * Data-parallel training across worker_threads: the coordinator side (see protocol.ts for the scheme).
 * The coordinator's own model is replica 0: it computes the gradients of the first shard itself while
 * `replicas - 1` worker threads compute the others, and it applies the same mean gradients, so
 * validation and checkpoints read it directly. N replicas use N threads, none idle.
 */
import { Worker } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { TintaError, ErrorCodes, type ErrorCode } from '../../sdk/errors.ts';
import type { ModelConfig } from '../model.ts';
import type { TrainBackend } from '../backend.ts';
import { shardSizes, sliceBatch, type Stepper } from '../local.ts';
import { applyGradients, batchTensors, computeGradients, stateVariables, trainableVariables, type BatchTensors } from '../step.ts';
import { buildSamples, requireSource, sliceSamples, type SampleBatch, type SampleSource } from './shard.ts';
import { regionOffsets, type FromWorker, type SharedLayout, type ToWorker, type WorkerInit } from './protocol.ts';

/** A batch as typed arrays (the shape of trainer/data's batches). */
export interface HostBatch {
  n: number;
  size: number;
  buckets: number;
  L: Float32Array;
  target: Float32Array;
  embedding?: Float32Array;
  embeddingDim?: number;
}

/**
 * Where the pool's steps spent their time, summed over steps (milliseconds). `computeMs[r]` is replica
 * r's shard: building it (stepSamples), forward and backward (replica 0 is the coordinator's thread);
 * the rest is the coordinator's wall time in each phase, so `stepMs` = prepare + own compute + wait +
 * average + apply + waitApply (within rounding).
 */
export interface PoolTimings {
  steps: number;
  stepMs: number;
  /** Slicing the batch (or its sample indices) and posting the workers' shards. */
  prepareMs: number;
  computeMs: number[];
  /** The coordinator waiting for the workers' gradients after finishing its own shard. */
  waitMs: number;
  /** Averaging the replicas' gradients and batch-norm statistics. */
  averageMs: number;
  /** The coordinator's own clip + Adam update. */
  applyMs: number;
  /** Waiting for the workers to finish their (identical) update. */
  waitApplyMs: number;
}

/** Options of GradientPool.start. */
export interface PoolOptions {
  /** Replicas in all: this thread plus `workers - 1` worker threads. */
  workers: number;
  backend: TrainBackend;
  model: tfl.LayersModel;
  optimizer: tf.AdamOptimizer;
  modelConfig: ModelConfig;
  inputSize: number;
  bucketWeights: Float32Array | null;
  /**
   * The photo cache the batches come from, for `stepSamples`: each worker opens it too (read-only)
   * and builds its own shard.
   */
  data?: SampleSource;
}

// A .mjs bootstrap registers tsx in the worker (a loader passed through execArgv does not reach worker threads on every Node version).
const WORKER_URL = new URL('./worker-entry.mjs', import.meta.url);

/** A pool of gradient workers plus the coordinator's replica. */
export class GradientPool implements Stepper {
  private readonly workers: Worker[] = [];
  private readonly shared: Float32Array;
  private readonly off: ReturnType<typeof regionOffsets>;
  private waiting = new Map<number, { resolve: (m: FromWorker) => void; reject: (e: Error) => void }>();
  private dead: Error | null = null;
  private t!: PoolTimings;

  private constructor(private readonly o: PoolOptions, private readonly layout: SharedLayout, buffer: SharedArrayBuffer) {
    this.shared = new Float32Array(buffer);
    this.off = regionOffsets(layout);
    this.bucketWeightsT = o.bucketWeights ? tf.tensor1d(o.bucketWeights) : undefined;
    this.resetTimings();
  }

  /** Phase times summed since the start (or the last resetTimings). */
  timings(): PoolTimings {
    return { ...this.t, computeMs: this.t.computeMs.slice() };
  }

  /** Zero the phase times (say, after warm-up steps). */
  resetTimings(): void {
    this.t = { steps: 0, stepMs: 0, prepareMs: 0, computeMs: new Array<number>(this.layout.workers).fill(0), waitMs: 0, averageMs: 0, applyMs: 0, waitApplyMs: 0 };
  }

  /** Spawn the workers, each starting from the coordinator model's weights and optimizer state. */
  static async start(o: PoolOptions): Promise<GradientPool> {
    const vars = trainableVariables(o.model);
    const state = stateVariables(o.model);
    const layout: SharedLayout = {
      grads: vars.reduce((a, v) => a + v.size, 0),
      state: state.reduce((a, v) => a + v.size, 0),
      workers: o.workers,
    };
    const buffer = new SharedArrayBuffer(regionOffsets(layout).total * 4);
    const pool = new GradientPool(o, layout, buffer);
    const weights = o.model.weights.map((w) => Float32Array.from(w.read().dataSync() as Float32Array));
    const optimizer = (await o.optimizer.getWeights()).map((w) => ({ name: w.name, shape: w.tensor.shape.slice(), data: Float32Array.from(w.tensor.dataSync() as Float32Array) }));
    const cfg = o.optimizer.getConfig() as { beta1: number; beta2: number; epsilon: number };
    const ready: Promise<unknown>[] = [];
    for (let i = 0; i < o.workers - 1; i++) {
      const init: WorkerInit = {
        index: i + 1, backend: o.backend, modelConfig: o.modelConfig, inputSize: o.inputSize, weights, optimizer,
        adam: { beta1: cfg.beta1, beta2: cfg.beta2, epsilon: cfg.epsilon }, bucketWeights: o.bucketWeights, layout, shared: buffer,
        ...(o.data ? { data: { cacheDir: o.data.dataset.cacheDir, buckets: { name: o.data.buckets.name, step: o.data.buckets.step, centers: Float32Array.from(o.data.buckets.centers) } } } : {}),
      };
      const w = new Worker(WORKER_URL, { workerData: init });
      w.on('message', (m: FromWorker) => pool.onMessage(m));
      w.on('error', (e) => pool.fail(new TintaError(ErrorCodes.WORKER_CRASHED, `Training worker ${i + 1} crashed: ${e.message}`, { cause: e })));
      w.on('exit', (code) => { if (!pool.closing) pool.fail(new TintaError(ErrorCodes.WORKER_CRASHED, `Training worker ${i + 1} exited (code ${code}).`)); });
      pool.workers.push(w);
      ready.push(pool.expect(i + 1));
    }
    await Promise.all(ready);
    return pool;
  }

  private closing = false;

  private onMessage(m: FromWorker): void {
    const w = this.waiting.get(m.index);
    if (!w) return;
    this.waiting.delete(m.index);
    if (m.type === 'error') {
      const code = (m.error.code ?? ErrorCodes.WORKER_CRASHED) as ErrorCode;
      w.reject(new TintaError(code, m.error.message));
    } else w.resolve(m);
  }

  private fail(e: Error): void {
    this.dead = e;
    for (const w of this.waiting.values()) w.reject(e);
    this.waiting.clear();
  }

  private expect(index: number): Promise<FromWorker> {
    if (this.dead) return Promise.reject(this.dead);
    return new Promise((resolve, reject) => this.waiting.set(index, { resolve, reject }));
  }

  /** Send to the worker thread of replica `r` (r >= 1). */
  private post(r: number, m: ToWorker, transfer: ArrayBuffer[] = []): Promise<FromWorker> {
    const p = this.expect(r);
    this.workers[r - 1]!.postMessage(m, transfer);
    return p;
  }

  private readonly bucketWeightsT: tf.Tensor1D | undefined;

  /** One data-parallel step on `batch`; returns the mean loss and the pre-clipping gradient norm. */
  async step(batch: HostBatch, step: number, learningRate: number, clipNorm: number): Promise<{ loss: number; gradNorm: number }> {
    return this.run(batch.n, step, learningRate, clipNorm, (r, start, k) => {
      const part = sliceBatch(batch, start, k);
      const L = part.L.slice(), target = part.target.slice();
      const msg: ToWorker = { type: 'grads', step, n: part.n, size: batch.size, buckets: batch.buckets, L, target };
      const transfer = [L.buffer as ArrayBuffer, target.buffer as ArrayBuffer];
      if (part.embedding && part.embeddingDim) {
        msg.embedding = part.embedding.slice();
        msg.embeddingDim = part.embeddingDim;
        transfer.push(msg.embedding.buffer as ArrayBuffer);
      }
      return this.post(r, msg, transfer);
    }, (k) => batchTensors(sliceBatch(batch, 0, k)));
  }

  /**
   * One data-parallel step on a batch named by its samples in the pool's dataset (PoolOptions.data):
   * every replica builds its own shard, in parallel (see shard.ts). Same result as `step` on the
   * whole batch built by the coordinator.
   */
  async stepSamples(batch: SampleBatch, step: number, learningRate: number, clipNorm: number): Promise<{ loss: number; gradNorm: number }> {
    const data = requireSource(this.o.data);
    return this.run(batch.indices.length, step, learningRate, clipNorm, (r, start, k) => {
      const samples = sliceSamples(batch, start, k);
      const transfer = [samples.indices.buffer as ArrayBuffer];
      if (samples.embedding) transfer.push(samples.embedding.buffer as ArrayBuffer);
      return this.post(r, { type: 'grads-samples', step, samples }, transfer);
    }, (k) => batchTensors(buildSamples(data, sliceSamples(batch, 0, k))));
  }

  /**
   * The step itself: post shards 1.. to the workers first, so they compute while this thread builds
   * and computes shard 0; then average, and apply the same update on every replica.
   */
  private async run(
    n: number, step: number, learningRate: number, clipNorm: number,
    postShard: (replica: number, start: number, k: number) => Promise<FromWorker>, ownShard: (k: number) => BatchTensors,
  ): Promise<{ loss: number; gradNorm: number }> {
    const t0 = performance.now();
    const sizes = shardSizes(n, this.workers.length + 1);
    const active = sizes.length;
    const jobs: Promise<FromWorker>[] = [];
    let start = sizes[0]!;
    for (let r = 1; r < active; r++) {
      jobs.push(postShard(r, start, sizes[r]!));
      start += sizes[r]!;
    }
    const t1 = performance.now();
    const own = ownShard(sizes[0]!);
    const mine = computeGradients(this.o.model, own, this.bucketWeightsT);
    tf.dispose([own.L, own.target, own.embedding]);
    let o0 = this.off.gradSlot(0);
    for (const g of mine.grads) { const d = g.dataSync() as Float32Array; this.shared.set(d, o0); o0 += d.length; }
    tf.dispose(mine.grads);
    o0 = this.off.stateSlot(0);
    for (const v of stateVariables(this.o.model)) { const d = v.dataSync() as Float32Array; this.shared.set(d, o0); o0 += d.length; }
    const t2 = performance.now();
    const done = (await Promise.all(jobs)) as Extract<FromWorker, { type: 'grads-done' }>[];
    const t3 = performance.now();
    let loss = mine.loss * sizes[0]!;
    done.forEach((d, i) => { loss += d.loss * sizes[i + 1]!; });
    loss /= n;
    // Weighted mean of the slots, in worker order (a fixed order keeps every replica's input identical).
    const { grads: G, state: S } = this.layout;
    const mg = this.shared.subarray(this.off.meanGrads, this.off.meanGrads + G);
    const ms = this.shared.subarray(this.off.meanState, this.off.meanState + S);
    mg.fill(0);
    ms.fill(0);
    for (let i = 0; i < active; i++) {
      const w = sizes[i]! / n;
      const g = this.shared.subarray(this.off.gradSlot(i), this.off.gradSlot(i) + G);
      for (let j = 0; j < G; j++) mg[j]! += w * g[j]!;
      const s = this.shared.subarray(this.off.stateSlot(i), this.off.stateSlot(i) + S);
      for (let j = 0; j < S; j++) ms[j]! += w * s[j]!;
    }
    const t4 = performance.now();
    const applies = this.workers.map((_, i) => this.post(i + 1, { type: 'apply', step, learningRate, clipNorm, loss }));
    // The coordinator's replica applies the very same update.
    const vars = trainableVariables(this.o.model);
    let o = 0;
    const grads = vars.map((v) => { const t = tf.tensor(mg.subarray(o, o + v.size), v.shape); o += v.size; return t; });
    let gradNorm: number;
    try {
      gradNorm = applyGradients(this.o.optimizer, vars, grads, { learningRate, clipNorm, step, loss });
    } catch (e) {
      await Promise.allSettled(applies);
      throw e;
    }
    o = 0;
    for (const s of stateVariables(this.o.model)) {
      const t = tf.tensor(ms.subarray(o, o + s.size), s.shape);
      s.assign(t);
      t.dispose();
      o += s.size;
    }
    const t5 = performance.now();
    await Promise.all(applies);
    const t6 = performance.now();
    const T = this.t;
    T.steps++;
    T.stepMs += t6 - t0;
    T.prepareMs += t1 - t0;
    T.computeMs[0]! += t2 - t1;
    done.forEach((d, i) => { T.computeMs[i + 1]! += d.computeMs; });
    T.waitMs += t3 - t2;
    T.averageMs += t4 - t3;
    T.applyMs += t5 - t4;
    T.waitApplyMs += t6 - t5;
    return { loss, gradNorm };
  }

  /** Stop the workers. */
  async close(): Promise<void> {
    this.closing = true;
    this.bucketWeightsT?.dispose();
    await Promise.all(this.workers.map(async (w) => {
      w.postMessage({ type: 'exit' } satisfies ToWorker);
      await Promise.race([new Promise((r) => w.once('exit', r)), new Promise((r) => setTimeout(r, 2000))]);
      await w.terminate();
    }));
  }
}
