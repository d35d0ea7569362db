import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeImage } from '../sdk/image/node.ts';
import { createLabImage } from '../sdk/color/index.ts';
import { channelHistograms, colourDistributionConsistency, evaluateVideo, flicker, GRAYSCALE, jsDivergence, videoReportMarkdown, writeVideoReport } from '../eval/video.ts';
import { buildTestModel } from './sdk-fixtures.ts';
import { buildStackModel, movingClip } from './video-fixtures.ts';

const BIN = new URL('../bin/tinta.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'tinta-video-eval-'));
const clips = join(dir, 'clips');
const single = join(dir, 'single.onnx');
const stacked = join(dir, 'stacked3.onnx');

function solid(w: number, h: number, rgb: [number, number, number]) {
  const data = new Uint8ClampedArray(w * h * 4);
  for (let p = 0; p < data.length; p += 4) { data[p] = rgb[0]; data[p + 1] = rgb[1]; data[p + 2] = rgb[2]; data[p + 3] = 255; }
  return { data, width: w, height: h };
}

function lab(L: number[], a: number[], b: number[]) {
  const img = createLabImage(L.length, 1);
  img.L.set(L); img.a.set(a); img.b.set(b);
  return img;
}

before(async () => {
  writeFileSync(single, buildTestModel());
  writeFileSync(stacked, buildStackModel([1 / 3, 1 / 3, 1 / 3]));
  for (const [name, n] of [['pan', 7], ['still', 5]] as const) {
    mkdirSync(join(clips, name), { recursive: true });
    const frames = movingClip(48, 32, n, name === 'pan' ? 3 : 0);
    for (let t = 0; t < n; t++) await writeImage(join(clips, name, `f${t + 1}.png`), frames[t]!);
  }
});

describe('video metrics', () => {
  test('Jensen-Shannon divergence (base 2): 0 for equal, 1 for disjoint, 0.311 for (1,0) vs (0.5,0.5)', () => {
    assert.equal(jsDivergence([0.25, 0.75], [0.25, 0.75]), 0);
    assert.equal(jsDivergence([1, 0], [0, 1]), 1);
    // M = (0.75, 0.25): 0.5 * log2(1/0.75) + 0.5 * (0.5 log2(0.5/0.75) + 0.5 log2(0.5/0.25)).
    const expected = 0.5 * Math.log2(1 / 0.75) + 0.5 * (0.5 * Math.log2(0.5 / 0.75) + 0.5 * Math.log2(2));
    assert.ok(Math.abs(jsDivergence([1, 0], [0.5, 0.5]) - expected) < 1e-12);
    assert.ok(Math.abs(expected - 0.3113) < 1e-4);
  });

  test('identical frames have CDC 0 and flicker 0', () => {
    const f = solid(8, 6, [120, 80, 40]);
    const c = colourDistributionConsistency([f, f, f, f, f, f]);
    assert.deepEqual(c.byStep, { 1: 0, 2: 0, 4: 0 });
    assert.equal(c.mean, 0);
    const l = lab([50, 60], [10, -5], [20, 3]);
    assert.deepEqual(flicker([l, l, l]), { mean: 0, pixels: 4 });
  });

  test('CDC of known histograms: black/white alternation is 1 at odd distances and 0 at even ones', () => {
    const k = solid(4, 4, [0, 0, 0]), w = solid(4, 4, [255, 255, 255]);
    const c = colourDistributionConsistency([k, w, k, w, k, w]);
    assert.equal(c.byStep[1], 1);
    assert.equal(c.byStep[2], 0);
    assert.equal(c.byStep[4], 0);
    assert.ok(Math.abs(c.mean - 1 / 3) < 1e-12);
    // Half the pixels change: every channel is (1, 0) vs (0.5, 0.5).
    const half = solid(4, 4, [0, 0, 0]);
    for (let p = 0; p < 32; p += 4) half.data.fill(255, p, p + 3);
    const h = channelHistograms(half);
    assert.equal(h[0][0], 0.5); assert.equal(h[0][255], 0.5);
    assert.ok(Math.abs(colourDistributionConsistency([k, half], [1]).byStep[1]! - 0.31128) < 1e-4);
  });

  test('a known ab jump gives a known flicker, and pixels whose L changed are left out', () => {
    // Pixel 0: L still, ab jumps by (6, 8) = 10. Pixel 1: L jumps by 30 (moved): not counted. Pixel 2: still, no change.
    const f0 = lab([50, 20, 70], [0, 0, 5], [0, 0, 5]);
    const f1 = lab([50.5, 50, 70], [6, 40, 5], [8, 0, 5]);
    const r = flicker([f0, f1]);
    assert.equal(r.pixels, 2);
    assert.equal(r.mean, 5);
    // With a guide saying nothing moved, pixel 1 counts too: (10 + 40 + 0) / 3.
    const g = flicker([f0, f1], { guide: [new Float32Array([50, 50, 70]), new Float32Array([50, 50, 70])] });
    assert.equal(g.pixels, 3);
    assert.ok(Math.abs(g.mean - 50 / 3) < 1e-6);
    assert.ok(Number.isNaN(flicker([f0, lab([90, 90, 10], [0, 0, 0], [0, 0, 0])]).mean));
  });
});

describe('evaluateVideo', () => {
  test('scores per-frame, smoothed and stacked methods on every clip and writes JSON and Markdown', async () => {
    const r = await evaluateVideo({ clips, models: [single, stacked], smoothing: 0.5 });
    assert.deepEqual(r.methods.map((m) => m.name), ['single per-frame', 'single smoothed 0.5', 'stacked3 stacked (3)', 'stacked3 stacked (3) + smoothed 0.5']);
    assert.deepEqual(r.clips.map((c) => [c.name, c.frames, c.width, c.height]), [['pan', 7, 48, 32], ['still', 5, 48, 32]]);
    const still = r.clips[1]!.scores;
    // A still clip: every method's output is the same every frame.
    for (const [name, s] of Object.entries(still)) {
      assert.equal(s.cdc, 0, name);
      assert.equal(s.flicker, 0, name);
    }
    const pan = r.clips[0]!.scores;
    for (const name of ['single per-frame', 'single smoothed 0.5', 'stacked3 stacked (3)']) {
      assert.ok(pan[name]!.cdc > 0 && pan[name]!.auc! > 0.5 && pan[name]!.auc! <= 1, name);
    }
    // Smoothing makes the disc's colour trail behind it: pixels it just left are static in L but
    // their colour still decays, which the static-pixel flicker counts (per frame, the colour
    // jumps back at once, while L changes, where flicker does not look).
    assert.ok(pan['single smoothed 0.5']!.flicker > pan['single per-frame']!.flicker);
    assert.equal(r.overall['ground truth']!.auc, null);
    // The gray input: no colour, so no flicker at all, but its CDC is what L alone changes on the pan.
    assert.equal(pan[GRAYSCALE]!.flicker, 0);
    assert.ok(pan[GRAYSCALE]!.cdc > 0);
    assert.ok(r.overall[GRAYSCALE]!.auc! > 0 && r.overall[GRAYSCALE]!.auc! < 1);
    const md = videoReportMarkdown(r);
    assert.match(md, /\| grayscale \(ab = 0\) \| [\d.]+ \|/);
    assert.match(md, /## Overall/);
    assert.match(md, /\| stacked3 stacked \(3\) \| [\d.]+ \|/);
    assert.match(md, /Change against single per-frame:/);
    const files = await writeVideoReport(r, join(dir, 'report'));
    const json = JSON.parse(readFileSync(files.summary, 'utf8'));
    assert.equal(json.clips.length, 2);
    assert.ok(existsSync(files.markdown));
  });

  test('a clip with an unreadable frame is skipped and reported; unknown clips are BAD_ARGUMENT', async () => {
    const bad = join(dir, 'clips-bad');
    mkdirSync(join(bad, 'ok'), { recursive: true });
    mkdirSync(join(bad, 'broken'), { recursive: true });
    const frames = movingClip(32, 32, 3, 2);
    for (let t = 0; t < 3; t++) await writeImage(join(bad, 'ok', `${t}.png`), frames[t]!);
    await writeImage(join(bad, 'broken', '0.png'), frames[0]!);
    writeFileSync(join(bad, 'broken', '1.png'), 'not a png');
    const r = await evaluateVideo({ clips: bad, models: [single], smoothing: 0 });
    assert.deepEqual(r.clips.map((c) => c.name), ['ok']);
    assert.equal(r.skipped[0]!.clip, 'broken');
    assert.match(r.skipped[0]!.code!, /^IMAGE_/);
    await assert.rejects(evaluateVideo({ clips: bad, models: [single], clipNames: ['nope'] }), { code: 'BAD_ARGUMENT' });
  });

  test('tinta eval --video compares the models and writes the report; without --clips it is a usage error', () => {
    const out = join(dir, 'cli-out');
    const r = spawnSync(process.execPath, [BIN, 'eval', '--video', '--clips', clips, '--clip', 'pan', '--model', single, '--model', stacked, '--smoothing', '0.6', '-o', out], { encoding: 'utf8', timeout: 120_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /\| single smoothed 0\.6 \|/);
    assert.match(r.stdout, /\| stacked3 stacked \(3\) \|/);
    const json = JSON.parse(readFileSync(join(out, 'video-summary.json'), 'utf8'));
    assert.deepEqual(json.clips.map((c: { name: string }) => c.name), ['pan']);
    const u = spawnSync(process.execPath, [BIN, 'eval', '--video', '--model', single, '-o', out], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(u.status, 2);
    assert.match(u.stderr, /--video needs --clips/);
  });
});
