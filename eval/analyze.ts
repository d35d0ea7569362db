/**
 * The seed's colour analysis of a photo collection: each photo's normalised histogram of ab buckets
 * (quantized over a downscaled copy), k-means (k-means++ init, seeded) over those histograms, and
 * per cluster the averaged histogram drawn as the bucket grid, with example thumbnails and the
 * cluster's size; plus the whole collection's bucket prior drawn the same way (where a brown/sepia
 * bias of the data shows).
 */
import { mkdir } from 'node:fs/promises';
import { writeFileAtomic } from '../sdk/io/atomic-node.ts';
import { basename, join } from 'node:path';
import { TintaError, ErrorCodes, isTintaError } from '../sdk/errors.ts';
import { decodeImage, resizeImage, writeImage } from '../sdk/image/node.ts';
import {
  accumulateBucketHistogram, bucketPrior, getBuckets, labToRgba8, renderPalette, rgba8ToLab, type AbBuckets, type BucketScheme,
} from '../sdk/color/index.ts';
import { scanImages } from '../trainer/data/scan.ts';
import { kmeans } from './kmeans.ts';
import { loadEvalImage, spreadIndices } from './images.ts';
import { csvField, escapeHtml, htmlPage, relativeUrl } from './html.ts';

/** Progress of analyze(): one union keyed on `phase`. */
export type AnalyzeProgress =
  | { phase: 'scan'; total: number }
  | { phase: 'histograms'; done: number; total: number; file: string }
  | { phase: 'kmeans'; images: number; k: number };

/** Options of analyze(). */
export interface AnalyzeOptions {
  /** Folders searched recursively for photos. */
  dirs: string[];
  /** Number of clusters (default 8). */
  k?: number;
  /** Seed of the k-means++ initialisation (default 1). */
  seed?: number;
  /** Bucket table (default 'seed', the 112 buckets). */
  buckets?: BucketScheme;
  /** Long side of the copy each histogram is taken over (default 64). */
  size?: number;
  /** At most this many photos, spread evenly over the sorted list. */
  limit?: number;
  /** Example photos per cluster: the ones nearest its centre (default 6). */
  examples?: number;
  /** k-means++ restarts (lowest inertia wins; default 4). */
  restarts?: number;
  onProgress?: (p: AnalyzeProgress) => void;
  signal?: AbortSignal;
}

/** One cluster of photos. */
export interface AnalysisCluster {
  /** 1-based, largest cluster first. */
  index: number;
  size: number;
  /** The mean of its members' normalised histograms (sums to 1). */
  histogram: Float64Array;
  /** Members nearest the centre first, at most `examples`. */
  examples: string[];
  files: string[];
}

/** What analyze() returns. */
export interface Analysis {
  buckets: AbBuckets;
  k: number;
  seed: number;
  size: number;
  /** The collection's bucket prior: all pixels' bucket counts, normalised to sum 1. */
  prior: Float32Array;
  clusters: AnalysisCluster[];
  images: { file: string; cluster: number; distance: number }[];
  skipped: { file: string; reason: string; code?: string }[];
  inertia: number;
}

function aborted(): TintaError {
  return new TintaError(ErrorCodes.ABORTED, 'The analysis was cancelled (its AbortSignal fired).');
}

