/**
 * The outputs of `tinta eval`: summary.json (every metric per method), per-image.csv, and
 * report.html, a self-contained page (inline CSS; images as relative files under images/) with
 * the metric table and an original / gray / colorized grid of the kept samples.
 */
import { mkdir } from 'node:fs/promises';
import { writeFileAtomic } from '../sdk/io/atomic-node.ts';
import { basename, join } from 'node:path';
import { writeImage } from '../sdk/image/node.ts';
import { METHODS, type EvalResult, type EvalSummary, type MethodName } from './evaluate.ts';
import { csvField, escapeHtml, htmlPage, relativeUrl } from './html.ts';

/** Paths of what writeEvalReport wrote. */
export interface EvalReportFiles {
  summary: string;
  csv: string;
  html: string;
  images: string[];
}

const fmt = (v: number | null, digits: number): string => (v === null || !Number.isFinite(v) ? '-' : v.toFixed(digits));
const pct = (v: number | null): string => (v === null || !Number.isFinite(v) ? '-' : `${(100 * v).toFixed(1)}%`);

/** The metric rows (one per method plus the ground truth) as cells, shared by the terminal and HTML tables. */
export function summaryRows(s: EvalSummary): { header: string[]; rows: string[][] } {
  const withTop1 = s.groundTruth.top1 !== null || METHODS.some((m) => s.methods[m].top1 !== null);
  const header = ['method', 'PSNR dB', 'AuC', 'AuC rebal.', 'colourful.', 'ratio', 'diff', '|diff|', ...(withTop1 ? ['top-1'] : [])];
  const rows = METHODS.map((m: MethodName) => {
    const x = s.methods[m];
    return [m, fmt(x.psnrMean, 2), fmt(x.auc, 4), fmt(x.aucRebalanced, 4), fmt(x.colorfulness, 2), fmt(x.colorfulnessRatio, 3),
      fmt(x.colorfulnessDiff, 2), fmt(x.colorfulnessAbsDiff, 2), ...(withTop1 ? [pct(x.top1)] : [])];
  });
  rows.push(['ground truth', '-', '-', '-', fmt(s.groundTruth.colorfulness, 2), '1.000', '-', '-', ...(withTop1 ? [pct(s.groundTruth.top1)] : [])]);
  return { header, rows };
}

/** The metric table as aligned text for the terminal. */
export function formatSummaryTable(s: EvalSummary): string {
  const { header, rows } = summaryRows(s);
  const all = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...all.map((r) => r[c]!.length)));
  const line = (r: string[]) => r.map((v, c) => (c === 0 ? v.padEnd(widths[c]!) : v.padStart(widths[c]!))).join('  ');
  const notes = [
    `${s.images.evaluated} images (${s.images.skipped} skipped) at ${s.settings.evaluatedAt}; model temperature ${s.model.temperature}.`,
    `AuC: ab error thresholds ${s.settings.aucThresholds[0]}..${s.settings.aucThresholds[1]}; rebalanced over ${s.settings.rebalanceBucketsOccupied} occupied ${s.settings.rebalanceBuckets} buckets. PSNR capped at ${s.settings.psnrCapDb} dB.`,
    ...(s.groundTruth.top1 !== null ? [s.settings.labels === 'original'
      ? `top-1: agreement with the ImageNet classifier's top-1 on each colour original (no human labels), ${s.images.labelled} images; the ground-truth row is 100% by construction.`
      : `top-1: ImageNet classifier on ${s.images.labelled} labelled images (ground truth row: the originals).`] : []),
  ];
  return [line(header), ...rows.map(line), '', ...notes].join('\n');
}

/** per-image.csv: one row per image, the ground truth's colourfulness and every method's scores (PSNR capped, predicted = classifier top-1 class). */
export function perImageCsv(r: EvalResult): string {
  const head = ['file', 'width', 'height', 'label', 'gt_colorfulness', 'gt_predicted'];
  for (const method of METHODS) {
    const m = method.replace(/-/g, '_'); // mean_colour_psnr: column names that data frames take as identifiers
    head.push(`${m}_psnr`, `${m}_auc`, `${m}_auc_rebalanced`, `${m}_colorfulness`, `${m}_predicted`);
  }
  const lines = [head.join(',')];
  for (const im of r.images) {
    const cells: (string | number | undefined)[] = [im.file, im.width, im.height, im.label, im.groundTruth.colorfulness, im.groundTruth.predicted];
    for (const m of METHODS) {
      const x = im.methods[m];
      cells.push(x.psnr, x.auc, x.aucRebalanced, x.colorfulness, x.predicted);
    }
    lines.push(cells.map(csvField).join(','));
  }
  return lines.join('\n') + '\n';
}

