/**
 * Static int8 quantization in the QDQ format onnxruntime fuses into QLinearConv:
 *
 *   DequantizeLinear(uint8 x) ┐
 *   DequantizeLinear(int8 W, per output channel, zero point 0) ├ Conv -> [Relu] -> QuantizeLinear(uint8)
 *   DequantizeLinear(int32 b, scale = x scale * W scale)  ┘
 *
 * Every Conv whose result is not the graph output, and that reads at least 4 channels, is quantized
 * this way unless the caller keeps it float (`keepFloat`). Its input and its output (after its ReLU
 * when it has one) get a QuantizeLinear -> DequantizeLinear pair with the calibrated range, shared
 * by all readers. Everything else computes in float between those pairs: ConvTranspose, Resize
 * (run on uint8 when both sides share a scale), Concat, Gemm, the fusion tile, softmax, the first
 * conv and the last one (so the logits keep full precision). The constants of Adds between two
 * quantized tensors (the batch-norm shifts left after folding) are quantized too by default, which
 * lets onnxruntime run them as QLinearAdd instead of a dequantize / add / quantize round trip.
 * Float convs keep precise weights (few: the first conv, the logits conv, what is kept float for
 * accuracy); float ConvTranspose and Gemm store theirs as int8 (weight-only, dequantized at run
 * time). The whole file shrinks ~4x. Quantized conv weights are rounded so that onnxruntime's
 * x86 u8s8 kernels cannot saturate (see `ConvWeightGrid`).
 */
import { TintaError, ErrorCodes } from '../sdk/errors.ts';
import { DataType, GraphBuilder, int as attrInt, tensorToArray, type OnnxModel, type OnnxNode, type OnnxTensor } from './onnx/model.ts';
import { float16Bits } from './fp16.ts';
import type { TensorRange } from './calibrate.ts';

/** Which tensors get a Q/DQ pair and which convs are quantized. */
export interface QdqPlan {
  /** Names of the Conv nodes quantized. */
  convs: string[];
  /** Conv nodes left in float (they produce the graph output, or read under 4 channels). */
  floatConvs: string[];
  /** Float tensors that get a QuantizeLinear -> DequantizeLinear pair. */
  points: string[];
  /** [tensor, source]: the tensor's pair uses the source's range (Resize output and input). */
  tied: [string, string][];
  /** Add nodes whose constant operand is quantized (when asked for). */
  adds: string[];
  /** Float Conv / ConvTranspose / Gemm nodes whose weights are stored int8 (dequantized at run time). */
  weightOnly: string[];
  /** Float Conv nodes whose weights keep (nearly) full precision: see `applyQdq`. */
  precise: string[];
}

/** Options of `applyQdq`. */
export interface QdqOptions {
  /** Quantize the constant of Adds between two quantized tensors (default true). */
  quantizeAddConstants?: boolean;
  /** Run Resize on uint8 (default true). */
  quantizeResize?: boolean;
  /** Conv nodes to leave in float although they could be quantized. */
  keepFloat?: readonly string[];
  /**
   * Float convs keep precise weights (default true; false stores them int8, weight-only, as
   * ConvTranspose and Gemm always are). Their weights are few (the 1-channel first conv, the logits
   * conv and whatever is kept float for accuracy) and int8 rounding there costs agreement directly.
   */
  preciseFloatConvs?: boolean;
}

/** What quantizing did, for the report. */
export interface QdqReport extends QdqPlan {
  /** Bias values clipped to the int32 range (a sign of a degenerate scale). */
  clippedBiases: number;
}

// A conv reading fewer channels stays float: for the 1-channel first conv, QLinearConv's im2col
// with K = 9 ran 4x slower than the fp32 conv (onnxruntime-node 1.30, AVX2), undoing the gain.
const MIN_INPUT_CHANNELS = 4;

function failed(message: string): TintaError {
  return new TintaError(ErrorCodes.QUANTIZE_FAILED, message);
}

