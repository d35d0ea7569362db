/**
 * Temporal evaluation of video colorization (`tinta eval --video`): every clip's frames are made
 * gray (their L, ab = 0), colorized as a sequence by each method, and scored for
 * - CDC, the colour distribution consistency: the Jensen-Shannon divergence (base 2, so in
 *   [0, 1]) between the 256-bin histograms of frames t and t+d, averaged over the R, G, B
 *   channels and over t, for d in {1, 2, 4}; CDC is the mean of the three. Lower is steadier.
 * - flicker: the mean ab change sqrt(da^2 + db^2) between consecutive output frames over the pixels
 *   whose input L changed by less than a threshold (2 L units by default): where nothing moved,
 *   the colour should not change either.
 * - quality, so steadiness cannot be bought with grayness: the AuC of the ab error against the
 *   original colour frames (thresholds 0..150) and the PSNR.
 * Methods, for each model: single-frame models "per-frame" and "smoothed" (exponential ab
 * smoothing), stacked models "stacked" (and "stacked+smoothed"); the original colour frames are
 * scored too ("ground truth"), as the temporal variation real footage has, and so are the gray
 * frames themselves ("grayscale (ab = 0)"): their CDC is what the L channel alone contributes, the
 * part no colorization can remove (every method's output keeps the input's L).
 */
import { basename, join } from 'node:path';
import { mkdirSync } from 'node:fs';
import { ErrorCodes, TintaError } from '../sdk/errors.ts';
import { createColorizer, type Colorizer, type NodeImageInput } from '../sdk/node.ts';
import type { Backend } from '../sdk/backends.ts';
import { labToRgba8, rgba8ToLab, type LabImage } from '../sdk/color/index.ts';
import { writeFileAtomic } from '../sdk/io/atomic-node.ts';
import { scanClips, type Clip } from '../trainer/video/frames.ts';
import { AbErrorHistogram, AUC_MAX_THRESHOLD, PSNR_CAP_DB, psnrCapped, type Rgba8 } from './metrics.ts';
import { loadEvalImage } from './images.ts';

/** Frame distances d of the CDC. */
export const CDC_STEPS: readonly number[] = Object.freeze([1, 2, 4]);
/** Default L change (L units) under which a pixel counts as static for the flicker measure. */
export const DEFAULT_FLICKER_THRESHOLD = 2;
/** Default smoothing alpha of the "smoothed" methods. */
export const DEFAULT_EVAL_SMOOTHING = 0.6;

/** Per-channel (R, G, B) 256-bin histograms of an RGBA8 picture, each normalised to sum 1. */
export function channelHistograms(img: Rgba8): [Float64Array, Float64Array, Float64Array] {
  const h: [Float64Array, Float64Array, Float64Array] = [new Float64Array(256), new Float64Array(256), new Float64Array(256)];
  const d = img.data, n = d.length / 4;
  if (n === 0) throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'channelHistograms: the image has no pixels.');
  for (let p = 0; p < d.length; p += 4) { h[0][d[p]!]!++; h[1][d[p + 1]!]!++; h[2][d[p + 2]!]!++; }
  for (const c of h) for (let i = 0; i < 256; i++) c[i]! /= n;
  return h;
}

/** Jensen-Shannon divergence of two distributions, base 2 (0 for equal ones, 1 for disjoint ones). */
export function jsDivergence(p: ArrayLike<number>, q: ArrayLike<number>): number {
  if (p.length !== q.length) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `jsDivergence: ${p.length} vs ${q.length} bins.`);
  let s = 0;
  for (let i = 0; i < p.length; i++) {
    const a = p[i]!, b = q[i]!, m = 0.5 * (a + b);
    if (a > 0) s += 0.5 * a * Math.log2(a / m);
    if (b > 0) s += 0.5 * b * Math.log2(b / m);
  }
  return Math.max(0, s);
}

