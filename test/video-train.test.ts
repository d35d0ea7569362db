import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../trainer/backend.ts';
import { buildModel, presetConfig } from '../trainer/model.ts';
import { readCheckpoint, saveCheckpoint } from '../trainer/checkpoint.ts';
import { getBuckets, serializeBuckets } from '../sdk/color/buckets.ts';
import { writeImage } from '../sdk/image/node.ts';
import { exportCheckpoint } from '../converters/export.ts';
import { createColorizer } from '../sdk/node.ts';
import { allSamples, loadClips, naturalCompare, scanClips, splitClips, stackIndices, StackBatcher } from '../trainer/video/frames.ts';
import { widenCheckpoint, widenKernel } from '../trainer/video/widen.ts';
import { staticWeights, temporalLoss } from '../trainer/video/temporal-loss.ts';
import { trainVideo, type VideoTrainEvent } from '../trainer/video/train-video.ts';
import { movingClip } from './video-fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'tinta-video-train-'));
const clipsDir = join(root, 'clips');
const initCk = join(root, 'init.tinta');
const BIN = new URL('../bin/tinta.mjs', import.meta.url).pathname;
const SIZE = 32;

before(async () => {
  await initBackend('wasm');
  // Four short clips of 48x40 frames, named so that code-unit order is not play order.
  for (const [c, name] of ['alpha', 'beta', 'gamma', 'delta'].entries()) {
    mkdirSync(join(clipsDir, name), { recursive: true });
    const frames = movingClip(48, 40, 6, c + 1);
    for (let t = 0; t < frames.length; t++) await writeImage(join(clipsDir, name, `frame${t * 5}.png`), frames[t]!);
  }
  // A (barely trained) single-frame checkpoint to widen: the tiny preset at a quarter width.
  const cfg = presetConfig('tiny', { widthMultiplier: 0.25 });
  const model = buildModel(cfg, { inputSize: SIZE });
  await saveCheckpoint(initCk, { model, config: { preset: 'tiny', size: SIZE, model: cfg, buckets: serializeBuckets(getBuckets('seed')) }, state: { step: 0 }, data: {} });
  model.dispose();
});

