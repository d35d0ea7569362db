/**
 * Resampling one float plane, separably: area averaging (a box filter with fractional coverage)
 * along an axis that shrinks, linear interpolation along an axis that grows. Area averaging is
 * what the network should see of a downscaled photo: every source pixel counts with its exact
 * share, so no aliasing and no detail is dropped. O(source pixels), no per-pixel allocation.
 */

/** Sizes of the network input for one image. */
export interface NetworkSize {
  width: number;
  height: number;
}

/** The longest the network's long side may get, as a multiple of its short side (panoramas). */
export const MAX_NETWORK_ASPECT = 4;

/** `n` rounded to the nearest multiple of `m`, at least `m`. */
export function roundToMultiple(n: number, m: number): number {
  return Math.max(m, Math.round(n / m) * m);
}

/**
 * The network input size for a `width` x `height` image: short side `resolution` (rounded to a
 * multiple of `multiple`), aspect ratio kept, then each side rounded to its nearest multiple of
 * `multiple`. The image is resized (up or down) to that size rather than padded: padding would
 * show the network borders it never saw in training, and the few pixels of aspect change from
 * rounding vanish when ab is resampled back onto the exact full-resolution grid. Long sides
 * beyond MAX_NETWORK_ASPECT x the short side are capped (aspect kept) so panoramas stay bounded.
 */
export function networkSize(width: number, height: number, resolution: number, multiple: number): NetworkSize {
  const target = roundToMultiple(resolution, multiple);
  const short = Math.min(width, height), long = Math.max(width, height);
  let s = target / short;
  if (long * s > MAX_NETWORK_ASPECT * target) s = (MAX_NETWORK_ASPECT * target) / long;
  return { width: roundToMultiple(width * s, multiple), height: roundToMultiple(height * s, multiple) };
}

/** Taps of a 1-D resampling: output i reads src[first[i] .. first[i] + count[i]) with weights[offset[i] ..]. */
interface Taps {
  first: Int32Array;
  count: Int32Array;
  offset: Int32Array;
  weights: Float32Array;
}

function taps(src: number, dst: number): Taps {
  const first = new Int32Array(dst), count = new Int32Array(dst), offset = new Int32Array(dst);
  const w: number[] = [];
  const scale = src / dst;
  for (let i = 0; i < dst; i++) {
    offset[i] = w.length;
    if (scale > 1) {
      // Area: output i covers source [i*scale, (i+1)*scale); each source pixel weighs its overlap.
      const x0 = i * scale, x1 = (i + 1) * scale;
      const a = Math.floor(x0), b = Math.min(src, Math.ceil(x1));
      first[i] = a;
      count[i] = b - a;
      for (let k = a; k < b; k++) w.push((Math.min(k + 1, x1) - Math.max(k, x0)) / scale);
    } else {
      // Linear, pixel centres aligned (half-pixel convention), edges clamped.
      let u = (i + 0.5) * scale - 0.5;
      u = u < 0 ? 0 : u > src - 1 ? src - 1 : u;
      const a = Math.min(Math.floor(u), Math.max(0, src - 2));
      const t = u - a;
      first[i] = a;
      if (src === 1) { count[i] = 1; w.push(1); } else { count[i] = 2; w.push(1 - t, t); }
    }
  }
  return { first, count, offset, weights: Float32Array.from(w) };
}

/**
 * Area-averages each row of `src` (sw wide) to dw < sw columns: the interior of each output's
 * source interval is summed without weights, the two partly covered ends are weighted.
 */
function areaRows(src: Float32Array, sw: number, sh: number, dw: number, out: Float32Array): void {
  const scale = sw / dw, inv = 1 / scale;
  const a = new Int32Array(dw), b = new Int32Array(dw), wa = new Float64Array(dw), wb = new Float64Array(dw);
  for (let i = 0; i < dw; i++) {
    const x0 = i * scale, x1 = (i + 1) * scale;
    a[i] = Math.floor(x0);
    b[i] = Math.min(sw, Math.ceil(x1)) - 1; // last source pixel touched
    wa[i] = (Math.min(a[i]! + 1, x1) - x0) * inv;
    wb[i] = a[i] === b[i] ? 0 : (x1 - Math.max(b[i]!, x0)) * inv;
  }
  for (let y = 0; y < sh; y++) {
    const row = y * sw, orow = y * dw;
    for (let i = 0; i < dw; i++) {
      const first = row + a[i]!, last = row + b[i]!;
      let inner = 0;
      for (let k = first + 1; k < last; k++) inner += src[k]!;
      out[orow + i] = src[first]! * wa[i]! + inner * inv + (last > first ? src[last]! * wb[i]! : 0);
    }
  }
}

/**
 * Resamples plane `src` (sw x sh) to dw x dh (area average when shrinking, linear when growing),
 * into `out`. Horizontal pass first: it reads the big plane once, row by row.
 */
export function resamplePlane(
  src: Float32Array,
  sw: number,
  sh: number,
  dw: number,
  dh: number,
  out: Float32Array = new Float32Array(dw * dh),
): Float32Array {
  if (sw === dw && sh === dh) {
    out.set(src.subarray(0, sw * sh));
    return out;
  }
  const ty = taps(sh, dh);
  // Horizontal: sh rows of sw -> sh rows of dw.
  const tmp = sw === dw ? src : new Float32Array(dw * sh);
  if (sw > dw) areaRows(src, sw, sh, dw, tmp);
  else if (sw < dw) {
    const { first, count, offset, weights } = taps(sw, dw);
    for (let y = 0; y < sh; y++) {
      const row = y * sw, orow = y * dw;
      for (let x = 0; x < dw; x++) {
        const f = row + first[x]!, n = count[x]!, o = offset[x]!;
        let s = 0;
        for (let k = 0; k < n; k++) s += src[f + k]! * weights[o + k]!;
        tmp[orow + x] = s;
      }
    }
  }
  // Vertical: accumulate whole weighted rows (sequential reads and writes).
  const { first, count, offset, weights } = ty;
  const acc = new Float64Array(dw);
  for (let y = 0; y < dh; y++) {
    acc.fill(0);
    const f = first[y]!, n = count[y]!, o = offset[y]!;
    for (let k = 0; k < n; k++) {
      const wk = weights[o + k]!, row = (f + k) * dw;
      for (let x = 0; x < dw; x++) acc[x]! += tmp[row + x]! * wk;
    }
    const orow = y * dw;
    for (let x = 0; x < dw; x++) out[orow + x] = acc[x]!;
  }
  return out;
}