/** report.html's markup; `imageFiles[i]` are the [original, gray, colorized] paths (relative) of sample i. */
export function reportHtml(r: EvalResult, imageFiles: readonly (readonly [string, string, string])[]): string {
  const s = r.summary;
  const { header, rows } = summaryRows(s);
  const table = `<table><thead><tr>${header.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>
${rows.map((row) => `<tr>${row.map((v) => `<td>${escapeHtml(v)}</td>`).join('')}</tr>`).join('\n')}
</tbody></table>`;
  const grid = r.samples.map((x, i) => {
    const [o, g, c] = imageFiles[i]!;
    const sc = x.scores.model;
    const cap = `${escapeHtml(basename(x.file))}`;
    return `<figure><img src="${relativeUrl(o)}" alt="original" loading="lazy"><figcaption>${cap} (original)</figcaption></figure>
<figure><img src="${relativeUrl(g)}" alt="grayscale input" loading="lazy"><figcaption>gray (model input)</figcaption></figure>
<figure><img src="${relativeUrl(c)}" alt="colorized" loading="lazy"><figcaption>colorized: PSNR ${fmt(sc.psnr, 2)} dB, AuC ${fmt(sc.auc, 3)}</figcaption></figure>`;
  }).join('\n');
  const skipped = r.skipped.length
    ? `<h2>Skipped (${r.skipped.length})</h2><ul>${r.skipped.slice(0, 100).map((x) => `<li>${escapeHtml(x.file)}: ${escapeHtml(x.reason)}</li>`).join('')}</ul>`
    : '';
  const body = `<h1>tinta eval</h1>
<p>Model <code>${escapeHtml(s.model.source)}</code> (${escapeHtml(s.model.precision)}, ${escapeHtml(s.model.buckets)} buckets, temperature ${s.model.temperature}${s.model.resolution ? `, network short side ${s.model.resolution}` : ''}; ran on ${escapeHtml(s.model.provider)}).
${s.images.evaluated} photos evaluated at ${escapeHtml(s.settings.evaluatedAt)}; ${s.images.skipped} skipped. ${escapeHtml(s.createdAt)}.</p>
${table}
<p class="note">Every method colorizes the grayscale version of each photo (its L with ab = 0); <b>grayscale</b> outputs that input unchanged,
<b>mean-colour</b> paints every pixel with the data set's mean ab (${fmt(s.settings.meanAb[0], 2)}, ${fmt(s.settings.meanAb[1], 2)}).
Metrics are on ${escapeHtml(s.settings.metricsOn)}.
PSNR: 8-bit RGB, mean of per-image values, identical images counted as ${s.settings.psnrCapDb} dB.
AuC (Zhang et al. 2016): fraction of pixels with ab error &le; t, averaged over t = ${s.settings.aucThresholds[0]}..${s.settings.aucThresholds[1]}, over all pixels;
rebalanced: each pixel weighted by 1 / the frequency of its ground-truth bucket (${escapeHtml(s.settings.rebalanceBuckets)}, ${s.settings.rebalanceBucketsOccupied} occupied) over the set.
Colourfulness: Hasler &amp; S&uuml;sstrunk (2003); ratio = mean output / mean ground truth; diff and |diff| are per-image means against the ground truth.
${s.groundTruth.top1 !== null ? `top-1: classifier <code>${escapeHtml(s.settings.classifier ?? '')}</code> on ${s.images.labelled} labelled photos; the ground-truth row is the originals.` : ''}</p>
<p class="note">Per-image numbers: <a href="per-image.csv">per-image.csv</a>; everything: <a href="summary.json">summary.json</a>.</p>
${r.samples.length ? `<h2>Samples (${r.samples.length})</h2>\n<div class="grid">\n${grid}\n</div>` : ''}
${skipped}`;
  return htmlPage('tinta eval', body);
}


/** Writes summary.json, per-image.csv, report.html and images/ into `outDir` (created if needed). */
export async function writeEvalReport(r: EvalResult, outDir: string): Promise<EvalReportFiles> {
  await mkdir(join(outDir, 'images'), { recursive: true });
  const files: [string, string, string][] = [];
  const written: string[] = [];
  for (let i = 0; i < r.samples.length; i++) {
    const x = r.samples[i]!;
    const stem = `${String(i + 1).padStart(3, '0')}-${basename(x.file).replace(/\.[^.]*$/, '').replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 60)}`;
    const rel: [string, string, string] = [`images/${stem}.original.png`, `images/${stem}.gray.png`, `images/${stem}.colorized.png`];
    const imgs = [x.original, x.gray, x.colorized];
    for (let k = 0; k < 3; k++) {
      const im = imgs[k]!;
      const data = im.data instanceof Uint8ClampedArray ? im.data : new Uint8ClampedArray(im.data.buffer, im.data.byteOffset, im.data.byteLength);
      await writeImage(join(outDir, rel[k]!), { data, width: im.width, height: im.height });
      written.push(join(outDir, rel[k]!));
    }
    files.push(rel);
  }
  const out: EvalReportFiles = { summary: join(outDir, 'summary.json'), csv: join(outDir, 'per-image.csv'), html: join(outDir, 'report.html'), images: written };
  await writeFileAtomic(out.summary, JSON.stringify({ ...r.summary, skipped: r.skipped }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
  await writeFileAtomic(out.csv, perImageCsv(r));
  await writeFileAtomic(out.html, reportHtml(r, files));
  return out;
}
