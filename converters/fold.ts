/**
 * Exact algebraic folding of per-channel affines (inference-mode batch norm) into convolutions.
 *
 * tinta's models put batch norm AFTER the ReLU of a convolution, so the textbook fold into the
 * preceding conv does not apply directly, and folding into the NEXT 3x3 'same' conv is not exact:
 * that conv's zero padding sits after the affine in the original network (borders see 0, not the
 * shift). What is exact, and what these passes do:
 *  1. affine right after a conv with no activation: fold fully into that conv;
 *  2. affine right after conv+ReLU whose scales are all > 0: since s*relu(z) = relu(s*z), the scale
 *     folds into the conv and only the shift remains (an Add);
 *  3. affine read only by 1x1 unpadded convs (directly or through a channel concat, as in the
 *     fusion block) and by shape-only readers (the spatial tile): fold into those convs, where no
 *     padding can see the difference.
 * Each pass keeps results within float32 rounding of the unfolded network.
 */
import type { AffineOp, ConvOp, IrGraph, IrNode } from './ir.ts';
import { consumersOf, nodeById } from './ir.ts';

/** What the passes did, for the export report. */
export interface FoldReport {
  /** Affines folded completely into the conv before them. */
  intoProducer: string[];
  /** Affines whose scale went into the conv before them, leaving a shift. */
  scaleIntoProducer: string[];
  /** Affines folded into the 1x1 convs after them. */
  intoConsumers: string[];
}

function isAffine(n: IrNode): n is IrNode & { op: AffineOp } {
  return n.op.kind === 'affine';
}

function isConv(n: IrNode): n is IrNode & { op: ConvOp } {
  return n.op.kind === 'conv';
}

// Scale the output channels of a conv in place: W[o] *= s[o], b[o] = b[o]*s[o] (+ t[o]).
function scaleConvOutputs(c: ConvOp, s: Float32Array | null, t: Float32Array | null): void {
  const [d0, d1, kh, kw] = c.weightShape;
  const per = kh * kw;
  for (let a = 0; a < d0; a++) {
    for (let b = 0; b < d1; b++) {
      const o = c.transpose ? b : a;
      const f = s ? s[o]! : 1;
      if (f === 1) continue;
      const base = (a * d1 + b) * per;
      for (let k = 0; k < per; k++) c.weight[base + k] = c.weight[base + k]! * f;
    }
  }
  const cout = c.bias.length;
  for (let o = 0; o < cout; o++) c.bias[o] = c.bias[o]! * (s ? s[o]! : 1) + (t ? t[o]! : 0);
}

function removeNode(g: IrGraph, n: IrNode): void {
  const src = n.inputs[0]!;
  for (const m of g.nodes) m.inputs = m.inputs.map((i) => (i === n.id ? src : i));
  g.nodes.splice(g.nodes.indexOf(n), 1);
}

function foldIntoProducer(g: IrGraph, r: FoldReport, throughRelu: boolean): void {
  for (const n of [...g.nodes]) {
    if (!isAffine(n) || n.id === g.output) continue;
    const p = nodeById(g, n.inputs[0]!);
    if (!isConv(p) || p.id === g.output || consumersOf(g, p.id).length !== 1) continue;
    const { scale, shift } = n.op;
    if (p.op.activation === null) {
      scaleConvOutputs(p.op, scale, shift);
      removeNode(g, n);
      r.intoProducer.push(n.id);
    } else if (throughRelu && p.op.activation === 'relu' && scale && scale.every((v) => v > 0)) {
      scaleConvOutputs(p.op, scale, null);
      n.op.scale = null;
      if (!shift || shift.every((v) => v === 0)) removeNode(g, n);
      r.scaleIntoProducer.push(n.id);
    }
  }
}

// The 1x1 unpadded convs that see the affine's channels, with the channel offset they see them at;
// null when some reader needs the affine's actual values in another way.
function pointwiseReaders(g: IrGraph, a: IrNode): { conv: IrNode & { op: ConvOp }; offset: number }[] | null {
  const out: { conv: IrNode & { op: ConvOp }; offset: number }[] = [];
  const pointwise = (c: IrNode): c is IrNode & { op: ConvOp } =>
    isConv(c) && !c.op.transpose && c.op.weightShape[2] === 1 && c.op.weightShape[3] === 1 && c.op.pads.every((p) => p === 0);
  for (const c of consumersOf(g, a.id)) {
    if (c.inputs.filter((i) => i === a.id).length !== 1) return null;
    if (c.op.kind === 'tile' && c.inputs[0] === a.id) continue; // reads the shape only
    if (pointwise(c)) {
      out.push({ conv: c, offset: 0 });
      continue;
    }
    if (c.op.kind === 'concat' && c.op.axis === 1 && c.id !== g.output) {
      const readers = consumersOf(g, c.id);
      const r = readers[0];
      if (readers.length !== 1 || !r || !pointwise(r)) return null;
      let offset = 0;
      for (const i of c.inputs) {
        if (i === a.id) break;
        offset += nodeById(g, i).channels;
      }
      out.push({ conv: r, offset });
      continue;
    }
    return null;
  }
  return out.length ? out : null;
}

function foldIntoConsumers(g: IrGraph, r: FoldReport): void {
  for (const n of [...g.nodes]) {
    if (!isAffine(n) || n.id === g.output) continue;
    const readers = pointwiseReaders(g, n);
    if (!readers) continue;
    const { scale, shift } = n.op;
    for (const { conv, offset } of readers) {
      // Conv weight [cout, cin, 1, 1]: input channel ci of the affine is column offset + ci.
      const [cout, cin] = conv.op.weightShape;
      const w = conv.op.weight, b = conv.op.bias;
      for (let o = 0; o < cout; o++) {
        let acc = 0;
        for (let ci = 0; ci < n.channels; ci++) {
          const k = o * cin + offset + ci;
          if (shift) acc += w[k]! * shift[ci]!;
          if (scale) w[k] = w[k]! * scale[ci]!;
        }
        b[o] = b[o]! + acc;
      }
    }
    removeNode(g, n);
    r.intoConsumers.push(n.id);
  }
}

/** Run the exact folds on `g` in place (weights are the IR's own copies); `throughRelu: false` skips fold 2. */
export function foldAffines(g: IrGraph, opts: { throughRelu?: boolean } = {}): FoldReport {
  const r: FoldReport = { intoProducer: [], scaleIntoProducer: [], intoConsumers: [] };
  foldIntoProducer(g, r, opts.throughRelu ?? true);
  foldIntoConsumers(g, r);
  return r;
}
