/**
 * Activation ranges for static quantization: the fp32 model runs (onnxruntime-node, CPU) on the
 * calibration inputs with the tensors of interest added as extra graph outputs, and each tensor's
 * range is taken over all runs, either as the plain min/max or as a percentile of the values
 * (robust to a few outliers, which would otherwise stretch the uint8 grid for every other pixel).
 * Statistics are kept per channel (min, max, and which channel each sampled value came from), so
 * ranges can be taken again after channels are rescaled (equalize.ts) and per-channel means of the
 * quantized values computed (bias-correction.ts) without running the model again.
 */
import * as ort from 'onnxruntime-node';
import { TintaError, ErrorCodes } from '../sdk/errors.ts';
import { DataType, encodeModel, type OnnxModel } from './onnx/model.ts';

/** A tensor's calibrated range (always contains 0, as uint8 quantization needs). */
export interface TensorRange {
  min: number;
  max: number;
}

/** How ranges are chosen. */
export type CalibrationMethod = 'minmax' | 'percentile';

/** One calibration run's inputs: name -> [values, dims]. */
export type Feeds = Record<string, { data: Float32Array; dims: number[] }>;

// Percentiles are taken on a strided sample of each tensor: about this many values over all runs
// (enough for 99.99% to mean something), at least MIN_SAMPLE_PER_RUN per run; bounded memory.
const SAMPLE_TOTAL = 1 << 20;
const MIN_SAMPLE_PER_RUN = 1 << 12;

/**
 * What calibration saw of one tensor [N, C, ...]: per-channel min and max, and a strided sample of
 * its values with the channel of each, so ranges can still be taken after channels are rescaled.
 */
export interface TensorStats {
  channels: number;
  channelMin: Float32Array;
  channelMax: Float32Array;
  sample: Float32Array;
  sampleChannel: Uint16Array;
}

/** Run the fp32 `model` on `feeds` and gather `TensorStats` of `tensors` (float values of the model). */
export async function collectStats(model: OnnxModel, tensors: readonly string[], feeds: readonly Feeds[]): Promise<Map<string, TensorStats>> {
  if (feeds.length === 0) throw new TintaError(ErrorCodes.QUANTIZE_FAILED, 'int8 quantization needs at least one calibration input.');
  const existing = new Set(model.graph.outputs.map((o) => o.name));
  const probe: OnnxModel = {
    ...model,
    graph: {
      ...model.graph,
      outputs: [...model.graph.outputs, ...tensors.filter((t) => !existing.has(t)).map((name) => ({ name, elemType: DataType.FLOAT }))],
    },
  };
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(encodeModel(probe), { logSeverityLevel: 3, graphOptimizationLevel: 'disabled' });
  } catch (e) {
    throw new TintaError(ErrorCodes.QUANTIZE_FAILED, `The fp32 model cannot be run for calibration: ${(e as Error).message}`, { cause: e });
  }
  const perRun = Math.max(MIN_SAMPLE_PER_RUN, Math.ceil(SAMPLE_TOTAL / feeds.length));
  const acc = new Map<string, { min: Float32Array; max: Float32Array; values: Float32Array[]; channel: Uint16Array[] }>();
  try {
    for (const f of feeds) {
      const inputs: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(f)) inputs[k] = new ort.Tensor('float32', v.data, v.dims);
      const out = await session.run(inputs, [...tensors]);
      for (const t of tensors) {
        const o = out[t]!;
        const data = o.data as Float32Array;
        const channels = o.dims.length >= 2 ? Number(o.dims[1]) : 1;
        const inner = o.dims.slice(2).reduce((a, d) => a * Number(d), 1);
        let a = acc.get(t);
        if (!a) acc.set(t, a = { min: new Float32Array(channels), max: new Float32Array(channels), values: [], channel: [] });
        if (a.min.length !== channels) throw new TintaError(ErrorCodes.QUANTIZE_FAILED, `Tensor "${t}" changes its channel count between calibration inputs.`);
        for (let start = 0, c = 0; start < data.length; start += inner, c = (c + 1) % channels) {
          let lo = a.min[c]!, hi = a.max[c]!;
          for (let i = start; i < start + inner; i++) {
            const v = data[i]!;
            if (v < lo) lo = v;
            else if (v > hi) hi = v;
          }
          a.min[c] = lo;
          a.max[c] = hi;
        }
        // An odd step: feature-map sides are multiples of 8, so it visits every column and channel.
        const step = Math.max(1, Math.floor(data.length / perRun)) | 1;
        const n = Math.ceil(data.length / step);
        const s = new Float32Array(n), ch = new Uint16Array(n);
        for (let i = 0, j = 0; i < data.length; i += step, j++) { s[j] = data[i]!; ch[j] = Math.floor(i / inner) % channels; }
        a.values.push(s);
        a.channel.push(ch);
      }
    }
  } finally {
    await session.release();
  }
  const stats = new Map<string, TensorStats>();
  for (const [t, a] of acc) {
    const total = a.values.reduce((x, s) => x + s.length, 0);
    const sample = new Float32Array(total), sampleChannel = new Uint16Array(total);
    let off = 0;
    for (const [k, s] of a.values.entries()) { sample.set(s, off); sampleChannel.set(a.channel[k]!, off); off += s.length; }
    stats.set(t, { channels: a.min.length, channelMin: a.min, channelMax: a.max, sample, sampleChannel });
  }
  return stats;
}

