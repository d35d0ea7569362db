/**
 * sRGB <-> CIE Lab (D65, 2° observer) on planar typed arrays.
 *
 * The exact sRGB transfer curve (IEC 61966-2-1) and the CIE constants
 * epsilon = 216/24389, kappa = 24389/27 are used in both directions, so that
 * every 8-bit sRGB colour survives sRGB8 -> Lab(float32) -> sRGB8 unchanged
 * (checked exhaustively in the tests).
 */

/** CIE epsilon: below it f(t) is linear. */
export const LAB_EPSILON = 216 / 24389;
/** CIE kappa. */
export const LAB_KAPPA = 24389 / 27;

/** Linear sRGB -> XYZ (D65), IEC 61966-2-1 primaries. */
export const SRGB_TO_XYZ: readonly number[] = Object.freeze([
  0.4124564, 0.3575761, 0.1804375,
  0.2126729, 0.7151522, 0.072175,
  0.0193339, 0.119192, 0.9503041,
]);

/** The D65 white: the XYZ of sRGB (1,1,1), so that white has a = b = 0 exactly. */
export const D65_WHITE: readonly [number, number, number] = Object.freeze([
  SRGB_TO_XYZ[0]! + SRGB_TO_XYZ[1]! + SRGB_TO_XYZ[2]!,
  SRGB_TO_XYZ[3]! + SRGB_TO_XYZ[4]! + SRGB_TO_XYZ[5]!,
  SRGB_TO_XYZ[6]! + SRGB_TO_XYZ[7]! + SRGB_TO_XYZ[8]!,
]) as readonly [number, number, number];

function invert3(m: readonly number[]): number[] {
  const [a, b, c, d, e, f, g, h, i] = m as [number, number, number, number, number, number, number, number, number];
  const A = e * i - f * h, B = -(d * i - f * g), C = d * h - e * g;
  const det = a * A + b * B + c * C;
  return [
    A / det, -(b * i - c * h) / det, (b * f - c * e) / det,
    B / det, (a * i - c * g) / det, -(a * f - c * d) / det,
    C / det, -(a * h - b * g) / det, (a * e - b * d) / det,
  ];
}

/** XYZ (D65) -> linear sRGB: the exact inverse of SRGB_TO_XYZ. */
export const XYZ_TO_SRGB: readonly number[] = Object.freeze(invert3(SRGB_TO_XYZ));

// White-normalised forward matrix (rows divided by Xn, Yn, Zn), so the hot loop skips three divisions.
const FWD = SRGB_TO_XYZ.map((v, k) => v / D65_WHITE[Math.floor(k / 3)]!);
// Inverse matrix with the white folded in (columns multiplied by Xn, Yn, Zn).
const INV = XYZ_TO_SRGB.map((v, k) => v * D65_WHITE[k % 3]!);

/** The exact sRGB decoding curve: encoded [0,1] -> linear [0,1]. */
export function srgbToLinear(c: number): number {
  return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
}

/** The exact sRGB encoding curve: linear [0,1] -> encoded [0,1] (not clamped). */
export function linearToSrgb(v: number): number {
  return v <= 0.0031308 ? v * 12.92 : 1.055 * Math.pow(v, 1 / 2.4) - 0.055;
}

/** CIE f(t) = cbrt(t) above epsilon, linear below. */
export function labF(t: number): number {
  return t > LAB_EPSILON ? Math.cbrt(t) : (LAB_KAPPA * t + 16) / 116;
}

/** The inverse of labF. */
export function labFInv(f: number): number {
  const f3 = f * f * f;
  return f3 > LAB_EPSILON ? f3 : (116 * f - 16) / LAB_KAPPA;
}

/** Lab of one linear-sRGB colour (double precision); `out` receives [L, a, b]. */
export function linearRgbToLab(r: number, g: number, b: number, out: number[] | Float64Array = [0, 0, 0]): number[] | Float64Array {
  const fx = labF(FWD[0]! * r + FWD[1]! * g + FWD[2]! * b);
  const fy = labF(FWD[3]! * r + FWD[4]! * g + FWD[5]! * b);
  const fz = labF(FWD[6]! * r + FWD[7]! * g + FWD[8]! * b);
  out[0] = 116 * fy - 16;
  out[1] = 500 * (fx - fy);
  out[2] = 200 * (fy - fz);
  return out;
}