/** CDC of a sequence: per d, the mean over t and channels of JS(H(t), H(t+d)); `mean` over the d that fit (NaN if none). */
export function colourDistributionConsistency(frames: readonly Rgba8[], steps: readonly number[] = CDC_STEPS): { byStep: Record<string, number | null>; mean: number } {
  const hist = frames.map(channelHistograms);
  const byStep: Record<string, number | null> = {};
  const vals: number[] = [];
  for (const d of steps) {
    if (!(Number.isInteger(d) && d >= 1)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `CDC frame distances must be positive integers; got ${d}.`);
    if (frames.length <= d) { byStep[d] = null; continue; }
    let s = 0;
    for (let t = 0; t + d < frames.length; t++) for (let c = 0; c < 3; c++) s += jsDivergence(hist[t]![c]!, hist[t + d]![c]!);
    const v = s / (3 * (frames.length - d));
    byStep[d] = v;
    vals.push(v);
  }
  return { byStep, mean: vals.length ? vals.reduce((a, b) => a + b, 0) / vals.length : NaN };
}

/**
 * Flicker of a sequence of Lab frames: mean |d ab| between consecutive frames over the pixels where
 * the guide's L (default: the frames' own L) changed by less than `threshold`. NaN when no pixel qualifies.
 */
export function flicker(frames: readonly LabImage[], o: { threshold?: number; guide?: readonly Float32Array[] } = {}): { mean: number; pixels: number } {
  const thr = o.threshold ?? DEFAULT_FLICKER_THRESHOLD;
  if (!(thr > 0)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `The flicker threshold must be > 0 L units; got ${thr}.`);
  if (o.guide && o.guide.length !== frames.length) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `flicker: ${o.guide.length} guide planes for ${frames.length} frames.`);
  let sum = 0, count = 0;
  for (let t = 0; t + 1 < frames.length; t++) {
    const x = frames[t]!, y = frames[t + 1]!;
    if (x.L.length !== y.L.length) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `flicker: frames ${t} and ${t + 1} differ in size.`);
    const gx = o.guide ? o.guide[t]! : x.L, gy = o.guide ? o.guide[t + 1]! : y.L;
    for (let i = 0; i < x.L.length; i++) {
      if (Math.abs(gy[i]! - gx[i]!) >= thr) continue;
      sum += Math.hypot(y.a[i]! - x.a[i]!, y.b[i]! - x.b[i]!);
      count++;
    }
  }
  return { mean: count ? sum / count : NaN, pixels: count };
}

/** A method's scores on one clip (or overall). */
export interface VideoScores {
  /** CDC per frame distance d. */
  cdcByStep: Record<string, number | null>;
  cdc: number;
  flicker: number;
  /** Static pixel pairs the flicker was measured on. */
  flickerPixels: number;
  /** AuC of the ab error against the original frames (null for the ground truth itself). */
  auc: number | null;
  psnr: number | null;
}

/** Options of evaluateVideo(). */
export interface VideoEvalOptions {
  /** Folder of clips (one sub-folder of frames per clip). */
  clips: string;
  /** Only these clips (e.g. the held-out ones); default all. */
  clipNames?: string[];
  /** Models to compare (file paths, shipped names or bytes); single-frame and stacked ones. */
  models: (string | Uint8Array)[];
  /** Alpha of the smoothed methods (default 0.6; 0 = no smoothed methods). */
  smoothing?: number;
  /** Static-pixel threshold of the flicker measure (L units, default 2). */
  flickerThreshold?: number;
  /** Long side limit of the frames in pixels (default 0 = as they are). */
  size?: number;
  /** Short side the network sees (default: each model's recommended size). */
  resolution?: number;
  /** At most this many frames per clip, from the start (default all). */
  maxFrames?: number;
  backend?: Backend;
  threads?: number;
  onProgress?: (p: { clip: string; method: string; done: number; total: number }) => void;
  signal?: AbortSignal;
}

/** One compared method. */
export interface VideoMethod {
  name: string;
  model: string;
  frames: number;
  smoothing: number;
}

/** What evaluateVideo returns (and video-summary.json holds). */
export interface VideoEvalResult {
  createdAt: string;
  settings: { clips: string; cdcSteps: number[]; flickerThreshold: number; aucThresholds: [number, number]; psnrCapDb: number; size: number | null; resolution: number | null; maxFrames: number | null };
  methods: VideoMethod[];
  clips: { name: string; frames: number; width: number; height: number; scores: Record<string, VideoScores> }[];
  skipped: { clip: string; reason: string; code?: string }[];
  /** Mean over clips of CDC and flicker; AuC over all pixels of all clips; PSNR mean over frames. */
  overall: Record<string, VideoScores>;
  seconds: number;
}