function consumers(nodes: readonly OnnxNode[], value: string): OnnxNode[] {
  return nodes.filter((n) => n.inputs.includes(value));
}

/** Decide where the Q/DQ pairs go (see the module comment). */
export function planQdq(model: OnnxModel, opts: QdqOptions = {}): QdqPlan {
  const g = model.graph;
  const inits = new Set(g.initializers.map((t) => t.name));
  const outputs = new Set(g.outputs.map((o) => o.name));
  const points = new Set<string>();
  const convs: string[] = [], floatConvs: string[] = [];
  const keep = new Set(opts.keepFloat ?? []);
  for (const n of g.nodes) {
    if (n.opType !== 'Conv') continue;
    const [x, w] = n.inputs;
    if (!x || !w || !inits.has(w) || (n.inputs[2] && !inits.has(n.inputs[2]))) throw failed(`Conv "${n.name ?? ''}" has non-constant weights; only exported tinta models can be quantized.`);
    const y = n.outputs[0]!;
    const cin = g.initializers.find((t) => t.name === w)!.dims[1] ?? 0;
    if (cin < MIN_INPUT_CHANNELS || keep.has(n.name ?? '')) {
      floatConvs.push(n.name ?? '');
      continue;
    }
    const after = consumers(g.nodes, y);
    const out = after.length === 1 && after[0]!.opType === 'Relu' && !outputs.has(y) ? after[0]!.outputs[0]! : y;
    if (outputs.has(out)) {
      floatConvs.push(n.name ?? '');
      continue;
    }
    convs.push(n.name ?? '');
    points.add(x);
    points.add(out);
  }
  // Resize moves values without creating new ones, so onnxruntime runs it on uint8 directly when
  // the pairs on both sides share one scale: quantize its input too and tie the two.
  const tied: [string, string][] = [];
  for (const n of g.nodes) {
    if (!(opts.quantizeResize ?? true) || n.opType !== 'Resize' || !points.has(n.outputs[0]!)) continue;
    points.add(n.inputs[0]!);
    tied.push([n.outputs[0]!, n.inputs[0]!]);
  }
  const adds: string[] = [];
  if (opts.quantizeAddConstants ?? true) {
    for (const n of g.nodes) {
      if (n.opType !== 'Add' || n.inputs.length !== 2) continue;
      const [a, c] = n.inputs as [string, string];
      if (points.has(a) && inits.has(c) && points.has(n.outputs[0]!)) adds.push(n.name ?? '');
    }
  }
  const quantized = new Set(convs);
  // A float conv between two quantized tensors (DequantizeLinear in, QuantizeLinear out) is one that
  // onnxruntime fuses into QLinearConv whatever its weights (int32 ones make an invalid model), so
  // it cannot stay float: it gets int8 weights like the rest (see `sandwiched`).
  const isSandwiched = sandwiched(model, points);
  const precise = opts.preciseFloatConvs ?? true ? floatConvs.filter((c) => !isSandwiched(c)) : [];
  const keepPrecise = new Set(precise);
  const weightOnly = g.nodes
    .filter((n) => ['Conv', 'ConvTranspose', 'Gemm'].includes(n.opType) && !quantized.has(n.name ?? '') && !keepPrecise.has(n.name ?? '') && inits.has(n.inputs[1] ?? ''))
    .filter((n) => n.opType !== 'Gemm' || (!n.attrs.transB && !n.attrs.transA))
    .map((n) => n.name ?? '');
  return { convs, floatConvs, points: [...points], tied, adds, weightOnly, precise };
}

/**
 * Whether a conv reads a quantized tensor and its output (after its ReLU) is quantized too, for
 * the given Q/DQ points: onnxruntime then runs it as QLinearConv even when it was meant to be float.
 */