/** Linear sRGB of one Lab colour (double precision, not clamped); `out` receives [r, g, b]. */
export function labToLinearRgb(L: number, a: number, b: number, out: number[] | Float64Array = [0, 0, 0]): number[] | Float64Array {
  const fy = (L + 16) / 116;
  const x = labFInv(fy + a / 500);
  const y = L > LAB_KAPPA * LAB_EPSILON ? fy * fy * fy : L / LAB_KAPPA;
  const z = labFInv(fy - b / 200);
  out[0] = INV[0]! * x + INV[1]! * y + INV[2]! * z;
  out[1] = INV[3]! * x + INV[4]! * y + INV[5]! * z;
  out[2] = INV[6]! * x + INV[7]! * y + INV[8]! * z;
  return out;
}

/** Lab of one sRGB colour given as encoded floats in [0,1] (double precision). */
export function srgbToLab(r: number, g: number, b: number): [number, number, number] {
  const o = linearRgbToLab(srgbToLinear(r), srgbToLinear(g), srgbToLinear(b), [0, 0, 0]);
  return [o[0]!, o[1]!, o[2]!];
}

/** Encoded sRGB floats (not clamped) of one Lab colour (double precision). */
export function labToSrgb(L: number, a: number, b: number): [number, number, number] {
  const o = labToLinearRgb(L, a, b, [0, 0, 0]);
  return [linearToSrgb(o[0]!), linearToSrgb(o[1]!), linearToSrgb(o[2]!)];
}

// ---------------------------------------------------------------------------
// Lookup tables for the 8-bit paths, built once on first use.

let decode8: Float64Array | undefined; // sRGB8 code -> linear
let encodeStart: Uint8Array | undefined; // linear bin -> lowest code that can be the answer
let binThreshold: Float64Array | undefined; // linear bin -> the threshold that may fall inside it (else Infinity)

const ENCODE_BINS = 4096;
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

function tables8(): void {
  if (decode8) return;
  const dec = new Float64Array(256);
  for (let i = 0; i < 256; i++) dec[i] = srgbToLinear(i / 255);
  // Rounding the encoded value to the nearest code flips from c to c+1 exactly at linear(c + 0.5).
  const thr = new Float64Array(256);
  for (let c = 0; c < 255; c++) thr[c] = srgbToLinear((c + 0.5) / 255);
  thr[255] = Infinity;
  // Bins (1/4096 wide) are narrower than the smallest code step in linear space (~3.0e-4),
  // so each bin holds at most one threshold: one comparison finishes the lookup.
  const start = new Uint8Array(ENCODE_BINS + 1);
  const binThr = new Float64Array(ENCODE_BINS + 1);
  let c = 0;
  for (let i = 0; i <= ENCODE_BINS; i++) {
    const v = i / ENCODE_BINS;
    while (c < 255 && v >= thr[c]!) c++;
    start[i] = c;
    binThr[i] = thr[c]!;
  }
  binThreshold = binThr;
  decode8 = dec;
  encodeStart = start;
}

/** Linear value -> nearest sRGB8 code (clamped), exact. */
export function linearToSrgb8(v: number): number {
  tables8();
  if (!(v > 0)) return 0; // also maps NaN to 0
  if (v >= 1) return 255;
  const k = (v * ENCODE_BINS) | 0;
  return encodeStart![k]! + (v >= binThreshold![k]! ? 1 : 0);
}

/** A planar Lab image: three views into one buffer (L in [0,100], a and b around [-110,110]). */
export interface LabImage {
  width: number;
  height: number;
  L: Float32Array;
  a: Float32Array;
  b: Float32Array;
}

/** Allocate a LabImage whose planes share one transferable buffer. */
export function createLabImage(width: number, height: number): LabImage {
  const n = width * height;
  const buf = new Float32Array(3 * n);
  return { width, height, L: buf.subarray(0, n), a: buf.subarray(n, 2 * n), b: buf.subarray(2 * n, 3 * n) };
}