/** Clusters the photos of `dirs` by their bucket histograms (see the module comment). */
export async function analyze(opts: AnalyzeOptions): Promise<Analysis> {
  const k = opts.k ?? 8, seed = opts.seed ?? 1, size = opts.size ?? 64, examples = opts.examples ?? 6;
  if (!(Number.isInteger(size) && size >= 1)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `size must be a positive integer; got ${size}.`);
  if (!(Number.isInteger(examples) && examples >= 0)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `examples must be an integer >= 0; got ${examples}.`);
  if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit >= 1)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `limit must be a positive integer; got ${opts.limit}.`);
  const buckets = getBuckets(opts.buckets ?? 'seed');
  const progress = opts.onProgress ?? (() => {});
  const found = await scanImages(opts.dirs);
  const files = opts.limit ? spreadIndices(found.length, opts.limit).map((i) => found[i]!) : found;
  progress({ phase: 'scan', total: files.length });

  const total = new Float64Array(buckets.count);
  const hists: Float32Array[] = [];
  const used: string[] = [];
  const skipped: Analysis['skipped'] = [];
  for (let i = 0; i < files.length; i++) {
    if (opts.signal?.aborted) throw aborted();
    const file = files[i]!;
    let img;
    try {
      img = await loadEvalImage(file, size);
    } catch (e) {
      if (isTintaError(e) && e.code.startsWith('IMAGE_')) { skipped.push({ file, reason: e.message, code: e.code }); continue; }
      throw e;
    }
    const lab = rgba8ToLab(img.data, img.width, img.height);
    const h = accumulateBucketHistogram(buckets, lab.a, lab.b);
    for (let q = 0; q < h.length; q++) total[q]! += h[q]!;
    hists.push(bucketPrior(buckets, h));
    used.push(file);
    progress({ phase: 'histograms', done: i + 1, total: files.length, file });
  }
  if (used.length === 0) throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `No decodable photos in ${opts.dirs.join(', ')}.`);
  if (used.length < k) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `k = ${k} clusters need at least ${k} photos; found ${used.length}. Lower --k.`);
  progress({ phase: 'kmeans', images: used.length, k });
  const km = kmeans(hists, { k, seed, ...(opts.restarts !== undefined ? { restarts: opts.restarts } : {}) });

  const clusters: AnalysisCluster[] = km.sizes.map((n, c) => ({ index: c + 1, size: n, histogram: new Float64Array(buckets.count), examples: [], files: [] }));
  const members: number[][] = clusters.map(() => []);
  for (let i = 0; i < used.length; i++) {
    const c = km.assignment[i]!;
    members[c]!.push(i);
    const h = hists[i]!, acc = clusters[c]!.histogram;
    for (let q = 0; q < h.length; q++) acc[q]! += h[q]!;
  }
  clusters.forEach((cl, c) => {
    if (cl.size > 0) for (let q = 0; q < cl.histogram.length; q++) cl.histogram[q]! /= cl.size;
    const m = members[c]!;
    cl.files = m.map((i) => used[i]!);
    cl.examples = [...m].sort((x, y) => km.distances[x]! - km.distances[y]! || x - y).slice(0, examples).map((i) => used[i]!);
  });
  return {
    buckets, k, seed, size,
    prior: bucketPrior(buckets, total),
    clusters,
    images: used.map((file, i) => ({ file, cluster: km.assignment[i]! + 1, distance: Math.sqrt(km.distances[i]!) })),
    skipped,
    inertia: km.inertia,
  };
}

/** Options of writeAnalysis(). */
export interface WriteAnalysisOptions {
  /** Buckets whose share is below this are drawn empty (default 0.001; 0 fills every non-zero bucket). */
  minShare?: number;
  /** Lightness the palettes are drawn at (default 65). */
  lightness?: number;
  /** Side of a bucket square (default 14). */
  cell?: number;
  /** Height of the example thumbnails (default 96). */
  thumbHeight?: number;
}

/** Files writeAnalysis() wrote. */
export interface AnalysisFiles {
  html: string;
  json: string;
  csv: string;
  images: string[];
}

/** The buckets with the largest shares: [bucket, share] sorted by share, at most `n`. */
export function topBuckets(weights: ArrayLike<number>, n: number): [number, number][] {
  return Array.from(weights, (w, q) => [q, w] as [number, number]).filter(([, w]) => w > 0).sort((x, y) => y[1] - x[1] || x[0] - y[0]).slice(0, n);
}

function thresholded(w: ArrayLike<number>, minShare: number): Float64Array {
  return Float64Array.from(w, (v) => (v >= minShare && v > 0 ? v : 0));
}

function swatchCss(t: AbBuckets, q: number, L: number): string {
  const c = labToRgba8([L], [t.centers[2 * q]!], [t.centers[2 * q + 1]!]);
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}

