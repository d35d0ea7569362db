/**
 * The colorization pipeline around the network, pure and runtime-agnostic:
 *
 *   RGBA (full res) -> L (full res, kept) -> L area-averaged to the network size -> input tensor
 *   logits [1, Q, h/s, w/s] -> annealed mean -> saturation -> ab (low res)
 *   -> guided upsampling with the full-res L -> ab (full res) -> Lab with the ORIGINAL L -> RGBA
 *
 * Colour inputs are colorized from their lightness alone: only L is read, and the output keeps
 * the input's L exactly (up to 8-bit rounding and gamut clipping).
 */
import { ErrorCodes, TintaError } from '../errors.ts';
import { rgba8ToL, labToRgba8 } from '../color/lab.ts';
import { annealedMean, applySaturation } from '../color/decode.ts';
import type { ModelInfo } from '../model/metadata.ts';
import type { RgbaImage } from '../image/types.ts';
import { networkSize, resamplePlane } from './resample.ts';
import { upsampleAb, type UpsampleMethod } from './guided.ts';
import type { TensorData } from '../runtime/types.ts';

/** What preprocess hands to the model and to postprocess. */
export interface Prepared {
  width: number;
  height: number;
  /** Full-resolution L in [0, 100]: the guide for upsampling and the L of the output. */
  L: Float32Array;
  netWidth: number;
  netHeight: number;
  /** L at the network size, before normalisation (the upsampling guide is made from it). */
  netL: Float32Array;
  /** The model input, normalised and stacked `frames` times: [1, frames, netHeight, netWidth]. */
  input: TensorData;
}

/** Full-resolution output of postprocess. */
export interface Colorized {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
  /** Planar ab: a in [0, n), b in [n, 2n) of one buffer (transferable as one piece). */
  ab: Float32Array;
}

/** RGBA -> full-res L and the normalised network input at `resolution` (short side), the plane stacked `frames` times. */
export function preprocess(img: RgbaImage, info: ModelInfo, resolution: number, frames = info.frames): Prepared {
  const { width, height } = img;
  const L = rgba8ToL(img.data, width, height);
  const net = networkSize(width, height, resolution, info.spatialMultiple);
  const netL = resamplePlane(L, width, height, net.width, net.height);
  const n = net.width * net.height;
  // A photo through a video model: the same frame stacked `frames` times.
  const data = new Float32Array(n * frames);
  const { scale, offset } = info.input;
  for (let i = 0; i < n; i++) data[i] = netL[i]! * scale + offset;
  for (let f = 1; f < frames; f++) data.copyWithin(f * n, 0, n);
  return { width, height, L, netWidth: net.width, netHeight: net.height, netL, input: { data, dims: [1, frames, net.height, net.width] } };
}

/** Checks the network output against the metadata; returns its grid size. MODEL_INVALID otherwise. */
export function outputGrid(out: TensorData | undefined, info: ModelInfo, prep: Prepared, label: string): { width: number; height: number } {
  const name = info.output.name;
  if (!out) throw new TintaError(ErrorCodes.MODEL_INVALID, `${label} did not return its output '${name}'.`, { details: { output: name } });
  const d = out.dims;
  const q = info.buckets.count;
  if (d.length !== 4 || d[0] !== 1 || d[1] !== q || !(d[2]! >= 1) || !(d[3]! >= 1) || out.data.length !== q * d[2]! * d[3]!) {
    throw new TintaError(
      ErrorCodes.MODEL_INVALID,
      `${label} returned '${name}' with shape [${d.join(', ')}]; its metadata promises [1, ${q}, h, w] (${q} buckets) for a ` +
        `${prep.netWidth}x${prep.netHeight} input. Re-export the model.`,
      { details: { output: name, dims: [...d], buckets: q } },
    );
  }
  return { width: d[3]!, height: d[2]! };
}

/** Options of one postprocess. */
export interface PostprocessParams {
  temperature: number;
  saturation: number;
  upsample: UpsampleMethod;
}

/** Decodes the network output to low-res ab (annealed mean, then saturation). */
export function decodeAb(out: TensorData, grid: { width: number; height: number }, info: ModelInfo, p: PostprocessParams): { a: Float32Array; b: Float32Array } {
  const ab = annealedMean(out.data, info.buckets, { pixels: grid.width * grid.height, layout: 'chw', kind: info.output.kind }, p.temperature);
  return applySaturation(ab, p.saturation);
}

/** Low-res ab -> full-res ab (guided by L) -> RGBA with the original L. */
export function postprocess(prep: Prepared, abLow: { a: Float32Array; b: Float32Array }, grid: { width: number; height: number }, upsample: UpsampleMethod): Colorized {
  const { width: W, height: H, L } = prep;
  const n = W * H;
  const ab = new Float32Array(2 * n);
  const outA = ab.subarray(0, n), outB = ab.subarray(n);
  // The guide on the ab grid: the network-size L area-averaged once more (exact cell means when
  // the output stride divides the input, as it does for tinta models).
  const guideLow = upsample === 'guided' ? resamplePlane(prep.netL, prep.netWidth, prep.netHeight, grid.width, grid.height) : new Float32Array(0);
  upsampleAb(abLow.a, abLow.b, grid.width, grid.height, upsample, L, guideLow, W, H, outA, outB);
  const rgba = labToRgba8(L, outA, outB);
  return { width: W, height: H, rgba, ab };
}
