import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GraphBuilder, DataType, encodeModel } from '../converters/onnx/model.ts';
import { buildTestModel } from './sdk-fixtures.ts';
import { writeImage } from '../sdk/image/node.ts';
import { getBuckets, labToRgba8, quantizeAb, rgba8ToLab } from '../sdk/color/index.ts';
import { labelOf, loadClassifier, loadLabels } from '../eval/classifier.ts';
import { evaluate, METHODS, type EvalResult } from '../eval/evaluate.ts';
import { loadEvalImage, spreadIndices } from '../eval/images.ts';
import { AbErrorHistogram, colorfulness, inverseFrequencyWeights, psnrCapped, type Rgba8 } from '../eval/metrics.ts';
import { formatSummaryTable, writeEvalReport } from '../eval/report.ts';

const dir = mkdtempSync(join(tmpdir(), 'tinta-eval-'));
const photos = join(dir, 'photos');
const modelPath = join(dir, 'model.onnx');
const classifierPath = join(dir, 'classifier.onnx');
const labelsPath = join(dir, 'labels.json');

/**
 * A tiny "ImageNet classifier": GlobalAveragePool + Gemm on [N,3,224,224] -> [N,1000]. The score of
 * class c (c = 0, 1, 2) is the mean of normalised channel c, every other class scores -100: a
 * red photo is class 0, green 1, blue 2. Any gray photo is class 2 (with ImageNet's mean and std the
 * normalised blue channel of a gray pixel is always the largest).
 */
function buildColourClassifier(): Uint8Array {
  const g = new GraphBuilder({ name: 'colour-classifier' });
  g.addInput('image', DataType.FLOAT, ['N', 3, 224, 224]);
  const w = new Float32Array(3 * 1000);
  for (let c = 0; c < 3; c++) w[c * 1000 + c] = 1;
  const b = new Float32Array(1000).fill(-100);
  b[0] = b[1] = b[2] = 0;
  g.addInitializer('fc.w', w, [3, 1000]);
  g.addInitializer('fc.b', b, [1000]);
  g.addNode({ opType: 'GlobalAveragePool', inputs: ['image'], outputs: ['pooled'] });
  g.addNode({ opType: 'Flatten', inputs: ['pooled'], outputs: ['flat'], attrs: { axis: 1 } });
  g.addNode({ opType: 'Gemm', inputs: ['flat', 'fc.w', 'fc.b'], outputs: ['scores'] });
  g.addOutput('scores', DataType.FLOAT, ['N', 1000]);
  return encodeModel({ graph: g, producer: 'tinta-test' });
}

/** A photo dominated by channel `dominant` (0 red, 1 green, 2 blue): gradients, a disc and noise. */
function dominantPhoto(width: number, height: number, dominant: number, seed: number): Rgba8 {
  const data = new Uint8ClampedArray(width * height * 4);
  let s = seed;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const noise = (s >>> 28) - 8;
      const disc = (x - width / 2) ** 2 + (y - height / 2) ** 2 < (Math.min(width, height) / 4) ** 2;
      const base = 20 + (60 * x) / width + noise + (disc ? 40 : 0);
      const p = 4 * (y * width + x);
      for (let c = 0; c < 3; c++) data[p + c] = base + (c === dominant ? 130 + (40 * y) / height : 0);
      data[p + 3] = 255;
    }
  }
  return { data, width, height };
}

const PHOTOS = [
  { name: 'red.png', w: 80, h: 60, dominant: 0 },                  // labelled by file name; downscaled to 64x48
  { name: 'sub/green.png', w: 48, h: 40, dominant: 1 },             // labelled by name without extension
  { name: 'sub/n01440764_blue.png', w: 40, h: 48, dominant: 2 },    // labelled by its synset prefix
] as const;
const SIZE = 64;

before(async () => {
  writeFileSync(modelPath, buildTestModel());
  writeFileSync(classifierPath, buildColourClassifier());
  writeFileSync(labelsPath, JSON.stringify({ 'red.png': 0, green: 1, n01440764: 2 }));
  mkdirSync(join(photos, 'sub'), { recursive: true });
  for (const [i, p] of PHOTOS.entries()) {
    const img = dominantPhoto(p.w, p.h, p.dominant, i + 1);
    await writeImage(join(photos, p.name), { data: img.data as Uint8ClampedArray, width: img.width, height: img.height });
  }
  writeFileSync(join(photos, 'broken.jpg'), 'not a jpeg');
});