function bucketTable(t: AbBuckets, w: ArrayLike<number>, L: number, n: number): string {
  const rows = topBuckets(w, n).map(([q, s]) => {
    const a = t.centers[2 * q]!, b = t.centers[2 * q + 1]!;
    const hue = ((Math.atan2(b, a) * 180) / Math.PI + 360) % 360;
    return `<tr><td><span class="swatch" style="background:${swatchCss(t, q, L)}"></span> ${q}</td><td>${a}</td><td>${b}</td><td>${Math.hypot(a, b).toFixed(0)}</td><td>${hue.toFixed(0)}&deg;</td><td>${(100 * s).toFixed(1)}%</td></tr>`;
  });
  return `<table><thead><tr><th>bucket</th><th>a</th><th>b</th><th>chroma</th><th>hue</th><th>share</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}


/**
 * Writes the analysis to `outDir`: prior.png and cluster-N.png (the bucket grid, every bucket with
 * a share >= minShare filled with its colour), *-shaded.png (the same, lighter the rarer), example
 * thumbnails under thumbs/, clusters.csv, analysis.json and index.html.
 */
export async function writeAnalysis(a: Analysis, outDir: string, opts: WriteAnalysisOptions = {}): Promise<AnalysisFiles> {
  const minShare = opts.minShare ?? 0.001, L = opts.lightness ?? 65, cell = opts.cell ?? 14, thumbHeight = opts.thumbHeight ?? 96;
  await mkdir(join(outDir, 'thumbs'), { recursive: true });
  const images: string[] = [];
  const palette = async (name: string, w: ArrayLike<number>): Promise<void> => {
    const filled = thresholded(w, minShare);
    await writeImage(join(outDir, `${name}.png`), renderPalette(a.buckets, { L, cell, weights: filled }));
    await writeImage(join(outDir, `${name}-shaded.png`), renderPalette(a.buckets, { L, cell, weights: filled, shade: true }));
    images.push(join(outDir, `${name}.png`), join(outDir, `${name}-shaded.png`));
  };
  await palette('prior', a.prior);
  const thumbs: string[][] = [];
  for (const cl of a.clusters) {
    await palette(`cluster-${cl.index}`, cl.histogram);
    const rel: string[] = [];
    for (let e = 0; e < cl.examples.length; e++) {
      const file = cl.examples[e]!;
      const name = `thumbs/cluster-${cl.index}-${e + 1}.jpg`;
      try {
        const img = await decodeImage(file);
        const h = Math.min(thumbHeight, img.height);
        const w = Math.max(1, Math.round((img.width * h) / img.height));
        await writeImage(join(outDir, name), await resizeImage(img, w, h), { quality: 85 });
        rel.push(name);
        images.push(join(outDir, name));
      } catch (e) {
        if (!isTintaError(e)) throw e; // decoded once already; a file that vanished since is just left out
      }
    }
    thumbs.push(rel);
  }

  const csv = ['file,cluster,distance', ...a.images.map((x) => [x.file, x.cluster, x.distance].map(csvField).join(','))].join('\n') + '\n';
  const json = {
    createdAt: new Date().toISOString(),
    buckets: { name: a.buckets.name, count: a.buckets.count },
    k: a.k, seed: a.seed, size: a.size, images: a.images.length, skipped: a.skipped, inertia: a.inertia, minShare,
    prior: { top: topBuckets(a.prior, 12).map(([q, s]) => ({ bucket: q, a: a.buckets.centers[2 * q], b: a.buckets.centers[2 * q + 1], share: s })), weights: Array.from(a.prior) },
    clusters: a.clusters.map((c) => ({
      index: c.index, size: c.size, examples: c.examples,
      top: topBuckets(c.histogram, 8).map(([q, s]) => ({ bucket: q, a: a.buckets.centers[2 * q], b: a.buckets.centers[2 * q + 1], share: s })),
      histogram: Array.from(c.histogram),
    })),
  };
  const sections = a.clusters.map((c, i) => `<h2>Cluster ${c.index}: ${c.size} photo${c.size === 1 ? '' : 's'} (${((100 * c.size) / a.images.length).toFixed(1)}%)</h2>
<div class="cluster">
<div><img src="cluster-${c.index}.png" alt="bucket grid of cluster ${c.index}"><br><img src="cluster-${c.index}-shaded.png" alt="shaded bucket grid of cluster ${c.index}"></div>
<div>${bucketTable(a.buckets, c.histogram, L, 6)}<div class="thumbs">${thumbs[i]!.map((t, e) => `<img src="${relativeUrl(t)}" alt="${escapeHtml(basename(c.examples[e] ?? ''))}" title="${escapeHtml(c.examples[e] ?? '')}">`).join('')}</div></div>
</div>`).join('\n');
  const body = `<h1>tinta analyze</h1>
<p>${a.images.length} photos (${a.skipped.length} skipped); per photo the normalised histogram of its ${a.buckets.count} ${escapeHtml(a.buckets.name)} ab buckets over a copy with long side &le; ${a.size} px;
k-means (k = ${a.k}, k-means++ seeded with ${a.seed}) over the histograms. Bucket grids: a grows to the right, b upwards, drawn at L = ${L};
a bucket is filled with its colour when its share is &ge; ${minShare} (${minShare === 0 ? 'every non-zero bucket' : `${(100 * minShare).toFixed(2)}%`}), the second grid shades it lighter the rarer it is.
Assignments: <a href="clusters.csv">clusters.csv</a>; numbers: <a href="analysis.json">analysis.json</a>.</p>
<h2>The whole collection's bucket prior</h2>
<div class="cluster"><div><img src="prior.png" alt="bucket prior"><br><img src="prior-shaded.png" alt="shaded bucket prior"></div><div>${bucketTable(a.buckets, a.prior, L, 12)}</div></div>
${sections}`;
  const out: AnalysisFiles = { html: join(outDir, 'index.html'), json: join(outDir, 'analysis.json'), csv: join(outDir, 'clusters.csv'), images };
  await writeFileAtomic(out.csv, csv);
  await writeFileAtomic(out.json, JSON.stringify(json, null, 1) + '\n');
  await writeFileAtomic(out.html, htmlPage('tinta analyze', body));
  return out;
}
