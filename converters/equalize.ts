/**
 * Activation equalization before int8 quantization (cross-layer scaling, as in DFQ / SmoothQuant).
 *
 * An int8 activation has one scale per tensor, but the channels of a tinta activation differ a lot
 * in range (up to ~30x on the trained default model): one loud channel sets the grid step, and the
 * quiet channels, which carry as much of the colour decision, are left with a handful of levels.
 * Between two convolutions joined only by channel-wise steps,
 *
 *   Conv A -> [Relu] -> [Add per-channel constant] -> [Resize] -> Conv B,
 *
 * channel c can be divided by any s_c > 0 at A (its weights and bias row, and the Add constant) and
 * multiplied back in B's input column: ReLU commutes with positive scaling, the constant and the
 * resize are per channel, and B's zero padding stays zero, so the float network computes the same
 * function (up to rounding). The scales move range from the activation into B's weights, which are
 * quantized per output channel; s_c = |x_c|^a / |w_c|^(1-a) balances the two, with |x_c| channel
 * c's calibrated absolute maximum and |w_c| the largest weight B applies to it (relative to its
 * output channel's largest weight, which is what the per-channel weight grid sees). a = 0.5 shares
 * the range evenly (what quantizeModel uses); a = 1 would equalize the activations fully, which
 * only suits a consumer whose weights are not quantized.
 */
import { DataType, makeTensor, tensorToArray, type OnnxModel, type OnnxNode, type OnnxTensor } from './onnx/model.ts';

/** Two convs joined by channel-wise steps, whose shared channels can be rescaled. */
export interface EqualizePair {
  /** The conv whose output channels are divided. */
  producer: string;
  /** The conv whose input channels are multiplied. */
  consumer: string;
  /** The tensors in between, in order (the last is the consumer's input); all scale alike. */
  tensors: string[];
  /** The Add whose per-channel constant is divided too, if any. */
  add: string | null;
}

/** Channel-wise ops that commute with per-channel positive scaling (Add only with a per-channel constant). */
const PASS_THROUGH = new Set(['Relu', 'Add', 'Resize']);

function group(n: OnnxNode): number {
  const g = n.attrs.group;
  return g && g.type === 'int' ? Number(g.value) : 1;
}

/** The conv pairs of `model` that `equalize` can rescale. */
export function findEqualizable(model: OnnxModel): EqualizePair[] {
  const g = model.graph;
  const init = new Map(g.initializers.map((t) => [t.name, t]));
  const outputs = new Set(g.outputs.map((o) => o.name));
  const readers = new Map<string, OnnxNode[]>();
  for (const n of g.nodes) for (const i of new Set(n.inputs)) if (i) readers.set(i, [...(readers.get(i) ?? []), n]);
  const isConv = (n: OnnxNode) => n.opType === 'Conv' && group(n) === 1 && init.has(n.inputs[1] ?? '') && (!n.inputs[2] || init.has(n.inputs[2]));
  const pairs: EqualizePair[] = [];
  for (const a of g.nodes) {
    if (!isConv(a)) continue;
    const cout = init.get(a.inputs[1]!)!.dims[0]!;
    const tensors: string[] = [];
    let t = a.outputs[0]!, add: string | null = null;
    for (;;) {
      const r = readers.get(t) ?? [];
      if (outputs.has(t) || r.length !== 1) break;
      const n = r[0]!;
      if (n.inputs[0] !== t) break;
      if (isConv(n)) {
        if (tensors.length && init.get(n.inputs[1]!)!.dims[1] === cout) pairs.push({ producer: a.name ?? '', consumer: n.name ?? '', tensors, add });
        break;
      }
      if (!PASS_THROUGH.has(n.opType)) break;
      if (n.opType === 'Add') {
        const c = init.get(n.inputs[1] ?? '');
        // One constant per channel: [C], [C,1,1] or [1,C,1,1]; only one Add per chain.
        if (add || !c || n.inputs.length !== 2 || c.dataType !== DataType.FLOAT || c.dims.reduce((x, y) => x * y, 1) !== cout || c.dims.at(-1) !== (c.dims.length === 1 ? cout : 1)) break;
        add = n.name ?? '';
      }
      // Resize: only its data input may be a tensor of the chain (scales / sizes are constants or shape values).
      t = n.outputs[0]!;
      tensors.push(t);
    }
  }
  return pairs;
}

/** Per-channel absolute maximum of a calibrated tensor. */
export type ChannelAbsMax = ReadonlyMap<string, Float32Array>;

