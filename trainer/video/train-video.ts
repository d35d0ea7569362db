/**
 * Training a video model: stacks of n consecutive frames in, the centre frame's ab buckets out,
 * optionally with the temporal-consistency term, started from a single-frame checkpoint.
 *
 * It shares the photo trainer's parts (model builder, step, worker pool, checkpoints, schedule)
 * and only brings its own data (trainer/video/frames.ts), initialisation (widen.ts) and loss
 * term (temporal-loss.ts). The run directory has the same layout as a photo run, so `tinta export`
 * and `--resume` work the same way.
 */
import { appendFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ErrorCodes, TintaError } from '../../sdk/errors.ts';
import { getBuckets, parseBuckets, serializeBuckets, type AbBuckets, type BucketScheme } from '../../sdk/color/buckets.ts';
import { bucketPrior, rebalanceWeights, DEFAULT_REBALANCE_LAMBDA } from '../../sdk/color/encode.ts';
import { annealedMean, DEFAULT_TEMPERATURE } from '../../sdk/color/decode.ts';
import { writeFileAtomic } from '../../sdk/io/atomic-node.ts';
import { initBackend, type TrainBackend } from '../backend.ts';
import { buildModel, presetConfig, type ModelConfig, type Preset } from '../model.ts';
import { readCheckpoint, restoreModel, restoreOptimizer, saveCheckpoint } from '../checkpoint.ts';
import { applyGradients, learningRateAt, trainableVariables } from '../step.ts';
import { localStepper, type Stepper } from '../local.ts';
import { GradientPool } from '../parallel/pool.ts';
import { colorizationLoss, bucketAccuracy } from '../loss.ts';
import { AbErrorHistogram } from '../metrics.ts';
import { cacheSide } from '../data/cache.ts';
import { countStep, freshRunState, runPaths, stopBeforeStep, truncateMetrics, writeLossPlot, Throughput, type RunEvent, type RunPaths, type RunState, type TrainResult } from '../run-dir.ts';
import { allSamples, loadClips, scanClips, splitClips, StackBatcher, videoEpochOrder, type ClipFrames, type StackBatch, type StackSample } from './frames.ts';
import { widenCheckpoint, type WidenMode } from './widen.ts';
import { computeVideoGradients, staticWeights, DEFAULT_TEMPORAL_SIGMA } from './temporal-loss.ts';

/** Everything a video training run is configured by. */
export interface VideoTrainOptions {
  /** Folder with one sub-folder of ordered frames per clip. */
  videoData: string;
  /** Run directory: checkpoints, metrics, plots. */
  out: string;
  /** A single-frame checkpoint to start from (its first kernel widened); else a fresh model. */
  init?: string;
  /** Frames per stack (odd; 1 trains a per-frame model on the same data). */
  frames: number;
  widen: WidenMode;
  /** Training size (default: the init checkpoint's, else 128). */
  size?: number;
  /** Architecture of a fresh model (ignored with `init`). */
  preset: Preset;
  buckets: BucketScheme;
  epochs: number;
  batchSize: number;
  lr: number;
  warmupSteps?: number;
  clipNorm: number;
  /** Weight of the temporal-consistency term (0 = off). */
  temporal: number;
  temporalSigma: number;
  /** Held-out clips by name (else `valCount` drawn by the seed). */
  valClips?: string[];
  valCount?: number;
  /** Validation stacks per evaluation (spread over the held-out clips). */
  valLimit: number;
  rebalance: boolean;
  lambda: number;
  workers: number;
  backend: TrainBackend;
  resume: boolean;
  seed: number;
  checkpointMinutes: number;
  maxSteps?: number;
  /** Decoded-frame cache (default <out>/cache). */
  cacheDir?: string;
  command?: string;
  onEvent?: (e: VideoTrainEvent) => void;
  signal?: AbortSignal;
}

/** Defaults for everything but videoData and out. */
export const VIDEO_TRAIN_DEFAULTS: Omit<VideoTrainOptions, 'videoData' | 'out'> = {
  frames: 3, widen: 'centre', preset: 'tiny', buckets: 'seed', epochs: 5, batchSize: 8, lr: 2e-4, clipNorm: 5,
  temporal: 0, temporalSigma: DEFAULT_TEMPORAL_SIGMA, valLimit: 64, rebalance: true, lambda: DEFAULT_REBALANCE_LAMBDA,
  workers: Math.max(1, cpus().length), backend: 'auto', resume: false, seed: 1, checkpointMinutes: 10,
};

