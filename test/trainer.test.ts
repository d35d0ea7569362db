import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import sharp from 'sharp';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../trainer/backend.ts';
import { buildModel, presetConfig, layerCounts } from '../trainer/model.ts';
import { GradientPool } from '../trainer/parallel/pool.ts';
import { localStepper } from '../trainer/local.ts';
import { train } from '../trainer/train.ts';
import { readCheckpoint, restoreModel } from '../trainer/checkpoint.ts';
import { learningRateAt, applyGradients, trainableVariables, outOfMemory } from '../trainer/step.ts';
import { abAuc } from '../trainer/metrics.ts';
import { isTintaError } from '../sdk/errors.ts';
import { getBuckets } from '../sdk/color/buckets.ts';
import { buildCache } from '../trainer/data/cache.ts';
import { openDataset } from '../trainer/data/dataset.ts';
import { buildSamples, sliceSamples, type SampleBatch } from '../trainer/parallel/shard.ts';

const root = mkdtempSync(join(tmpdir(), 'tinta-trainer-'));
const BIN = new URL('../bin/tinta.mjs', import.meta.url).pathname;

/** Photos of horizontal colour bands whose lightness tells the colour: learnable from L alone. */
async function makeBandPhotos(dir: string, count: number, size = 96): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const palette = [[200, 40, 40], [40, 160, 60], [50, 70, 200], [230, 200, 60]];
  for (let k = 0; k < count; k++) {
    const px = Buffer.alloc(size * size * 3);
    for (let y = 0; y < size; y++) {
      const band = palette[(Math.floor((y * 4) / size) + k) % palette.length]!;
      for (let x = 0; x < size; x++) px.set(band, (y * size + x) * 3);
    }
    px[0] = k; // every photo distinct (byte-identical photos are deduplicated)
    await sharp(px, { raw: { width: size, height: size, channels: 3 } }).png().toFile(join(dir, `bands-${k}.png`));
  }
}

before(async () => {
  await initBackend('wasm');
});

describe('model', () => {
  test('the seed and tiny presets have the seed layout: 8 conv + 4 norm encoder, 12 conv + 3 norm decoder, output at 1/4', () => {
    for (const preset of ['seed', 'tiny'] as const) {
      for (const fusion of [false, true]) {
        const m = buildModel(presetConfig(preset, { fusion }), { inputSize: 64 });
        assert.deepEqual(layerCounts(m), { encoderConv: 8, encoderNorm: 4, decoderConv: 12, decoderNorm: 3 });
        assert.deepEqual(m.outputs[0]!.shape, [null, 16, 16, 112]);
        assert.equal(m.inputs.length, fusion ? 2 : 1);
        m.dispose();
      }
    }
    const t = buildModel(presetConfig('tiny', { upsampling: 'transpose' }), { inputSize: 32 });
    assert.deepEqual(layerCounts(t), { encoderConv: 8, encoderNorm: 4, decoderConv: 12, decoderNorm: 3 });
    t.dispose();
  });

  test('the learning rate warms up linearly, then decays by a cosine to 1%', () => {
    assert.equal(learningRateAt(0, 1, 10, 100), 0.1);
    assert.equal(learningRateAt(9, 1, 10, 100), 1);
    assert.ok(Math.abs(learningRateAt(10, 1, 10, 100) - 1) < 1e-12);
    assert.ok(Math.abs(learningRateAt(55, 1, 10, 100) - 0.505) < 1e-9);
    assert.ok(Math.abs(learningRateAt(100, 1, 10, 100) - 0.01) < 1e-12);
  });

  test('a NaN loss or gradient stops with TRAINING_DIVERGED before any weight changes', () => {
    const m = buildModel(presetConfig('tiny', { widthMultiplier: 0.25 }), { inputSize: 16 });
    const vars = trainableVariables(m);
    const before = vars.map((v) => v.dataSync().slice());
    const opt = tf.train.adam(1e-3);
    const grads = vars.map((v, i) => (i === 3 ? tf.fill(v.shape, NaN) : tf.onesLike(v)));
    assert.throws(() => applyGradients(opt, vars, grads, { learningRate: 1e-3, clipNorm: 5, step: 42, loss: 2 }), (e) => isTintaError(e, 'TRAINING_DIVERGED') && /step 42/.test((e as Error).message));
    const okGrads = vars.map((v) => tf.onesLike(v));
    assert.throws(() => applyGradients(opt, vars, okGrads, { learningRate: 1e-3, clipNorm: 5, step: 43, loss: Infinity }), (e) => isTintaError(e, 'TRAINING_DIVERGED'));
    vars.forEach((v, i) => assert.deepEqual(v.dataSync(), before[i]));
    m.dispose();
  });

  test('a WASM heap overflow in a step becomes BACKEND_FAILED saying what to change; other errors pass through', () => {
    const batch = { L: { shape: [16, 224, 224, 1] } };
    const e = outOfMemory(new WebAssembly.RuntimeError('memory access out of bounds'), batch);
    assert.ok(isTintaError(e, 'BACKEND_FAILED'));
    assert.match(e.message, /16 image\(s\) of 224x224 px \(memory access out of bounds\)/);
    assert.match(e.message, /smaller --batch or --size, or more --workers/);
    assert.ok(isTintaError(outOfMemory(new Error('Aborted(OOM). Build with -sASSERTIONS for more info.'), batch), 'BACKEND_FAILED'));
    assert.equal(outOfMemory(new TypeError('x is not a function'), batch), undefined);
  });

  test('AuC is 1 for a perfect prediction and falls with a known constant error', () => {
    const z = new Float32Array(100);
    assert.equal(abAuc(z, z, z, z), 1);
    const shifted = new Float32Array(100).fill(30.5); // error 30.5: counted from threshold 31 on
    assert.ok(Math.abs(abAuc(shifted, z, z, z) - (151 - 31) / 151) < 1e-9);
  });
});

