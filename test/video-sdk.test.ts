import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createColorizer, type NodeImageInput } from '../sdk/node.ts';
import type { Colorizer } from '../sdk/colorizer.ts';
import { buildTestModel, syntheticPhoto } from './sdk-fixtures.ts';
import { buildStackModel } from './video-fixtures.ts';
import { parseModelInfo, buildMetadata } from '../sdk/model/metadata.ts';
import { testModelInfo } from './sdk-fixtures.ts';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeImage } from '../sdk/image/node.ts';
import { colorizeSequence } from '../cli/commands/video.ts';

const W = 40, H = 32;
const frames = [1, 2, 3, 4, 5].map((seed) => ({ data: syntheticPhoto(W, H, seed * 7919), width: W, height: H }));
// Different content per frame, so a stack read in the wrong order gives a different colour.
for (let t = 0; t < frames.length; t++) {
  const d = frames[t]!.data;
  for (let p = 0; p < d.length; p += 4) if ((p >> 2) % W < 8 * (t + 1)) { d[p] = d[p]! * 0.5; d[p + 1] = d[p + 1]! * 0.5; d[p + 2] = d[p + 2]! * 0.5; }
}
const copy = (f: { data: Uint8ClampedArray; width: number; height: number }) => ({ data: f.data.slice(), width: f.width, height: f.height });
const opts = { upsample: 'bilinear' as const };

async function perFrameAb(c: Colorizer<NodeImageInput>, i: number): Promise<Float32Array> {
  const r = await c.colorize(copy(frames[i]!), opts);
  const ab = r.ab();
  return Float32Array.from([...ab.a, ...ab.b]);
}

function abOf(r: { ab(): { a: Float32Array; b: Float32Array } }): Float32Array {
  const ab = r.ab();
  return Float32Array.from([...ab.a, ...ab.b]);
}

describe('video streams', () => {
  test('a 3-frame model colorizes frame t from t-1..t+1: one frame of latency, edges replicated (previous-frame and next-frame mixes)', async () => {
    const single = await createColorizer({ model: buildTestModel(), worker: false, cache: false });
    const prev = await createColorizer({ model: buildStackModel([1, 0, 0]), worker: false, cache: false });
    const next = await createColorizer({ model: buildStackModel([0, 0, 1]), worker: false, cache: false });
    try {
      const ref = await Promise.all(frames.map((_, i) => perFrameAb(single, i)));
      assert.notDeepEqual(ref[1], ref[2]);
      for (const [c, shift] of [[prev, -1], [next, 1]] as const) {
        assert.equal(c.info.frames, 3);
        const s = c.createVideoStream(opts);
        assert.equal(s.latency, 1);
        const got: { index: number; ab: Float32Array }[] = [];
        for (let t = 0; t < frames.length; t++) {
          const out = await s.push(copy(frames[t]!));
          // Frame t - 1 comes out when frame t goes in.
          assert.deepEqual(out.map((r) => r.index), t === 0 ? [] : [t - 1]);
          for (const r of out) got.push({ index: r.index, ab: abOf(r) });
        }
        const rest = await s.flush();
        assert.deepEqual(rest.map((r) => r.index), [frames.length - 1]);
        for (const r of rest) got.push({ index: r.index, ab: abOf(r) });
        for (const { index, ab } of got) {
          const src = Math.min(frames.length - 1, Math.max(0, index + shift));
          assert.deepEqual(ab, ref[src], `frame ${index} should be colored from frame ${src}`);
        }
        await assert.rejects(s.push(copy(frames[0]!)), { code: 'BAD_ARGUMENT' });
      }
    } finally {
      await Promise.all([single.dispose(), prev.dispose(), next.dispose()]);
    }
  });

  test('smoothing blends the low-res ab with the previous output and restarts at a scene cut', async () => {
    const c = await createColorizer({ model: buildTestModel(), worker: false, cache: false });
    try {
      const a = await perFrameAb(c, 0), b = await perFrameAb(c, 1);
      const out: Float32Array[] = [];
      for await (const r of c.colorizeVideo([copy(frames[0]!), copy(frames[1]!)], { ...opts, smoothing: 0.25 })) out.push(abOf(r));
      assert.deepEqual(out[0], a);
      // Bilinear upsampling is linear, so the full-res ab is the same blend: 0.25 * a + 0.75 * b.
      let worst = 0;
      for (let i = 0; i < b.length; i++) worst = Math.max(worst, Math.abs(out[1]![i]! - (0.25 * a[i]! + 0.75 * b[i]!)));
      assert.ok(worst < 1e-3, `blend error ${worst}`);
      // A cut: an inverted frame is far more than 5 L units away on average -> no blending, flagged.
      const inverted = copy(frames[1]!);
      for (let p = 0; p < inverted.data.length; p += 4) for (let k = 0; k < 3; k++) inverted.data[p + k] = 255 - inverted.data[p + k]!;
      const inv = abOf(await c.colorize(copy(inverted), opts));
      const res: { ab: Float32Array; cut: boolean }[] = [];
      for await (const r of c.colorizeVideo([copy(frames[0]!), inverted], { ...opts, smoothing: 0.5, sceneCut: 5 })) res.push({ ab: abOf(r), cut: r.sceneCut });
      assert.deepEqual(res.map((r) => r.cut), [false, true]);
      assert.deepEqual(res[1]!.ab, inv);
    } finally {
      await c.dispose();
    }
  });

  test('in a worker: colorizeVideo over an async iterable yields every frame in order; a bad frame rejects its push only', async () => {
    const c = await createColorizer({ model: buildStackModel([0.25, 0.5, 0.25]), worker: true, cache: false });
    try {
      assert.equal(c.inWorker, true);
      async function* source() { for (const f of frames) yield copy(f); }
      const seen: number[] = [];
      for await (const r of c.colorizeVideo(source(), { smoothing: 0.3 })) {
        assert.equal(r.width, W);
        assert.equal(r.rgba().length, W * H * 4);
        seen.push(r.index);
      }
      assert.deepEqual(seen, [0, 1, 2, 3, 4]);
      const s = c.createVideoStream();
      assert.deepEqual(await s.push(copy(frames[0]!)), []);
      await assert.rejects(s.push({ data: new Uint8ClampedArray(8 * 8 * 4).fill(255), width: 8, height: 8 }), { code: 'IMAGE_BAD_PIXELS' });
      await assert.rejects(s.push(new Uint8Array([1, 2, 3])), (e: { code: string }) => e.code.startsWith('IMAGE_'));
      assert.deepEqual((await s.push(copy(frames[1]!))).map((r) => r.index), [0]);
      assert.deepEqual((await s.flush()).map((r) => r.index), [1]);
    } finally {
      await c.dispose();
    }
  });

  test('bad options are BAD_ARGUMENT; breaking out of colorizeVideo frees the stream; metadata frames is parsed strictly', async () => {
    const c = await createColorizer({ model: buildTestModel(), worker: false, cache: false });
    try {
      assert.throws(() => c.createVideoStream({ smoothing: 1 }), { code: 'BAD_ARGUMENT' });
      assert.throws(() => c.createVideoStream({ sceneCut: 0 }), { code: 'BAD_ARGUMENT' });
      assert.throws(() => c.createVideoStream({ bogus: 1 } as never), { code: 'BAD_ARGUMENT' });
      await assert.rejects(c.colorizeVideo(42 as never).next(), { code: 'BAD_ARGUMENT' });
      let n = 0;
      for await (const r of c.colorizeVideo(frames.map(copy))) { n++; if (r.index === 1) break; }
      assert.equal(n, 2);
      // The colorizer is still usable after an abandoned stream.
      assert.equal((await c.colorize(copy(frames[0]!))).width, W);
    } finally {
      await c.dispose();
    }
    const meta = buildMetadata(testModelInfo({ frames: 3 }));
    assert.equal(parseModelInfo(meta).frames, 3);
    assert.throws(() => parseModelInfo({ ...meta, 'tinta.frames': '2.5' }), { code: 'MODEL_INVALID' });
    assert.throws(() => parseModelInfo({ ...meta, 'tinta.frames': '0' }), { code: 'MODEL_INVALID' });
  });
});

