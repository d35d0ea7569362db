import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  rgba8ToLab, rgba8ToL, labToRgba8, srgbToLab, labToSrgb, createLabImage, fastCbrt, linearToSrgb8,
  srgbToLinear, linearToSrgb, srgbFloatToLab, labToSrgbFloat, LAB_EPSILON,
} from '../sdk/color/lab.ts';
import {
  seedBuckets, zhang313Buckets, getBuckets, gamutMargin, serializeBuckets, parseBuckets, bucketsFromCenters,
  nearestBucket, quantizeAb, SEED_GAMUT_MARGIN,
} from '../sdk/color/buckets.ts';
import { softEncode, softEncodeDense, accumulateBucketHistogram, bucketPrior, rebalanceWeights } from '../sdk/color/encode.ts';
import { annealedMean, applySaturation } from '../sdk/color/decode.ts';
import { renderPalette } from '../sdk/color/palette.ts';
import { isTintaError } from '../sdk/errors.ts';

/** Textbook double-precision sRGB8 -> Lab (D65), written independently of lab.ts. */
function referenceLab(r8: number, g8: number, b8: number): [number, number, number] {
  const lin = (c: number) => { const v = c / 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
  const R = lin(r8), G = lin(g8), B = lin(b8);
  const X = 0.4124564 * R + 0.3575761 * G + 0.1804375 * B;
  const Y = 0.2126729 * R + 0.7151522 * G + 0.072175 * B;
  const Z = 0.0193339 * R + 0.119192 * G + 0.9503041 * B;
  const f = (t: number) => (t > 216 / 24389 ? Math.cbrt(t) : (24389 / 27 * t + 16) / 116);
  const fx = f(X / 0.95047), fy = f(Y / 1.0), fz = f(Z / 1.08883);
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}

describe('sRGB <-> Lab', () => {
  test('every one of the 16,777,216 sRGB8 colours survives sRGB8 -> Lab(float32) -> sRGB8 exactly', () => {
    const n = 1 << 24;
    const rgba = new Uint8ClampedArray(n * 4);
    for (let i = 0; i < n; i++) {
      rgba[4 * i] = i >> 16; rgba[4 * i + 1] = (i >> 8) & 255; rgba[4 * i + 2] = i & 255; rgba[4 * i + 3] = 255;
    }
    const lab = rgba8ToLab(rgba, 4096, 4096);
    const back = labToRgba8(lab.L, lab.a, lab.b);
    let mismatches = 0;
    for (let i = 0; i < rgba.length; i++) if (back[i] !== rgba[i]) mismatches++;
    assert.equal(mismatches, 0);
  });

  test('published Lab values of reference colours are matched within 1e-3', () => {
    // Values from the CIE formulas with the IEC 61966-2-1 matrix and D65 (as tabulated by B. Lindbloom).
    const table: [number[], number[]][] = [
      [[255, 255, 255], [100, 0, 0]],
      [[0, 0, 0], [0, 0, 0]],
      [[255, 0, 0], [53.2408, 80.0925, 67.2032]],
      [[0, 255, 0], [87.7347, -86.1827, 83.1793]],
      [[0, 0, 255], [32.297, 79.1875, -107.8602]],
    ];
    for (const [rgb, want] of table) {
      const lab = rgba8ToLab(Uint8ClampedArray.from([...rgb, 255]), 1, 1);
      const got = [lab.L[0]!, lab.a[0]!, lab.b[0]!];
      for (let c = 0; c < 3; c++) assert.ok(Math.abs(got[c]! - want[c]!) < 1e-3, `${rgb} channel ${c}: ${got[c]} vs ${want[c]}`);
    }
  });

  test('the fast 8-bit path agrees with a double-precision reference within 1e-3 on a colour sweep', () => {
    let worst = 0;
    const px = new Uint8ClampedArray(4);
    for (let r = 0; r < 256; r += 5) for (let g = 0; g < 256; g += 7) for (let b = 0; b < 256; b += 3) {
      px[0] = r; px[1] = g; px[2] = b; px[3] = 255;
      const lab = rgba8ToLab(px, 1, 1);
      const ref = referenceLab(r, g, b);
      worst = Math.max(worst, Math.abs(lab.L[0]! - ref[0]), Math.abs(lab.a[0]! - ref[1]), Math.abs(lab.b[0]! - ref[2]));
      const dbl = srgbToLab(r / 255, g / 255, b / 255);
      worst = Math.max(worst, Math.abs(dbl[0] - ref[0]), Math.abs(dbl[1] - ref[1]), Math.abs(dbl[2] - ref[2]));
    }
    assert.ok(worst < 1e-3, `worst deviation ${worst}`);
  });

  test('the L-only path equals the L plane of the full conversion', () => {
    const n = 5000;
    const rgba = new Uint8ClampedArray(n * 4).map((_, i) => (i * 7919) % 256);
    const lab = rgba8ToLab(rgba, n, 1);
    const L = rgba8ToL(rgba, n, 1);
    assert.deepEqual(Array.from(L), Array.from(lab.L));
    const rgb = new Uint8Array(n * 3).map((_, i) => (i * 31) % 256);
    const lab3 = rgba8ToLab(rgb, n, 1, createLabImage(n, 1), 3);
    const ref = referenceLab(rgb[3]!, rgb[4]!, rgb[5]!);
    assert.ok(Math.abs(lab3.L[1]! - ref[0]) < 1e-3);
  });

  test('fastCbrt is within 3e-7 relative of Math.cbrt over (epsilon, 1.1]', () => {
    let worst = 0;
    for (let t = LAB_EPSILON * 1.000001; t <= 1.1; t += 1.3e-5) worst = Math.max(worst, Math.abs(fastCbrt(t) / Math.cbrt(t) - 1));
    assert.ok(worst < 3e-7, `worst relative error ${worst}`);
  });

  test('linear -> sRGB8 rounds exactly like round(255 * encode(v)), clamps, and maps NaN to 0', () => {
    for (let i = 0; i <= 200000; i++) {
      const v = i / 200000;
      assert.equal(linearToSrgb8(v), Math.round(255 * linearToSrgb(v)), `v=${v}`);
    }
    assert.equal(linearToSrgb8(-0.5), 0);
    assert.equal(linearToSrgb8(7), 255);
    assert.equal(linearToSrgb8(NaN), 0);
    const out = labToRgba8([50, 100, NaN], [300, 0, 0], [0, 0, 0]);
    assert.equal(out[0], 255); // a = 300 is far outside the gamut: red clips at 255, green at 0
    assert.equal(out[1], 0);
    assert.deepEqual(Array.from(out.subarray(4, 8)), [255, 255, 255, 255]);
    assert.deepEqual(Array.from(out.subarray(8, 12)), [0, 0, 0, 255]);
  });

  test('float sRGB <-> Lab round-trips within 1e-5 and agrees with the scalar functions', () => {
    const n = 1000;
    const rgb = new Float32Array(3 * n).map((_, i) => ((i * 0.6180339) % 1));
    const lab = srgbFloatToLab(rgb, n, 1);
    const back = labToSrgbFloat(lab);
    for (let i = 0; i < rgb.length; i++) assert.ok(Math.abs(back[i]! - rgb[i]!) < 1e-5);
    const s = srgbToLab(rgb[0]!, rgb[n]!, rgb[2 * n]!);
    assert.ok(Math.abs(s[0] - lab.L[0]!) < 1e-4);
    const [r] = labToSrgb(s[0], s[1], s[2]);
    assert.ok(Math.abs(r - rgb[0]!) < 1e-9);
    assert.ok(Math.abs(srgbToLinear(linearToSrgb(0.3)) - 0.3) < 1e-12);
  });
});

describe('ab buckets', () => {
  test('the seed scheme has exactly 112 buckets on the step-14 grid, and the rule is pinned by its margin', () => {
    const t = seedBuckets();
    assert.equal(t.count, 112);
    assert.equal(getBuckets().count, 112);
    for (const v of t.centers) assert.equal(Math.abs(v) % 14, 0);
    // The weakest in-gamut cell (-56, 0) reaches 1.06/255; the weakest kept one (56, 70) 2.67/255.
    assert.ok(Math.abs(gamutMargin(-56, 0) * 255 - 1.06) < 0.02);
    assert.ok(Math.abs(gamutMargin(56, 70) * 255 - 2.67) < 0.02);
    assert.equal(seedBuckets(0).count, 113);
    assert.equal(seedBuckets(1.2 / 255).count, 112);
    assert.equal(seedBuckets(2.6 / 255).count, 112);
    assert.equal(SEED_GAMUT_MARGIN, 2 / 255);
    assert.equal(nearestBucket(t, 0, 0), quantizeAb(t, [1], [-2])[0]);
  });

  test('zhang313 has 313 grid-10 buckets covering every sRGB colour within half a cell diagonal', () => {
    const t = zhang313Buckets();
    assert.equal(t.count, 313);
    assert.equal(getBuckets('zhang313').count, 313);
    for (const v of t.centers) assert.equal(Math.abs(v) % 10, 0);
    let worst = 0;
    for (let r = 0; r < 256; r += 15) for (let g = 0; g < 256; g += 15) for (let b = 0; b < 256; b += 15) {
      const [, a, bb] = srgbToLab(r / 255, g / 255, b / 255);
      const q = nearestBucket(t, a, bb);
      worst = Math.max(worst, Math.hypot(t.centers[2 * q]! - a, t.centers[2 * q + 1]! - bb));
    }
    assert.ok(worst <= 5 * Math.SQRT2 + 1e-9, `farthest colour ${worst} from its bucket`);
  });

  test('bucket tables round-trip through their metadata JSON; malformed tables are typed errors', () => {
    const t = seedBuckets();
    const back = parseBuckets(serializeBuckets(t));
    assert.equal(back.count, 112);
    assert.deepEqual(Array.from(back.centers), Array.from(t.centers));
    assert.equal(back.name, 'seed');
    for (const bad of ['{', '{"centers":[1,2,3]}', '{"centers":"x"}', '{"centers":[1,2,null,4]}']) {
      assert.throws(() => parseBuckets(bad), (e) => isTintaError(e, 'BAD_ARGUMENT'));
    }
    assert.throws(() => getBuckets('nope' as never), (e) => isTintaError(e, 'BAD_ARGUMENT'));
    assert.equal(bucketsFromCenters([0, 0, 10, 0]).count, 2);
  });
});

describe('soft-encoding, prior and rebalancing', () => {
  const t = seedBuckets();

  test('soft-encoding picks the k nearest buckets, nearest first, with Gaussian weights summing to 1', () => {
    const a = [0, 7, 30.5, -100, 200], b = [0, 0, -12, 50, 200];
    const s = softEncode(t, a, b, { k: 5, sigma: 5 });
    for (let i = 0; i < a.length; i++) {
      let sum = 0;
      for (let j = 0; j < 5; j++) sum += s.weight[i * 5 + j]!;
      assert.ok(Math.abs(sum - 1) < 1e-6, `pixel ${i} weights sum to ${sum}`);
      for (let j = 1; j < 5; j++) assert.ok(s.weight[i * 5 + j]! <= s.weight[i * 5 + j - 1]! + 1e-7);
      assert.equal(s.index[i * 5], nearestBucket(t, a[i]!, b[i]!));
    }
    // At a bucket centre, the neighbours 14 away weigh exp(-196/50) relative to the centre.
    const w = Array.from(s.weight.subarray(0, 5));
    assert.ok(Math.abs(w[1]! / w[0]! - Math.exp(-196 / 50)) < 1e-6);
    // Halfway between two centres, both weigh the same.
    assert.ok(Math.abs(s.weight[5]! - s.weight[6]!) < 1e-6);
    // Far outside the gamut the weights are still finite.
    for (const v of s.weight.subarray(20)) assert.ok(Number.isFinite(v));
    const dense = softEncodeDense(t, a, b);
    assert.equal(dense.length, 5 * 112);
    assert.ok(Math.abs(dense.subarray(0, 112).reduce((x, y) => x + y, 0) - 1) < 1e-6);
    assert.throws(() => softEncode(t, a, b, { k: 0 }), (e) => isTintaError(e, 'BAD_ARGUMENT'));
  });

  test('the prior sums to 1 and rebalancing weights have expected value 1 under it', () => {
    const n = 4000;
    const a = new Float32Array(n), b = new Float32Array(n);
    for (let i = 0; i < n; i++) { a[i] = i % 10 === 0 ? 60 : 8 + (i % 5); b[i] = i % 10 === 0 ? -40 : 20; }
    const hist = accumulateBucketHistogram(t, a, b);
    assert.equal(hist.reduce((x, y) => x + y, 0), n);
    accumulateBucketHistogram(t, a, b, hist, { soft: true });
    const prior = bucketPrior(t, hist, { smoothSigma: 5 });
    assert.ok(Math.abs(prior.reduce((x, y) => x + y, 0) - 1) < 1e-5);
    for (const lambda of [0.5, 0.1, 1]) {
      const w = rebalanceWeights(prior, lambda);
      let e = 0;
      for (let q = 0; q < t.count; q++) e += prior[q]! * w[q]!;
      assert.ok(Math.abs(e - 1) < 1e-5, `lambda ${lambda}: E[w] = ${e}`);
    }
    // Rare buckets weigh more than common ones.
    const w = rebalanceWeights(prior);
    const common = nearestBucket(t, 10, 20), rare = nearestBucket(t, 60, -40), unseen = nearestBucket(t, -80, 80);
    assert.ok(w[common]! < w[rare]! && w[rare]! < w[unseen]!);
    // A uniform prior gives weight 1 everywhere; lambda = 1 too.
    for (const v of rebalanceWeights(new Float32Array(112).fill(1 / 112))) assert.ok(Math.abs(v - 1) < 1e-5);
    for (const v of rebalanceWeights(prior, 1)) assert.ok(Math.abs(v - 1) < 1e-5);
    assert.deepEqual(Array.from(bucketPrior(t, new Float64Array(112))), new Array(112).fill(Math.fround(1 / 112)));
    assert.throws(() => rebalanceWeights(prior, 2), (e) => isTintaError(e, 'BAD_ARGUMENT'));
  });
});

describe('annealed-mean decoding', () => {
  const t = seedBuckets();
  const q = t.count;
  const pixels = 3;
  // Pixel-major logits with a clear mode per pixel.
  const logits = new Float32Array(pixels * q);
  for (let i = 0; i < pixels; i++) for (let j = 0; j < q; j++) logits[i * q + j] = Math.sin(i * 13 + j * 0.7) + (j === 20 + i ? 3 : 0);
  const softmax = (row: Float32Array) => { const m = Math.max(...row); const e = row.map((v) => Math.exp(v - m)); const s = e.reduce((x, y) => x + y, 0); return e.map((v) => v / s); };

  test('T = 1 is the plain mean of the distribution, for logits and probabilities', () => {
    const r = annealedMean(logits, t, { pixels, layout: 'hwc', kind: 'logits' }, 1);
    const probs = new Float32Array(pixels * q);
    for (let i = 0; i < pixels; i++) {
      const p = softmax(logits.subarray(i * q, (i + 1) * q));
      probs.set(p, i * q);
      let ma = 0, mb = 0;
      for (let j = 0; j < q; j++) { ma += p[j]! * t.centers[2 * j]!; mb += p[j]! * t.centers[2 * j + 1]!; }
      assert.ok(Math.abs(r.a[i]! - ma) < 1e-3 && Math.abs(r.b[i]! - mb) < 1e-3);
    }
    const rp = annealedMean(probs, t, { pixels, layout: 'hwc', kind: 'probs' }, 1);
    for (let i = 0; i < pixels; i++) assert.ok(Math.abs(rp.a[i]! - r.a[i]!) < 1e-3);
  });

  test('a very small T gives the mode, and T = 0 the exact mode', () => {
    for (const T of [0, 1e-3]) {
      const r = annealedMean(logits, t, { pixels, layout: 'hwc', kind: 'logits' }, T);
      for (let i = 0; i < pixels; i++) {
        assert.ok(Math.abs(r.a[i]! - t.centers[2 * (20 + i)]!) < 1e-3);
        assert.ok(Math.abs(r.b[i]! - t.centers[2 * (20 + i) + 1]!) < 1e-3);
      }
    }
  });

  test('bucket-major (ONNX NCHW) and pixel-major (tfjs NHWC) layouts decode identically', () => {
    const chw = new Float32Array(pixels * q);
    for (let i = 0; i < pixels; i++) for (let j = 0; j < q; j++) chw[j * pixels + i] = logits[i * q + j]!;
    for (const T of [0.38, 0]) {
      const x = annealedMean(logits, t, { pixels, layout: 'hwc', kind: 'logits' }, T);
      const y = annealedMean(chw, t, { pixels, layout: 'chw', kind: 'logits' }, T);
      for (let i = 0; i < pixels; i++) assert.ok(Math.abs(x.a[i]! - y.a[i]!) < 1e-4 && Math.abs(x.b[i]! - y.b[i]!) < 1e-4);
    }
    assert.throws(() => annealedMean(logits.subarray(1), t, { pixels, layout: 'hwc', kind: 'logits' }), (e) => isTintaError(e, 'BAD_ARGUMENT'));
    assert.throws(() => annealedMean(logits, t, { pixels, layout: 'hwc', kind: 'logits' }, -1), (e) => isTintaError(e, 'BAD_ARGUMENT'));
  });

  test('saturation scales chroma', () => {
    const ab = { a: Float32Array.of(10, -4), b: Float32Array.of(2, 8) };
    applySaturation(ab, 0.5);
    assert.deepEqual(Array.from(ab.a), [5, -2]);
    assert.deepEqual(Array.from(ab.b), [1, 4]);
  });
});

describe('palette rendering', () => {
  test('each bucket is drawn at its ab cell in its colour; zero-weight buckets are empty', () => {
    const t = seedBuckets();
    const img = renderPalette(t, { L: 60, cell: 8, gap: 1 });
    // a spans -84..112? take the table's own extent
    let amin = Infinity, bmax = -Infinity;
    for (let q = 0; q < t.count; q++) { amin = Math.min(amin, t.centers[2 * q]!); bmax = Math.max(bmax, t.centers[2 * q + 1]!); }
    assert.equal(img.data.length, img.width * img.height * 4);
    const q0 = nearestBucket(t, 42, -28);
    const col = (t.centers[2 * q0]! - amin) / 14, row = (bmax - t.centers[2 * q0 + 1]!) / 14;
    const p = 4 * ((1 + row * 9 + 3) * img.width + (1 + col * 9 + 3));
    const want = labToRgba8([60], [t.centers[2 * q0]!], [t.centers[2 * q0 + 1]!]);
    assert.deepEqual(Array.from(img.data.subarray(p, p + 4)), Array.from(want));
    const weights = new Float32Array(t.count);
    weights[q0] = 1;
    const sparse = renderPalette(t, { L: 60, cell: 8, weights });
    assert.deepEqual(Array.from(sparse.data.subarray(p, p + 4)), Array.from(want));
    const q1 = nearestBucket(t, 0, 0);
    const c1 = (0 - amin) / 14, r1 = bmax / 14;
    const p1 = 4 * ((1 + r1 * 9 + 3) * img.width + (1 + c1 * 9 + 3));
    assert.equal(q1 >= 0, true);
    assert.deepEqual(Array.from(sparse.data.subarray(p1, p1 + 3)), [225, 225, 225]);
  });
});
