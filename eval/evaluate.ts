/**
 * Honest evaluation of a colorization model: every photo of the folders is turned into its
 * grayscale version (its L with ab = 0), colorized, and compared with the original; two baselines
 * go through the same metrics in the same run (`grayscale`: ab = 0; `mean-colour`: every pixel gets
 * the data set's mean ab). Photos are evaluated at their own resolution, downscaled (Lanczos) so the
 * long side is at most `size` (default 256; 0 keeps the full resolution).
 *
 * Two passes: the first collects the data set's mean ab and its ground-truth bucket frequencies
 * (both needed before any pixel can be scored: the mean-colour baseline and the rebalancing
 * weights), the second colorizes and scores. Decoded images are kept between the passes up to a
 * memory budget.
 *
 * All metrics are computed on the 8-bit RGB picture each method outputs (the ab error on its Lab,
 * so gamut clipping counts), against the 8-bit original at the same size.
 */
import { basename } from 'node:path';
import { TintaError, ErrorCodes, isTintaError } from '../sdk/errors.ts';
import { createColorizer } from '../sdk/node.ts';
import type { Backend } from '../sdk/backends.ts';
import { getBuckets, labToRgba8, quantizeAb, rgba8ToLab, type AbBuckets, type BucketScheme, type LabImage } from '../sdk/color/index.ts';
import { scanImages } from '../trainer/data/scan.ts';
import {
  AbErrorHistogram, AUC_MAX_THRESHOLD, Mean, PSNR_CAP_DB, colorfulness, inverseFrequencyWeights, median, psnrCapped, type Rgba8,
} from './metrics.ts';
import { loadEvalImage, spreadIndices } from './images.ts';
import { labelOf, loadClassifier, loadLabels, type Classifier, type ClassifierInputOptions, type Labels } from './classifier.ts';

/** The methods every evaluation scores: the model and the two built-in baselines. */
export const METHODS = Object.freeze(['model', 'grayscale', 'mean-colour'] as const);
export type MethodName = (typeof METHODS)[number];

/** Default long-side limit of the evaluated images. */
export const DEFAULT_EVAL_SIZE = 256;

/** Progress of evaluate(): one union keyed on `phase`. */
export type EvalProgress =
  | { phase: 'scan'; total: number }
  | { phase: 'statistics'; done: number; total: number; file: string }
  | { phase: 'evaluate'; done: number; total: number; file: string };

/** Options of evaluate(). */
export interface EvaluateOptions {
  /** The colorization model: file path, shipped name or bytes. */
  model: string | Uint8Array;
  /** Folders searched recursively for photos. */
  dirs: string[];
  /** An ONNX ImageNet classifier (path or bytes): [N,3,S,S] input, [N,C] scores. Needs `labels`. */
  classifier?: string | Uint8Array;
  /**
   * File name / synset / folder -> class index: a JSON file's path or the object. Needs `classifier`.
   * `'original'`: no human labels; each photo's label is the classifier's top-1 on its colour original,
   * so top-1 measures how often gray / colorized images keep the class the original gets.
   */
  labels?: string | Readonly<Record<string, number>>;
  /** How the classifier's input is made (size 224 and ImageNet mean/std by default). */
  classifierInput?: ClassifierInputOptions;
  /** Evaluate at most this many photos, spread evenly over the sorted list (not its first N). */
  limit?: number;
  /** Long-side limit in pixels (default 256); 0 evaluates at full resolution. */
  size?: number;
  /** Annealed-mean temperature (default: the model's). */
  temperature?: number;
  /** Short side the network sees (default: the model's recommended size). */
  resolution?: number;
  /** Bucket table of the class-rebalanced AuC (default 'zhang313', the table of Zhang et al.). */
  rebalanceBuckets?: BucketScheme;
  backend?: Backend;
  threads?: number;
  /** Keep this many sample images (original / gray / colorized) for the report; default 0. */
  samples?: number;
  /** Bytes of decoded images kept between the two passes (default 512 MiB). */
  cacheBytes?: number;
  onProgress?: (p: EvalProgress) => void;
  signal?: AbortSignal;
}

/** One method's aggregate scores. */
export interface MethodSummary {
  /** Mean over images of the per-image PSNR (dB, capped at PSNR_CAP_DB). */
  psnrMean: number;
  psnrMedian: number;
  /** AuC of the ab error over all pixels of all images, thresholds 0..150. */
  auc: number;
  /** The same with every pixel weighted by 1 / frequency of its ground-truth bucket over the set. */
  aucRebalanced: number;
  /** Mean colourfulness of the outputs. */
  colorfulness: number;
  /** colorfulness / the ground truth's mean colourfulness. */
  colorfulnessRatio: number;
  /** Mean over images of (output - ground truth) colourfulness. */
  colorfulnessDiff: number;
  /** Mean over images of |output - ground truth| colourfulness. */
  colorfulnessAbsDiff: number;
  /** Top-1 accuracy of the classifier on the outputs (null without a classifier). */
  top1: number | null;
}

