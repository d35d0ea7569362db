/**
 * Quantization of an exported tinta model: int8 (static QDQ, calibrated on real photos) or fp16
 * (half-size weights, fp32 compute). The metadata's precision and content hash are rewritten, and
 * the report says what it costs: file size, and agreement with the fp32 model on the calibration
 * images (per-pixel argmax, and ab error after annealed-mean decoding).
 *
 * int8, step by step: one calibration run of the fp32 model gathers per-channel statistics of
 * every tensor that gets a Q/DQ pair; the channels between convs are equalized (equalize.ts, exact
 * in float) and the activation ranges taken from the rescaled statistics (99.9th percentile by
 * default); biases absorb the systematic part of the int8 errors (bias-correction.ts); QDQ nodes
 * go in (qdq.ts). Then the agreement with fp32 is measured, and while it is below the target the
 * quantized convs nearest the output are kept in float one at a time (they are the most sensitive:
 * nothing after them averages their rounding away), within a budget of float compute so that int8
 * stays clearly faster than fp32. Models whose output distributions are flat (early in training,
 * near-tied top buckets) need that; well-trained ones meet the target fully quantized.
 */
import { TintaError, ErrorCodes, isTintaError } from '../sdk/errors.ts';
import { buildMetadata, parseModelInfo, type ModelInfo } from '../sdk/model/metadata.ts';
import { decodeModel, encodeModel, getMetadata } from './onnx/model.ts';
import { channelAbsMax, collectStats, rangesFromStats, type CalibrationMethod, type Feeds } from './calibrate.ts';
import { applyQdq, planQdq, sandwiched, type ConvWeightGrid } from './qdq.ts';
import { equalize, findEqualizable } from './equalize.ts';
import { channelMeans, correctBiases } from './bias-correction.ts';
import { countMacs } from './flops.ts';
import { toFp16Weights } from './fp16.ts';
import { agreementReference, measureAgreement, type Agreement } from './agreement.ts';
import { encodeWithContentHash } from './content-hash.ts';
import { syntheticEmbeddings, type CalibrationImage } from './calibration.ts';
import { writeModelFile } from './export.ts';

// Re-exported so that quantization has one entry point.
export { calibrationInputs, normalisedL, type CalibrationImage } from './calibration.ts';

/** One calibration input: L/100 values; a bare array must be a square image. */
export type CalibrationInput = Float32Array | CalibrationImage;

/** Options of `quantizeModel`. */
export interface QuantizeOptions {
  mode: 'int8' | 'fp16';
  /** Calibration images (required for int8; for fp16 they only feed the report). */
  calibration?: CalibrationInput[];
  /** Embeddings for fusion models, cycled over the images; default: synthetic probability vectors. */
  embeddings?: Float32Array[];
  /** How activation ranges are taken (int8); default 'percentile'. */
  method?: CalibrationMethod;
  /** Percentile for method 'percentile'; default 99.9. */
  percentile?: number;
  /** Quantize batch-norm shift constants so they run as QLinearAdd (int8; default true). */
  quantizeAddConstants?: boolean;
  /** Equalize the channels between convs before taking ranges (int8; default true). */
  equalize?: boolean;
  /** Correct biases for the systematic part of the int8 errors (int8; default true). */
  biasCorrection?: boolean;
  /** Convs to keep in float in any case (int8). */
  keepFloat?: string[];
  /**
   * How quantized conv weights are rounded (int8; default 'pair-safe': the int8 grid, widened per
   * channel so that onnxruntime's int16 pair sums on x86 without VNNI cannot saturate; see qdq.ts).
   */
  weightGrid?: ConvWeightGrid;
  /** Float convs keep precise weights (int8; default true; false stores them int8 weight-only, see qdq.ts). */
  preciseFloatConvs?: boolean;
  /**
   * Argmax agreement with fp32 on the calibration images that int8 aims for (default 0.97): below
   * it, the quantized convs nearest the output are kept in float one at a time, within
   * `maxFloatMacs`. 0 turns the fallback off.
   */
  targetAgreement?: number;
  /** Largest share of the model's conv multiply-accumulates that may run in float (int8; default 0.3). */
  maxFloatMacs?: number;
  /** Also write the model here, atomically. */
  output?: string;
}