const GROUND_TRUTH = 'ground truth';
/** The reference row of the gray input frames (ab = 0). */
export const GRAYSCALE = 'grayscale (ab = 0)';

function aborted(): TintaError {
  return new TintaError(ErrorCodes.ABORTED, 'The video evaluation was cancelled (its AbortSignal fired).');
}

function labelOf(m: string | Uint8Array, i: number): string {
  return typeof m === 'string' ? basename(m).replace(/\.onnx$/i, '') : `model${i + 1}`;
}

/** Scores of `outputs` against the clip's original frames. */
function scoreFrames(outputs: Rgba8[], gt: Rgba8[] | null, gtLab: LabImage[], guide: Float32Array[], threshold: number, hist: AbErrorHistogram | null, psnrs: number[] | null): VideoScores {
  const labs = gt && outputs === gt ? gtLab : outputs.map((o) => rgba8ToLab(o.data, o.width, o.height));
  const c = colourDistributionConsistency(outputs);
  const f = flicker(labs, { threshold, guide });
  let auc: number | null = null, psnr: number | null = null;
  if (gt && outputs !== gt) {
    const h = new AbErrorHistogram(AUC_MAX_THRESHOLD);
    let ps = 0;
    outputs.forEach((o, t) => {
      h.add(labs[t]!.a, labs[t]!.b, gtLab[t]!.a, gtLab[t]!.b);
      hist?.add(labs[t]!.a, labs[t]!.b, gtLab[t]!.a, gtLab[t]!.b);
      const p = psnrCapped(gt[t]!, o);
      ps += p;
      psnrs?.push(p);
    });
    auc = h.auc();
    psnr = ps / outputs.length;
  }
  return { cdcByStep: c.byStep, cdc: c.mean, flicker: f.mean, flickerPixels: f.pixels, auc, psnr };
}