describe('video data', () => {
  test('frames are in natural order, clips are split by clip (named or seeded), stacks replicate edge frames', async () => {
    assert.deepEqual(['f10.png', 'f2.png', 'f1.png', 'f0010b.png'].sort(naturalCompare), ['f1.png', 'f2.png', 'f10.png', 'f0010b.png']);
    const clips = await scanClips(clipsDir);
    assert.deepEqual(clips.map((c) => c.name), ['alpha', 'beta', 'delta', 'gamma']);
    assert.deepEqual(clips[0]!.files.map((f) => f.split('/').pop()), ['frame0.png', 'frame5.png', 'frame10.png', 'frame15.png', 'frame20.png', 'frame25.png']);
    const named = splitClips(clips, { valClips: ['beta'], seed: 1 });
    assert.deepEqual([named.train.map((c) => c.name), named.val.map((c) => c.name)], [['alpha', 'delta', 'gamma'], ['beta']]);
    const seeded = splitClips(clips, { valCount: 2, seed: 7 });
    assert.equal(seeded.val.length, 2);
    assert.equal(new Set([...seeded.train, ...seeded.val].map((c) => c.name)).size, 4);
    // The same seed picks the same clips whatever other clips exist.
    const fewer = splitClips(clips.filter((c) => c.name !== seeded.train[0]!.name), { valCount: 2, seed: 7 });
    assert.deepEqual(fewer.val.map((c) => c.name), seeded.val.map((c) => c.name));
    assert.throws(() => splitClips(clips, { valClips: ['nope'], seed: 1 }), { code: 'BAD_ARGUMENT' });
    assert.throws(() => splitClips(clips, { valCount: 4, seed: 1 }), { code: 'BAD_ARGUMENT' });
    assert.deepEqual(stackIndices(6, 0, 3), [0, 0, 1]);
    assert.deepEqual(stackIndices(6, 5, 5), [3, 4, 5, 5, 5]);
    assert.deepEqual(stackIndices(6, 2, 1), [2]);
  });

  test('a stack batch holds the frames as channels (centre = the single-frame L) and the centre frame\'s targets', async () => {
    const { frames } = await loadClips((await scanClips(clipsDir)).slice(0, 2), { side: 40, cacheDir: join(root, 'cache') });
    assert.deepEqual([frames[0]!.width, frames[0]!.height, frames[0]!.count], [48, 40, 6]);
    const b = new StackBatcher(frames);
    const buckets = getBuckets('seed');
    const samples = [{ clip: 0, centre: 0 }, { clip: 1, centre: 3 }];
    const s3 = b.make(samples, { size: SIZE, frames: 3, buckets, seed: 1, augment: false });
    const s1 = b.make(samples, { size: SIZE, frames: 1, buckets, seed: 1, augment: false });
    const prev = b.make([{ clip: 1, centre: 2 }], { size: SIZE, frames: 1, buckets, seed: 1, augment: false });
    const px = SIZE * SIZE;
    for (let i = 0; i < 2 * px; i++) assert.equal(s3.L[i * 3 + 1], s1.L[i]);
    // Frame 0 has no predecessor: its first channel is frame 0 again.
    for (let i = 0; i < px; i++) assert.equal(s3.L[i * 3], s1.L[i]);
    // Clip 1, centre 3: the first channel is frame 2, which differs (the disc moves).
    let same = true;
    for (let i = 0; i < px; i++) { assert.equal(s3.L[(px + i) * 3], prev.L[i]); if (s3.L[(px + i) * 3] !== s3.L[(px + i) * 3 + 1]) same = false; }
    assert.equal(same, false);
    assert.deepEqual(s3.target, s1.target);
    const o = SIZE / 4;
    for (let p = 0; p < 2 * o * o; p++) {
      let sum = 0;
      for (let q = 0; q < buckets.count; q++) sum += s3.target[p * buckets.count + q]!;
      assert.ok(Math.abs(sum - 1) < 1e-4);
    }
    const pairs = b.make(samples, { size: SIZE, frames: 3, buckets, seed: 1, augment: true, epoch: 0, step: 0, pairs: true });
    assert.equal(pairs.n, 4);
    assert.throws(() => b.make(samples, { size: SIZE, frames: 2, buckets, seed: 1, augment: false }), { code: 'BAD_ARGUMENT' });
    // Unreadable frames make the clip unusable, reported, not fatal.
    const bad = join(root, 'bad');
    mkdirSync(join(bad, 'x'), { recursive: true });
    await writeImage(join(bad, 'x', '1.png'), movingClip(48, 40, 1, 0)[0]!);
    (await import('node:fs')).writeFileSync(join(bad, 'x', '2.png'), 'broken');
    const r = await loadClips(await scanClips(bad), { side: 40 });
    assert.equal(r.frames.length, 0);
    assert.equal(r.skipped[0]!.clip, 'x');
  });
});