/** What summary.json holds. */
export interface EvalSummary {
  createdAt: string;
  model: { source: string; contentHash: string; precision: string; buckets: string; provider: string; temperature: number; resolution: number | null };
  settings: {
    /** Long-side limit (null: full resolution). */
    size: number | null;
    evaluatedAt: string;
    aucThresholds: [number, number];
    psnrCapDb: number;
    rebalanceBuckets: string;
    /** Buckets that occur in the ground truth (the ones the rebalanced AuC weighs). */
    rebalanceBucketsOccupied: number;
    /** The data set's mean ab (what the mean-colour baseline paints). */
    meanAb: [number, number];
    limit: number | null;
    metricsOn: string;
    classifier: string | null;
    /** Where top-1 labels came from: a labels file, the classifier on the originals, or none. */
    labels: 'file' | 'original' | null;
  };
  images: { found: number; evaluated: number; skipped: number; labelled: number };
  groundTruth: { colorfulness: number; top1: number | null };
  methods: Record<MethodName, MethodSummary>;
  seconds: number;
}

/** One method's scores on one image. */
export interface ImageMethodScores {
  psnr: number;
  auc: number;
  aucRebalanced: number;
  colorfulness: number;
  /** The classifier's top-1 class on this output (undefined when unlabelled / no classifier). */
  predicted?: number;
}

/** Per-image results (per-image.csv). */
export interface ImageResult {
  file: string;
  width: number;
  height: number;
  label?: number;
  groundTruth: { colorfulness: number; predicted?: number };
  methods: Record<MethodName, ImageMethodScores>;
}

/** Images kept for the report. */
export interface EvalSample {
  file: string;
  original: Rgba8;
  gray: Rgba8;
  colorized: Rgba8;
  scores: Record<MethodName, ImageMethodScores>;
}

/** What evaluate() returns. */
export interface EvalResult {
  summary: EvalSummary;
  images: ImageResult[];
  skipped: { file: string; reason: string; code?: string }[];
  samples: EvalSample[];
}

function aborted(): TintaError {
  return new TintaError(ErrorCodes.ABORTED, 'The evaluation was cancelled (its AbortSignal fired).');
}

function mergeInto(dst: AbErrorHistogram, src: AbErrorHistogram): void {
  for (let k = 0; k < dst.bins.length; k++) dst.bins[k]! += src.bins[k]!;
  dst.total += src.total;
}

/** Accumulates one method's scores over the images. */
class MethodAccumulator {
  readonly plain = new AbErrorHistogram(AUC_MAX_THRESHOLD);
  readonly rebalanced = new AbErrorHistogram(AUC_MAX_THRESHOLD);
  readonly psnrs: number[] = [];
  readonly colorfulness = new Mean();
  readonly diff = new Mean();
  readonly absDiff = new Mean();
  correct = 0;
  labelled = 0;

  /** Scores `out` against the ground truth and adds it; returns the per-image scores. */
  add(gt: Rgba8, gtLab: LabImage, weights: Float32Array, gtColorfulness: number, out: Rgba8): ImageMethodScores {
    const lab = rgba8ToLab(out.data, out.width, out.height);
    const p = new AbErrorHistogram(AUC_MAX_THRESHOLD).add(lab.a, lab.b, gtLab.a, gtLab.b);
    const r = new AbErrorHistogram(AUC_MAX_THRESHOLD).add(lab.a, lab.b, gtLab.a, gtLab.b, weights);
    mergeInto(this.plain, p);
    mergeInto(this.rebalanced, r);
    const ps = psnrCapped(gt, out);
    this.psnrs.push(ps);
    const c = colorfulness(out);
    this.colorfulness.add(c);
    this.diff.add(c - gtColorfulness);
    this.absDiff.add(Math.abs(c - gtColorfulness));
    return { psnr: ps, auc: p.auc(), aucRebalanced: r.auc(), colorfulness: c };
  }

  summary(gtColorfulness: number, withClassifier: boolean): MethodSummary {
    const c = this.colorfulness.value();
    return {
      psnrMean: this.psnrs.reduce((s, v) => s + v, 0) / this.psnrs.length,
      psnrMedian: median(this.psnrs),
      auc: this.plain.auc(),
      aucRebalanced: this.rebalanced.auc(),
      colorfulness: c,
      colorfulnessRatio: gtColorfulness > 0 ? c / gtColorfulness : NaN,
      colorfulnessDiff: this.diff.value(),
      colorfulnessAbsDiff: this.absDiff.value(),
      top1: withClassifier && this.labelled > 0 ? this.correct / this.labelled : null,
    };
  }
}

