import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import {
  abAuc, colorfulness, inverseFrequencyWeights, median, psnr, psnrCapped, rebalancedAbAuc, rgbMse, PSNR_CAP_DB, type Rgba8,
} from '../eval/metrics.ts';
import { getBuckets, labToRgba8, rgba8ToLab, quantizeAb } from '../sdk/color/index.ts';

/** An RGBA8 image from a list of [r, g, b] pixels (one row). */
function pixels(list: readonly (readonly [number, number, number])[]): Rgba8 {
  const data = new Uint8ClampedArray(list.length * 4);
  list.forEach(([r, g, b], i) => data.set([r, g, b, 255], 4 * i));
  return { data, width: list.length, height: 1 };
}

function fill(n: number, v: number): Float32Array {
  return new Float32Array(n).fill(v);
}

describe('PSNR', () => {
  test('identical images: MSE 0, PSNR Infinity, capped at PSNR_CAP_DB (100 dB) for reports', () => {
    const x = pixels([[10, 20, 30], [200, 100, 0]]);
    assert.equal(rgbMse(x, x), 0);
    assert.equal(psnr(x, x), Infinity);
    assert.equal(PSNR_CAP_DB, 100);
    assert.equal(psnrCapped(x, x), 100);
  });

  test('a constant difference d in every channel gives 20 log10(255 / d); alpha is ignored', () => {
    const x = pixels([[10, 20, 30], [200, 100, 50]]);
    const y = pixels([[15, 25, 35], [195, 95, 45]]);
    y.data[3] = 0; // a different alpha must not count
    assert.equal(rgbMse(x, y), 25);
    assert.ok(Math.abs(psnr(x, y) - 20 * Math.log10(255 / 5)) < 1e-12);
    // One channel of one pixel off by 255, out of 2 pixels x 3 channels: MSE = 255² / 6, PSNR = 10 log10(6).
    const z = pixels([[0, 0, 0], [0, 0, 0]]);
    const w = pixels([[0, 0, 0], [0, 255, 0]]);
    assert.ok(Math.abs(psnr(z, w) - 10 * Math.log10(6)) < 1e-12);
  });

  test('images of different sizes are refused', () => {
    assert.throws(() => psnr(pixels([[0, 0, 0]]), pixels([[0, 0, 0], [0, 0, 0]])), { code: 'BAD_ARGUMENT' });
  });
});

