/**
 * The training loop: photos in, checkpoints, metrics and pictures out.
 *
 * Determinism and resume: the data order of an epoch and every random crop/flip are functions of
 * (seed, epoch, step), so a checkpoint needs only its step counters, the weights and the optimizer
 * state to continue exactly where it stopped. Checkpoints are written atomically (last and best),
 * on a timer, at the end of every epoch and when the run is interrupted (SIGINT -> AbortSignal).
 */
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { TintaError, ErrorCodes } from '../sdk/errors.ts';
import { getBuckets, serializeBuckets, type AbBuckets, type BucketScheme } from '../sdk/color/buckets.ts';
import { rebalanceWeights, DEFAULT_REBALANCE_LAMBDA } from '../sdk/color/encode.ts';
import { annealedMean, DEFAULT_TEMPERATURE } from '../sdk/color/decode.ts';
import { writeImage } from '../sdk/image/node.ts';
import { initBackend, type TrainBackend } from './backend.ts';
import { buildModel, presetConfig, type ModelConfig, type Preset, type Upsampling } from './model.ts';
import { readCheckpoint, restoreModel, restoreOptimizer, saveCheckpoint } from './checkpoint.ts';
import { writeFileAtomic } from '../sdk/io/atomic-node.ts';
import { buildCache, type CacheInfo } from './data/cache.ts';
import { openDataset, epochOrder, computePrior, type Dataset } from './data/dataset.ts';
import { learningRateAt } from './step.ts';
import { localStepper, type Stepper } from './local.ts';
import { GradientPool } from './parallel/pool.ts';
import type { SampleBatch } from './parallel/shard.ts';
import { readEmbeddingCache } from './embedding/cache.ts';
import { batchEmbeddings, withEmbeddings } from './embedding/training.ts';
import { colorizationLoss, bucketAccuracy } from './loss.ts';
import { AbErrorHistogram } from './metrics.ts';
import { colorizeTile, tileGrid } from './report/grid.ts';
import { countStep, freshRunState, runPaths, stopBeforeStep, truncateMetrics, writeLossPlot, Throughput, type RunEvent, type RunPaths, type RunState, type TrainResult } from './run-dir.ts';

export type { TrainResult } from './run-dir.ts';

/** Everything a training run is configured by. */
export interface TrainOptions {
  /** Folders of colour photos to train on (recursive). */
  data: string[];
  /** Separate validation folders (else a split of `data`). */
  val?: string[];
  /** Run directory: checkpoints, metrics, plots. */
  out: string;
  /** Where decoded photos are cached (default: <out>/cache; share it between runs). */
  cacheDir?: string;
  preset: Preset;
  size: number;
  epochs: number;
  batchSize: number;
  lr: number;
  /** Linear warm-up steps (default: 5% of the run, at most 500). */
  warmupSteps?: number;
  clipNorm: number;
  widthMultiplier?: number;
  upsampling?: Upsampling;
  buckets: BucketScheme;
  fusion: boolean;
  /** With `fusion`: the embedding cache made by `tinta embed` (photos without an embedding are skipped). */
  embeddings?: string;
  rebalance: boolean;
  lambda: number;
  /** Data-parallel replicas: this thread plus workers - 1 worker threads (1 = this thread only). */
  workers: number;
  backend: TrainBackend;
  resume: boolean;
  seed: number;
  valFraction: number;
  /** Validation images per evaluation (the first N of the validation split). */
  valLimit: number;
  /** Save `last` at least this often (minutes), besides every epoch end. */
  checkpointMinutes: number;
  /** Stop after this many steps in this invocation (for tests and time-boxed sessions; 0 = no limit). */
  maxSteps?: number;
  /** The command line that started the run, recorded in the run directory. */
  command?: string;
  onEvent?: (e: TrainEvent) => void;
  signal?: AbortSignal;
}

/** Defaults for everything but data and out. */
export const TRAIN_DEFAULTS: Omit<TrainOptions, 'data' | 'out'> = {
  preset: 'tiny', size: 128, epochs: 10, batchSize: 16, lr: 1e-3, clipNorm: 5, buckets: 'seed', fusion: false,
  rebalance: true, lambda: DEFAULT_REBALANCE_LAMBDA, workers: Math.max(1, cpus().length), backend: 'auto', resume: false,
  seed: 1, valFraction: 0.05, valLimit: 64, checkpointMinutes: 10,
};