describe('data-parallel training', () => {
  test('two replicas (this thread + a worker thread) give the same weights as one thread over the same micro-batches', async () => {
    const cfg = presetConfig('tiny', { widthMultiplier: 0.5 });
    const S = 32, Q = 112, n = 4;
    const m1 = buildModel(cfg, { inputSize: S }), m2 = buildModel(cfg, { inputSize: S });
    m2.setWeights(m1.getWeights());
    const o1 = tf.train.adam(1e-3), o2 = tf.train.adam(1e-3);
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const pool = await GradientPool.start({ workers: 2, backend: 'wasm', model: m1, optimizer: o1, modelConfig: cfg, inputSize: S, bucketWeights: null });
    const local = localStepper(m2, o2, null, 2);
    try {
      for (let s = 0; s < 3; s++) {
        const L = Float32Array.from({ length: n * S * S }, rnd);
        const target = new Float32Array(n * (S / 4) ** 2 * Q);
        for (let i = 0; i < n * (S / 4) ** 2; i++) target[i * Q + ((i * 7) % Q)] = 1;
        const a = await pool.step({ n, size: S, buckets: Q, L: L.slice(), target: target.slice() }, s, 1e-3, 5);
        const b = await local.step({ n, size: S, buckets: Q, L, target }, s, 1e-3, 5);
        assert.equal(a.loss, b.loss);
      }
    } finally {
      await pool.close();
    }
    const w1 = m1.getWeights(), w2 = m2.getWeights();
    let worst = 0;
    for (let i = 0; i < w1.length; i++) worst = Math.max(worst, tf.max(tf.abs(tf.sub(w1[i]!, w2[i]!))).dataSync()[0]!);
    assert.ok(worst <= 1e-6, `largest weight difference ${worst}`);
  });
  test('replicas that build their own shards from the photo cache match one thread over the whole batch built at once', async () => {
    const photos = join(root, 'shard-photos');
    await makeBandPhotos(photos, 6, 72);
    // Band photos larger than the cache side: the random crops and flips move the bands.
    const cacheDir = join(root, 'shard-cache');
    await buildCache({ dirs: [photos], cacheDir, size: 32 });
    const ds = await openDataset(cacheDir);
    const buckets = getBuckets('seed');
    const indices = Uint32Array.from([4, 1, 5, 0, 2]);
    const samples: SampleBatch = { indices, size: 32, seed: 3, augment: true, epoch: 1, stepInEpoch: 2 };
    // A shard built on its own is the same slice of the whole batch, bit for bit.
    const whole = buildSamples({ dataset: ds, buckets }, samples);
    const part = buildSamples({ dataset: ds, buckets }, sliceSamples(samples, 3, 2));
    assert.deepEqual(part.L, whole.L.subarray(3 * 32 * 32, 5 * 32 * 32));
    assert.deepEqual(part.target, whole.target.subarray(3 * 8 * 8 * 112, 5 * 8 * 8 * 112));

    const cfg = presetConfig('tiny', { widthMultiplier: 0.5 });
    const m1 = buildModel(cfg, { inputSize: 32 }), m2 = buildModel(cfg, { inputSize: 32 });
    m2.setWeights(m1.getWeights());
    const o1 = tf.train.adam(1e-3), o2 = tf.train.adam(1e-3);
    const pool = await GradientPool.start({ workers: 2, backend: 'wasm', model: m1, optimizer: o1, modelConfig: cfg, inputSize: 32, bucketWeights: null, data: { dataset: ds, buckets } });
    const local = localStepper(m2, o2, null, 2);
    try {
      for (let s = 0; s < 3; s++) {
        const step: SampleBatch = { ...samples, stepInEpoch: s };
        const a = await pool.stepSamples(step, s, 1e-3, 5);
        const b = await local.step(buildSamples({ dataset: ds, buckets }, step), s, 1e-3, 5);
        assert.equal(a.loss, b.loss);
      }
      const t = pool.timings();
      assert.equal(t.steps, 3);
      assert.equal(t.computeMs.length, 2);
      assert.ok(t.computeMs.every((ms) => ms > 0) && t.stepMs >= t.computeMs[0]!, JSON.stringify(t));
    } finally {
      await pool.close();
      ds.close();
    }
    const w1 = m1.getWeights(), w2 = m2.getWeights();
    let worst = 0;
    for (let i = 0; i < w1.length; i++) worst = Math.max(worst, tf.max(tf.abs(tf.sub(w1[i]!, w2[i]!))).dataSync()[0]!);
    assert.ok(worst <= 1e-6, `largest weight difference ${worst}`);
  });

  test('stepSamples on a pool or local stepper made without a photo cache is a clear error', async () => {
    const cfg = presetConfig('tiny', { widthMultiplier: 0.25 });
    const m = buildModel(cfg, { inputSize: 16 });
    const pool = await GradientPool.start({ workers: 2, backend: 'wasm', model: m, optimizer: tf.train.adam(1e-3), modelConfig: cfg, inputSize: 16, bucketWeights: null });
    const samples: SampleBatch = { indices: Uint32Array.from([0, 1]), size: 16, seed: 0, augment: false, epoch: 0, stepInEpoch: 0 };
    try {
      await assert.rejects(pool.stepSamples(samples, 0, 1e-3, 5), (e) => isTintaError(e, 'BAD_ARGUMENT'));
      await assert.rejects(localStepper(m, tf.train.adam(1e-3), null).stepSamples(samples, 0, 1e-3, 5), (e) => isTintaError(e, 'BAD_ARGUMENT'));
    } finally {
      await pool.close();
    }
  });
});

