import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, basename } from 'node:path';
import sharp from 'sharp';
import { kmeans, seededRandom } from '../eval/kmeans.ts';
import { analyze, topBuckets, writeAnalysis, type Analysis } from '../eval/analyze.ts';
import { labToRgba8, nearestBucket, getBuckets } from '../sdk/color/index.ts';
import { writeImage } from '../sdk/image/node.ts';

const dir = mkdtempSync(join(tmpdir(), 'tinta-analyze-'));
const photos = join(dir, 'photos');

/** Three colour families by their mean ab: reddish, bluish, greenish. */
const FAMILIES = { red: [45, 30], blue: [10, -45], green: [-40, 35] } as const;

/**
 * A 32x24 photo of one colour family: L from a gradient, ab scattered around the family's colour,
 * and a neutral gray background over a varying share of the picture (as real photos have).
 */
function familyPhoto(ab: readonly [number, number], seed: number): { data: Uint8ClampedArray; width: number; height: number } {
  const width = 32, height = 24, n = width * height;
  const rnd = seededRandom(seed);
  const L = new Float32Array(n), a = new Float32Array(n), b = new Float32Array(n);
  const grayShare = 0.1 + 0.3 * rnd();
  for (let i = 0; i < n; i++) {
    const x = i % width;
    L[i] = 35 + (40 * x) / width + 5 * rnd();
    if (rnd() < grayShare) continue;
    a[i] = ab[0] + 12 * (rnd() - 0.5);
    b[i] = ab[1] + 12 * (rnd() - 0.5);
  }
  return { data: labToRgba8(L, a, b), width, height };
}

before(async () => {
  mkdirSync(photos, { recursive: true });
  let seed = 1;
  for (const [name, ab] of Object.entries(FAMILIES)) {
    for (let i = 0; i < 4; i++) await writeImage(join(photos, `${name}-${i}.png`), familyPhoto(ab, seed++));
  }
});

describe('k-means with k-means++ init', () => {
  const blobs = (): number[][] => {
    const rnd = seededRandom(9);
    const centres = [[0, 0], [10, 0], [0, 10]];
    const pts: number[][] = [];
    // Uneven sizes (12, 8, 5) so the numbering by size is visible.
    [12, 8, 5].forEach((m, c) => { for (let i = 0; i < m; i++) pts.push([centres[c]![0]! + rnd() - 0.5, centres[c]![1]! + rnd() - 0.5]); });
    return pts;
  };

  test('recovers well-separated blobs, numbered by size, and the centroids are their means', () => {
    const pts = blobs();
    const r = kmeans(pts, { k: 3, seed: 1 });
    assert.deepEqual(r.sizes, [12, 8, 5]);
    assert.deepEqual(Array.from(r.assignment), [...Array(12).fill(0), ...Array(8).fill(1), ...Array(5).fill(2)]);
    const mean0 = [0, 1].map((j) => pts.slice(0, 12).reduce((s, p) => s + p[j]!, 0) / 12);
    assert.ok(Math.abs(r.centroids[0]![0]! - mean0[0]!) < 1e-12 && Math.abs(r.centroids[0]![1]! - mean0[1]!) < 1e-12);
    assert.ok(r.inertia < 25 * 0.5);
  });

  test('is deterministic for a seed, whatever the seed', () => {
    const pts = blobs();
    for (const seed of [1, 2, 3, 12345]) {
      const a = kmeans(pts, { k: 3, seed }), b = kmeans(pts, { k: 3, seed });
      assert.deepEqual(Array.from(a.assignment), Array.from(b.assignment));
      assert.equal(a.inertia, b.inertia);
      assert.deepEqual(a.sizes, [12, 8, 5]);
    }
  });

  test('fewer distinct points than k still gives k clusters; k > n is BAD_ARGUMENT', () => {
    const r = kmeans([[1, 1], [1, 1], [1, 1], [5, 5]], { k: 3, seed: 1 });
    assert.equal(r.centroids.length, 3);
    assert.equal(r.sizes.reduce((s, v) => s + v, 0), 4);
    assert.throws(() => kmeans([[1], [2]], { k: 3 }), { code: 'BAD_ARGUMENT' });
    assert.throws(() => kmeans([[1], [2, 3]], { k: 1 }), { code: 'BAD_ARGUMENT' });
  });
});