/** What quantization did and cost. */
export interface QuantizeReport {
  mode: 'int8' | 'fp16';
  bytes: number;
  fp32Bytes: number;
  calibrationImages: number;
  /** Where fusion-model embeddings came from (null for models without fusion). */
  embeddings: 'provided' | 'synthetic' | null;
  method: CalibrationMethod | null;
  /** int8: convs quantized / left float, Q/DQ pairs, Adds run as QLinearAdd. */
  quantizedConvs: number;
  floatConvs: string[];
  qdqPairs: number;
  quantizedAdds: number;
  /** int8: convs kept float because the agreement needed it (a subset of floatConvs). */
  fallbackConvs: string[];
  /** int8: share of the conv multiply-accumulates that run in float (at the calibration size). */
  floatMacs: number;
  /** int8: conv pairs whose channels were equalized, and convs whose bias was corrected. */
  equalizedPairs: number;
  biasCorrected: number;
  /** int8: whether the agreement reached the target (null when there is none). */
  targetMet: boolean | null;
  /** fp16: initializers stored as float16. */
  fp16Initializers: number;
  /** Agreement with fp32 on the calibration images (null without any). */
  agreement: Agreement | null;
  output?: string;
}

function asImage(c: CalibrationInput, i: number): CalibrationImage {
  if (!(c instanceof Float32Array)) return c;
  const side = Math.round(Math.sqrt(c.length));
  if (side * side !== c.length) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Calibration input ${i} has ${c.length} values, not a square image; pass { data, width, height }.`);
  return { data: c, width: side, height: side };
}

function feedsFor(info: ModelInfo, inputs: readonly CalibrationInput[], embeddings: Float32Array[] | undefined): { feeds: Feeds[]; embeddings: QuantizeReport['embeddings'] } {
  const m = info.spatialMultiple;
  const emb = info.embedding;
  const vectors = emb ? (embeddings?.length ? embeddings : syntheticEmbeddings(Math.max(1, inputs.length), emb.dim)) : [];
  const feeds = inputs.map((c, i) => {
    const img = asImage(c, i);
    if (img.width % m !== 0 || img.height % m !== 0) {
      throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Calibration input ${i} is ${img.width}x${img.height}; the model needs sides that are multiples of ${m}.`);
    }
    if (img.data.length !== img.width * img.height * info.frames) {
      throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Calibration input ${i} has ${img.data.length} values where ${img.width}x${img.height}x${info.frames} are needed.`);
    }
    const f: Feeds = { [info.input.name]: { data: img.data, dims: [1, info.frames, img.height, img.width] } };
    if (emb) {
      const v = vectors[i % vectors.length]!;
      if (v.length !== emb.dim) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Embedding ${i % vectors.length} has ${v.length} values; the model takes ${emb.dim}.`);
      f[emb.input] = { data: v, dims: [1, emb.dim] };
    }
    return f;
  });
  return { feeds, embeddings: emb ? (embeddings?.length ? 'provided' : 'synthetic') : null };
}

/**
 * Quantize an exported fp32 tinta model. MODEL_NO_METADATA when the bytes are an ONNX model
 * without tinta metadata; QUANTIZE_FAILED when it is already quantized or int8 has no calibration.
 */
