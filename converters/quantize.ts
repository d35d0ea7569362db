/**
 * Quantization of an exported tinta model: int8 (static QDQ, calibrated on real photos) or fp16
 * (half-size weights, fp32 compute). The metadata's precision and content hash are rewritten, and
 * the report says what it costs: file size, and agreement with the fp32 model on the calibration
 * images (per-pixel argmax, and ab error after annealed-mean decoding).
 */
import { TintaError, ErrorCodes, isTintaError } from '../sdk/errors.ts';
import { buildMetadata, parseModelInfo, type ModelInfo } from '../sdk/model/metadata.ts';
import { decodeModel, getMetadata } from './onnx/model.ts';
import { collectRanges, type CalibrationMethod, type Feeds } from './calibrate.ts';
import { applyQdq, planQdq } from './qdq.ts';
import { toFp16Weights } from './fp16.ts';
import { measureAgreement, type Agreement } from './agreement.ts';
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
  /** How activation ranges are taken (int8); default 'minmax'. */
  method?: CalibrationMethod;
  /** Percentile for method 'percentile'; default 99.99. */
  percentile?: number;
  /** Quantize batch-norm shift constants so they run as QLinearAdd (int8; default true). */
  quantizeAddConstants?: boolean;
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
  if (info.precision !== 'fp32') throw new TintaError(ErrorCodes.QUANTIZE_FAILED, `The model is already ${info.precision}; quantize the fp32 export instead.`);
  const calibration = opts.calibration ?? [];
  if (opts.mode === 'int8' && calibration.length === 0) {
    throw new TintaError(ErrorCodes.QUANTIZE_FAILED, 'int8 quantization needs calibration images (see calibrationInputs).');
  }
  const { feeds, embeddings } = feedsFor(info, calibration, opts.embeddings);
  const report: QuantizeReport = {
    mode: opts.mode, bytes: 0, fp32Bytes: bytes.length, calibrationImages: feeds.length, embeddings,
    method: null, quantizedConvs: 0, floatConvs: [], qdqPairs: 0, quantizedAdds: 0, fp16Initializers: 0, agreement: null,
  };
  let out: Uint8Array;
  try {
    if (opts.mode === 'int8') {
      const plan = planQdq(model, { quantizeAddConstants: opts.quantizeAddConstants ?? true });
      const method = opts.method ?? 'minmax';
      const ranges = await collectRanges(model, plan.points, feeds, { method, ...(opts.percentile !== undefined ? { percentile: opts.percentile } : {}) });
      const done = applyQdq(model, plan, ranges);
      if (done.clippedBiases > 0) throw new TintaError(ErrorCodes.QUANTIZE_FAILED, `${done.clippedBiases} biases do not fit int32 at their scale (degenerate calibration ranges?).`);
      Object.assign(report, { method, quantizedConvs: done.convs.length, floatConvs: done.floatConvs, qdqPairs: done.points.length, quantizedAdds: done.adds.length });
    } else {
      report.fp16Initializers = toFp16Weights(model).converted;
    }
    // Other keys (not tinta's) stay as they were; tinta's are rewritten in place, keeping their order.
    model.metadata = { ...meta, ...buildMetadata({ ...info, precision: opts.mode, contentHash: '' }) };
    out = encodeWithContentHash(model as typeof model & { metadata: Record<string, string> }).bytes;
    if (feeds.length) report.agreement = await measureAgreement(bytes, out, info, feeds);
  } catch (e) {
    if (isTintaError(e)) throw e;
    throw new TintaError(ErrorCodes.QUANTIZE_FAILED, `Could not quantize the model to ${opts.mode}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
  }
  report.bytes = out.length;
  if (opts.output) {
    writeModelFile(opts.output, out, ErrorCodes.QUANTIZE_FAILED);
    report.output = opts.output;
  }
  return { bytes: out, info: parseModelInfo(model.metadata), report };
}
