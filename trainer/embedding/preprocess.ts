/**
 * What the embedding network is given: the L plane the SDK feeds the colorizer. `tinta embed`
 * decodes the photo, and sdk/core/pipeline.ts `preprocess` (CIE L with sdk/color, area-averaged
 * to the network size by sdk/core/resample.ts) makes the network input; the embedding half of a
 * fused model (converters/fuse.ts buildEmbeddingModel) then turns it into probabilities. A fused
 * model computes its embedding from that very input at inference, so training and inference see
 * the same embedding.
 *
 * Also the probability helpers of the TensorFlow.js route, whose classifier runs outside ONNX.
 */
import { TintaError, ErrorCodes } from '../../sdk/errors.ts';
import { preprocess } from '../../sdk/core/pipeline.ts';
import type { ModelInfo } from '../../sdk/model/metadata.ts';
import type { RgbaImage } from '../../sdk/image/types.ts';
import type { ScoresKind } from './descriptor.ts';

/** How the SDK sizes a photo for the network: short side `resolution`, sides multiples of `multiple`. */
export interface NetworkView {
  /** The short side the network sees (the model's recommended size, tinta's default 256). */
  readonly resolution: number;
  /** The model's spatial multiple (8 for tinta's presets). */
  readonly multiple: number;
}

/** The SDK's defaults for tinta's own models: recommended size 256, spatial multiple 8. */
export const DEFAULT_NETWORK_VIEW: NetworkView = Object.freeze({ resolution: 256, multiple: 8 });

/** One photo as the network sees it. */
export interface NetworkInput {
  width: number;
  height: number;
  /** L (0-100) at the network size. */
  L: Float32Array;
  /** The network input, L * 0.01 as the SDK computes it (what a fused model reads). */
  x: Float32Array;
}

/** Checks a network view; BAD_ARGUMENT says what is wrong. */
export function checkNetworkView(v: NetworkView): NetworkView {
  if (!(Number.isInteger(v.resolution) && v.resolution >= 8 && v.resolution <= 4096)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `The network resolution must be an integer from 8 to 4096 (the short side the colorizer sees); got ${String(v.resolution)}.`);
  }
  if (!(Number.isInteger(v.multiple) && v.multiple >= 1 && v.multiple <= 64)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `The spatial multiple must be an integer from 1 to 64; got ${String(v.multiple)}.`);
  }
  return v;
}

/** The network input of a decoded photo, made by the SDK's own preprocess (tinta models take L / 100). */
export function networkInput(img: RgbaImage, view: NetworkView = DEFAULT_NETWORK_VIEW): NetworkInput {
  // preprocess reads only these fields of the model's metadata.
  const info: Pick<ModelInfo, 'spatialMultiple' | 'input' | 'frames'> = { spatialMultiple: view.multiple, input: { name: 'L', scale: 1 / 100, offset: 0 }, frames: 1 };
  const p = preprocess(img, info as ModelInfo, view.resolution, 1);
  return { width: p.netWidth, height: p.netHeight, L: p.netL, x: p.input.data as Float32Array };
}

/** True when `v` already is a probability vector (non-negative, sums to 1 within 1e-3). */
export function looksLikeProbabilities(v: ArrayLike<number>): boolean {
  let sum = 0;
  for (let i = 0; i < v.length; i++) {
    const x = v[i]!;
    if (!(x >= 0 && x <= 1)) return false;
    sum += x;
  }
  return Math.abs(sum - 1) < 1e-3;
}

/** Softmax of one score vector (max-shifted, summed in double). */
export function softmax(scores: ArrayLike<number>): Float32Array {
  let max = -Infinity;
  for (let i = 0; i < scores.length; i++) if (scores[i]! > max) max = scores[i]!;
  const e = new Float64Array(scores.length);
  let sum = 0;
  for (let i = 0; i < scores.length; i++) sum += e[i] = Math.exp(scores[i]! - max);
  const out = new Float32Array(scores.length);
  for (let i = 0; i < scores.length; i++) out[i] = e[i]! / sum;
  return out;
}

/** Probabilities from one image's scores, per the descriptor's output kind; MODEL_INVALID when 'probs' are not. */
export function toProbabilities(scores: ArrayLike<number>, kind: ScoresKind, source: string): Float32Array {
  for (let i = 0; i < scores.length; i++) {
    if (!Number.isFinite(scores[i]!)) throw new TintaError(ErrorCodes.MODEL_INVALID, `${source} returned a non-finite score (${scores[i]}) at class ${i}.`);
  }
  if (kind === 'logits') return softmax(scores);
  if (looksLikeProbabilities(scores)) return Float32Array.from(scores);
  if (kind === 'probs') {
    throw new TintaError(ErrorCodes.MODEL_INVALID, `${source} is described as giving probabilities ("outputKind": "probs"), but its output is not a probability vector; set "outputKind": "logits" in the descriptor.`);
  }
  return softmax(scores);
}