/** Per-channel absolute maxima of each tensor (what activation equalization balances). */
export function channelAbsMax(stats: ReadonlyMap<string, TensorStats>): Map<string, Float32Array> {
  return new Map([...stats].map(([t, s]) => [t, s.channelMin.map((lo, c) => Math.max(-lo, s.channelMax[c]!))]));
}

/**
 * The range of one tensor from its stats, with channel c divided by `divisor[c]` when given (the
 * tensor was rescaled after calibration). With 'percentile', min and max are the (100 - p)th and
 * pth percentiles of the sampled values; always widened to contain 0.
 */
export function tensorRange(s: TensorStats, method: CalibrationMethod, p: number, divisor?: Float32Array): TensorRange {
  const d = (c: number) => (divisor ? divisor[c]! : 1);
  if (method === 'minmax') {
    let min = 0, max = 0;
    for (let c = 0; c < s.channels; c++) { min = Math.min(min, s.channelMin[c]! / d(c)); max = Math.max(max, s.channelMax[c]! / d(c)); }
    return { min, max };
  }
  const all = divisor ? s.sample.map((v, i) => v / divisor[s.sampleChannel[i]!]!) : Float32Array.from(s.sample);
  all.sort();
  const at = (q: number) => all[Math.min(all.length - 1, Math.max(0, Math.round((q / 100) * (all.length - 1))))]!;
  return { min: Math.min(0, at(100 - p)), max: Math.max(0, at(p)) };
}

function checkPercentile(p: number): void {
  if (!(p > 50 && p <= 100)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `percentile must be in (50, 100]; got ${p}.`);
}

/** Ranges of all tensors in `stats`, with the per-channel divisors of rescaled tensors. */
export function rangesFromStats(
  stats: ReadonlyMap<string, TensorStats>,
  opts: { method?: CalibrationMethod; percentile?: number; divisors?: ReadonlyMap<string, Float32Array> } = {},
): Map<string, TensorRange> {
  const p = opts.percentile ?? 99.99;
  checkPercentile(p);
  return new Map([...stats].map(([t, s]) => [t, tensorRange(s, opts.method ?? 'minmax', p, opts.divisors?.get(t))]));
}

/**
 * Ranges of `tensors` (float values of `model`) over the runs in `feeds`. With 'percentile',
 * min and max are the (100 - p)th and pth percentiles of the pooled values.
 */
export async function collectRanges(
  model: OnnxModel,
  tensors: readonly string[],
  feeds: readonly Feeds[],
  opts: { method?: CalibrationMethod; percentile?: number } = {},
): Promise<Map<string, TensorRange>> {
  checkPercentile(opts.percentile ?? 99.99);
  return rangesFromStats(await collectStats(model, tensors, feeds), opts);
}