describe('analyze(): the seed\'s colour analysis', () => {
  let a: Analysis;
  before(async () => {
    a = await analyze({ dirs: [photos], k: 3, seed: 1, examples: 2 });
  });

  test('k = 3 recovers the reddish, bluish and greenish photos exactly', () => {
    assert.equal(a.images.length, 12);
    const groups = a.clusters.map((c) => c.files.map((f) => basename(f).split('-')[0]!));
    for (const g of groups) {
      assert.equal(g.length, 4);
      assert.equal(new Set(g).size, 1, `mixed cluster: ${g.join(' ')}`);
    }
    assert.deepEqual(new Set(groups.map((g) => g[0])), new Set(['red', 'blue', 'green']));
    // Each cluster's averaged histogram peaks at its family's bucket (neutral gray aside).
    const t = getBuckets('seed');
    const neutral = nearestBucket(t, 0, 0);
    for (const c of a.clusters) {
      const fam = FAMILIES[basename(c.files[0]!).split('-')[0] as keyof typeof FAMILIES];
      const peak = topBuckets(c.histogram, 3).find(([q]) => q !== neutral)![0];
      const [pa, pb] = [t.centers[2 * peak]!, t.centers[2 * peak + 1]!];
      assert.ok(Math.hypot(pa - fam[0], pb - fam[1]) < 15, `cluster ${c.index} peaks at (${pa}, ${pb}), family at ${fam}`);
      const sum = c.histogram.reduce((s, v) => s + v, 0);
      assert.ok(Math.abs(sum - 1) < 1e-6);
    }
    const prior = a.prior.reduce((s, v) => s + v, 0);
    assert.ok(Math.abs(prior - 1) < 1e-5);
  });

  test('the same seed gives the same clusters; other seeds find the same partition', async () => {
    const again = await analyze({ dirs: [photos], k: 3, seed: 1, examples: 2 });
    assert.deepEqual(again.images, a.images);
    const other = await analyze({ dirs: [photos], k: 3, seed: 7, examples: 2 });
    const part = (x: Analysis) => x.clusters.map((c) => c.files.join('|')).sort();
    assert.deepEqual(part(other), part(a));
  });

  test('writes the bucket grids, thumbnails, clusters.csv, analysis.json and index.html', async () => {
    const out = join(dir, 'out');
    const files = await writeAnalysis(a, out);
    for (const f of ['prior.png', 'prior-shaded.png', 'cluster-1.png', 'cluster-2.png', 'cluster-3.png', 'cluster-3-shaded.png', 'thumbs/cluster-1-1.jpg', 'thumbs/cluster-3-2.jpg']) {
      assert.ok(existsSync(join(out, f)), f);
    }
    const meta = await sharp(join(out, 'cluster-1.png')).metadata();
    assert.ok(meta.width! > 100 && meta.height! > 100);
    const html = readFileSync(files.html, 'utf8');
    for (const m of html.matchAll(/<img src="([^"]+)"/g)) assert.ok(existsSync(join(out, decodeURIComponent(m[1]!))), m[1]);
    assert.match(html, /Cluster 1: 4 photos/);
    const json = JSON.parse(readFileSync(files.json, 'utf8'));
    assert.deepEqual(json.clusters.map((c: { size: number }) => c.size), [4, 4, 4]);
    assert.equal(json.prior.weights.length, 112);
    assert.equal(readFileSync(files.csv, 'utf8').trim().split('\n').length, 13);
  });

  test('a bucket grid fills exactly the buckets with a share >= minShare', async () => {
    const out = join(dir, 'out-min');
    await writeAnalysis(a, out, { minShare: 0, cell: 4 });
    const { data, info } = await sharp(join(out, 'prior.png')).raw().toBuffer({ resolveWithObject: true });
    // Count coloured cells: sample each cell's centre and compare with the empty-bucket gray (225).
    let filled = 0;
    const t = getBuckets('seed');
    const pitch = 5, rows = Math.round((info.height - 1) / pitch);
    const amin = Math.min(...Array.from({ length: t.count }, (_, q) => t.centers[2 * q]!));
    const bmin = Math.min(...Array.from({ length: t.count }, (_, q) => t.centers[2 * q + 1]!));
    for (let q = 0; q < t.count; q++) {
      const col = Math.round((t.centers[2 * q]! - amin) / t.step), row = rows - 1 - Math.round((t.centers[2 * q + 1]! - bmin) / t.step);
      const p = ((1 + row * pitch + 2) * info.width + (1 + col * pitch + 2)) * info.channels;
      if (!(data[p] === 225 && data[p + 1] === 225 && data[p + 2] === 225)) filled++;
    }
    assert.equal(filled, Array.from(a.prior).filter((v) => v > 0).length);
  });
});