/** Progress events (one discriminated union, shaped like the photo trainer's). */
export type VideoTrainEvent =
  | RunEvent
  | { type: 'clips'; train: string[]; val: string[]; trainSamples: number; valSamples: number; skipped: { clip: string; reason: string }[] }
  | { type: 'start'; fromStep: number; totalSteps: number; stepsPerEpoch: number; params: number; resumed: boolean; init: string | null }
  | { type: 'step'; step: number; epoch: number; stepInEpoch: number; stepsPerEpoch: number; loss: number; temporal: number; lr: number; imagesPerSec: number; etaSec: number }
  | { type: 'validation'; epoch: number; step: number; valLoss: number; accuracy: number; auc: number; flicker: number; best: boolean };

/** What a finished (or interrupted) run reports (the photo trainer's result). */
export type VideoTrainResult = TrainResult;

/** The video run's loss plot (every training point drawn). */
const writePlot = (p: RunPaths) => writeLossPlot(p, { title: 'tinta video training' });

/** Validation on held-out stacks: loss, accuracy, AuC, and the low-res flicker between consecutive centre frames. */
function validate(model: tfl.LayersModel, batcher: StackBatcher, samples: StackSample[], o: { size: number; frames: number; buckets: AbBuckets; seed: number; batchSize: number; sigma: number }): { valLoss: number; accuracy: number; auc: number; flicker: number } {
  let loss = 0, acc = 0, rows = 0, fl = 0, flw = 0;
  const hist = new AbErrorHistogram();
  const o4 = o.size / 4, px = o4 * o4, q = o.buckets.count;
  const per = Math.max(1, o.batchSize >> 1);
  for (let s = 0; s < samples.length; s += per) {
    const b = batcher.make(samples.slice(s, s + per), { size: o.size, frames: o.frames, buckets: o.buckets, seed: o.seed, augment: false, pairs: true });
    const L = tf.tensor4d(b.L, [b.n, o.size, o.size, o.frames]);
    const target = tf.tensor4d(b.target, [b.n, o4, o4, q]);
    const logits = model.predict(L) as tf.Tensor4D;
    loss += colorizationLoss(logits, target).dataSync()[0]! * b.n;
    acc += bucketAccuracy(logits, b.hardIndex) * b.n;
    const lg = logits.dataSync() as Float32Array;
    const abs: { a: Float32Array; b: Float32Array }[] = [];
    for (let i = 0; i < b.n; i++) {
      const ab = annealedMean(lg.subarray(i * px * q, (i + 1) * px * q), o.buckets, { pixels: px, layout: 'hwc', kind: 'logits' }, DEFAULT_TEMPERATURE);
      abs.push(ab);
      const ta = new Float32Array(px), tb = new Float32Array(px);
      for (let p = 0; p < px; p++) { ta[p] = b.abLow[(i * px + p) * 2]!; tb[p] = b.abLow[(i * px + p) * 2 + 1]!; }
      hist.add(ab.a, ab.b, ta, tb);
    }
    const w = staticWeights(b.lLow, b.n / 2, px, o.sigma);
    for (let p = 0; p < b.n / 2; p++) {
      const x = abs[2 * p]!, y = abs[2 * p + 1]!;
      for (let i = 0; i < px; i++) {
        const wi = w[p * px + i]!;
        fl += wi * Math.hypot(x.a[i]! - y.a[i]!, x.b[i]! - y.b[i]!);
        flw += wi;
      }
    }
    rows += b.n;
    tf.dispose([L, target, logits]);
  }
  return { valLoss: loss / rows, accuracy: acc / rows, auc: hist.auc(), flicker: flw > 0 ? fl / flw : 0 };
}

/** The bucket prior of the training clips: hard buckets of block-mean ab over centre crops of every 4th frame. */
function clipPrior(batcher: StackBatcher, clips: ClipFrames[], size: number, buckets: AbBuckets): Float32Array {
  const hist = new Float64Array(buckets.count);
  const samples = allSamples(clips, { every: 4 });
  for (let s = 0; s < samples.length; s += 16) {
    const b = batcher.make(samples.slice(s, s + 16), { size, frames: 1, buckets, seed: 0, augment: false });
    for (const k of b.hardIndex) hist[k]!++;
  }
  return bucketPrior(buckets, hist, { smoothSigma: 5 });
}

/** `count` samples spread evenly over `all`. */
function spread<T>(all: T[], count: number): T[] {
  if (all.length <= count) return all;
  return Array.from({ length: count }, (_, i) => all[Math.floor((i * all.length) / count)]!);
}