/** Evaluates per-frame, smoothed and stacked colorization of the clips (see the module comment). */
export async function evaluateVideo(opts: VideoEvalOptions): Promise<VideoEvalResult> {
  const t0 = performance.now();
  if (!opts.models.length) throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'evaluateVideo: give at least one model (--model).');
  const alpha = opts.smoothing ?? DEFAULT_EVAL_SMOOTHING;
  if (!(alpha >= 0 && alpha < 1)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `smoothing must be in [0, 1); got ${alpha}.`);
  const threshold = opts.flickerThreshold ?? DEFAULT_FLICKER_THRESHOLD;
  const size = opts.size ?? 0;
  if (!(Number.isInteger(size) && size >= 0)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `size must be an integer >= 0 (0 = as is); got ${size}.`);
  if (opts.maxFrames !== undefined && !(Number.isInteger(opts.maxFrames) && opts.maxFrames >= 2)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `maxFrames must be an integer >= 2; got ${opts.maxFrames}.`);
  let clips: Clip[] = await scanClips(opts.clips);
  if (opts.clipNames?.length) {
    const unknown = opts.clipNames.filter((n) => !clips.some((c) => c.name === n));
    if (unknown.length) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Unknown clip(s) ${unknown.join(', ')}; the clips are ${clips.map((c) => c.name).join(', ')}.`);
    clips = clips.filter((c) => opts.clipNames!.includes(c.name));
  }

  const colorizers: { label: string; c: Colorizer<NodeImageInput> }[] = [];
  const result: VideoEvalResult = {
    createdAt: new Date().toISOString(),
    settings: {
      clips: opts.clips, cdcSteps: [...CDC_STEPS], flickerThreshold: threshold, aucThresholds: [0, AUC_MAX_THRESHOLD], psnrCapDb: PSNR_CAP_DB,
      size: size || null, resolution: opts.resolution ?? null, maxFrames: opts.maxFrames ?? null,
    },
    methods: [], clips: [], skipped: [], overall: {}, seconds: 0,
  };
  try {
    for (let i = 0; i < opts.models.length; i++) {
      const m = opts.models[i]!;
      const c = await createColorizer({ model: m, backend: opts.backend ?? 'auto', worker: false, cache: false, ...(opts.threads !== undefined ? { threads: opts.threads } : {}) });
      let label = labelOf(m, i);
      if (colorizers.some((x) => x.label === label)) label = `${label}#${i + 1}`;
      colorizers.push({ label, c });
      const n = c.info.frames;
      const kind = n > 1 ? `stacked (${n})` : 'per-frame';
      result.methods.push({ name: `${label} ${kind}`, model: label, frames: n, smoothing: 0 });
      if (alpha > 0) result.methods.push({ name: `${label} ${n > 1 ? `stacked (${n}) + smoothed` : 'smoothed'} ${alpha}`, model: label, frames: n, smoothing: alpha });
    }
    const names = [GROUND_TRUTH, GRAYSCALE, ...result.methods.map((m) => m.name)];
    const hists = new Map(names.map((n) => [n, new AbErrorHistogram(AUC_MAX_THRESHOLD)]));
    const psnrs = new Map(names.map((n) => [n, [] as number[]]));

    for (const clip of clips) {
      if (opts.signal?.aborted) throw aborted();
      const files = opts.maxFrames ? clip.files.slice(0, opts.maxFrames) : clip.files;
      let gt: Rgba8[];
      try {
        gt = [];
        for (const f of files) gt.push(await loadEvalImage(f, size));
        if (gt.some((g) => g.width !== gt[0]!.width || g.height !== gt[0]!.height)) throw new TintaError(ErrorCodes.IMAGE_BAD_PIXELS, `The frames of clip ${clip.name} differ in size.`);
      } catch (e) {
        if (!(e instanceof TintaError && e.code.startsWith('IMAGE_'))) throw e;
        result.skipped.push({ clip: clip.name, reason: e.message, code: e.code });
        continue;
      }
      const gtLab = gt.map((g) => rgba8ToLab(g.data, g.width, g.height));
      const guide = gtLab.map((l) => l.L);
      const gray = gtLab.map((l, t) => ({ data: labToRgba8(l.L, new Float32Array(l.L.length), new Float32Array(l.L.length)), width: gt[t]!.width, height: gt[t]!.height }));
      const scores: Record<string, VideoScores> = {
        [GROUND_TRUTH]: scoreFrames(gt, gt, gtLab, guide, threshold, null, null),
        [GRAYSCALE]: scoreFrames(gray, gt, gtLab, guide, threshold, hists.get(GRAYSCALE)!, psnrs.get(GRAYSCALE)!),
      };
      for (const method of result.methods) {
        const { c } = colorizers.find((x) => x.label === method.model)!;
        const outputs: Rgba8[] = [];
        for await (const r of c.colorizeVideo(gray, {
          smoothing: method.smoothing,
          ...(opts.resolution !== undefined ? { resolution: opts.resolution } : {}),
          ...(opts.signal ? { signal: opts.signal } : {}),
        })) {
          outputs.push({ data: r.rgba().slice(), width: r.width, height: r.height });
          opts.onProgress?.({ clip: clip.name, method: method.name, done: outputs.length, total: gray.length });
        }
        scores[method.name] = scoreFrames(outputs, gt, gtLab, guide, threshold, hists.get(method.name)!, psnrs.get(method.name)!);
      }
      result.clips.push({ name: clip.name, frames: gt.length, width: gt[0]!.width, height: gt[0]!.height, scores });
    }
    if (result.clips.length === 0) throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `No clip of ${opts.clips} could be evaluated (${result.skipped.length} skipped).`);

    for (const name of names) {
      const per = result.clips.map((c) => c.scores[name]!);
      const mean = (f: (s: VideoScores) => number | null) => {
        const v = per.map(f).filter((x): x is number => x !== null && Number.isFinite(x));
        return v.length ? v.reduce((a, b) => a + b, 0) / v.length : NaN;
      };
      const byStep: Record<string, number | null> = {};
      for (const d of CDC_STEPS) { const m = mean((s) => s.cdcByStep[d] ?? null); byStep[d] = Number.isFinite(m) ? m : null; }
      const ps = psnrs.get(name)!;
      result.overall[name] = {
        cdcByStep: byStep, cdc: mean((s) => s.cdc), flicker: mean((s) => s.flicker), flickerPixels: per.reduce((a, s) => a + s.flickerPixels, 0),
        auc: name === GROUND_TRUTH ? null : hists.get(name)!.auc(), psnr: ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : null,
      };
    }
  } finally {
    await Promise.all(colorizers.map((x) => x.c.dispose()));
  }
  result.seconds = (performance.now() - t0) / 1000;
  return result;
}