describe('classifier (semantic interpretability test)', () => {
  test('top-1 of a tiny GlobalAveragePool + Gemm classifier follows the dominant colour; gray goes to class 2', async () => {
    const c = await loadClassifier(classifierPath, { threads: 1 });
    try {
      const solid = (r: number, g: number, b: number): Rgba8 => {
        const data = new Uint8ClampedArray(30 * 20 * 4);
        for (let i = 0; i < 600; i++) data.set([r, g, b, 255], 4 * i);
        return { data, width: 30, height: 20 };
      };
      assert.deepEqual(await c.top1([solid(255, 0, 0), solid(0, 255, 0), solid(0, 0, 255)]), [0, 1, 2]);
      assert.deepEqual(await c.top1([solid(0, 0, 0), solid(128, 128, 128), solid(255, 255, 255)]), [2, 2, 2]);
      // Photos with structure (gradients, a disc, noise) are classified by their dominant channel too.
      assert.deepEqual(await c.top1([dominantPhoto(50, 40, 0, 1), dominantPhoto(50, 40, 1, 2)]), [0, 1]);
    } finally {
      await c.dispose();
    }
  });

  test('labels: by file name, name without extension, synset prefix or folder; bad files are BAD_ARGUMENT', async () => {
    const labels = await loadLabels({ 'a.JPEG': 1, b: 2, n01440764: 3, n02085620: 4 });
    assert.equal(labelOf(labels, '/x/a.JPEG'), 1);
    assert.equal(labelOf(labels, '/x/b.png'), 2);
    assert.equal(labelOf(labels, '/x/n01440764_tench.JPEG'), 3);
    assert.equal(labelOf(labels, '/val/n02085620/ILSVRC2012_val_00000001.JPEG'), 4);
    assert.equal(labelOf(labels, '/x/c.png'), undefined);
    await assert.rejects(loadLabels({ a: 1.5 }), { code: 'BAD_ARGUMENT' });
    const bad = join(dir, 'bad-labels.json');
    writeFileSync(bad, '{nope');
    await assert.rejects(loadLabels(bad), { code: 'BAD_ARGUMENT' });
  });
});

test('spreadIndices spreads a limit over the whole list', () => {
  assert.deepEqual(spreadIndices(10, 3), [0, 3, 6]);
  assert.deepEqual(spreadIndices(2, 5), [0, 1]);
});

