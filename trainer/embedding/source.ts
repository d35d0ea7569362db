/**
 * An embedding source: a loaded ImageNet classifier plus its descriptor and the preprocessing that
 * turns the network-size L plane (what the SDK feeds a colorizer) into its input. ONNX files run as
 * the embedding half of a fused model (converters/fuse.ts buildEmbeddingModel) on onnxruntime-node;
 * TensorFlow.js graph models (model.json + .bin) get the same preprocessing in TypeScript and run on
 * tfjs-converter. Both sit behind this one interface.
 */
import { TintaError, ErrorCodes } from '../../sdk/errors.ts';
import type { GrayMode, ResolvedDescriptor } from '../../converters/fuse-classifier.ts';
import type { EmbeddingDescriptor, InputLayout } from './descriptor.ts';
import type { NetworkInput } from './preprocess.ts';

/** A loaded classifier. */
export interface EmbeddingSource {
  /** The name recorded in caches and checkpoints (the descriptor's). */
  readonly name: string;
  readonly format: 'onnx' | 'tfjs';
  readonly descriptor: EmbeddingDescriptor;
  /** Every choice between L and the classifier (crop, gray, resize, normalisation, output), as a fused model records it. */
  readonly preprocessing: ResolvedDescriptor;
  /** Probabilities for each photo, from its network input (made by networkInput). */
  embed(inputs: readonly NetworkInput[]): Promise<Float32Array[]>;
  dispose(): Promise<void>;
}

/** Options common to both loaders. */
export interface SourceOptions {
  /** onnxruntime intra-op threads (default: its own choice). */
  threads?: number;
  /** The gray value the classifier sees (default DEFAULT_GRAY, see converters/fuse-classifier.ts). */
  gray?: GrayMode;
}

/**
 * Check a model's declared input shape (dims as numbers, or strings / -1 / null when symbolic)
 * against the descriptor; returns the fixed batch size, if any. MODEL_INVALID names what differs.
 */
export function checkInputShape(shape: readonly (number | string | null)[] | undefined, d: EmbeddingDescriptor, source: string): { fixedBatch?: number } {
  if (!shape || shape.length === 0) return {};
  const fixed = (v: number | string | null | undefined): number | undefined => (typeof v === 'number' && v > 0 ? v : undefined);
  if (shape.length !== 4) throw new TintaError(ErrorCodes.MODEL_INVALID, `${source}: its input has ${shape.length} dimensions; an embedding network takes [N,3,H,W] or [N,H,W,3].`);
  const [h, w] = d.inputSize;
  const want: Record<InputLayout, (number | undefined)[]> = { NCHW: [3, h, w], NHWC: [h, w, 3] };
  const got = shape.slice(1).map(fixed);
  const other: InputLayout = d.layout === 'NCHW' ? 'NHWC' : 'NCHW';
  const agrees = (l: InputLayout) => want[l].every((v, i) => got[i] === undefined || got[i] === v);
  if (!agrees(d.layout)) {
    const hint = agrees(other) ? ` It looks like ${other}: set "layout": "${other}" in the descriptor.` : ' Set "inputSize" and "layout" in the descriptor to match the model.';
    throw new TintaError(ErrorCodes.MODEL_INVALID, `${source}: its input is [${shape.join(', ')}], but the descriptor says ${d.layout} at ${h}x${w}.${hint}`, { details: { shape: [...shape] } });
  }
  const b = fixed(shape[0]);
  return b !== undefined ? { fixedBatch: b } : {};
}

/** Split `total` scores of `n` images into per-image vectors and check the class count. */
export function splitScores(data: ArrayLike<number>, n: number, d: EmbeddingDescriptor, source: string): Float32Array[] {
  if (n === 0 || data.length % n !== 0 || data.length === 0) {
    throw new TintaError(ErrorCodes.MODEL_INVALID, `${source} returned ${data.length} scores for ${n} images.`);
  }
  const c = data.length / n;
  if (d.classes !== undefined && c !== d.classes) {
    throw new TintaError(ErrorCodes.MODEL_INVALID, `${source} gives ${c} classes per image; its descriptor expects ${d.classes}.`, { details: { classes: c } });
  }
  const f = data instanceof Float32Array ? data : Float32Array.from(data);
  return Array.from({ length: n }, (_, i) => f.subarray(i * c, (i + 1) * c));
}

/** Pick a tensor name: the descriptor's when given (it must exist), else the first. */
export function pickName(names: readonly string[], wanted: string | undefined, what: 'input' | 'output', source: string): string {
  if (wanted !== undefined) {
    if (!names.includes(wanted)) {
      throw new TintaError(ErrorCodes.MODEL_INVALID, `${source} has no ${what} "${wanted}"; its ${what}s are ${names.map((n) => `"${n}"`).join(', ') || 'none'}. Fix "${what}" in the descriptor.`);
    }
    return wanted;
  }
  if (names.length === 0) throw new TintaError(ErrorCodes.MODEL_INVALID, `${source} has no ${what}s.`);
  return names[0]!;
}
