/**
 * The embedding classifier of a fused model: the choices the fused graph makes for it (from the
 * embedding descriptor of trainer/embedding/descriptor.ts, the one `tinta embed` uses) and the
 * exact preprocessing that turns L into its input. The fused graph computes this preprocessing
 * with ONNX ops (fuse-preprocess.ts), and `tinta embed` runs those same nodes
 * (buildEmbeddingModel); `classifierInputFromL` is the same computation in TypeScript, for
 * classifiers that run outside ONNX (the parity tests hold the two together). All do, in order:
 *
 *   1. crop the L plane (0-100, network size) at its centre to the classifier's aspect ratio
 *      ('cover'): crop width min(W, round(H * w / h)), height min(H, round(W * h / w)), offsets
 *      floor((W - cw) / 2), floor((H - ch) / 2);
 *   2. gray value in [0, 1]: 'srgb' (default) is the sRGB encoding of the neutral colour
 *      (a = b = 0) of that lightness, through sdk/color; 'lightness' is L / 100;
 *   3. resize to h x w: bilinear, half-pixel centres, edges clamped, no antialiasing (ONNX Resize
 *      linear / half_pixel, antialias 0);
 *   4. replicate to R, G, B and normalise per channel: (v - mean[c]) / std[c];
 *   5. lay out as NCHW [N, 3, h, w] or NHWC [N, h, w, 3].
 */
import { TintaError, ErrorCodes } from '../sdk/errors.ts';
import { labToLinearRgb, linearToSrgb } from '../sdk/color/lab.ts';
import type { EmbeddingDescriptor } from '../trainer/embedding/descriptor.ts';

/** What a classifier's output holds: logits get a softmax in the fused graph, probabilities are used as they are. */
export type ClassifierOutputKind = 'logits' | 'probabilities';

/** How the gray value the classifier sees is made from L. */
export type GrayMode = 'lightness' | 'srgb';

/**
 * The default gray value: what a black-and-white photo looks like to a classifier trained on sRGB
 * photos (top-1 on gray ImageNet photos measured in docs/embeddings.md).
 */
export const DEFAULT_GRAY: GrayMode = 'srgb';

/** Every choice the fused graph makes for its classifier, as recorded in the fused model's metadata. */
export interface ResolvedDescriptor {
  name: string;
  /** Classifier input height and width. */
  height: number;
  width: number;
  mean: [number, number, number];
  std: [number, number, number];
  layout: 'NCHW' | 'NHWC';
  output: ClassifierOutputKind;
  /** Where `output` was decided: the descriptor, an explicit option, or (descriptor 'auto') whether the graph ends in a Softmax. */
  outputFrom: 'descriptor' | 'option' | 'graph';
  gray: GrayMode;
  crop: 'center';
  resize: 'bilinear-half-pixel';
  antialias: false;
  /** Graph input and output used. */
  input: string;
  outputName: string;
}

/** Choices beside the descriptor. */
export interface ResolveOptions {
  /** Overrides the descriptor's outputKind. */
  output?: ClassifierOutputKind;
  /** Default DEFAULT_GRAY. */
  gray?: GrayMode;
}

function failed(message: string): TintaError {
  return new TintaError(ErrorCodes.FUSE_FAILED, message);
}

/**
 * Checks the descriptor against the classifier graph and makes the open choices: input and output
 * (default: the first of each, as `tinta embed` does), and for outputKind 'auto' whether the output
 * comes out of a Softmax. FUSE_FAILED / BAD_ARGUMENT say what does not fit.
 */
export function resolveDescriptor(
  d: EmbeddingDescriptor,
  graph: { inputs: { name: string; shape?: (number | string | null)[] }[]; outputs: { name: string }[]; nodes: { opType: string; outputs: string[]; domain?: string }[] },
  opts: ResolveOptions = {},
): ResolvedDescriptor {
  const pick = <T extends { name: string }>(list: T[], wanted: string | undefined, what: string): T => {
    const v = wanted === undefined ? list[0] : list.find((x) => x.name === wanted);
    if (!v) throw failed(`The classifier has no ${what}${wanted === undefined ? '' : ` '${wanted}'`}; its ${what}s are ${list.map((x) => `'${x.name}'`).join(', ') || 'none'} (descriptor '${d.name}').`);
    return v;
  };
  const input = pick(graph.inputs, d.input, 'input');
  const out = pick(graph.outputs, d.output, 'output');
  const [height, width] = d.inputSize;
  const shape = input.shape;
  if (shape) {
    if (shape.length !== 4) throw failed(`The classifier input '${input.name}' has rank ${shape.length}; an image classifier takes [N, 3, H, W] or [N, H, W, 3].`);
    const [c, h, w] = d.layout === 'NCHW' ? [shape[1], shape[2], shape[3]] : [shape[3], shape[1], shape[2]];
    const fits = (v: unknown, want: number) => typeof v !== 'number' || v === want;
    if (!fits(c, 3) || !fits(h, height) || !fits(w, width)) {
      throw failed(`The classifier input '${input.name}' is [${shape.join(', ')}], but the descriptor '${d.name}' says ${d.layout} with 3 channels at ${height}x${width}.`);
    }
  }
  const gray = opts.gray ?? DEFAULT_GRAY;
  if (gray !== 'lightness' && gray !== 'srgb') throw new TintaError(ErrorCodes.BAD_ARGUMENT, `The gray mode must be 'lightness' or 'srgb'; got ${String(gray)}.`);
  let output: ClassifierOutputKind, outputFrom: ResolvedDescriptor['outputFrom'];
  if (opts.output !== undefined) [output, outputFrom] = [opts.output, 'option'];
  else if (d.outputKind !== 'auto') [output, outputFrom] = [d.outputKind === 'probs' ? 'probabilities' : 'logits', 'descriptor'];
  else {
    const producer = graph.nodes.find((n) => n.outputs.includes(out.name));
    const softmax = producer !== undefined && (!producer.domain || producer.domain === 'ai.onnx') && producer.opType === 'Softmax';
    [output, outputFrom] = [softmax ? 'probabilities' : 'logits', 'graph'];
  }
  return {
    name: d.name, height, width, mean: [...d.mean], std: [...d.std], layout: d.layout, output, outputFrom, gray,
    crop: 'center', resize: 'bilinear-half-pixel', antialias: false, input: input.name, outputName: out.name,
  };
}