export function sandwiched(model: OnnxModel, points: ReadonlySet<string>): (conv: string) => boolean {
  const g = model.graph;
  return (conv) => {
    const n = g.nodes.find((x) => x.opType === 'Conv' && x.name === conv);
    if (!n || !points.has(n.inputs[0]!)) return false;
    const y = n.outputs[0]!;
    const after = consumers(g.nodes, y);
    const out = after.length === 1 && after[0]!.opType === 'Relu' ? after[0]!.outputs[0]! : y;
    return points.has(y) || points.has(out);
  };
}

/** uint8 asymmetric scale and zero point covering [min, max] (widened to contain 0). */
export function uint8Params(r: TensorRange): { scale: number; zeroPoint: number } {
  const lo = Math.min(0, r.min), hi = Math.max(0, r.max);
  // A constant-zero tensor still needs a positive scale; any will do.
  const scale = hi > lo ? Math.fround((hi - lo) / 255) : 1;
  const zeroPoint = Math.min(255, Math.max(0, Math.round(-lo / scale)));
  return { scale, zeroPoint };
}

function floatData(t: OnnxTensor): Float32Array {
  if (t.dataType !== DataType.FLOAT) throw failed(`Initializer "${t.name}" is not float32.`);
  return tensorToArray(t) as Float32Array;
}

/**
 * Symmetric int8 of `values` (shape `dims`) with one scale per index of `axis`: [-qmax, qmax]
 * (127 by default) and zero point 0, which keeps the integer kernels simplest and fastest.
 */
export function symmetricInt8(values: Float32Array, dims: readonly number[], axis: number, qmax = 127): { q: Int8Array; scales: Float32Array } {
  const channels = dims[axis]!;
  const inner = dims.slice(axis + 1).reduce((a, d) => a * d, 1);
  const channelOf = (i: number) => Math.floor(i / inner) % channels;
  const max = new Float32Array(channels);
  for (let i = 0; i < values.length; i++) max[channelOf(i)] = Math.max(max[channelOf(i)]!, Math.abs(values[i]!));
  const scales = Float32Array.from(max, (m) => (m > 0 ? m / qmax : 1));
  const q = new Int8Array(values.length);
  for (let i = 0; i < values.length; i++) q[i] = Math.max(-qmax, Math.min(qmax, Math.round(values[i]! / scales[channelOf(i)]!)));
  return { q, scales };
}

/**
 * How the weights of quantized convs are rounded (per output channel, symmetric, zero point 0):
 * - 'int8': scale = max |w| / 127;
 * - 'int7': scale = max |w| / 63 (onnxruntime's `reduce_range`);
 * - 'pair-safe': like 'int8', but the scale is widened where needed so that no two weights that a
 *   u8s8 kernel may add in one int16 lane can saturate it. onnxruntime's x86 kernels without VNNI
 *   (AVX2, AVX-512F) multiply uint8 activations by int8 weights with VPMADDUBSW, which adds the
 *   products of adjacent pairs along the reduction axis with int16 saturation: 255 * (127 + 127)
 *   overflows, and a saturated pair is a silent, large error (on the test fixture, channel
 *   equalization plus plain int8 weights took the mean ab error from 0.2 to 2.8). Pairs are taken
 *   in both reduction orders a conv may use ([kh][kw][cin], the NHWC im2col of QLinearConv, and
 *   [cin][kh][kw]); same-sign pairs must stay within 127 grid steps together (255 * 128 fits int16
 *   after rounding). On tinta's trained convs that widens the step ~1.7x (median), between 'int8'
 *   and 'int7', and rules saturation out on every CPU; WASM and VNNI kernels never saturate.
 */
export type ConvWeightGrid = 'int8' | 'int7' | 'pair-safe';