/** Progress events (one discriminated union). */
export type TrainEvent =
  | RunEvent
  | { type: 'cache'; done: number; total: number; file: string }
  | { type: 'data'; train: number; val: number; report: CacheInfo }
  | { type: 'start'; fromStep: number; totalSteps: number; stepsPerEpoch: number; params: number; resumed: boolean }
  | { type: 'step'; step: number; epoch: number; stepInEpoch: number; stepsPerEpoch: number; loss: number; lr: number; imagesPerSec: number; etaSec: number }
  | { type: 'validation'; epoch: number; step: number; valLoss: number; valLossWeighted: number; accuracy: number; auc: number; best: boolean };

/** The persistent part of the config: a resumed run must agree on all of it. */
interface ArchitectureConfig {
  preset: Preset;
  size: number;
  model: ModelConfig;
  buckets: string;
  fusion: boolean;
  rebalance: boolean;
  lambda: number;
  seed: number;
  /** With fusion: where the embeddings come from (converters/checkpoint-info.ts reads `source`). */
  embedding?: { source: string; dim: number; gray?: string; network?: { resolution: number; multiple: number } };
}

function conflicts(a: ArchitectureConfig, b: ArchitectureConfig): string[] {
  const out: string[] = [];
  const keys: (keyof ArchitectureConfig)[] = ['preset', 'size', 'fusion', 'rebalance', 'lambda', 'seed'];
  for (const k of keys) if (a[k] !== b[k]) out.push(`${k}: checkpoint has ${JSON.stringify(a[k])}, requested ${JSON.stringify(b[k])}`);
  if (JSON.stringify(a.model) !== JSON.stringify(b.model)) out.push(`model: checkpoint has ${JSON.stringify(a.model)}, requested ${JSON.stringify(b.model)}`);
  if (a.buckets !== b.buckets) out.push('buckets: the bucket tables differ');
  if (a.embedding?.source !== b.embedding?.source) out.push(`embedding source: checkpoint has ${JSON.stringify(a.embedding?.source)}, requested ${JSON.stringify(b.embedding?.source)}`);
  // Embeddings made another way (gray value, network size) mean something else to the fusion layer.
  const recipe = (e: ArchitectureConfig['embedding']) => JSON.stringify({ gray: e?.gray, network: e?.network });
  if (a.embedding && b.embedding && recipe(a.embedding) !== recipe(b.embedding)) out.push(`embedding preprocessing: checkpoint has ${recipe(a.embedding)}, requested ${recipe(b.embedding)}`);
  return out;
}

/** The photo run's loss plot (training points thinned to about 400). */
const writePlot = (p: RunPaths) => writeLossPlot(p, { title: 'tinta training', thinTo: 400 });

/** Validation: loss (plain and rebalanced), pixel accuracy and AuC on the centre crops of `indices`. */
async function validate(
  model: tfl.LayersModel, ds: Dataset, indices: Uint32Array, o: { size: number; buckets: AbBuckets; seed: number; bucketWeights?: tf.Tensor1D; batchSize: number; embeddings?: (idx: Uint32Array) => tf.Tensor2D },
): Promise<{ valLoss: number; valLossWeighted: number; accuracy: number; auc: number; samples: { L: Float32Array; a: Float32Array; b: Float32Array; rgb: Uint8Array }[] }> {
  let loss = 0, lossW = 0, acc = 0, count = 0;
  const hist = new AbErrorHistogram();
  const samples: { L: Float32Array; a: Float32Array; b: Float32Array; rgb: Uint8Array }[] = [];
  const o4 = o.size / 4, q = o.buckets.count;
  for (let s = 0; s < indices.length; s += o.batchSize) {
    const idx = indices.subarray(s, Math.min(indices.length, s + o.batchSize));
    const batch = ds.makeBatch({ indices: idx, size: o.size, buckets: o.buckets, seed: o.seed, augment: false });
    const L = tf.tensor4d(batch.L, [batch.n, o.size, o.size, 1]);
    const target = tf.tensor4d(batch.target, [batch.n, o4, o4, q]);
    const emb = o.embeddings?.(idx);
    const logits = model.predict(emb ? [L, emb] : L) as tf.Tensor4D;
    loss += colorizationLoss(logits, target).dataSync()[0]! * batch.n;
    lossW += (o.bucketWeights ? colorizationLoss(logits, target, o.bucketWeights).dataSync()[0]! : 0) * batch.n;
    acc += bucketAccuracy(logits, batch.hardIndex) * batch.n;
    const lg = logits.dataSync() as Float32Array;
    const px = o4 * o4;
    for (let i = 0; i < batch.n; i++) {
      const ab = annealedMean(lg.subarray(i * px * q, (i + 1) * px * q), o.buckets, { pixels: px, layout: 'hwc', kind: 'logits' }, DEFAULT_TEMPERATURE);
      const ta = new Float32Array(px), tb = new Float32Array(px);
      for (let p = 0; p < px; p++) { ta[p] = batch.abLow[(i * px + p) * 2]!; tb[p] = batch.abLow[(i * px + p) * 2 + 1]!; }
      hist.add(ab.a, ab.b, ta, tb);
      if (samples.length < 8) {
        const Lfull = new Float32Array(o.size * o.size);
        for (let p = 0; p < Lfull.length; p++) Lfull[p] = batch.L[i * o.size * o.size + p]! * 100;
        samples.push({ L: Lfull, a: ab.a, b: ab.b, rgb: new Uint8Array(0) });
      }
    }
    count += batch.n;
    tf.dispose([L, target, logits, emb]);
  }
  return { valLoss: loss / count, valLossWeighted: lossW / count, accuracy: acc / count, auc: hist.auc(), samples };
}