// f(t) for the hot loop: cbrt(t) = g(sqrt(t)) with g(u) = u^(2/3) linearly interpolated from a table.
// In sqrt(t) the curve is gentle enough that 4096 entries give a relative error below 3e-7 on
// (epsilon, 1.05] with no division and no Math.cbrt call (both are slow in the per-pixel loop).
const CBRT_BINS = 4096;
const CBRT_RANGE = 1.05; // in sqrt(t); sRGB white normalises to t = 1
let cbrtTab: Float64Array | undefined;
function cbrtTable(): Float64Array {
  if (!cbrtTab) {
    const t = new Float64Array(CBRT_BINS + 2);
    for (let i = 0; i < t.length; i++) t[i] = Math.pow((i * CBRT_RANGE) / CBRT_BINS, 2 / 3);
    cbrtTab = t;
  }
  return cbrtTab;
}

/** Cube root of t in (epsilon, 1.1] as the colour loops compute it; exported for the tests. */
export function fastCbrt(t: number): number {
  const tab = cbrtTable();
  const u = Math.sqrt(t) * (CBRT_BINS / CBRT_RANGE);
  const j = u | 0;
  const q = tab[j]!;
  return q + (tab[j + 1]! - q) * (u - j);
}

/** RGBA8 (or RGB8 with `channels: 3`) -> planar Lab float32. Alpha is ignored. */
export function rgba8ToLab(
  rgba: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  out: LabImage = createLabImage(width, height),
  channels: 3 | 4 = 4,
): LabImage {
  tables8();
  const dec = decode8!;
  const tab = cbrtTable();
  const n = width * height;
  const { L, a, b } = out;
  const m0 = FWD[0]!, m1 = FWD[1]!, m2 = FWD[2]!, m3 = FWD[3]!, m4 = FWD[4]!, m5 = FWD[5]!, m6 = FWD[6]!, m7 = FWD[7]!, m8 = FWD[8]!;
  const eps = LAB_EPSILON, k116 = LAB_KAPPA / 116, c16 = 16 / 116, scale = CBRT_BINS / CBRT_RANGE;
  for (let i = 0, p = 0; i < n; i++, p += channels) {
    const r = dec[rgba[p]!]!, g = dec[rgba[p + 1]!]!, bl = dec[rgba[p + 2]!]!;
    const x = m0 * r + m1 * g + m2 * bl;
    const y = m3 * r + m4 * g + m5 * bl;
    const z = m6 * r + m7 * g + m8 * bl;
    let fx: number, fy: number, fz: number;
    if (x > eps) { const u = Math.sqrt(x) * scale, j = u | 0, q = tab[j]!; fx = q + (tab[j + 1]! - q) * (u - j); } else fx = k116 * x + c16;
    if (y > eps) { const u = Math.sqrt(y) * scale, j = u | 0, q = tab[j]!; fy = q + (tab[j + 1]! - q) * (u - j); } else fy = k116 * y + c16;
    if (z > eps) { const u = Math.sqrt(z) * scale, j = u | 0, q = tab[j]!; fz = q + (tab[j + 1]! - q) * (u - j); } else fz = k116 * z + c16;
    L[i] = 116 * fy - 16;
    a[i] = 500 * (fx - fy);
    b[i] = 200 * (fy - fz);
  }
  return out;
}

/** RGBA8 -> the L plane only (what the colorizer sees), float32 in [0,100]. */
export function rgba8ToL(
  rgba: Uint8Array | Uint8ClampedArray,
  width: number,
  height: number,
  out: Float32Array = new Float32Array(width * height),
  channels: 3 | 4 = 4,
): Float32Array {
  tables8();
  const dec = decode8!;
  const tab = cbrtTable();
  const n = width * height;
  const m3 = FWD[3]!, m4 = FWD[4]!, m5 = FWD[5]!;
  const eps = LAB_EPSILON, scale = CBRT_BINS / CBRT_RANGE;
  for (let i = 0, p = 0; i < n; i++, p += channels) {
    const y = m3 * dec[rgba[p]!]! + m4 * dec[rgba[p + 1]!]! + m5 * dec[rgba[p + 2]!]!;
    if (y > eps) {
      const u = Math.sqrt(y) * scale, j = u | 0, q = tab[j]!;
      out[i] = 116 * (q + (tab[j + 1]! - q) * (u - j)) - 16;
    } else out[i] = LAB_KAPPA * y;
  }
  return out;
}