/** Quantize conv weights [cout, cin, ...] per output channel on `grid` (see `ConvWeightGrid`). */
export function convWeightsInt8(values: Float32Array, dims: readonly number[], grid: ConvWeightGrid): { q: Int8Array; scales: Float32Array } {
  if (grid !== 'pair-safe') return symmetricInt8(values, dims, 0, grid === 'int7' ? 63 : 127);
  const cout = dims[0]!, cin = dims[1] ?? 1;
  const taps = dims.slice(2).reduce((a, d) => a * d, 1);
  const per = cin * taps;
  const scales = new Float32Array(cout);
  const q = new Int8Array(values.length);
  for (let o = 0; o < cout; o++) {
    const w = (c: number, t: number) => values[o * per + c * taps + t]!;
    let max = 0, pair = 0;
    const pairSum = (a: number, b: number) => (a > 0 && b > 0) || (a < 0 && b < 0) ? Math.abs(a) + Math.abs(b) : 0;
    for (let k = 0; k + 1 < per; k += 2) {
      // [kh][kw][cin]: k = t * cin + c.
      pair = Math.max(pair, pairSum(w(k % cin, Math.floor(k / cin)), w((k + 1) % cin, Math.floor((k + 1) / cin))));
      // [cin][kh][kw]: k = c * taps + t.
      pair = Math.max(pair, pairSum(w(Math.floor(k / taps), k % taps), w(Math.floor((k + 1) / taps), (k + 1) % taps)));
    }
    for (let i = o * per; i < (o + 1) * per; i++) max = Math.max(max, Math.abs(values[i]!));
    const sc = Math.max(max / 127, pair / 127);
    scales[o] = sc > 0 ? Math.fround(sc) : 1;
    for (let i = o * per; i < (o + 1) * per; i++) q[i] = Math.max(-127, Math.min(127, Math.round(values[i]! / scales[o]!)));
  }
  return { q, scales };
}

/**
 * Rewrite `model` (in place) to QDQ int8 per `plan`, with activation ranges from calibration.
 * Returns what was done.
 */