export async function quantizeModel(bytes: Uint8Array, opts: QuantizeOptions): Promise<{ bytes: Uint8Array; info: ModelInfo; report: QuantizeReport }> {
  if (opts.mode !== 'int8' && opts.mode !== 'fp16') throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Quantization mode must be 'int8' or 'fp16'; got ${String(opts.mode)}.`);
  const model = decodeModel(bytes);
  const meta = getMetadata(model);
  const info = parseModelInfo(meta, 'The model to quantize');
  // A fused graph holds a classifier that is often quantized already, and calibration would feed an embedding it no longer takes.
  if (info.kind === 'fused') throw new TintaError(ErrorCodes.QUANTIZE_FAILED, 'The model is fused; quantize the colorizer before fusing (tinta quantize colorizer.onnx, then tinta fuse colorizer.int8.onnx --embedding ...).');
  if (info.precision !== 'fp32') throw new TintaError(ErrorCodes.QUANTIZE_FAILED, `The model is already ${info.precision}; quantize the fp32 export instead.`);
  const calibration = opts.calibration ?? [];
  if (opts.mode === 'int8' && calibration.length === 0) {
    throw new TintaError(ErrorCodes.QUANTIZE_FAILED, 'int8 quantization needs calibration images (see calibrationInputs).');
  }
  const { feeds, embeddings } = feedsFor(info, calibration, opts.embeddings);
  const report: QuantizeReport = {
    mode: opts.mode, bytes: 0, fp32Bytes: bytes.length, calibrationImages: feeds.length, embeddings,
    method: null, quantizedConvs: 0, floatConvs: [], qdqPairs: 0, quantizedAdds: 0, fallbackConvs: [], floatMacs: 0, equalizedPairs: 0, biasCorrected: 0, targetMet: null,
    fp16Initializers: 0, agreement: null,
  };
  // Other keys (not tinta's) stay as they were; tinta's are rewritten in place, keeping their order.
  const finish = (m: typeof model) => {
    m.metadata = { ...meta, ...buildMetadata({ ...info, precision: opts.mode, contentHash: '' }) };
    return encodeWithContentHash(m as typeof m & { metadata: Record<string, string> }).bytes;
  };
  let out: Uint8Array;
  let outModel = model;
  try {
    if (opts.mode === 'int8') {
      ({ bytes: out, model: outModel } = await quantizeInt8(bytes, model, feeds, opts, report, finish));
    } else {
      report.fp16Initializers = toFp16Weights(model).converted;
      out = finish(model);
      if (feeds.length) report.agreement = await measureAgreement(bytes, out, info, feeds);
    }
  } catch (e) {
    if (isTintaError(e)) throw e;
    throw new TintaError(ErrorCodes.QUANTIZE_FAILED, `Could not quantize the model to ${opts.mode}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
  report.bytes = out.length;
  if (opts.output) {
    await writeModelFile(opts.output, out, ErrorCodes.QUANTIZE_FAILED);
    report.output = opts.output;
  }
  return { bytes: out, info: parseModelInfo(outModel.metadata), report };
}

type Model = ReturnType<typeof decodeModel>;