describe('training runs', () => {
  test('the seed proof of concept: a tiny set is overfitted (loss < 1.2) within 120 steps', async () => {
    const data = join(root, 'overfit');
    await makeBandPhotos(data, 4);
    const losses: number[] = [];
    const r = await train({
      data: [data], out: join(root, 'run-overfit'), preset: 'tiny', widthMultiplier: 0.5, size: 64, epochs: 120, batchSize: 4,
      lr: 3e-3, warmupSteps: 10, rebalance: false, workers: 1, backend: 'wasm', valFraction: 0, valLimit: 4,
      onEvent: (e) => { if (e.type === 'step') losses.push(e.loss); },
    });
    assert.equal(r.step, 120);
    const last = losses.slice(-10).reduce((a, b) => a + b, 0) / 10;
    assert.ok(losses[0]! > 3, `first loss ${losses[0]}`);
    assert.ok(last < 1.2, `mean loss of the last 10 steps: ${last}`);
    assert.ok(existsSync(join(root, 'run-overfit', 'loss.svg')));
    assert.ok(existsSync(join(root, 'run-overfit', 'samples', 'epoch-119.png')));
    const metrics = readFileSync(join(root, 'run-overfit', 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.ok(metrics.some((m) => m.kind === 'val' && m.auc > 0.5));
  });

  test('a run killed with SIGKILL mid-epoch resumes from its last checkpoint and finishes', async () => {
    const data = join(root, 'resume');
    await makeBandPhotos(data, 6);
    writeFileSync(join(data, 'broken.jpg'), Buffer.from('not a jpeg at all'));
    const gray = Buffer.alloc(64 * 64 * 3, 120);
    await sharp(gray, { raw: { width: 64, height: 64, channels: 3 } }).png().toFile(join(data, 'gray.png'));
    const out = join(root, 'run-resume');
    const args = [BIN, 'train', '--data', data, '--out', out, '--preset', 'tiny', '--width', '0.5', '--size', '64', '--epochs', '4',
      '--batch', '2', '--workers', '1', '--backend', 'wasm', '--val-fraction', '0.01', '--checkpoint-minutes', '0', '--resume'];
    // First run: killed hard once a few steps are done.
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    const metrics = join(out, 'metrics.jsonl');
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        const lines = existsSync(metrics) ? readFileSync(metrics, 'utf8').trim().split('\n').filter(Boolean) : [];
        if (lines.length >= 4) { clearInterval(timer); child.kill('SIGKILL'); resolve(); }
      }, 100);
      child.on('exit', () => { clearInterval(timer); reject(new Error('the training child exited before it could be killed')); });
    });
    await new Promise((r) => child.once('exit', r));
    const ck = readCheckpoint(join(out, 'checkpoints', 'last.tinta'));
    const savedStep = (ck.header.state as { step: number }).step;
    assert.ok(savedStep >= 1 && savedStep < 12, `checkpoint at step ${savedStep}`);
    // Second run: resumes and completes all 4 epochs (6 colour photos -> 3 steps per epoch).
    const second = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    second.stdout!.on('data', (d) => (text += d));
    second.stderr!.on('data', (d) => (text += d));
    const code = await new Promise((r) => second.once('exit', r));
    assert.equal(code, 0, text);
    assert.match(text, /resuming at step \d+/);
    assert.match(text, /skipped 1 grayscale, 1 unreadable/);
    const final = readCheckpoint(join(out, 'checkpoints', 'last.tinta'));
    assert.equal((final.header.state as { step: number }).step, 12);
    const model = await restoreModel(final);
    assert.deepEqual(model.outputs[0]!.shape, [null, 16, 16, 112]);
    // Every metric line after the resume point was rewritten, none duplicated.
    const steps = readFileSync(metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.kind === 'train').map((m) => m.step);
    assert.deepEqual(steps, Array.from({ length: 12 }, (_, i) => i + 1));
  });

  test('Ctrl-C (SIGINT) saves a checkpoint at the current step and exits cleanly', async () => {
    const data = join(root, 'resume');
    const out = join(root, 'run-sigint');
    const child = spawn(process.execPath, [BIN, 'train', '--data', data, '--out', out, '--preset', 'tiny', '--width', '0.5', '--size', '64',
      '--epochs', '50', '--batch', '2', '--workers', '1', '--backend', 'wasm', '--val-fraction', '0.01'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout!.on('data', (d) => (text += d));
    child.stderr!.on('data', (d) => (text += d));
    const metrics = join(out, 'metrics.jsonl');
    await new Promise<void>((resolve, reject) => {
      const timer = setInterval(() => {
        const n = existsSync(metrics) ? readFileSync(metrics, 'utf8').trim().split('\n').filter(Boolean).length : 0;
        if (n >= 3) { clearInterval(timer); child.kill('SIGINT'); resolve(); }
      }, 100);
      child.on('exit', () => { clearInterval(timer); reject(new Error(`exited early: ${text}`)); });
    });
    const code = await new Promise((r) => child.once('exit', r));
    assert.equal(code, 0, text);
    assert.match(text, /interrupted: saving a checkpoint/);
    const ck = readCheckpoint(join(out, 'checkpoints', 'last.tinta'));
    const steps = readFileSync(metrics, 'utf8').trim().split('\n').map((l) => JSON.parse(l)).filter((m) => m.kind === 'train');
    assert.equal((ck.header.state as { step: number }).step, steps[steps.length - 1].step);
  });

  test('resuming with a different architecture is a CONFIG_CONFLICT error', async () => {
    const data = join(root, 'overfit');
    await assert.rejects(
      train({ data: [data], out: join(root, 'run-overfit'), preset: 'seed', size: 64, epochs: 1, batchSize: 4, workers: 1, backend: 'wasm', resume: true, valFraction: 0 }),
      (e) => isTintaError(e, 'CONFIG_CONFLICT') && /preset/.test((e as Error).message),
    );
  });
});