/**
 * Planar Lab -> RGBA8 (alpha 255). Out-of-gamut colours are clipped per channel.
 * `L`, `a`, `b` may be any array-likes of equal length.
 */
export function labToRgba8(
  L: ArrayLike<number>,
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  out: Uint8ClampedArray = new Uint8ClampedArray(L.length * 4),
): Uint8ClampedArray {
  tables8();
  const start = encodeStart!, thr = binThreshold!;
  const n = L.length;
  const i0 = INV[0]!, i1 = INV[1]!, i2 = INV[2]!, i3 = INV[3]!, i4 = INV[4]!, i5 = INV[5]!, i6 = INV[6]!, i7 = INV[7]!, i8 = INV[8]!;
  const fEps = 6 / 29, kInv = 1 / LAB_KAPPA, lLin = LAB_KAPPA * LAB_EPSILON, d116 = 1 / 116, d500 = 1 / 500, d200 = 1 / 200;
  // One 32-bit store per pixel where the platform is little-endian (all current JS engines' targets).
  const out32 = LITTLE_ENDIAN && out.byteOffset % 4 === 0 ? new Uint32Array(out.buffer, out.byteOffset, n) : undefined;
  for (let i = 0; i < n; i++) {
    const l = L[i]!;
    const fy = (l + 16) * d116;
    const fx = fy + a[i]! * d500;
    const fz = fy - b[i]! * d200;
    const x = fx > fEps ? fx * fx * fx : (116 * fx - 16) * kInv;
    const y = l > lLin ? fy * fy * fy : l * kInv;
    const z = fz > fEps ? fz * fz * fz : (116 * fz - 16) * kInv;
    let rl = i0 * x + i1 * y + i2 * z;
    let gl = i3 * x + i4 * y + i5 * z;
    let bl = i6 * x + i7 * y + i8 * z;
    // Clamp (NaN falls through to bin 0 and code 0); the bin gives the code, and the one threshold that
    // can fall inside the bin decides whether the value rounds up to the next code.
    rl = rl < 0 ? 0 : rl > 1 ? 1 : rl;
    gl = gl < 0 ? 0 : gl > 1 ? 1 : gl;
    bl = bl < 0 ? 0 : bl > 1 ? 1 : bl;
    let k = (rl * ENCODE_BINS) | 0;
    const cr = start[k]! + (rl >= thr[k]! ? 1 : 0);
    k = (gl * ENCODE_BINS) | 0;
    const cg = start[k]! + (gl >= thr[k]! ? 1 : 0);
    k = (bl * ENCODE_BINS) | 0;
    const cb = start[k]! + (bl >= thr[k]! ? 1 : 0);
    if (out32) out32[i] = (cr | (cg << 8) | (cb << 16) | 0xff000000) >>> 0;
    else { const p = 4 * i; out[p] = cr; out[p + 1] = cg; out[p + 2] = cb; out[p + 3] = 255; }
  }
  return out;
}

/** Planar sRGB floats in [0,1] (r, g, b planes of one Float32Array, length 3N) -> planar Lab. */
export function srgbFloatToLab(rgb: Float32Array, width: number, height: number, out: LabImage = createLabImage(width, height)): LabImage {
  const n = width * height;
  const tmp = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    linearRgbToLab(srgbToLinear(rgb[i]!), srgbToLinear(rgb[n + i]!), srgbToLinear(rgb[2 * n + i]!), tmp);
    out.L[i] = tmp[0]!;
    out.a[i] = tmp[1]!;
    out.b[i] = tmp[2]!;
  }
  return out;
}

/** Planar Lab -> planar sRGB floats (length 3N), clamped to [0,1]. */
export function labToSrgbFloat(lab: LabImage, out: Float32Array = new Float32Array(3 * lab.L.length)): Float32Array {
  const n = lab.L.length;
  const tmp = [0, 0, 0];
  for (let i = 0; i < n; i++) {
    labToLinearRgb(lab.L[i]!, lab.a[i]!, lab.b[i]!, tmp);
    for (let c = 0; c < 3; c++) {
      const v = linearToSrgb(tmp[c]!);
      out[c * n + i] = v < 0 ? 0 : v > 1 ? 1 : v;
    }
  }
  return out;
}
