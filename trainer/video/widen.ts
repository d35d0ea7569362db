/**
 * Starting an n-frame model from a trained single-frame checkpoint: every weight is copied, and
 * the first convolution's kernel [kh, kw, 1, out] is widened to [kh, kw, n, out].
 *
 * Two ways to widen:
 * - 'centre' (default): the centre frame's slice is the trained kernel, the others are zero. The
 *   widened model computes exactly what the single-frame model computed on the centre frame, so
 *   training starts at the photo model's quality and only learns to use the neighbours where that
 *   lowers the loss; the zero slices still get gradients (a kernel's gradient depends on the
 *   input, not on the kernel), so they do learn.
 * - 'even': every slice is kernel / n. On a still scene this equals the photo model too, but on
 *   motion it starts from a blurred (averaged) L, which costs quality at step 0.
 */
import * as tf from '@tensorflow/tfjs-core';
import type * as tfl from '@tensorflow/tfjs-layers';
import { ErrorCodes, TintaError } from '../../sdk/errors.ts';
import { buildModel, type ModelConfig } from '../model.ts';
import type { Checkpoint } from '../checkpoint.ts';

/** How the first kernel is widened (see the module comment). */
export type WidenMode = 'centre' | 'even';

/** The name of the first convolution's kernel in tinta models. */
export const FIRST_KERNEL = 'enc1_conv1/kernel';

/** Widen a [kh, kw, 1, out] kernel (row-major, as tfjs stores it) to [kh, kw, n, out]. */
export function widenKernel(kernel: Float32Array, shape: readonly number[], frames: number, mode: WidenMode = 'centre'): { data: Float32Array; shape: number[] } {
  const [kh, kw, cin, out] = shape as [number, number, number, number];
  if (shape.length !== 4 || cin !== 1) throw new TintaError(ErrorCodes.CHECKPOINT_INVALID, `The first kernel has shape [${shape.join(', ')}]; widening needs [kh, kw, 1, out] (a single-frame model).`);
  if (!(Number.isInteger(frames) && frames >= 1 && frames % 2 === 1)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `A video model needs an odd number of frames (a centre frame); got ${frames}.`);
  if (mode !== 'centre' && mode !== 'even') throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Unknown widening "${String(mode)}"; use "centre" or "even".`);
  const data = new Float32Array(kh * kw * frames * out);
  const centre = (frames - 1) >> 1;
  for (let k = 0; k < kh * kw; k++) {
    for (let o = 0; o < out; o++) {
      const w = kernel[k * out + o]!;
      for (let f = 0; f < frames; f++) {
        data[(k * frames + f) * out + o] = mode === 'even' ? w / frames : f === centre ? w : 0;
      }
    }
  }
  return { data, shape: [kh, kw, frames, out] };
}

/**
 * Build the `frames`-frame version of a single-frame checkpoint's model, with its weights (the
 * first kernel widened). Returns the model and the config it was built from.
 */
export function widenCheckpoint(ck: Checkpoint, frames: number, o: { mode?: WidenMode; inputSize?: number } = {}): { model: tfl.LayersModel; config: ModelConfig } {
  const saved = (ck.header.config as { model?: ModelConfig }).model;
  if (!saved || !Array.isArray(saved.widths)) throw new TintaError(ErrorCodes.CHECKPOINT_INVALID, 'The checkpoint has no model config (config.model); it was not written by `tinta train`.');
  if ((saved.frames ?? 1) !== 1) throw new TintaError(ErrorCodes.CHECKPOINT_INVALID, `The checkpoint is already a ${saved.frames}-frame model; --init needs a single-frame (photo) checkpoint.`);
  if (saved.embeddingDim > 0) throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'Video models from fusion checkpoints are not supported; start from a checkpoint trained without --fusion.');
  const config: ModelConfig = { ...saved, frames };
  const model = buildModel(config, o.inputSize !== undefined ? { inputSize: o.inputSize } : {});
  const values = model.weights.map((w) => {
    const s = ck.weights.get(w.originalName);
    if (!s) throw new TintaError(ErrorCodes.CHECKPOINT_INVALID, `The checkpoint has no weight "${w.originalName}".`);
    if (w.originalName === FIRST_KERNEL) {
      const wide = widenKernel(Float32Array.from(s.data), s.spec.shape, frames, o.mode ?? 'centre');
      return tf.tensor(wide.data, wide.shape);
    }
    if (s.spec.shape.join('x') !== w.shape.join('x')) {
      throw new TintaError(ErrorCodes.CHECKPOINT_INVALID, `Weight "${w.originalName}" has shape [${s.spec.shape}] in the checkpoint but [${w.shape}] in the video model.`);
    }
    return tf.tensor(s.data, s.spec.shape, s.spec.dtype);
  });
  model.setWeights(values);
  tf.dispose(values);
  return { model, config };
}