const fmt = (v: number | null | undefined, digits: number) => (v === null || v === undefined || !Number.isFinite(v) ? '-' : v.toFixed(digits));

function pct(v: number, base: number): string {
  if (!Number.isFinite(v) || !Number.isFinite(base) || base === 0) return '-';
  const p = (100 * (v - base)) / base;
  return `${p >= 0 ? '+' : ''}${p.toFixed(1)}%`;
}

/** The Markdown report: overall table (with changes against the first per-frame method), then one table per clip. */
export function videoReportMarkdown(r: VideoEvalResult): string {
  const base = r.methods.find((m) => m.frames === 1 && m.smoothing === 0)?.name;
  const names = [GROUND_TRUTH, GRAYSCALE, ...r.methods.map((m) => m.name)].filter((n) => r.overall[n]);
  const head = '| method | CDC (d=1) | CDC (d=2) | CDC (d=4) | CDC | flicker (ab) | AuC (%) | PSNR (dB) |';
  const sep = '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |';
  const row = (name: string, s: VideoScores) =>
    `| ${name} | ${fmt(s.cdcByStep[1], 4)} | ${fmt(s.cdcByStep[2], 4)} | ${fmt(s.cdcByStep[4], 4)} | ${fmt(s.cdc, 4)} | ${fmt(s.flicker, 3)} | ${s.auc === null ? '-' : fmt(100 * s.auc, 2)} | ${fmt(s.psnr, 2)} |`;
  const lines = [
    '# Video evaluation',
    '',
    `Clips: ${r.clips.map((c) => `${c.name} (${c.frames} frames, ${c.width}x${c.height})`).join(', ')}.`,
    `CDC: Jensen-Shannon divergence (base 2) of the per-channel RGB histograms of frames t and t+d, mean over d in {${r.settings.cdcSteps.join(', ')}}; ` +
      `flicker: mean ab change between consecutive frames where the input L changed by less than ${r.settings.flickerThreshold}; ` +
      `AuC of the ab error (thresholds 0..${r.settings.aucThresholds[1]}) against the original frames. Overall: CDC and flicker averaged over clips, AuC over all pixels.`,
      `The ${GRAYSCALE} row scores the gray input frames: its CDC is the part that L alone contributes, which every method keeps.`,
    '',
    '## Overall',
    '',
    head, sep,
    ...names.map((n) => row(n, r.overall[n]!)),
  ];
  if (base) {
    lines.push('', `Change against ${base}:`, '', '| method | CDC | flicker | AuC (points) |', '| --- | ---: | ---: | ---: |');
    const b = r.overall[base]!;
    for (const m of r.methods) {
      if (m.name === base) continue;
      const s = r.overall[m.name]!;
      lines.push(`| ${m.name} | ${pct(s.cdc, b.cdc)} | ${pct(s.flicker, b.flicker)} | ${s.auc !== null && b.auc !== null ? `${s.auc >= b.auc ? '+' : ''}${(100 * (s.auc - b.auc)).toFixed(2)}` : '-'} |`);
    }
  }
  for (const c of r.clips) lines.push('', `## ${c.name}`, '', head, sep, ...names.map((n) => row(n, c.scores[n]!)));
  if (r.skipped.length) lines.push('', '## Skipped', '', ...r.skipped.map((s) => `- ${s.clip}: ${s.reason}`));
  return lines.join('\n') + '\n';
}

/** Writes video-summary.json and video-report.md into `dir`; returns their paths. */
export async function writeVideoReport(r: VideoEvalResult, dir: string): Promise<{ summary: string; markdown: string }> {
  mkdirSync(dir, { recursive: true });
  const summary = join(dir, 'video-summary.json'), markdown = join(dir, 'video-report.md');
  // NaN is not JSON: unmeasurable values are written as null.
  await writeFileAtomic(summary, JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2));
  await writeFileAtomic(markdown, videoReportMarkdown(r));
  return { summary, markdown };
}