describe('colorizing a sequence from the command line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tinta-video-cli-'));
  const BIN = new URL('../bin/tinta.mjs', import.meta.url).pathname;

  test('a folder of frames is colorized in natural order into a folder of frames; a broken frame is skipped and reported', async () => {
    const src = join(dir, 'frames');
    mkdirSync(src, { recursive: true });
    for (const t of [1, 2, 10]) await writeImage(join(src, `f${t}.png`), copy(frames[t % frames.length]!));
    writeFileSync(join(src, 'f3.png'), 'not a png');
    const model = join(dir, 'stack.onnx');
    writeFileSync(model, buildStackModel([1, 0, 0]));
    const out = join(dir, 'out');
    const s = await colorizeSequence(src, { outDir: out, model, smoothing: 0.5 });
    assert.equal(s.modelFrames, 3);
    assert.equal(s.frames, 3);
    assert.deepEqual(s.failed.map((f) => f.file.split('/').pop()), ['f3.png']);
    assert.deepEqual(readdirSync(out).sort(), ['f1.png', 'f10.png', 'f2.png']);
    await assert.rejects(colorizeSequence(src, { outDir: out, model }), { code: 'BAD_ARGUMENT' });
  });

  test('a video file without ffmpeg is a clear IMAGE_UNSUPPORTED error that says what to do', () => {
    const file = join(dir, 'clip.mp4');
    writeFileSync(file, 'not really a video');
    const r = spawnSync(process.execPath, [BIN, 'colorize', file, '-o', join(dir, 'o')], { encoding: 'utf8', timeout: 60_000, env: { ...process.env, TINTA_FFMPEG: join(dir, 'no-such-ffmpeg') } });
    assert.equal(r.status, 1);
    assert.match(r.stderr, /needs ffmpeg, which is not installed/);
    assert.match(r.stderr, /pass the folder of frames with --video/);
    assert.match(r.stderr, /\[IMAGE_UNSUPPORTED\]/);
  });
});
