/**
 * The preprocessing half of a fused graph, as ONNX ops (opset 13 or later): the network input x
 * (x = L * scale + offset, [N, 1, H, W], H and W dynamic) becomes the classifier input, step for
 * step what `classifierInputFromL` (fuse-classifier.ts) computes in TypeScript:
 *
 *   crop: Slice to the centre crop, its size and offsets computed from Shape(x) in int64
 *   L = (x - offset) / scale
 *   gray 'lightness': L / 100
 *   gray 'srgb':      Y = L > kappa * epsilon ? ((L + 16) / 116)^3 : L / kappa   (CIE inverse f; X = Y = Z for a = b = 0)
 *                     v = Y <= 0.0031308 ? 12.92 * Y : 1.055 * Y^(1/2.4) - 0.055  (sRGB transfer curve)
 *   Resize to [N, 1, h, w] (linear, half_pixel) -> Concat x3 -> (v - mean) / std [-> NHWC]
 *
 * For a neutral colour, linear R = G = B = Y: the rows of sdk/color's XYZ -> sRGB matrix, with the
 * white folded in, sum to 1. The constants are sdk/color's (lab.ts); the tests hold the graph to
 * `labToSrgb` over the whole L range.
 */
import { LAB_EPSILON, LAB_KAPPA, SRGB_CURVE } from '../sdk/color/lab.ts';
import type { InputSpec } from '../sdk/model/metadata.ts';
import type { GraphBuilder } from './onnx/model.ts';
import type { ResolvedDescriptor } from './fuse-classifier.ts';


/**
 * Adds the nodes that compute the classifier input `out` from the network input `x`; every new name
 * starts with `prefix`. The batch dimension stays N; H and W may be anything (read at run time).
 */
export function emitClassifierInput(b: GraphBuilder, x: string, input: InputSpec, d: ResolvedDescriptor, out: string, prefix: string): void {
  const name = (s: string) => b.uniqueName(`${prefix}${s}`);
  const scalar = (s: string, v: number) => b.addInitializer(name(s), new Float32Array([v]), []);
  const int64 = (s: string, ...v: number[]) => b.addInitializer(name(s), BigInt64Array.from(v, (k) => BigInt(k)), [v.length]);
  const op = (opType: string, inputs: string[], what: string, attrs?: Record<string, number | string | number[]>, output?: string): string => {
    const y = output ?? name(what);
    b.addNode({ opType, inputs, outputs: [y], name: name(`${what}_node`), ...(attrs ? { attrs } : {}) });
    return y;
  };

  // Centre crop to the classifier's aspect: cw = min(W, round(H * w / h)), ch = min(H, round(W * h / w)).
  const shape = op('Shape', [x], 'shape');
  const H = op('Slice', [shape, int64('h_at', 2), int64('h_end', 3)], 'H');
  const W = op('Slice', [shape, int64('w_at', 3), int64('w_end', 4)], 'W');
  // round(a / b) for positive integers is (2a + b) div 2b.
  const rounded = (a: string, num: number, den: number, what: string) =>
    op('Div', [op('Add', [op('Mul', [a, int64(`${what}_2num`, 2 * num)], `${what}_2a`), int64(`${what}_den`, den)], `${what}_sum`), int64(`${what}_2den`, 2 * den)], what);
  const cw = op('Min', [W, rounded(H, d.width, d.height, 'cw_full')], 'cw');
  const ch = op('Min', [H, rounded(W, d.height, d.width, 'ch_full')], 'ch');
  const two = int64('two', 2);
  const y0 = op('Div', [op('Sub', [H, ch], 'dh'), two], 'y0');
  const x0 = op('Div', [op('Sub', [W, cw], 'dw'), two], 'x0');
  const starts = op('Concat', [y0, x0], 'crop_starts', { axis: 0 });
  const ends = op('Add', [starts, op('Concat', [ch, cw], 'crop_size', { axis: 0 })], 'crop_ends');
  const cropped = op('Slice', [x, starts, ends, int64('crop_axes', 2, 3)], 'cropped');

  // L (0-100), then the gray value in [0, 1].
  let v = cropped;
  if (input.offset !== 0) v = op('Sub', [v, scalar('offset', input.offset)], 'centred');
  let gray: string;
  if (d.gray === 'lightness') {
    // L / 100 = (x - offset) / (scale * 100): nothing to do for tinta's own x = L / 100.
    const k = input.scale * 100;
    gray = k === 1 ? v : op('Div', [v, scalar('scale100', k)], 'gray');
  } else {
    const L = op('Div', [v, scalar('scale', input.scale)], 'L');
    const fy = op('Div', [op('Add', [L, scalar('16', 16)], 'L16'), scalar('116', 116)], 'fy');
    const cube = op('Mul', [op('Mul', [fy, fy], 'fy2'), fy], 'fy3');
    const linear = op('Div', [L, scalar('kappa', LAB_KAPPA)], 'Lkappa');
    const Y = op('Where', [op('Greater', [L, scalar('L_limit', LAB_KAPPA * LAB_EPSILON)], 'bright'), cube, linear], 'Y');
    const dark = op('LessOrEqual', [Y, scalar('Y_limit', SRGB_CURVE.linearLimit)], 'dark');
    const low = op('Mul', [Y, scalar('slope', SRGB_CURVE.slope)], 'low');
    const pow = op('Pow', [Y, scalar('inv_gamma', 1 / SRGB_CURVE.gamma)], 'pow');
    const high = op('Sub', [op('Mul', [pow, scalar('gain', 1 + SRGB_CURVE.offset)], 'scaled'), scalar('a', SRGB_CURVE.offset)], 'high');
    gray = op('Where', [dark, low, high], 'gray');
  }

  // Resize to h x w, keeping N and the single channel: sizes = [N, 1, h, w] at run time.
  const nc = op('Slice', [shape, int64('nc_at', 0), int64('nc_end', 2)], 'nc');
  const sizes = op('Concat', [nc, int64('hw', d.height, d.width)], 'sizes', { axis: 0 });
  const resized = op('Resize', [gray, '', '', sizes], 'resized', { mode: 'linear', coordinate_transformation_mode: 'half_pixel' });

  // R = G = B, normalised per channel.
  const rgb = op('Concat', [resized, resized, resized], 'rgb', { axis: 1 });
  const mean = b.addInitializer(name('mean'), Float32Array.from(d.mean), [1, 3, 1, 1]);
  const std = b.addInitializer(name('std'), Float32Array.from(d.std), [1, 3, 1, 1]);
  const centred = op('Sub', [rgb, mean], 'rgb_centred');
  if (d.layout === 'NCHW') {
    op('Div', [centred, std], 'normalised', undefined, out);
  } else {
    op('Transpose', [op('Div', [centred, std], 'normalised')], 'nhwc', { perm: [0, 2, 3, 1] }, out);
  }
}