/** The centre crop of a W x H plane to the aspect of an h x w target (step 1 of the header). */
export function centerCrop(W: number, H: number, h: number, w: number): { x: number; y: number; width: number; height: number } {
  const cw = Math.min(W, Math.round((H * w) / h));
  const ch = Math.min(H, Math.round((W * h) / w));
  return { x: Math.floor((W - cw) / 2), y: Math.floor((H - ch) / 2), width: cw, height: ch };
}

/**
 * Bilinear resize of one plane with half-pixel centres and clamped edges, no antialiasing: what ONNX
 * Resize (mode linear, coordinate_transformation_mode half_pixel) computes. The coordinates and the
 * weights are rounded to float32 step by step, as onnxruntime computes them: in double they would
 * differ by up to 3e-5 (normalised) from the graph's on a 256 -> 224 resize.
 */
export function resizeBilinear(src: Float32Array, sw: number, sh: number, dw: number, dh: number): Float32Array {
  const f = Math.fround;
  const out = new Float32Array(dw * dh);
  const axis = (s: number, d: number) => {
    const lo = new Int32Array(d), hi = new Int32Array(d), t = new Float32Array(d), u1 = new Float32Array(d);
    const scale = f(d / s);
    for (let i = 0; i < d; i++) {
      const u = Math.min(Math.max(f(f(f(i + 0.5) / scale) - 0.5), 0), s - 1);
      lo[i] = Math.floor(u);
      hi[i] = Math.min(lo[i]! + 1, s - 1);
      // Weights of the two neighbours; a clamped edge reads one pixel twice at 1/2 each.
      const same = lo[i] === hi[i];
      t[i] = same ? 0.5 : f(u - lo[i]!);
      u1[i] = same ? 0.5 : f(hi[i]! - u);
    }
    return { lo, hi, t, u1 };
  };
  const x = axis(sw, dw), y = axis(sh, dh);
  for (let j = 0; j < dh; j++) {
    const r0 = y.lo[j]! * sw, r1 = y.hi[j]! * sw, ty = y.t[j]!, uy = y.u1[j]!;
    for (let i = 0; i < dw; i++) {
      const x0 = x.lo[i]!, x1 = x.hi[i]!, tx = x.t[i]!, ux = x.u1[i]!;
      out[j * dw + i] = ux * uy * src[r0 + x0]! + tx * uy * src[r0 + x1]! + ux * ty * src[r1 + x0]! + tx * ty * src[r1 + x1]!;
    }
  }
  return out;
}

const neutral = new Float64Array(3); // scratch: grayFromL runs once per pixel

/** The gray value in [0, 1] the classifier sees for lightness L (step 2 of the header). */
export function grayFromL(L: number, mode: GrayMode): number {
  return mode === 'lightness' ? L / 100 : linearToSrgb(labToLinearRgb(L, 0, 0, neutral)[0]!);
}

/**
 * The classifier input for one image from its L plane (0-100, width x height), computed as the
 * fused graph does (see the header): [3, h, w] for NCHW or [h, w, 3] for NHWC.
 */
export function classifierInputFromL(
  L: Float32Array,
  width: number,
  height: number,
  d: Pick<ResolvedDescriptor, 'height' | 'width' | 'mean' | 'std' | 'layout' | 'gray'>,
): Float32Array {
  if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1) || L.length !== width * height) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `classifierInputFromL: ${L.length} values do not make a ${width}x${height} plane.`);
  }
  const c = centerCrop(width, height, d.height, d.width);
  const gray = new Float32Array(c.width * c.height);
  for (let y = 0; y < c.height; y++) {
    for (let x = 0; x < c.width; x++) gray[y * c.width + x] = grayFromL(L[(c.y + y) * width + c.x + x]!, d.gray);
  }
  const r = resizeBilinear(gray, c.width, c.height, d.width, d.height);
  const m = d.width * d.height;
  const out = new Float32Array(3 * m);
  for (let ch = 0; ch < 3; ch++) {
    const mean = d.mean[ch]!, std = d.std[ch]!;
    for (let k = 0; k < m; k++) {
      const v = (r[k]! - mean) / std;
      if (d.layout === 'NCHW') out[ch * m + k] = v;
      else out[k * 3 + ch] = v;
    }
  }
  return out;
}