/** Decoded images kept between the passes, up to a byte budget. */
class ImageCache {
  private readonly map = new Map<string, Rgba8>();
  private bytes = 0;
  constructor(private readonly budget: number) {}
  get(file: string): Rgba8 | undefined {
    return this.map.get(file);
  }
  put(file: string, img: Rgba8): void {
    if (this.bytes + img.data.byteLength > this.budget) return;
    this.map.set(file, img);
    this.bytes += img.data.byteLength;
  }
  take(file: string): Rgba8 | undefined {
    const img = this.map.get(file);
    if (img) { this.map.delete(file); this.bytes -= img.data.byteLength; }
    return img;
  }
}

/** Evaluates a model and the two baselines on the photos of `dirs` (see the module comment). */
export async function evaluate(opts: EvaluateOptions): Promise<EvalResult> {
  const t0 = performance.now();
  const size = opts.size ?? DEFAULT_EVAL_SIZE;
  if (!(Number.isInteger(size) && size >= 0)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `size must be an integer >= 0 (0 = full resolution); got ${size}.`);
  if (opts.limit !== undefined && !(Number.isInteger(opts.limit) && opts.limit >= 1)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `limit must be a positive integer; got ${opts.limit}.`);
  }
  if ((opts.classifier === undefined) !== (opts.labels === undefined)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'The semantic interpretability test needs both a classifier and labels (or neither).');
  }
  const buckets: AbBuckets = getBuckets(opts.rebalanceBuckets ?? 'zhang313');
  const signal = opts.signal;
  const progress = opts.onProgress ?? (() => {});

  const found = await scanImages(opts.dirs);
  const files = opts.limit ? spreadIndices(found.length, opts.limit).map((i) => found[i]!) : found;
  progress({ phase: 'scan', total: files.length });
  if (files.length === 0) throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `No photos found in ${opts.dirs.join(', ')}.`);

  const pseudoLabels = opts.labels === 'original';
  const labels: Labels | undefined = opts.labels !== undefined && !pseudoLabels ? await loadLabels(opts.labels) : undefined;
  const skipped: EvalResult['skipped'] = [];
  const cache = new ImageCache(opts.cacheBytes ?? 512 * 1024 * 1024);
  const skip = (file: string, e: unknown): void => {
    if (isTintaError(e) && e.code.startsWith('IMAGE_')) skipped.push({ file, reason: e.message, code: e.code });
    else if (!isTintaError(e) && e instanceof Error && (e as NodeJS.ErrnoException).code === 'ENOENT') skipped.push({ file, reason: e.message });
    else throw e;
  };

  // Pass 1: the data set's mean ab and ground-truth bucket counts.
  const counts = new Float64Array(buckets.count);
  let sumA = 0, sumB = 0, pixels = 0;
  const usable: string[] = [];
  for (let i = 0; i < files.length; i++) {
    if (signal?.aborted) throw aborted();
    const file = files[i]!;
    let img: Rgba8;
    try {
      img = await loadEvalImage(file, size);
    } catch (e) {
      skip(file, e);
      continue;
    }
    const lab = rgba8ToLab(img.data, img.width, img.height);
    for (let k = 0; k < lab.a.length; k++) { sumA += lab.a[k]!; sumB += lab.b[k]!; }
    pixels += lab.a.length;
    const q = quantizeAb(buckets, lab.a, lab.b);
    for (let k = 0; k < q.length; k++) counts[q[k]!]!++;
    cache.put(file, img);
    usable.push(file);
    progress({ phase: 'statistics', done: i + 1, total: files.length, file });
  }
  if (usable.length === 0) throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `None of the ${files.length} photos could be decoded.`);
  const meanA = sumA / pixels, meanB = sumB / pixels;
  const bucketWeights = inverseFrequencyWeights(counts);

  const colorizer = await createColorizer({
    model: opts.model, backend: opts.backend ?? 'auto', worker: false, cache: false,
    ...(opts.threads !== undefined ? { threads: opts.threads } : {}),
    ...(signal ? { signal } : {}),
  });
  let classifier: Classifier | undefined;
  try {
    if (opts.classifier !== undefined) classifier = await loadClassifier(opts.classifier, { ...opts.classifierInput, ...(opts.threads !== undefined ? { threads: opts.threads } : {}) });
    const acc = { model: new MethodAccumulator(), grayscale: new MethodAccumulator(), 'mean-colour': new MethodAccumulator() } satisfies Record<MethodName, MethodAccumulator>;
    const gtColorfulness = new Mean();
    let gtCorrect = 0, labelled = 0;
    const images: ImageResult[] = [];
    const samples: EvalSample[] = [];
    const sampleAt = new Set(spreadIndices(usable.length, Math.max(0, opts.samples ?? 0)));

    // Pass 2: colorize the grayscale version and score every method.
    for (let i = 0; i < usable.length; i++) {
      if (signal?.aborted) throw aborted();
      const file = usable[i]!;
      let gt = cache.take(file);
      if (!gt) {
        try {
          gt = await loadEvalImage(file, size);
        } catch (e) {
          skip(file, e);
          continue;
        }
      }
      const { width, height } = gt;
      const n = width * height;
      const gtLab = rgba8ToLab(gt.data, width, height);
      const weights = new Float32Array(n);
      const q = quantizeAb(buckets, gtLab.a, gtLab.b);
      for (let k = 0; k < n; k++) weights[k] = bucketWeights[q[k]!]!;
      const zeros = new Float32Array(n);
      const gray: Rgba8 = { data: labToRgba8(gtLab.L, zeros, zeros), width, height };
      const mean: Rgba8 = { data: labToRgba8(gtLab.L, new Float32Array(n).fill(meanA), new Float32Array(n).fill(meanB)), width, height };
      const r = await colorizer.colorize({ data: gray.data, width, height }, {
        ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
        ...(opts.resolution !== undefined ? { resolution: opts.resolution } : {}),
        ...(signal ? { signal } : {}),
      });
      const colorized: Rgba8 = { data: r.rgba().slice(), width, height };
      const outputs: Record<MethodName, Rgba8> = { model: colorized, grayscale: gray, 'mean-colour': mean };

      const gc = colorfulness(gt);
      gtColorfulness.add(gc);
      const scores = {} as Record<MethodName, ImageMethodScores>;
      for (const m of METHODS) scores[m] = acc[m].add(gt, gtLab, weights, gc, outputs[m]);
      const result: ImageResult = { file, width, height, groundTruth: { colorfulness: gc }, methods: scores };
      let label = labels ? labelOf(labels, file) : undefined;
      if (classifier && (label !== undefined || pseudoLabels)) {
        const [pg, ...pm] = await classifier.top1([gt, ...METHODS.map((m) => outputs[m])]);
        if (pseudoLabels) label = pg!;
        result.label = label;
        result.groundTruth.predicted = pg!;
        labelled++;
        if (pg === label) gtCorrect++;
        METHODS.forEach((m, k) => {
          scores[m].predicted = pm[k]!;
          acc[m].labelled++;
          if (pm[k] === label) acc[m].correct++;
        });
      }
      images.push(result);
      if (sampleAt.has(i)) samples.push({ file, original: gt, gray, colorized, scores });
      progress({ phase: 'evaluate', done: i + 1, total: usable.length, file });
    }
    if (images.length === 0) throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `None of the ${files.length} photos could be decoded.`);

    const gtc = gtColorfulness.value();
    const methods = {} as Record<MethodName, MethodSummary>;
    for (const m of METHODS) methods[m] = acc[m].summary(gtc, classifier !== undefined);
    let occupied = 0;
    for (let k = 0; k < counts.length; k++) if (counts[k]! > 0) occupied++;
    const summary: EvalSummary = {
      createdAt: new Date().toISOString(),
      model: {
        source: typeof opts.model === 'string' ? opts.model : `<${opts.model.byteLength} bytes>`,
        contentHash: colorizer.info.contentHash,
        precision: colorizer.info.precision,
        buckets: `${colorizer.info.buckets.name} (${colorizer.info.buckets.count})`,
        provider: colorizer.provider,
        temperature: opts.temperature ?? colorizer.info.temperature,
        resolution: opts.resolution ?? null,
      },
      settings: {
        size: size > 0 ? size : null,
        evaluatedAt: size > 0 ? `own resolution, downscaled (Lanczos) so the long side is <= ${size} px` : 'own (full) resolution',
        aucThresholds: [0, AUC_MAX_THRESHOLD],
        psnrCapDb: PSNR_CAP_DB,
        rebalanceBuckets: `${buckets.name} (${buckets.count})`,
        rebalanceBucketsOccupied: occupied,
        meanAb: [meanA, meanB],
        limit: opts.limit ?? null,
        metricsOn: 'each method\'s 8-bit RGB output (ab error on its Lab) against the 8-bit original at the same size',
        classifier: opts.classifier === undefined ? null : typeof opts.classifier === 'string' ? basename(opts.classifier) : `<${opts.classifier.byteLength} bytes>`,
        labels: opts.labels === undefined ? null : pseudoLabels ? 'original' : 'file',
      },
      images: { found: found.length, evaluated: images.length, skipped: skipped.length, labelled },
      groundTruth: { colorfulness: gtc, top1: classifier && labelled > 0 ? gtCorrect / labelled : null },
      methods,
      seconds: (performance.now() - t0) / 1000,
    };
    return { summary, images, skipped, samples };
  } finally {
    await classifier?.dispose();
    await colorizer.dispose();
  }
}
