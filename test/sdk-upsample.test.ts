// The pure pipeline pieces: network sizing, area resampling, box filters, and guided upsampling
// beating bilinear at edges through the whole engine with a "perfect" model stub.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { networkSize, resamplePlane, roundToMultiple } from '../sdk/core/resample.ts';
import { boxMean, fitLinearModels, applyLinearModels } from '../sdk/core/guided.ts';
import { Engine } from '../sdk/core/engine.ts';
import { parseModelInfo, buildMetadata, type ModelInfo } from '../sdk/model/metadata.ts';
import { nearestBucket } from '../sdk/color/buckets.ts';
import { labToRgba8, rgba8ToLab } from '../sdk/color/lab.ts';
import { writeImage } from '../sdk/image/node.ts';
import type { ModelSession, TensorData } from '../sdk/runtime/types.ts';
import { testModelInfo } from './sdk-fixtures.ts';

test('networkSize keeps the aspect ratio, rounds both sides to the spatial multiple and caps panoramas', () => {
  assert.deepEqual(networkSize(4000, 3000, 256, 8), { width: 344, height: 256 });
  assert.deepEqual(networkSize(3000, 4000, 256, 8), { width: 256, height: 344 });
  assert.deepEqual(networkSize(333, 217, 64, 8), { width: 96, height: 64 });
  assert.deepEqual(networkSize(64, 64, 250, 16), { width: 256, height: 256 }); // resolution rounded to 256
  assert.deepEqual(networkSize(10000, 100, 64, 8), { width: 256, height: 8 }); // long side capped at 4x
  assert.equal(roundToMultiple(3, 8), 8);
});

test('area resampling preserves the mean and is exact for integer factors', () => {
  const w = 37, h = 23;
  const src = Float32Array.from({ length: w * h }, (_, i) => ((i * 7919) % 101) / 3);
  const mean = (a: Float32Array): number => a.reduce((s, v) => s + v, 0) / a.length;
  const out = resamplePlane(src, w, h, 10, 7);
  assert.ok(Math.abs(mean(out) - mean(src)) < 1e-3, `mean ${mean(out)} vs ${mean(src)}`);
  const big = Float32Array.from({ length: 8 * 4 }, (_, i) => i);
  const half = resamplePlane(big, 8, 4, 4, 2);
  assert.deepEqual(Array.from(half), [4.5, 6.5, 8.5, 10.5, 20.5, 22.5, 24.5, 26.5]);
  // Growing: linear interpolation, constant stays constant.
  const up = resamplePlane(new Float32Array(6).fill(3), 3, 2, 7, 5);
  assert.ok(up.every((v) => Math.abs(v - 3) < 1e-6));
});

test('boxMean equals the clipped-window mean computed naively', () => {
  const w = 13, h = 9, r = 2;
  const src = Float32Array.from({ length: w * h }, (_, i) => Math.sin(i) * 10);
  const out = boxMean(src, w, h, r, new Float32Array(w * h), new Float32Array(w * h));
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    let s = 0, n = 0;
    for (let yy = Math.max(0, y - r); yy <= Math.min(h - 1, y + r); yy++) for (let xx = Math.max(0, x - r); xx <= Math.min(w - 1, x + r); xx++) { s += src[yy * w + xx]!; n++; }
    assert.ok(Math.abs(out[y * w + x]! - s / n) < 1e-4);
  }
});

test('the guided linear models reproduce ab exactly where ab is a linear function of L', () => {
  const w = 12, h = 8;
  const L = Float32Array.from({ length: w * h }, (_, i) => 20 + ((i * 37) % 60));
  const a = L.map((l) => 0.5 * l - 10), b = L.map((l) => -0.25 * l + 30);
  const m = fitLinearModels(L, a, b, w, h, { radius: 1, eps: 1e-6 });
  const A = new Float32Array(w * h), B = new Float32Array(w * h);
  applyLinearModels(m, L, w, h, A, B);
  for (let i = 0; i < w * h; i++) {
    assert.ok(Math.abs(A[i]! - a[i]!) < 1e-2 && Math.abs(B[i]! - b[i]!) < 1e-2, `pixel ${i}: ${A[i]},${B[i]} vs ${a[i]},${b[i]}`);
  }
});

test('bilinear upsampling (A = 0) matches linear resampling with the same pixel-centre convention', () => {
  for (const [lw, lh, W, H] of [[7, 5, 50, 31], [1, 3, 9, 12], [2, 2, 333, 217]] as const) {
    const B = Float32Array.from({ length: lw * lh }, (_, i) => Math.cos(i * 1.7) * 40);
    const B2 = B.map((v) => v * 0.5);
    const outA = new Float32Array(W * H), outB = new Float32Array(W * H);
    applyLinearModels({ width: lw, height: lh, Aa: new Float32Array(0), Ba: B, Ab: new Float32Array(0), Bb: B2 }, null, W, H, outA, outB);
    const ref = resamplePlane(B, lw, lh, W, H);
    for (let i = 0; i < W * H; i++) {
      assert.ok(Math.abs(outA[i]! - ref[i]!) < 1e-3, `${lw}x${lh} -> ${W}x${H} at ${i}: ${outA[i]} vs ${ref[i]}`);
      assert.ok(Math.abs(outB[i]! - ref[i]! * 0.5) < 1e-3);
    }
  }
});

