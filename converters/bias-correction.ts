/**
 * Empirical bias correction (Nagel et al. 2019) for int8 convolutions: quantization errors that
 * are the same at every pixel add up coherently in the next conv instead of averaging out. Two such
 * errors matter here:
 *  - the input's uint8 grid: after a batch-norm shift, half of each channel sits exactly at its
 *    shift value (ReLU zeros moved by the constant), which the grid misses by up to half a step, at
 *    every one of those pixels; clipping at a percentile also moves a channel's mean;
 *  - the weights' int8 rounding, which shifts the output by (Wq - W) . E[x] on average.
 * Both are measured on the calibration statistics: for each conv whose weights become int8 and
 * whose input has a Q/DQ pair, output channel o expects an error of
 *   sum over c, k of Wq[o,c,k] * E[Q(x_c)] - W[o,c,k] * E[x_c]
 * (zero padding aside), which is subtracted from its bias; Wq must be rounded as `applyQdq` will
 * (`grid`: the quantized convs' grid, 'int8' for weight-only ones, null for precise weights).
 */
import { convWeightsInt8, uint8Params, type ConvWeightGrid } from './qdq.ts';
import { makeTensor, tensorToArray, type OnnxModel } from './onnx/model.ts';
import type { TensorRange, TensorStats } from './calibrate.ts';

/** Per-channel mean of a tensor and of its uint8 quantize-dequantize over the range `r`. */
export function channelMeans(s: TensorStats, r: TensorRange, divisor?: Float32Array, opts: { clipping?: boolean } = {}): { mean: Float64Array; quantizedMean: Float64Array } {
  const lo = Math.min(0, r.min), hi = Math.max(0, r.max);
  const { scale, zeroPoint } = uint8Params(r);
  const sum = new Float64Array(s.channels), qsum = new Float64Array(s.channels), n = new Float64Array(s.channels);
  for (let i = 0; i < s.sample.length; i++) {
    const c = s.sampleChannel[i]!;
    const x = divisor ? s.sample[i]! / divisor[c]! : s.sample[i]!;
    const v = opts.clipping ? x : Math.min(hi, Math.max(lo, x));
    const q = Math.max(0, Math.min(255, Math.round(v / scale) + zeroPoint));
    sum[c] += v;
    qsum[c] += (q - zeroPoint) * scale;
    n[c]++;
  }
  for (let c = 0; c < s.channels; c++) {
    sum[c] = n[c] ? sum[c]! / n[c]! : 0;
    qsum[c] = n[c] ? qsum[c]! / n[c]! : 0;
  }
  return { mean: sum, quantizedMean: qsum };
}

/**
 * Correct the biases of `convs` (in place, on the float model, before `applyQdq` quantizes it).
 * `inputs` gives, per conv, the per-channel means of its input as float and as quantized (null
 * when its input has no calibration statistics: that conv is left alone). Returns how many convs
 * were corrected.
 */
export function correctBiases(
  model: OnnxModel,
  convs: readonly string[],
  inputs: (conv: string, input: string) => { mean: Float64Array; quantizedMean: Float64Array } | null,
  grid: (conv: string) => ConvWeightGrid | null = () => 'int8',
): number {
  const g = model.graph;
  const index = new Map(g.initializers.map((t, i) => [t.name, i]));
  let done = 0;
  for (const name of convs) {
    const n = g.nodes.find((x) => x.opType === 'Conv' && x.name === name);
    if (!n || !n.inputs[2] || !index.has(n.inputs[1]!) || !index.has(n.inputs[2])) continue;
    const m = inputs(name, n.inputs[0]!);
    if (!m) continue;
    const wt = g.initializers[index.get(n.inputs[1]!)!]!;
    const bt = g.initializers[index.get(n.inputs[2])!]!;
    const W = tensorToArray(wt) as Float32Array;
    const [cout, cin] = wt.dims as [number, number];
    if (m.mean.length !== cin) continue;
    const k = wt.dims.slice(2).reduce((a, d) => a * d, 1);
    const gr = grid(name);
    const { q, scales } = gr ? convWeightsInt8(W, wt.dims, gr) : { q: W, scales: new Float32Array(cout).fill(1) };
    const B = Float32Array.from(tensorToArray(bt) as Float32Array);
    for (let o = 0; o < cout; o++) {
      let e = 0;
      for (let c = 0; c < cin; c++) {
        let wq = 0, w = 0;
        for (let j = (o * cin + c) * k; j < (o * cin + c + 1) * k; j++) { wq += q[j]! * scales[o]!; w += W[j]!; }
        e += wq * m.quantizedMean[c]! - w * m.mean[c]!;
      }
      B[o] = B[o]! - e;
    }
    g.initializers[index.get(n.inputs[2])!] = makeTensor(bt.name, B, bt.dims);
    done++;
  }
  return done;
}