/** What `equalize` did: per pair the scales applied (a tensor's channel c was divided by scale[c]). */
export interface EqualizeReport {
  pairs: EqualizePair[];
  /** Tensor -> per-channel divisor, for every tensor of every pair. */
  divisors: Map<string, Float32Array>;
}

function floats(t: OnnxTensor): Float32Array {
  return tensorToArray(t) as Float32Array;
}

// Scales far apart make no sense (a channel that never fires) and could push weights out of range.
const MAX_SPREAD = 1e3;

/**
 * Rescale the channels between each pair (in place), from the calibrated per-channel absolute
 * maxima of each pair's last tensor. `alpha(consumer)` gives the migration strength per consumer
 * conv (default 0.5).
 */
export function equalize(model: OnnxModel, pairs: readonly EqualizePair[], absMax: ChannelAbsMax, alpha: (consumer: string) => number = () => 0.5): EqualizeReport {
  const g = model.graph;
  const byName = new Map(g.nodes.map((n) => [n.name ?? '', n]));
  const index = new Map(g.initializers.map((t, i) => [t.name, i]));
  const get = (name: string) => g.initializers[index.get(name)!]!;
  const put = (t: OnnxTensor, data: Float32Array) => { g.initializers[index.get(t.name)!] = makeTensor(t.name, data, t.dims); };
  const divisors = new Map<string, Float32Array>();
  const done: EqualizePair[] = [];
  for (const p of pairs) {
    const a = byName.get(p.producer)!, b = byName.get(p.consumer)!;
    const x = absMax.get(p.tensors.at(-1)!);
    const wa = get(a.inputs[1]!), wb = get(b.inputs[1]!);
    const [cout, cinA] = wa.dims as [number, number];
    if (!x || x.length !== cout) continue;
    const kA = wa.dims.slice(2).reduce((u, v) => u * v, 1);
    const [bout, cin] = wb.dims as [number, number];
    const kB = wb.dims.slice(2).reduce((u, v) => u * v, 1);
    const WB = floats(wb);
    // |w_c|: B's largest weight on input channel c, relative to the largest weight of each output channel.
    const w = new Float32Array(cin);
    for (let o = 0; o < bout; o++) {
      let rowMax = 0;
      for (let i = o * cin * kB; i < (o + 1) * cin * kB; i++) rowMax = Math.max(rowMax, Math.abs(WB[i]!));
      if (rowMax === 0) continue;
      for (let c = 0; c < cin; c++) for (let k = 0; k < kB; k++) w[c] = Math.max(w[c]!, Math.abs(WB[(o * cin + c) * kB + k]!) / rowMax);
    }
    const al = alpha(p.consumer);
    const s = new Float32Array(cout).fill(1);
    let logSum = 0, live = 0;
    for (let c = 0; c < cout; c++) {
      if (!(x[c]! > 0) || !(w[c]! > 0)) continue;
      s[c] = Math.pow(x[c]!, al) / Math.pow(w[c]!, 1 - al);
      logSum += Math.log(s[c]!);
      live++;
    }
    if (live === 0) continue;
    // Only ratios matter (both grids are invariant to a common factor): centre on 1, bound the spread.
    const mid = Math.exp(logSum / live);
    for (let c = 0; c < cout; c++) {
      if (!(x[c]! > 0) || !(w[c]! > 0)) { s[c] = 1; continue; }
      s[c] = Math.fround(Math.min(Math.sqrt(MAX_SPREAD), Math.max(1 / Math.sqrt(MAX_SPREAD), s[c]! / mid)));
    }
    // A: output channel c (weights row and bias) divided by s_c.
    const WA = floats(wa);
    for (let c = 0; c < cout; c++) for (let i = c * cinA * kA; i < (c + 1) * cinA * kA; i++) WA[i] = WA[i]! / s[c]!;
    put(wa, WA);
    if (a.inputs[2]) {
      const bt = get(a.inputs[2]);
      put(bt, floats(bt).map((v, c) => v / s[c]!));
    }
    if (p.add) {
      const ct = get(byName.get(p.add)!.inputs[1]!);
      put(ct, floats(ct).map((v, c) => v / s[c]!));
    }
    // B: input column c multiplied by s_c.
    for (let o = 0; o < bout; o++) for (let c = 0; c < cin; c++) for (let k = 0; k < kB; k++) WB[(o * cin + c) * kB + k] = WB[(o * cin + c) * kB + k]! * s[c]!;
    put(wb, WB);
    for (const t of p.tensors) divisors.set(t, s);
    done.push(p);
  }
  return { pairs: done, divisors };
}
