/**
 * Activation ranges for static quantization: the fp32 model runs (onnxruntime-node, CPU) on the
 * calibration inputs with the tensors of interest added as extra graph outputs, and each tensor's
 * range is taken over all runs, either as the plain min/max or as a percentile of the values
 * (robust to a few outliers, which would otherwise stretch the uint8 grid for every other pixel).
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

// Percentiles are taken on a strided sample: enough values for 99.99% to mean something, bounded memory.
const SAMPLE_PER_RUN = 1 << 16;

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
  const method = opts.method ?? 'minmax';
  const p = opts.percentile ?? 99.99;
  if (!(p > 50 && p <= 100)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `percentile must be in (50, 100]; got ${p}.`);
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
  const minmax = new Map<string, TensorRange>(tensors.map((t) => [t, { min: 0, max: 0 }]));
  const samples = new Map<string, Float32Array[]>(tensors.map((t) => [t, []]));
  try {
    for (const f of feeds) {
      const inputs: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(f)) inputs[k] = new ort.Tensor('float32', v.data, v.dims);
      const out = await session.run(inputs, [...tensors]);
      for (const t of tensors) {
        const data = out[t]!.data as Float32Array;
        const r = minmax.get(t)!;
        for (let i = 0; i < data.length; i++) {
          const v = data[i]!;
          if (v < r.min) r.min = v;
          else if (v > r.max) r.max = v;
        }
        if (method === 'percentile') {
          const step = Math.max(1, Math.floor(data.length / SAMPLE_PER_RUN));
          const s = new Float32Array(Math.ceil(data.length / step));
          for (let i = 0, j = 0; i < data.length; i += step, j++) s[j] = data[i]!;
          samples.get(t)!.push(s);
        }
      }
    }
  } finally {
    await session.release();
  }
  if (method === 'minmax') return minmax;
  const ranges = new Map<string, TensorRange>();
  for (const t of tensors) {
    const parts = samples.get(t)!;
    const all = new Float32Array(parts.reduce((a, s) => a + s.length, 0));
    let off = 0;
    for (const s of parts) { all.set(s, off); off += s.length; }
    all.sort();
    const at = (q: number) => all[Math.min(all.length - 1, Math.max(0, Math.round((q / 100) * (all.length - 1))))]!;
    ranges.set(t, { min: Math.min(0, at(100 - p)), max: Math.max(0, at(p)) });
  }
  return ranges;
}