/** A stepper on this thread with the temporal term (batches are pairs of rows). */
function temporalStepper(model: tfl.LayersModel, optimizer: tf.AdamOptimizer, bucketWeights: Float32Array | null, weight: number, sigma: number): Pick<Stepper, 'step' | 'close'> & { stepPairs(b: StackBatch, step: number, lr: number, clipNorm: number): Promise<{ loss: number; gradNorm: number; temporal: number }> } {
  const bw = bucketWeights ? tf.tensor1d(bucketWeights) : undefined;
  const vars = trainableVariables(model);
  return {
    async step() {
      throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'internal: the temporal stepper takes pair batches (stepPairs).');
    },
    async stepPairs(b, step, learningRate, clipNorm) {
      const o4 = b.size / 4;
      const L = tf.tensor4d(b.L, [b.n, b.size, b.size, b.frames]);
      const target = tf.tensor4d(b.target, [b.n, o4, o4, b.q]);
      const sw = tf.tensor3d(staticWeights(b.lLow, b.n / 2, o4 * o4, sigma), [b.n / 2, o4, o4]);
      const r = computeVideoGradients(model, { L, target }, { ...(bw ? { bucketWeights: bw } : {}), temporalWeight: weight, staticWeights: sw });
      tf.dispose([L, target, sw]);
      const gradNorm = applyGradients(optimizer, vars, r.grads, { learningRate, clipNorm, step, loss: r.loss });
      return { loss: r.loss, gradNorm, temporal: r.temporal };
    },
    async close() {
      bw?.dispose();
    },
  };
}