describe('AuC of the ab error (thresholds 0..150)', () => {
  test('a perfect prediction has AuC 1', () => {
    const a = Float32Array.from([0, 10, -30, 55]), b = Float32Array.from([0, -20, 40, 5]);
    assert.equal(abAuc(a, b, a, b), 1);
  });

  test('ab = 0 against a uniform colour with |ab| = 50: the fraction is 1 from t = 50 on, AuC = 101/151', () => {
    const n = 16;
    assert.equal(abAuc(fill(n, 0), fill(n, 0), fill(n, 30), fill(n, 40)), 101 / 151);
  });

  test('ab = 0 against a real uniformly coloured 8-bit image: AuC = (151 - ceil(|ab|)) / 151 of its measured ab', () => {
    const n = 8 * 8;
    const rgba = labToRgba8(fill(n, 60), fill(n, 30), fill(n, 40));
    const lab = rgba8ToLab(rgba, 8, 8);
    const e = Math.hypot(lab.a[0]!, lab.b[0]!);
    assert.ok(Math.abs(e - 50) < 1.5, `|ab| = ${e}`);
    assert.equal(abAuc(fill(n, 0), fill(n, 0), lab.a, lab.b), (151 - Math.ceil(e)) / 151);
  });

  test('a constant ab shift of (3, 4) is an error of 5 everywhere: AuC = 146/151; a shift of (1, 1) (error sqrt 2) gives 149/151', () => {
    const ta = Float32Array.from({ length: 50 }, (_, i) => i * 2 - 50), tb = Float32Array.from({ length: 50 }, (_, i) => 30 - i);
    const shift = (v: Float32Array, d: number) => v.map((x) => x + d);
    assert.ok(Math.abs(abAuc(shift(ta, 3), shift(tb, 4), ta, tb) - 146 / 151) < 1e-12);
    assert.ok(Math.abs(abAuc(shift(ta, 1), shift(tb, 1), ta, tb) - 149 / 151) < 1e-12);
  });

  test('class-rebalanced AuC weighs the rare colour up: gray prediction on 90% gray + 10% colourful pixels', () => {
    for (const scheme of ['seed', 'zhang313'] as const) {
      const buckets = getBuckets(scheme);
      const n = 100, rare = 10;
      const ta = new Float32Array(n), tb = new Float32Array(n);
      for (let i = 0; i < rare; i++) { ta[i] = 40; tb[i] = 40; } // error hypot(40, 40) = 56.6 -> counted from t = 57
      const pa = fill(n, 0), pb = fill(n, 0);
      const colourPart = (151 - 57) / 151;
      const plain = abAuc(pa, pb, ta, tb);
      const rebalanced = rebalancedAbAuc(buckets, pa, pb, ta, tb);
      assert.ok(Math.abs(plain - (0.9 + 0.1 * colourPart)) < 1e-12, `${scheme} plain ${plain}`);
      // Two buckets, each weighted by 1 / its frequency: they count equally.
      assert.ok(Math.abs(rebalanced - (0.5 + 0.5 * colourPart)) < 1e-7, `${scheme} rebalanced ${rebalanced}`);
      assert.ok(rebalanced < plain);
      // And the other way round: a prediction right on the rare colour and wrong on the common one gains.
      const good = rebalancedAbAuc(buckets, ta.map(() => 40), tb.map(() => 40), ta, tb);
      assert.ok(good > abAuc(ta.map(() => 40), tb.map(() => 40), ta, tb));
    }
  });

  test('inverse-frequency weights: total / count for occupied buckets, 0 for empty ones', () => {
    assert.deepEqual(Array.from(inverseFrequencyWeights([2, 0, 6])), [4, 0, 8 / 6]);
    assert.deepEqual(Array.from(inverseFrequencyWeights([0, 0])), [0, 0]);
    assert.throws(() => inverseFrequencyWeights([1, -1]), { code: 'BAD_ARGUMENT' });
    // With the data set's histogram given, the weights come from it, not from the image.
    const buckets = getBuckets('seed');
    const ta = Float32Array.from([0, 40]), tb = Float32Array.from([0, 40]);
    const q = quantizeAb(buckets, ta, tb);
    const hist = new Float64Array(buckets.count);
    hist[q[0]!] = 1; hist[q[1]!] = 3; // the colourful bucket is 3x as common in the set
    const auc = rebalancedAbAuc(buckets, fill(2, 0), fill(2, 0), ta, tb, hist);
    // weights 4 (gray) and 4/3 (colour): (4 * 1 + 4/3 * 94/151) / (16/3)
    assert.ok(Math.abs(auc - (4 + (4 / 3) * (94 / 151)) / (16 / 3)) < 1e-7);
  });
});

describe('colourfulness (Hasler & Süsstrunk 2003)', () => {
  test('any gray image has colourfulness 0', () => {
    assert.equal(colorfulness(pixels([[0, 0, 0], [128, 128, 128], [255, 255, 255], [37, 37, 37]])), 0);
  });

  test('two red and two blue pixels: rg = (255, 0), yb = (127.5, -255)', () => {
    const c = colorfulness(pixels([[255, 0, 0], [0, 0, 255], [255, 0, 0], [0, 0, 255]]));
    // mean rg 127.5, sd rg 127.5; mean yb -63.75, sd yb 191.25
    const expected = Math.sqrt(127.5 ** 2 + 191.25 ** 2) + 0.3 * Math.sqrt(127.5 ** 2 + 63.75 ** 2);
    assert.ok(Math.abs(c - expected) < 1e-9, `${c} vs ${expected}`);
    assert.ok(Math.abs(c - 272.6187) < 1e-3);
  });

  test('a uniform colour has only the mean term: 0.3 |(rg, yb)|', () => {
    const c = colorfulness(pixels([[200, 100, 50], [200, 100, 50]]));
    assert.ok(Math.abs(c - 0.3 * Math.hypot(100, 100)) < 1e-9);
  });
});

test('median of odd and even lists', () => {
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
});