// Two colours that are exact bucket centres, on a sharp-edged image: a disc, a 4-px stripe, a box.
const C1 = { L: 45, a: 28, b: 14 };
const C2 = { L: 75, a: -28, b: 42 };

/**
 * A "perfect" model: from the network input it recovers, per output cell, the fraction f of
 * colour 1 (L is linear in it), and returns logits log f, log(1-f) on the two buckets. At
 * temperature 1 the annealed mean is then exactly the cell's true mean ab.
 */
function perfectModel(info: ModelInfo): ModelSession {
  const q = info.buckets.count;
  const i1 = nearestBucket(info.buckets, C1.a, C1.b), i2 = nearestBucket(info.buckets, C2.a, C2.b);
  return {
    provider: 'native',
    inputNames: ['L'],
    outputNames: ['logits'],
    async run(feeds: Record<string, TensorData>) {
      const t = feeds.L!;
      const [, , h, w] = t.dims as [number, number, number, number];
      const oh = h / 4, ow = w / 4, n = oh * ow;
      const out = new Float32Array(q * n).fill(-1e4);
      for (let y = 0; y < oh; y++) for (let x = 0; x < ow; x++) {
        let s = 0;
        for (let dy = 0; dy < 4; dy++) for (let dx = 0; dx < 4; dx++) s += t.data[(4 * y + dy) * w + 4 * x + dx]!;
        const L = (s / 16 - info.input.offset) / info.input.scale;
        const f = Math.min(1, Math.max(0, (L - C2.L) / (C1.L - C2.L)));
        out[i1 * n + y * ow + x] = Math.max(Math.log(f), -1e4);
        out[i2 * n + y * ow + x] = Math.max(Math.log(1 - f), -1e4);
      }
      return { logits: { data: out, dims: [1, q, oh, ow] } };
    },
    async release() {},
  };
}

test('guided upsampling beats bilinear near edges (perfect-model stub through the engine); writes test-artifacts/sdk-guided-vs-bilinear.png', async () => {
  const info = parseModelInfo(buildMetadata(testModelInfo({ temperature: 1 })));
  const engine = new Engine(perfectModel(info), info, 'perfect stub');
  const W = 600, H = 400, n = W * H;
  const mask = new Uint8Array(n);
  for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
    const disc = (x - 200) ** 2 + (y - 200) ** 2 < 110 ** 2;
    const stripe = Math.abs(x - 380 - 0.3 * (y - 200)) < 2;
    const box = x > 450 && x < 560 && y > 60 && y < 140;
    mask[y * W + x] = disc || stripe || box ? 1 : 0;
  }
  const L = new Float32Array(n), a = new Float32Array(n), b = new Float32Array(n);
  for (let i = 0; i < n; i++) { const c = mask[i] ? C1 : C2; L[i] = c.L; a[i] = c.a; b[i] = c.b; }
  const truth = labToRgba8(L, a, b);
  // Pixels within 2 px of an edge.
  const band = new Uint8Array(n);
  for (let y = 2; y < H - 2; y++) for (let x = 2; x < W - 2; x++) {
    let on = 0;
    for (let dy = -2; dy <= 2; dy++) for (let dx = -2; dx <= 2; dx++) on += mask[(y + dy) * W + x + dx]!;
    band[y * W + x] = on > 0 && on < 25 ? 1 : 0;
  }
  // Short side 96 -> a 36x24 ab grid: each ab cell covers about 17x17 output pixels.
  const params = { temperature: 1, saturation: 1, resolution: 96 } as const;
  const results: Record<string, { rgba: Uint8ClampedArray; band: number; flat: number }> = {};
  for (const upsample of ['bilinear', 'guided'] as const) {
    const out = await engine.colorize({ data: truth, width: W, height: H }, { ...params, upsample }, () => undefined);
    assert.equal(out.width, W);
    assert.equal(out.height, H);
    let eb = 0, nb = 0, ef = 0, nf = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.hypot(out.ab[i]! - a[i]!, out.ab[n + i]! - b[i]!);
      if (band[i]) { eb += e; nb++; } else { ef += e; nf++; }
    }
    results[upsample] = { rgba: out.rgba, band: eb / nb, flat: ef / nf };
  }
  const bil = results.bilinear!, gui = results.guided!;
  assert.ok(gui.band < bil.band / 3, `near edges: guided ${gui.band.toFixed(2)} vs bilinear ${bil.band.toFixed(2)} ab units`);
  assert.ok(gui.flat < bil.flat, `away from edges: guided ${gui.flat.toFixed(3)} vs bilinear ${bil.flat.toFixed(3)}`);
  // The output keeps the input's L (the original full-res L is recombined).
  const lab = rgba8ToLab(gui.rgba, W, H);
  let maxDL = 0;
  for (let i = 0; i < n; i++) maxDL = Math.max(maxDL, Math.abs(lab.L[i]! - L[i]!));
  assert.ok(maxDL < 1, `max |dL| ${maxDL}`);
  // Side by side: truth | bilinear | guided.
  const side = new Uint8ClampedArray(3 * n * 4);
  for (let y = 0; y < H; y++) {
    for (const [k, img] of [truth, bil.rgba, gui.rgba].entries()) {
      side.set(img.subarray(y * W * 4, (y + 1) * W * 4), (y * 3 * W + k * W) * 4);
    }
  }
  mkdirSync('test-artifacts', { recursive: true });
  await writeImage('test-artifacts/sdk-guided-vs-bilinear.png', { data: side, width: 3 * W, height: H });
});