/** Train a video model (see VideoTrainOptions); resolves when the run ends or is interrupted. */
export async function trainVideo(options: Partial<VideoTrainOptions> & Pick<VideoTrainOptions, 'videoData' | 'out'>): Promise<VideoTrainResult> {
  const o: VideoTrainOptions = { ...VIDEO_TRAIN_DEFAULTS, ...options };
  const F = o.frames;
  if (!(Number.isInteger(F) && F >= 1 && F % 2 === 1 && F <= 15)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `--frames must be an odd number from 1 to 15 (the centre frame is colorized); got ${F}.`);
  if (!(o.temporal >= 0 && Number.isFinite(o.temporal))) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `--temporal must be a finite weight >= 0; got ${o.temporal}.`);
  if (o.temporal > 0 && o.batchSize < 2) throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'The temporal term needs a batch of at least 2 (one pair of consecutive stacks).');
  const out = resolve(o.out);
  const p = runPaths(out);
  mkdirSync(join(out, 'checkpoints'), { recursive: true });
  const emit = o.onEvent ?? (() => {});
  const t0 = Date.now();

  const resumed = o.resume && existsSync(p.last);
  const ck = resumed ? readCheckpoint(p.last) : o.init ? readCheckpoint(o.init) : undefined;
  const ckCfg = (ck?.header.config ?? {}) as { size?: number; buckets?: string; model?: ModelConfig; frames?: number };
  const size = o.size ?? ckCfg.size ?? 128;
  if (!(Number.isInteger(size) && size >= 8 && size % 8 === 0)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `The training size must be a multiple of 8; got ${size}.`);
  const buckets: AbBuckets = ck && typeof ckCfg.buckets === 'string' ? parseBuckets(ckCfg.buckets) : getBuckets(o.buckets);

  const backend = await initBackend(o.backend);
  // The temporal term needs both rows of a pair in one replica, so it runs on this thread.
  let workers = backend.name === 'wasm' ? Math.max(1, o.workers) : 1;
  if (o.temporal > 0 && workers > 1) {
    emit({ type: 'notice', message: 'the temporal term runs on one thread (pairs of stacks must stay together); using 1 worker' });
    workers = 1;
  }
  emit({ type: 'backend', info: backend, workers });

  // Data: clips, split by clip, decoded once at the cache side.
  const clips = await scanClips(o.videoData);
  const split = splitClips(clips, { ...(o.valClips ? { valClips: o.valClips } : {}), ...(o.valCount !== undefined ? { valCount: o.valCount } : {}), seed: o.seed });
  const cacheDir = resolve(o.cacheDir ?? join(out, 'cache'));
  const side = cacheSide(size);
  const tr = await loadClips(split.train, { side, cacheDir });
  const va = await loadClips(split.val, { side, cacheDir });
  const skipped = [...tr.skipped, ...va.skipped];
  if (tr.frames.length === 0) throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `No usable training clips in ${o.videoData} (${skipped.length} skipped).`);
  const pairs = o.temporal > 0;
  const trainSamples = allSamples(tr.frames, { pairs });
  const valClips = va.frames.length ? va.frames : tr.frames;
  const valBatcher = new StackBatcher(valClips);
  const valSamples = spread(allSamples(valClips, { pairs: true }), Math.max(1, o.valLimit >> 1));
  const batcher = new StackBatcher(tr.frames);
  await writeFileAtomic(p.data, JSON.stringify({ trainClips: tr.frames.map((c) => c.name), valClips: va.frames.map((c) => c.name), trainSamples: trainSamples.length, valPairs: valSamples.length, skipped, side }, null, 2));
  emit({ type: 'clips', train: tr.frames.map((c) => c.name), val: va.frames.map((c) => c.name), trainSamples: trainSamples.length, valSamples: valSamples.length, skipped });
  if (!va.frames.length) emit({ type: 'notice', message: 'no held-out clips: validating on training clips (the metrics then measure fit, not generalisation)' });

  // Model: resumed, widened from the init checkpoint, or fresh.
  let model: tfl.LayersModel;
  let modelCfg: ModelConfig;
  const optimizer = tf.train.adam(o.lr, 0.9, 0.99, 1e-7);
  let state: RunState = freshRunState();
  let prior: Float32Array | undefined;
  if (resumed) {
    const saved = ck!.header.config as { frames?: number; size?: number; model: ModelConfig };
    if ((saved.frames ?? 1) !== F || saved.size !== size) {
      throw new TintaError(ErrorCodes.CONFIG_CONFLICT, `Cannot resume ${p.last}: it trains ${saved.frames ?? 1} frames at size ${saved.size}, this run asks for ${F} at ${size}. Start a new run directory, or resume with the original options.`);
    }
    model = await restoreModel(ck!);
    modelCfg = saved.model;
    await restoreOptimizer(ck!, optimizer);
    state = { ...state, ...(ck!.header.state as unknown as RunState) };
    prior = Float32Array.from((ck!.header.data as { prior: number[] }).prior);
    await truncateMetrics(p.metrics, state.step);
  } else if (ck) {
    ({ model, config: modelCfg } = widenCheckpoint(ck, F, { mode: o.widen, inputSize: size }));
    // The photo model was trained against its data's prior; keeping it keeps the colour balance it learned.
    const pr = (ck.header.data as { prior?: number[] }).prior;
    if (Array.isArray(pr) && pr.length === buckets.count) prior = Float32Array.from(pr);
  } else {
    modelCfg = { ...presetConfig(o.preset, { buckets: buckets.count }), frames: F };
    model = buildModel(modelCfg, { inputSize: size });
  }
  prior ??= clipPrior(batcher, tr.frames, size, buckets);
  const weights = o.rebalance ? rebalanceWeights(prior, o.lambda) : null;
  const rowsPerStep = pairs ? 2 * Math.max(1, o.batchSize >> 1) : o.batchSize;
  const samplesPerStep = pairs ? rowsPerStep / 2 : o.batchSize;
  const stepsPerEpoch = Math.max(1, Math.floor(trainSamples.length / samplesPerStep));
  const totalSteps = stepsPerEpoch * o.epochs;
  const warmup = o.warmupSteps ?? Math.min(200, Math.max(1, Math.round(totalSteps * 0.05)));
  writeFileSync(p.command, (o.command ?? 'trainVideo(...)') + '\n', { flag: 'a' });

  const tstep = pairs ? temporalStepper(model, optimizer, weights, o.temporal, o.temporalSigma) : undefined;
  // Video batches are stacks of frames, built here: steppers get them as arrays (step), never as samples.
  const stepper: Pick<Stepper, 'step' | 'close'> = tstep ?? (workers > 1
    ? await GradientPool.start({ workers, backend: backend.name, model, optimizer, modelConfig: modelCfg, inputSize: size, bucketWeights: weights })
    : localStepper(model, optimizer, weights));

  const arch = { preset: modelCfg.preset, size, model: modelCfg, buckets: serializeBuckets(buckets), fusion: false, rebalance: o.rebalance, lambda: o.lambda, seed: o.seed, frames: F };
  const checkpoint = async (path: string, reason: string) => {
    await saveCheckpoint(path, {
      model, optimizer,
      config: {
        ...arch, epochs: o.epochs, batchSize: o.batchSize, lr: o.lr, warmupSteps: warmup, clipNorm: o.clipNorm, backend: backend.name, workers,
        video: { data: resolve(o.videoData), widen: o.widen, temporal: o.temporal, temporalSigma: o.temporalSigma, init: o.init ?? null },
      },
      state: { ...state },
      data: {
        prior: Array.from(prior!), train: trainSamples.length, val: valSamples.length, frames: F,
        trainClips: tr.frames.map((c) => c.name).join(','), valClips: va.frames.map((c) => c.name).join(','), init: o.init ?? '',
      },
    });
    emit({ type: 'checkpoint', path, step: state.step, reason });
  };

  emit({ type: 'start', fromStep: state.step, totalSteps, stepsPerEpoch, params: model.countParams(), resumed, init: resumed ? null : (o.init ?? null) });
  let lastSave = Date.now();
  let interrupted = false;
  let stepsThisRun = 0;
  const rate = new Throughput();
  const vo = { size, frames: F, buckets, seed: o.seed, batchSize: o.batchSize, sigma: o.temporalSigma };
  try {
    while (state.epoch < o.epochs) {
      const order = videoEpochOrder(trainSamples.length, o.seed, state.epoch);
      for (; state.stepInEpoch < stepsPerEpoch; ) {
        if (await stopBeforeStep(o, stepsThisRun)) { interrupted = true; break; }
        const ts = Date.now();
        const sel: StackSample[] = [];
        for (let i = 0; i < samplesPerStep; i++) sel.push(trainSamples[order[state.stepInEpoch * samplesPerStep + i]!]!);
        const b = batcher.make(sel, { size, frames: F, buckets, seed: o.seed, augment: true, epoch: state.epoch, step: state.stepInEpoch, pairs });
        const lr = learningRateAt(state.step, o.lr, warmup, totalSteps);
        const r = tstep
          ? await tstep.stepPairs(b, state.step, lr, o.clipNorm)
          : { ...(await stepper.step({ n: b.n, size, buckets: b.q, L: b.L, target: b.target }, state.step, lr, o.clipNorm)), temporal: 0 };
        const dt = (Date.now() - ts) / 1000;
        countStep(state, dt, b.n);
        stepsThisRun++;
        const ips = rate.add(b.n, dt);
        appendFileSync(p.metrics, JSON.stringify({ kind: 'train', step: state.step, epoch: state.epoch, loss: r.loss, temporal: r.temporal, gradNorm: r.gradNorm, lr, imagesPerSec: ips }) + '\n');
        emit({ type: 'step', step: state.step, epoch: state.epoch, stepInEpoch: state.stepInEpoch, stepsPerEpoch, loss: r.loss, temporal: r.temporal, lr, imagesPerSec: ips, etaSec: ((totalSteps - state.step) * b.n) / ips });
        if (Date.now() - lastSave > o.checkpointMinutes * 60_000) {
          await checkpoint(p.last, 'timer');
          lastSave = Date.now();
        }
      }
      if (interrupted) break;
      const v = validate(model, valBatcher, valSamples, vo);
      const best = v.valLoss < state.bestValLoss;
      if (best) state.bestValLoss = v.valLoss;
      appendFileSync(p.metrics, JSON.stringify({ kind: 'val', step: state.step, epoch: state.epoch, ...v }) + '\n');
      emit({ type: 'validation', epoch: state.epoch, step: state.step, ...v, best });
      await writePlot(p);
      state.epoch++;
      state.stepInEpoch = 0;
      await checkpoint(p.last, 'epoch');
      if (best) await checkpoint(p.best, 'best validation loss');
      lastSave = Date.now();
    }
    if (interrupted) {
      // A time-boxed run still reports where it stands on the held-out clips.
      const v = validate(model, valBatcher, valSamples, vo);
      appendFileSync(p.metrics, JSON.stringify({ kind: 'val', step: state.step, epoch: state.epoch, ...v }) + '\n');
      emit({ type: 'validation', epoch: state.epoch, step: state.step, ...v, best: false });
      await checkpoint(p.last, o.signal?.aborted ? 'interrupted' : 'step limit');
      await writePlot(p);
    }
  } finally {
    await stepper.close();
  }
  emit({ type: 'done', step: state.step, epochs: state.epoch, interrupted, bestValLoss: state.bestValLoss, seconds: (Date.now() - t0) / 1000 });
  return { runDir: out, step: state.step, epoch: state.epoch, interrupted, bestValLoss: state.bestValLoss, lastCheckpoint: p.last, bestCheckpoint: p.best };
}