describe('evaluate() end to end', () => {
  let r: EvalResult;
  before(async () => {
    r = await evaluate({
      model: modelPath, dirs: [photos], classifier: classifierPath, labels: labelsPath, size: SIZE, samples: 24, threads: 1, backend: 'native',
    });
  });

  test('every photo is evaluated at its own size, downscaled to a long side <= size; an undecodable file is skipped', () => {
    assert.equal(r.summary.images.evaluated, 3);
    assert.equal(r.summary.images.skipped, 1);
    assert.match(r.skipped[0]!.file, /broken\.jpg$/);
    const sizes = Object.fromEntries(r.images.map((im) => [im.file.split('/').pop(), [im.width, im.height]]));
    assert.deepEqual(sizes, { 'red.png': [64, 48], 'green.png': [48, 40], 'n01440764_blue.png': [40, 48] });
    assert.equal(r.summary.settings.size, SIZE);
  });

  test('the baselines score exactly what an independent computation gives', async () => {
    const buckets = getBuckets('zhang313');
    const gts = await Promise.all(r.images.map((im) => loadEvalImage(im.file, SIZE)));
    const labs = gts.map((g) => rgba8ToLab(g.data, g.width, g.height));
    // The data set's mean ab (pixel-weighted) and ground-truth bucket counts.
    let sa = 0, sb = 0, n = 0;
    const counts = new Float64Array(buckets.count);
    for (const lab of labs) {
      for (let i = 0; i < lab.a.length; i++) { sa += lab.a[i]!; sb += lab.b[i]!; }
      n += lab.a.length;
      for (const q of quantizeAb(buckets, lab.a, lab.b)) counts[q]!++;
    }
    assert.ok(Math.abs(r.summary.settings.meanAb[0] - sa / n) < 1e-9);
    assert.ok(Math.abs(r.summary.settings.meanAb[1] - sb / n) < 1e-9);
    const w = inverseFrequencyWeights(counts);
    const plain = new AbErrorHistogram(), rebal = new AbErrorHistogram();
    gts.forEach((gt, k) => {
      const lab = labs[k]!;
      const px = gt.width * gt.height;
      const zeros = new Float32Array(px);
      const gray: Rgba8 = { data: labToRgba8(lab.L, zeros, zeros), width: gt.width, height: gt.height };
      const im = r.images[k]!;
      assert.equal(im.methods.grayscale.psnr, psnrCapped(gt, gray));
      assert.equal(im.methods.grayscale.colorfulness, 0);
      assert.ok(Math.abs(im.groundTruth.colorfulness - colorfulness(gt)) < 1e-9);
      const gl = rgba8ToLab(gray.data, gray.width, gray.height);
      const q = quantizeAb(buckets, lab.a, lab.b);
      plain.add(gl.a, gl.b, lab.a, lab.b);
      rebal.add(gl.a, gl.b, lab.a, lab.b, Float32Array.from(q, (x) => w[x]!));
    });
    const g = r.summary.methods.grayscale;
    assert.ok(Math.abs(g.auc - plain.auc()) < 1e-12);
    assert.ok(Math.abs(g.aucRebalanced - rebal.auc()) < 1e-9);
    assert.ok(g.aucRebalanced < g.auc, 'gray is right on the common low-chroma pixels, so rebalancing lowers its AuC');
    assert.equal(g.colorfulness, 0);
    assert.equal(g.colorfulnessRatio, 0);
    assert.ok(Math.abs(g.colorfulnessDiff + r.summary.groundTruth.colorfulness) < 1e-9);
    assert.ok(Math.abs(g.psnrMean - r.images.reduce((s, im) => s + im.methods.grayscale.psnr, 0) / 3) < 1e-9);
  });

  test('the model colorizes (test model: green and warm buckets) and every metric is in range', () => {
    const m = r.summary.methods.model;
    assert.ok(m.colorfulness > 1, `model colourfulness ${m.colorfulness}`);
    for (const k of METHODS) {
      const x = r.summary.methods[k];
      assert.ok(x.auc > 0 && x.auc <= 1 && x.aucRebalanced > 0 && x.aucRebalanced <= 1, k);
      assert.ok(x.psnrMean > 5 && x.psnrMean <= 100, `${k} PSNR ${x.psnrMean}`);
    }
    assert.ok(r.summary.methods['mean-colour'].colorfulness > 0);
    assert.equal(r.summary.model.temperature, 0.38);
  });

  test('top-1: originals 3/3, grayscale 1/3 (only the blue photo), model consistent with its per-image predictions', () => {
    assert.equal(r.summary.images.labelled, 3);
    assert.equal(r.summary.groundTruth.top1, 1);
    assert.equal(r.summary.methods.grayscale.top1, 1 / 3);
    const modelCorrect = r.images.filter((im) => im.methods.model.predicted === im.label).length;
    assert.equal(r.summary.methods.model.top1, modelCorrect / 3);
    assert.deepEqual(r.images.map((im) => im.label), [0, 1, 2]);
  });

  test("labels 'original': each photo's label is the classifier's top-1 on its original (no labels file)", async () => {
    const p = await evaluate({ model: modelPath, dirs: [photos], classifier: classifierPath, labels: 'original', size: SIZE, threads: 1, backend: 'native' });
    assert.equal(p.summary.settings.labels, 'original');
    assert.equal(r.summary.settings.labels, 'file');
    assert.equal(p.summary.images.labelled, 3);
    // The originals are red, green and blue dominated: the classifier says 0, 1, 2 — the file labels.
    assert.deepEqual(p.images.map((im) => im.label), [0, 1, 2]);
    assert.equal(p.summary.groundTruth.top1, 1);
    assert.equal(p.summary.methods.grayscale.top1, 1 / 3);
    assert.equal(p.summary.methods.model.top1, r.summary.methods.model.top1);
  });

  test('writes summary.json, per-image.csv and a self-contained report.html with its images; prints a table', async () => {
    const out = join(dir, 'out');
    const files = await writeEvalReport(r, out);
    const summary = JSON.parse(readFileSync(files.summary, 'utf8'));
    assert.deepEqual(Object.keys(summary.methods), ['model', 'grayscale', 'mean-colour']);
    for (const k of ['psnrMean', 'auc', 'aucRebalanced', 'colorfulness', 'colorfulnessRatio', 'colorfulnessDiff', 'colorfulnessAbsDiff', 'top1']) {
      assert.equal(typeof summary.methods.model[k], 'number', k);
    }
    assert.equal(summary.skipped.length, 1);
    const csv = readFileSync(files.csv, 'utf8').trim().split('\n');
    assert.equal(csv.length, 4);
    assert.match(csv[0]!, /^file,width,height,label,gt_colorfulness,gt_predicted,model_psnr,model_auc,model_auc_rebalanced/);
    assert.match(csv.find((l) => l.includes('red.png'))!, /red\.png,64,48,0,/);
    assert.match(csv[0]!, /,mean_colour_psnr,mean_colour_auc,mean_colour_auc_rebalanced,mean_colour_colorfulness,mean_colour_predicted$/);
    const html = readFileSync(files.html, 'utf8');
    assert.equal(files.images.length, 9);
    const srcs = [...html.matchAll(/<img src="([^"]+)"/g)].map((m) => m[1]!);
    assert.equal(srcs.length, 9);
    for (const s of srcs) {
      assert.ok(s.startsWith('images/'), s);
      assert.ok(existsSync(join(out, decodeURIComponent(s))), s);
    }
    assert.doesNotMatch(html, /<link|<script|https?:\/\//);
    assert.match(html, /<style>/);
    const table = formatSummaryTable(r.summary);
    assert.match(table, /^method\s+PSNR dB\s+AuC\s+AuC rebal\./);
    for (const k of [...METHODS, 'ground truth']) assert.match(table, new RegExp(`^${k}\\s`, 'm'));
  });

  test('classifier without labels, a bad size and an empty folder are refused', async () => {
    await assert.rejects(evaluate({ model: modelPath, dirs: [photos], classifier: classifierPath }), { code: 'BAD_ARGUMENT' });
    await assert.rejects(evaluate({ model: modelPath, dirs: [photos], size: -1 }), { code: 'BAD_ARGUMENT' });
    const empty = join(dir, 'empty');
    mkdirSync(empty, { recursive: true });
    await assert.rejects(evaluate({ model: modelPath, dirs: [empty] }), { code: 'NO_TRAINING_DATA' });
  });
});