function sampleGrid(samples: { L: Float32Array; a: Float32Array; b: Float32Array }[], ds: Dataset, indices: Uint32Array, size: number) {
  const C = ds.size, off = (C - size) >> 1;
  const rows = samples.map((s, i) => {
    const gray = new Uint8ClampedArray(size * size * 4);
    const rgb = ds.sampleRgb(indices[i]!);
    const orig = new Uint8ClampedArray(size * size * 4);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
      const p = (y * size + x) * 4, src = ((y + off) * C + (x + off)) * 3;
      const g = Math.round((s.L[y * size + x]! / 100) * 255);
      gray[p] = gray[p + 1] = gray[p + 2] = g; gray[p + 3] = 255;
      orig[p] = rgb[src]!; orig[p + 1] = rgb[src + 1]!; orig[p + 2] = rgb[src + 2]!; orig[p + 3] = 255;
    }
    return [gray, colorizeTile(s.L, size, s.a, s.b), orig];
  });
  return tileGrid(rows, size);
}

/** Train a colorization model (see TrainOptions); resolves when the run ends or is interrupted. */
export async function train(options: Partial<TrainOptions> & Pick<TrainOptions, 'data' | 'out'>): Promise<TrainResult> {
  const o: TrainOptions = { ...TRAIN_DEFAULTS, ...options };
  if (!o.data.length) throw new TintaError(ErrorCodes.NO_TRAINING_DATA, 'No training folders given (--data DIR).');
  if (![64, 128, 176, 224].includes(o.size) && o.size % 8 !== 0) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Training size must be a multiple of 8 (64, 128, 176, 224); got ${o.size}.`);
  if (o.fusion && !o.embeddings) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'Training with --fusion needs precomputed embeddings: make them with `tinta embed --data DIR --embedding mobilenetv2 --out CACHE`, then add --embeddings CACHE.');
  }
  if (o.embeddings && !o.fusion) throw new TintaError(ErrorCodes.BAD_ARGUMENT, '--embeddings is only used with --fusion.');
  const embCache = o.fusion && o.embeddings ? await readEmbeddingCache(o.embeddings) : undefined;
  const out = resolve(o.out);
  const p = runPaths(out);
  mkdirSync(join(out, 'checkpoints'), { recursive: true });
  mkdirSync(join(out, 'samples'), { recursive: true });
  const emit = o.onEvent ?? (() => {});
  const t0 = Date.now();

  const backend = await initBackend(o.backend);
  const workers = backend.name === 'wasm' ? Math.max(1, o.workers) : 1;
  emit({ type: 'backend', info: backend, workers });

  // Data: decode once into the cache, then split.
  const cacheDir = resolve(o.cacheDir ?? join(out, 'cache'));
  const info = await buildCache({ dirs: o.data, cacheDir, size: o.size, signal: o.signal, onProgress: (pr) => emit({ type: 'cache', done: pr.done, total: pr.total, file: pr.file }) });
  const ds = await openDataset(cacheDir);
  let valDs: Dataset = ds;
  let trainIdx: Uint32Array, valIdx: Uint32Array;
  if (o.val?.length) {
    const vdir = `${cacheDir}-val`;
    await buildCache({ dirs: o.val, cacheDir: vdir, size: o.size, signal: o.signal });
    valDs = await openDataset(vdir);
    trainIdx = Uint32Array.from({ length: ds.count }, (_, i) => i);
    valIdx = Uint32Array.from({ length: valDs.count }, (_, i) => i);
  } else {
    const sp = ds.split({ valFraction: o.valFraction, seed: o.seed });
    trainIdx = sp.train;
    valIdx = sp.val;
  }
  let missingEmbeddings: { train: number; val: number } | undefined;
  if (embCache) {
    const t = withEmbeddings(embCache, ds, trainIdx), v = withEmbeddings(embCache, valDs, valIdx);
    trainIdx = t.indices; valIdx = v.indices;
    if (valIdx.length === 0 && valDs !== ds) throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `No validation photo has an embedding in ${embCache.dir}; run \`tinta embed\` on the --val folders too.`);
    missingEmbeddings = { train: t.missing, val: v.missing };
    if (t.missing + v.missing > 0) emit({ type: 'notice', message: `fusion: ${t.missing} training and ${v.missing} validation photos have no embedding in ${embCache.dir} and are skipped (run \`tinta embed\` on their folders)` });
  }
  if (trainIdx.length === 0) throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `No usable colour photos in ${o.data.join(', ')}${embCache ? ' with an embedding' : ''} (see ${join(cacheDir, 'report.json')}).`);
  // Too few photos for a held-out split: validate on training photos (the metrics then measure fit, not generalisation).
  if (valIdx.length === 0) valIdx = trainIdx;
  valIdx = valIdx.subarray(0, Math.min(valIdx.length, o.valLimit));
  await writeFileAtomic(p.data, JSON.stringify({ ...info, train: trainIdx.length, val: valIdx.length, ...(missingEmbeddings ? { withoutEmbedding: missingEmbeddings } : {}) }, null, 2));
  emit({ type: 'data', train: trainIdx.length, val: valIdx.length, report: info });

  // Model, optimizer, statistics: fresh or from the checkpoint.
  const buckets = getBuckets(o.buckets);
  const modelCfg = presetConfig(o.preset, { buckets: buckets.count, fusion: o.fusion, widthMultiplier: o.widthMultiplier, upsampling: o.upsampling, ...(embCache ? { embeddingDim: embCache.dim } : {}) });
  const arch: ArchitectureConfig = { preset: o.preset, size: o.size, model: modelCfg, buckets: serializeBuckets(buckets), fusion: o.fusion, rebalance: o.rebalance, lambda: o.lambda, seed: o.seed, ...(embCache ? { embedding: { source: embCache.source, dim: embCache.dim, gray: embCache.preprocessing.classifier.gray, network: embCache.preprocessing.network } } : {}) };
  let model: tfl.LayersModel;
  const optimizer = tf.train.adam(o.lr, 0.9, 0.99, 1e-7);
  let state: RunState = freshRunState();
  let prior: Float32Array;
  const resumed = o.resume && existsSync(p.last);
  if (resumed) {
    const ck = readCheckpoint(p.last);
    const saved = ck.header.config as unknown as ArchitectureConfig & { epochs: number };
    const diff = conflicts(saved, arch);
    if (diff.length) {
      throw new TintaError(ErrorCodes.CONFIG_CONFLICT, `Cannot resume ${p.last} with a different configuration:\n  ${diff.join('\n  ')}\nStart a new run directory, or resume with the original options.`);
    }
    model = await restoreModel(ck);
    await restoreOptimizer(ck, optimizer);
    state = { ...state, ...(ck.header.state as unknown as RunState) };
    prior = Float32Array.from((ck.header.data as { prior: number[] }).prior);
    await truncateMetrics(p.metrics, state.step);
  } else {
    if (o.resume) emit({ type: 'notice', message: `no checkpoint at ${p.last} to resume; starting fresh` });
    model = buildModel(modelCfg, { inputSize: o.size });
    prior = computePrior(ds, trainIdx, buckets).prior;
  }
  const weights = o.rebalance ? rebalanceWeights(prior, o.lambda) : null;
  const bucketWeightsT = weights ? tf.tensor1d(weights) : undefined;
  const stepsPerEpoch = Math.max(1, Math.floor(trainIdx.length / o.batchSize));
  const totalSteps = stepsPerEpoch * o.epochs;
  const warmup = o.warmupSteps ?? Math.min(500, Math.max(1, Math.round(totalSteps * 0.05)));
  writeFileSync(p.command, (o.command ?? 'train(...)') + '\n', { flag: 'a' });

  // With workers, every replica builds its own shard of each batch from the cache (in parallel).
  const data = { dataset: ds, buckets };
  const stepper: Stepper = workers > 1
    ? await GradientPool.start({ workers, backend: backend.name, model, optimizer, modelConfig: modelCfg, inputSize: o.size, bucketWeights: weights, data })
    : localStepper(model, optimizer, weights, 1, data);

  const checkpoint = async (path: string, reason: string) => {
    await saveCheckpoint(path, {
      model, optimizer,
      config: { ...arch, epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, warmupSteps: warmup, clipNorm: o.clipNorm, bucketScheme: o.buckets, backend: backend.name, workers },
      state: { ...state },
      data: { prior: Array.from(prior), train: trainIdx.length, val: valIdx.length, samples: info.samples, skipped: { grayscale: info.skipped.grayscale.length, unreadable: info.skipped.unreadable.length }, dirs: o.data },
    });
    emit({ type: 'checkpoint', path, step: state.step, reason });
  };

  emit({ type: 'start', fromStep: state.step, totalSteps, stepsPerEpoch, params: model.countParams(), resumed });
  let lastSave = Date.now();
  let interrupted = false;
  let stepsThisRun = 0;
  const rate = new Throughput();
  try {
    while (state.epoch < o.epochs) {
      const order = epochOrder(trainIdx.length, o.seed, state.epoch);
      for (; state.stepInEpoch < stepsPerEpoch; ) {
        if (await stopBeforeStep(o, stepsThisRun)) { interrupted = true; break; }
        const ts = Date.now();
        const sel = new Uint32Array(o.batchSize);
        for (let i = 0; i < o.batchSize; i++) sel[i] = trainIdx[order[state.stepInEpoch * o.batchSize + i]!]!;
        const samples: SampleBatch = { indices: sel, size: o.size, seed: o.seed, augment: true, epoch: state.epoch, stepInEpoch: state.stepInEpoch, ...(embCache ? { embedding: batchEmbeddings(embCache, ds, sel), embeddingDim: embCache.dim } : {}) };
        const lr = learningRateAt(state.step, o.lr, warmup, totalSteps);
        const r = await stepper.stepSamples(samples, state.step, lr, o.clipNorm);
        const dt = (Date.now() - ts) / 1000;
        countStep(state, dt, o.batchSize);
        stepsThisRun++;
        const ips = rate.add(o.batchSize, dt);
        appendFileSync(p.metrics, JSON.stringify({ kind: 'train', step: state.step, epoch: state.epoch, loss: r.loss, gradNorm: r.gradNorm, lr, imagesPerSec: ips }) + '\n');
        emit({ type: 'step', step: state.step, epoch: state.epoch, stepInEpoch: state.stepInEpoch, stepsPerEpoch, loss: r.loss, lr, imagesPerSec: ips, etaSec: ((totalSteps - state.step) * o.batchSize) / ips });
        if (Date.now() - lastSave > o.checkpointMinutes * 60_000) {
          await checkpoint(p.last, 'timer');
          lastSave = Date.now();
        }
      }
      if (interrupted) break;
      // End of epoch: validate, draw, checkpoint.
      const v = await validate(model, valDs, valIdx, { size: o.size, buckets, seed: o.seed, bucketWeights: bucketWeightsT, batchSize: o.batchSize, ...(embCache ? { embeddings: (idx: Uint32Array) => tf.tensor2d(batchEmbeddings(embCache, valDs, idx), [idx.length, embCache.dim]) } : {}) });
      const best = v.valLoss < state.bestValLoss;
      if (best) state.bestValLoss = v.valLoss;
      appendFileSync(p.metrics, JSON.stringify({ kind: 'val', step: state.step, epoch: state.epoch, valLoss: v.valLoss, valLossWeighted: v.valLossWeighted, accuracy: v.accuracy, auc: v.auc }) + '\n');
      emit({ type: 'validation', epoch: state.epoch, step: state.step, valLoss: v.valLoss, valLossWeighted: v.valLossWeighted, accuracy: v.accuracy, auc: v.auc, best });
      if (v.samples.length) await writeImage(p.grid(state.epoch), sampleGrid(v.samples, valDs, valIdx, o.size));
      await writePlot(p);
      state.epoch++;
      state.stepInEpoch = 0;
      await checkpoint(p.last, 'epoch');
      if (best) await checkpoint(p.best, 'best validation loss');
      lastSave = Date.now();
    }
    if (interrupted) {
      await checkpoint(p.last, o.signal?.aborted ? 'interrupted' : 'step limit');
      await writePlot(p);
    }
  } finally {
    await stepper.close();
    bucketWeightsT?.dispose();
    ds.close();
    if (valDs !== ds) valDs.close();
  }
  emit({ type: 'done', step: state.step, epochs: state.epoch, interrupted, bestValLoss: state.bestValLoss, seconds: (Date.now() - t0) / 1000 });
  return { runDir: out, step: state.step, epoch: state.epoch, interrupted, bestValLoss: state.bestValLoss, lastCheckpoint: p.last, bestCheckpoint: p.best };
}