export function applyQdq(model: OnnxModel, plan: QdqPlan, ranges: ReadonlyMap<string, TensorRange>, opts: { weightGrid?: ConvWeightGrid } = {}): QdqReport {
  const g = model.graph;
  const b = new GraphBuilder(g);
  const init = new Map(g.initializers.map((t) => [t.name, t]));
  const dropInit = (name: string) => {
    // Only when nothing else reads it (exported graphs never share weights, but be safe).
    if (g.nodes.filter((n) => n.inputs.includes(name)).length <= 1) g.initializers = g.initializers.filter((t) => t.name !== name);
  };
  const act = new Map<string, { scale: number; zeroPoint: number; dq: string }>();
  const tiedTo = new Map(plan.tied);
  for (const t of plan.points) {
    const r = ranges.get(tiedTo.get(t) ?? t);
    if (!r) throw failed(`No calibration range for tensor "${t}".`);
    act.set(t, { ...uint8Params(r), dq: '' });
  }
  let clippedBiases = 0;

  // Per-output-channel symmetric int8 weights behind a DequantizeLinear; returns the scales.
  const quantizeWeight = (n: OnnxNode, axis: number, grid?: ConvWeightGrid): Float32Array => {
    const wName = n.inputs[1]!;
    const w = init.get(wName)!;
    const { q, scales } = grid ? convWeightsInt8(floatData(w), w.dims, grid) : symmetricInt8(floatData(w), w.dims, axis);
    const base = `${n.name ?? wName}.weight`;
    const qn = b.addInitializer(b.uniqueName(`${base}_q`), q, w.dims, DataType.INT8);
    const sn = b.addInitializer(b.uniqueName(`${base}_scale`), scales, [scales.length]);
    const zn = b.addInitializer(b.uniqueName(`${base}_zero`), new Int8Array(scales.length), [scales.length], DataType.INT8);
    const dq = b.uniqueName(`${base}_dq`);
    b.addNode({ opType: 'DequantizeLinear', inputs: [qn, sn, zn], outputs: [dq], name: b.uniqueName(`${base}/dequantize`), attrs: { axis } });
    n.inputs[1] = dq;
    dropInit(wName);
    return scales;
  };

  // Weight-only int8 where compute stays float: a quarter of the bytes for a dequantize per run.
  const weightOnly = new Set(plan.weightOnly);
  for (const n of g.nodes.filter((x) => weightOnly.has(x.name ?? ''))) {
    // Output channels: Conv W [cout, cin, kh, kw]; ConvTranspose W [cin, cout, kh, kw]; Gemm B [in, out].
    quantizeWeight(n, n.opType === 'Conv' ? 0 : 1);
  }

  // Precise float convs. onnxruntime quantizes the float weights of any Conv whose input comes
  // from a DequantizeLinear itself (per tensor, int8: its WeightBiasQuantization pass), so a float
  // conv reading a quantized tensor gets int32 weights behind a per-channel DequantizeLinear
  // (~24 significant bits; the bias as int32 too, at input scale x weight scale), which it leaves
  // alone and does not fuse. A float conv reading a float tensor keeps its weights as float16 + Cast.
  for (const n of g.nodes.filter((x) => x.opType === 'Conv' && plan.precise.includes(x.name ?? ''))) {
    const [x, wName, bName] = n.inputs as [string, string, string | undefined];
    const w = init.get(wName)!;
    const W = floatData(w);
    const base = n.name ?? wName;
    const a = act.get(x);
    if (!a) {
      const h = new Uint16Array(W.length);
      for (let i = 0; i < W.length; i++) h[i] = float16Bits(W[i]!);
      const half = b.addInitializer(b.uniqueName(`${base}.weight_fp16`), h, w.dims, DataType.FLOAT16);
      const cast = b.uniqueName(`${base}.weight_f32`);
      b.addNode({ opType: 'Cast', inputs: [half], outputs: [cast], name: b.uniqueName(`${base}/weight_cast`), attrs: { to: attrInt(DataType.FLOAT) } });
      n.inputs[1] = cast;
      dropInit(wName);
      continue;
    }
    const cout = w.dims[0]!;
    const per = W.length / cout;
    const bv = bName ? floatData(init.get(bName)!) : new Float32Array(cout);
    const scales = new Float32Array(cout), bs = new Float32Array(cout);
    const q = new Int32Array(W.length), bq = new Int32Array(cout);
    for (let o = 0; o < cout; o++) {
      let m = 0;
      for (let i = o * per; i < (o + 1) * per; i++) m = Math.max(m, Math.abs(W[i]!));
      // 2^24 levels for the weights, unless the bias needs a coarser step to fit int32.
      let sc = Math.max(m / 2 ** 24, Math.abs(bv[o]!) / (a.scale * 2 ** 30));
      if (!(sc > 0)) sc = 1;
      scales[o] = Math.fround(sc);
      for (let i = o * per; i < (o + 1) * per; i++) q[i] = Math.round(W[i]! / scales[o]!);
      bs[o] = Math.fround(a.scale * scales[o]!);
      bq[o] = Math.round(bv[o]! / bs[o]!);
    }
    const dq = (suffix: string, data: Int32Array, dims: readonly number[], sc: Float32Array) => {
      const qn = b.addInitializer(b.uniqueName(`${base}.${suffix}_q32`), data, dims, DataType.INT32);
      const sn = b.addInitializer(b.uniqueName(`${base}.${suffix}_scale`), sc, [cout]);
      const zn = b.addInitializer(b.uniqueName(`${base}.${suffix}_zero`), new Int32Array(cout), [cout], DataType.INT32);
      const out = b.uniqueName(`${base}.${suffix}_dq`);
      b.addNode({ opType: 'DequantizeLinear', inputs: [qn, sn, zn], outputs: [out], name: b.uniqueName(`${base}/${suffix}_dq`), attrs: { axis: 0 } });
      return out;
    };
    n.inputs[1] = dq('weight', q, w.dims, scales);
    dropInit(wName);
    if (bName) {
      n.inputs[2] = dq('bias', bq, [cout], bs);
      dropInit(bName);
    }
  }

  // Weights and biases of the quantized convs.
  const convNames = new Set(plan.convs);
  for (const n of g.nodes.filter((x) => x.opType === 'Conv' && convNames.has(x.name ?? ''))) {
    const [x, , bName] = n.inputs as [string, string, string | undefined];
    const ws = quantizeWeight(n, 0, opts.weightGrid ?? 'pair-safe');
    const cout = ws.length;
    const base = n.name ?? x;
    const xs = act.get(x)!.scale;
    if (bName) {
      const bv = floatData(init.get(bName)!);
      const bs = new Float32Array(cout);
      const bq = new Int32Array(cout);
      for (let o = 0; o < cout; o++) {
        // The bias scale must be exactly x scale * W scale (in float32), as QLinearConv assumes.
        bs[o] = Math.fround(xs * ws[o]!);
        const q = Math.round(bv[o]! / bs[o]!);
        if (q > 2147483647 || q < -2147483648) clippedBiases++;
        bq[o] = Math.max(-2147483648, Math.min(2147483647, q));
      }
      const bqName = b.addInitializer(b.uniqueName(`${base}.bias_q`), bq, [cout], DataType.INT32);
      const bsName = b.addInitializer(b.uniqueName(`${base}.bias_scale`), bs, [cout]);
      const bzName = b.addInitializer(b.uniqueName(`${base}.bias_zero`), new Int32Array(cout), [cout], DataType.INT32);
      const bdq = b.uniqueName(`${base}.bias_dq`);
      b.addNode({ opType: 'DequantizeLinear', inputs: [bqName, bsName, bzName], outputs: [bdq], name: b.uniqueName(`${base}/bias_dq`), attrs: { axis: 0 } });
      n.inputs[2] = bdq;
      dropInit(bName);
    }
  }

  // Constants of the Adds between quantized tensors, as uint8 per-tensor.
  const addNames = new Set(plan.adds);
  for (const n of g.nodes.filter((x) => x.opType === 'Add' && addNames.has(x.name ?? ''))) {
    const cName = n.inputs[1]!;
    const c = init.get(cName)!;
    const cv = floatData(c);
    let lo = 0, hi = 0;
    for (const v of cv) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const { scale, zeroPoint } = uint8Params({ min: lo, max: hi });
    const cq = Uint8Array.from(cv, (v) => Math.max(0, Math.min(255, Math.round(v / scale) + zeroPoint)));
    const base = n.name ?? cName;
    const qn = b.addInitializer(b.uniqueName(`${base}.const_q`), cq, c.dims, DataType.UINT8);
    const sn = b.addInitializer(b.uniqueName(`${base}.const_scale`), new Float32Array([scale]), []);
    const zn = b.addInitializer(b.uniqueName(`${base}.const_zero`), new Uint8Array([zeroPoint]), [], DataType.UINT8);
    const dq = b.uniqueName(`${base}.const_dq`);
    b.addNode({ opType: 'DequantizeLinear', inputs: [qn, sn, zn], outputs: [dq], name: b.uniqueName(`${base}/const_dq`) });
    n.inputs[1] = dq;
    dropInit(cName);
  }

  // Activation Q/DQ pairs: readers of t switch to its dequantized copy.
  for (const [t, p] of act) {
    const sn = b.addInitializer(b.uniqueName(`${t}.scale`), new Float32Array([p.scale]), []);
    const zn = b.addInitializer(b.uniqueName(`${t}.zero_point`), new Uint8Array([p.zeroPoint]), [], DataType.UINT8);
    const q = b.uniqueName(`${t}.q`);
    const dq = b.uniqueName(`${t}.dq`);
    const readers = consumers(g.nodes, t);
    b.addNode({ opType: 'QuantizeLinear', inputs: [t, sn, zn], outputs: [q], name: b.uniqueName(`${t}/quantize`) });
    b.addNode({ opType: 'DequantizeLinear', inputs: [q, sn, zn], outputs: [dq], name: b.uniqueName(`${t}/dequantize`) });
    for (const r of readers) r.inputs = r.inputs.map((i) => (i === t ? dq : i));
    p.dq = dq;
  }
  b.toposort();
  return { ...plan, clippedBiases };
}