describe('video model', () => {
  test('widening keeps the trained kernel on the centre frame (centre) or splits it evenly (even)', () => {
    const k = Float32Array.from([1, 2, 3, 4]); // [1, 1, 1, 4]
    assert.deepEqual([...widenKernel(k, [1, 1, 1, 4], 3, 'centre').data], [0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0]);
    assert.deepEqual(widenKernel(k, [1, 1, 1, 4], 3, 'even').shape, [1, 1, 3, 4]);
    assert.deepEqual([...widenKernel(k, [1, 1, 1, 4], 2 + 1, 'even').data].map((v) => +v.toFixed(4)), [0.3333, 0.6667, 1, 1.3333, 0.3333, 0.6667, 1, 1.3333, 0.3333, 0.6667, 1, 1.3333]);
    assert.throws(() => widenKernel(k, [1, 1, 1, 4], 4), { code: 'BAD_ARGUMENT' });
    assert.throws(() => widenKernel(Float32Array.from([1, 2]), [1, 1, 2, 1], 3), { code: 'CHECKPOINT_INVALID' });
  });

  test('a centre-widened model computes exactly what the single-frame model computes on the centre frame', async () => {
    const ck = readCheckpoint(initCk);
    const single = buildModel((ck.header.config as { model: Parameters<typeof buildModel>[0] }).model, { inputSize: SIZE });
    single.setWeights(single.weights.map((w) => tf.tensor(ck.weights.get(w.originalName)!.data, w.shape as number[])));
    const { model, config } = widenCheckpoint(ck, 3, { inputSize: SIZE });
    assert.equal(config.frames, 3);
    const stack = tf.randomUniform([1, SIZE, SIZE, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const centre = tf.slice(stack, [0, 0, 0, 1], [1, SIZE, SIZE, 1]);
    const a = (model.predict(stack) as tf.Tensor).dataSync(), b = (single.predict(centre) as tf.Tensor).dataSync();
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!));
    assert.ok(worst < 1e-4, `max difference ${worst}`);
    const even = widenCheckpoint(ck, 3, { mode: 'even', inputSize: SIZE }).model;
    const flat = tf.concat([centre, centre, centre], 3);
    const e = (even.predict(flat) as tf.Tensor).dataSync();
    worst = 0;
    for (let i = 0; i < e.length; i++) worst = Math.max(worst, Math.abs(e[i]! - b[i]!));
    assert.ok(worst < 1e-4, `even widening on a still stack: max difference ${worst}`);
    tf.dispose([stack, centre, flat]);
  });

  test('the temporal term is 0 for equal predictions and the TV distance where L is still', () => {
    const w = staticWeights(Float32Array.from([10, 50, 10, 60]), 1, 2, 2);
    assert.equal(w[0], 1);
    assert.ok(w[1]! < 1e-10);
    const same = tf.tensor4d([1, 2, 3, 1, 2, 3], [2, 1, 1, 3]);
    assert.equal(temporalLoss(same, tf.tensor3d([1], [1, 1, 1])).dataSync()[0], 0);
    // Two pixels: one-hot-ish distributions that swap -> TV close to 1 on the still pixel, weight 0 on the moving one.
    const swap = tf.tensor4d([20, 0, 0, 20, 0, 20, 20, 0], [2, 1, 2, 2]);
    const v = temporalLoss(swap, tf.tensor3d([1, 0], [1, 1, 2])).dataSync()[0]!;
    assert.ok(Math.abs(v - 0.5) < 1e-6, String(v)); // mean over 2 pixels of (1 * 1, 0 * 1)
  });

  test('train 3-frame stacks from a single-frame checkpoint (with the temporal term), export, and colorize a sequence', async () => {
    const out = join(root, 'run');
    const events: VideoTrainEvent[] = [];
    const r = await trainVideo({
      videoData: clipsDir, out, init: initCk, frames: 3, batchSize: 4, epochs: 1, maxSteps: 2, workers: 1, backend: 'wasm',
      temporal: 5, valClips: ['beta'], valLimit: 4, onEvent: (e) => events.push(e),
    });
    assert.equal(r.step, 2);
    const steps = events.filter((e) => e.type === 'step') as Extract<VideoTrainEvent, { type: 'step' }>[];
    assert.equal(steps.length, 2);
    assert.ok(steps.every((s) => Number.isFinite(s.loss) && s.temporal >= 0));
    const clipsEv = events.find((e) => e.type === 'clips') as Extract<VideoTrainEvent, { type: 'clips' }>;
    assert.deepEqual(clipsEv.val, ['beta']);
    assert.ok(!clipsEv.train.includes('beta'));
    const val = events.find((e) => e.type === 'validation') as Extract<VideoTrainEvent, { type: 'validation' }>;
    assert.ok(val.auc > 0 && val.auc <= 1 && Number.isFinite(val.flicker));
    const ck = readCheckpoint(r.lastCheckpoint);
    assert.equal((ck.header.config as { frames: number }).frames, 3);
    assert.deepEqual(ck.weights.get('enc1_conv1/kernel')!.spec.shape, [3, 3, 3, 4]);
    // Resuming with another frame count is refused.
    await assert.rejects(trainVideo({ videoData: clipsDir, out, frames: 5, resume: true, workers: 1, backend: 'wasm', maxSteps: 1 }), { code: 'CONFIG_CONFLICT' });

    const onnx = join(root, 'video3.onnx');
    const exp = await exportCheckpoint(r.lastCheckpoint, { output: onnx });
    assert.equal(exp.info.frames, 3);
    const c = await createColorizer({ model: onnx, worker: false, cache: false });
    try {
      assert.equal(c.info.frames, 3);
      const frames = movingClip(48, 40, 4, 2);
      const idx: number[] = [];
      for await (const f of c.colorizeVideo(frames)) idx.push(f.index);
      assert.deepEqual(idx, [0, 1, 2, 3]);
    } finally {
      await c.dispose();
    }
    assert.ok(existsSync(join(out, 'metrics.jsonl')));
    assert.match(readFileSync(join(out, 'data-report.json'), 'utf8'), /"valClips": \[\n\s+"beta"/);
  });

  test('tinta train: --frames without --video-data, and neither --data nor --video-data, are usage errors', () => {
    const a = spawnSync(process.execPath, [BIN, 'train', '--frames', '3', '--out', join(root, 'x')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(a.status, 2);
    assert.match(a.stderr, /needs --video-data/);
    const b = spawnSync(process.execPath, [BIN, 'train', '--out', join(root, 'y')], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(b.status, 2);
    assert.match(b.stderr, /--data/);
  });
});