async function quantizeInt8(
  bytes: Uint8Array,
  model: Model,
  feeds: Feeds[],
  opts: QuantizeOptions,
  report: QuantizeReport,
  finish: (m: Model) => Uint8Array,
): Promise<{ bytes: Uint8Array; model: Model }> {
  const method = opts.method ?? 'percentile';
  const percentile = opts.percentile ?? 99.9;
  const target = opts.targetAgreement ?? 0.97;
  const maxFloatMacs = opts.maxFloatMacs ?? 0.3;
  const weightGrid = opts.weightGrid ?? 'pair-safe';
  if (!['int8', 'int7', 'pair-safe'].includes(weightGrid)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `weightGrid must be 'int8', 'int7' or 'pair-safe'; got ${String(weightGrid)}.`);
  if (!(target >= 0 && target <= 1)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `targetAgreement must be in [0, 1]; got ${target}.`);
  if (!(maxFloatMacs >= 0 && maxFloatMacs <= 1)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `maxFloatMacs must be in [0, 1]; got ${maxFloatMacs}.`);
  if (!(percentile > 50 && percentile <= 100)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `percentile must be in (50, 100]; got ${percentile}.`);
  const planOpts = { quantizeAddConstants: opts.quantizeAddConstants ?? true, preciseFloatConvs: opts.preciseFloatConvs ?? true };
  const full = planQdq(model, planOpts);
  const known = new Set(model.graph.nodes.filter((n) => n.opType === 'Conv').map((n) => n.name ?? ''));
  const unknown = (opts.keepFloat ?? []).filter((c) => !known.has(c));
  if (unknown.length) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `keepFloat (--keep-float) names no Conv of this model: ${unknown.join(', ')}. Its convs are: ${[...known].join(', ')}.`);
  if (opts.keepFloat?.length) {
    const p = planQdq(model, { ...planOpts, keepFloat: opts.keepFloat });
    const between = opts.keepFloat.filter(sandwiched(model, new Set(p.points)));
    if (between.length) {
      throw new TintaError(ErrorCodes.BAD_ARGUMENT, `keepFloat: ${between.join(', ')} would sit between quantized convs, where onnxruntime runs it as int8 anyway; keep the convs after it float too.`);
    }
  }

  // One calibration run; equalization is exact, so the statistics stay valid after it (rescaled).
  const pairs = (opts.equalize ?? true) ? findEqualizable(model) : [];
  const stats = await collectStats(model, [...new Set([...full.points, ...pairs.flatMap((p) => p.tensors)])], feeds);
  const eq = equalize(model, pairs, channelAbsMax(stats), () => EQUALIZE_ALPHA);
  const ranges = rangesFromStats(stats, { method, percentile, divisors: eq.divisors });
  const equalized = encodeModel(model);

  const macs = countMacs(model, Object.fromEntries(Object.entries(feeds[0]!).map(([k, v]) => [k, v.dims])));
  const convMacs = Object.entries(macs.byNode).filter(([n]) => known.has(n)).reduce((a, [, v]) => a + v, 0) || 1;
  const build = (keepFloat: readonly string[]) => {
    const m = decodeModel(equalized);
    const plan = planQdq(m, { ...planOpts, keepFloat });
    let corrected = 0;
    if (opts.biasCorrection ?? true) {
      const points = new Set(plan.points);
      const tied = new Map(plan.tied);
      const quantized = new Set(plan.convs);
      // Weight-only convs are rounded on the plain int8 grid; precise ones not at all (only their input is).
      const precise = new Set(plan.precise);
      corrected = correctBiases(
        m,
        [...plan.convs, ...plan.weightOnly, ...plan.precise],
        (_conv, x) => (points.has(x) && stats.has(x) ? channelMeans(stats.get(x)!, ranges.get(tied.get(x) ?? x)!, eq.divisors.get(x)) : null),
        (conv) => (quantized.has(conv) ? weightGrid : precise.has(conv) ? null : 'int8'),
      );
    }
    const done = applyQdq(m, plan, ranges, { weightGrid });
    if (done.clippedBiases > 0) throw new TintaError(ErrorCodes.QUANTIZE_FAILED, `${done.clippedBiases} biases do not fit int32 at their scale (degenerate calibration ranges?).`);
    const floatMacs = done.floatConvs.reduce((a, c) => a + (macs.byNode[c] ?? 0), 0) / convMacs;
    return { model: m, bytes: finish(m), done, corrected, floatMacs };
  };

  const reference = await agreementReference(bytes, parseModelInfo(model.metadata), feeds);
  const keep = [...(opts.keepFloat ?? [])];
  let current = build(keep);
  let best = current;
  let bestAgreement = await reference.compare(current.bytes);
  let bestFallback: string[] = [];
  // Fallback: the quantized convs from the output backwards, while under target and within budget.
  const fallback: string[] = [];
  for (const conv of [...current.done.convs].reverse()) {
    if (target === 0 || bestAgreement.argmaxAgreement >= target) break;
    if (current.floatMacs + (macs.byNode[conv] ?? 0) / convMacs > maxFloatMacs + 1e-9) break;
    fallback.push(conv);
    current = build([...keep, ...fallback]);
    const a = await reference.compare(current.bytes);
    // Keep the set that agrees best: float compute only where it pays.
    if (a.argmaxAgreement > bestAgreement.argmaxAgreement) {
      best = current;
      bestAgreement = a;
      bestFallback = [...fallback];
    }
  }
  const final = best;
  Object.assign(report, {
    method,
    quantizedConvs: final.done.convs.length,
    floatConvs: final.done.floatConvs,
    qdqPairs: final.done.points.length,
    quantizedAdds: final.done.adds.length,
    fallbackConvs: bestFallback,
    floatMacs: final.floatMacs,
    equalizedPairs: eq.pairs.length,
    biasCorrected: final.corrected,
    agreement: bestAgreement,
    targetMet: target > 0 ? bestAgreement.argmaxAgreement >= target : null,
  });
  return { bytes: final.bytes, model: final.model };
}

// Migration strength of the equalization: share the range evenly between activations and weights
// (on the default model 0.25..0.75 were all within noise of each other; 0.5 is the balanced choice).
const EQUALIZE_ALPHA = 0.5;
