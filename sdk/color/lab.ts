/**
 * sRGB <-> CIE Lab (D65, 2° observer) on planar typed arrays.
 *
 * The exact sRGB transfer curve (IEC 61966-2-1) and the CIE constants
 * epsilon = 216/24389, kappa = 24389/27 are used in both directions, so that
 * every 8-bit sRGB colour survives sRGB8 -> Lab(float32) -> sRGB8 unchanged
 * (checked exhaustively in the tests).
 *
 * The three 8-bit image conversions (rgba8ToLab, rgba8ToL, labToRgba8) have two implementations with
 * bit-identical results: the JS loops below, and WebAssembly SIMD kernels (sdk/color/wasm/kernels.ts,
 * embedded as base64) that large images (>= 4096 pixels) go through once they are loaded. See
 * initColorKernels() and colorKernelBackend().
 */

import { TintaError } from '../errors.ts';
import { KERNELS_WASM_BASE64 } from './wasm/kernels.wasm.ts';

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

/** The sRGB transfer curve's constants (IEC 61966-2-1), for code that rebuilds it elsewhere (e.g. as ONNX nodes). */
export const SRGB_CURVE = Object.freeze({ linearLimit: 0.0031308, encodedLimit: 0.04045, slope: 12.92, gamma: 2.4, offset: 0.055 });

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

// The constants of the 8-bit loops, shared with the WebAssembly kernels (kernelConstants()).
const CBRT_SCALE = CBRT_BINS / CBRT_RANGE;
const K_116 = LAB_KAPPA / 116, C_16 = 16 / 116;
const F_EPS = 6 / 29, K_INV = 1 / LAB_KAPPA, L_LIN = LAB_KAPPA * LAB_EPSILON;
const D_116 = 1 / 116, D_500 = 1 / 500, D_200 = 1 / 200;

/** Cube root of t in (epsilon, 1.1] as the colour loops compute it; exported for the tests. */
export function fastCbrt(t: number): number {
  const tab = cbrtTable();
  const u = Math.sqrt(t) * CBRT_SCALE;
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
  const n = width * height;
  if (n >= WASM_MIN_PIXELS && wasmRgba8ToLab(rgba, n, out, channels)) return out;
  tables8();
  const dec = decode8!;
  const tab = cbrtTable();
  const { L, a, b } = out;
  const m0 = FWD[0]!, m1 = FWD[1]!, m2 = FWD[2]!, m3 = FWD[3]!, m4 = FWD[4]!, m5 = FWD[5]!, m6 = FWD[6]!, m7 = FWD[7]!, m8 = FWD[8]!;
  const eps = LAB_EPSILON, k116 = K_116, c16 = C_16, scale = CBRT_SCALE;
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
  const n = width * height;
  if (n >= WASM_MIN_PIXELS && wasmRgba8ToL(rgba, n, out, channels)) return out;
  tables8();
  const dec = decode8!;
  const tab = cbrtTable();
  const m3 = FWD[3]!, m4 = FWD[4]!, m5 = FWD[5]!;
  const eps = LAB_EPSILON, scale = CBRT_SCALE;
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
  const n = L.length;
  if (n >= WASM_MIN_PIXELS && wasmLabToRgba8(L, a, b, n, out)) return out;
  tables8();
  const start = encodeStart!, thr = binThreshold!;
  const i0 = INV[0]!, i1 = INV[1]!, i2 = INV[2]!, i3 = INV[3]!, i4 = INV[4]!, i5 = INV[5]!, i6 = INV[6]!, i7 = INV[7]!, i8 = INV[8]!;
  const fEps = F_EPS, kInv = K_INV, lLin = L_LIN, d116 = D_116, d500 = D_500, d200 = D_200;
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

// ---------------------------------------------------------------------------
// WebAssembly SIMD kernels for rgba8ToLab, rgba8ToL and labToRgba8 (source: sdk/color/wasm/kernels.ts,
// built by `npm run build:wasm` into kernels.wasm.ts as base64). They compute in double precision in
// the same order as the JS loops above, from the same tables and constants (copied into wasm memory
// here), so both paths give bit-identical outputs; test/color-wasm.test.ts checks it.
//
// Images of at least WASM_MIN_PIXELS pixels go through the kernels once they are loaded: by
// `await initColorKernels()`, or on first use (synchronous compilation, allowed everywhere for a
// module this small: under 4 KB, Chrome's main-thread limit). Pixels stream through fixed scratch
// buffers WASM_CHUNK pixels at a time (384 KiB of wasm memory with the tables, allocated once), so
// the working set stays in cache and memory never grows with the image. Without WebAssembly SIMD
// (or on a big-endian host) the JS loops run: same results.

/** Which implementation large 8-bit colour conversions run on. */
export type ColorKernelBackend = 'wasm' | 'js';

/** Options of initColorKernels. */
export interface ColorKernelOptions {
  /**
   * 'auto' (default): the WebAssembly SIMD kernels where they can load, else the JS loops.
   * 'js': use the JS loops from now on (until the next initColorKernels call).
   * 'wasm': like 'auto', but rejects with BACKEND_UNAVAILABLE if the kernels cannot load.
   */
  backend?: 'auto' | ColorKernelBackend;
}

/** Smallest image (pixels) worth the copies in and out of wasm memory. */
const WASM_MIN_PIXELS = 4096;
/** Pixels per kernel call (a multiple of 4: the kernels work in groups of 4 pixels). */
const WASM_CHUNK = 16384;
/** Extra bytes per scratch buffer, so that a buffer can start at any offset within a 4 KiB page. */
const SCRATCH_SLACK = 4096;
/** Largest module Chrome compiles synchronously on the main thread. */
const SYNC_COMPILE_LIMIT = 4096;
/** A minimal module using v128 (i32.const 0, i8x16.splat, i8x16.popcnt): valid only where SIMD is. */
const SIMD_PROBE = new Uint8Array([
  0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10, 10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
]);

interface KernelExports {
  memory: WebAssembly.Memory;
  heapBase(): number;
  rgbaToLab(src: number, n: number, ch: number, dL: number, dA: number, dB: number, cst: number, dec: number, cbrt: number): void;
  rgbaToL(src: number, n: number, ch: number, dL: number, cst: number, dec: number, cbrt: number): void;
  labToRgba(sL: number, sA: number, sB: number, n: number, dst: number, cst: number, start: number, thr: number): void;
}

/** A loaded kernel instance: its exports and the layout of its memory. */
interface Kernels {
  x: KernelExports;
  buf: ArrayBuffer; // x.memory.buffer (the memory never grows after set-up)
  cst: number;
  dec: number;
  cbrt: number;
  start: number;
  thr: number;
  io: number; // RGBA8 / RGB8 scratch: 4 * WASM_CHUNK bytes + SCRATCH_SLACK
  pL: number; // planar float32 scratch: 4 * WASM_CHUNK bytes + SCRATCH_SLACK each
  pA: number;
  pB: number;
}

let kernels: Kernels | undefined;
let kernelsFailed = false;
let kernelsForcedJs = false;
let kernelsLoading: Promise<boolean> | undefined;

/** The constant block of the kernels, in the order of the indices in kernels.ts. */
function kernelConstants(): number[] {
  return [
    ...FWD, ...INV, LAB_EPSILON, K_116, C_16, CBRT_SCALE, LAB_KAPPA, F_EPS, K_INV, L_LIN, D_116, D_500, D_200, ENCODE_BINS,
    116, 16, 500, 200, 1, 2 ** 52,
  ];
}

let wasmBytes: Uint8Array<ArrayBuffer> | undefined;
function kernelBytes(): Uint8Array<ArrayBuffer> {
  if (!wasmBytes) {
    const s = atob(KERNELS_WASM_BASE64);
    wasmBytes = new Uint8Array(s.length);
    for (let i = 0; i < s.length; i++) wasmBytes[i] = s.charCodeAt(i);
  }
  return wasmBytes;
}

function simdSupported(): boolean {
  try {
    return LITTLE_ENDIAN && typeof WebAssembly === 'object' && WebAssembly.validate(SIMD_PROBE);
  } catch {
    return false;
  }
}

/** Lay out tables and scratch in the instance's memory (growing it once) and copy the tables in. */
function setUpKernels(instance: WebAssembly.Instance): Kernels {
  const x = instance.exports as unknown as KernelExports;
  tables8();
  const cbrtTab = cbrtTable();
  const consts = kernelConstants();
  let top = x.heapBase();
  const take = (bytes: number): number => {
    const at = (top + 15) & ~15;
    top = at + bytes;
    return at;
  };
  const cst = take(8 * consts.length), dec = take(8 * 256), cbrt = take(8 * cbrtTab.length);
  const start = take(ENCODE_BINS + 1), thr = take(8 * (ENCODE_BINS + 1));
  const scratch = 4 * WASM_CHUNK + SCRATCH_SLACK;
  const io = take(scratch), pL = take(scratch), pA = take(scratch), pB = take(scratch);
  const pages = Math.ceil(top / 65536) - x.memory.buffer.byteLength / 65536;
  if (pages > 0) x.memory.grow(pages);
  const buf = x.memory.buffer as ArrayBuffer;
  new Float64Array(buf, cst, consts.length).set(consts);
  new Float64Array(buf, dec, 256).set(decode8!);
  new Float64Array(buf, cbrt, cbrtTab.length).set(cbrtTab);
  new Uint8Array(buf, start, ENCODE_BINS + 1).set(encodeStart!);
  new Float64Array(buf, thr, ENCODE_BINS + 1).set(binThreshold!);
  return { x, buf, cst, dec, cbrt, start, thr, io, pL, pA, pB };
}

/**
 * Where in a scratch buffer (at `base`, SCRATCH_SLACK bytes of slack) to put the data that is copied
 * to or from a JS array at `byteOffset`: half a page away from it. Copies between two addresses with
 * the same offset in their 4 KiB pages can be several times slower (memmove's `rep movsb` on AMD Zen
 * runs at a fifth of its speed from wasm memory into 4K-aliased JS arrays), and large buffers start on
 * page boundaries both in wasm memory and usually in JS. Keeps the low 6 bits (cache-line alignment).
 */
function scratchAt(base: number, byteOffset: number): number {
  return base + (((byteOffset & 4095) + 2048) & 4095);
}

/** Load the kernels synchronously (small modules only); undefined where that is not possible. */
function loadKernelsSync(): Kernels | undefined {
  if (kernels || kernelsFailed) return kernels;
  if (!simdSupported()) {
    kernelsFailed = true;
    return undefined;
  }
  const bytes = kernelBytes();
  if (bytes.length > SYNC_COMPILE_LIMIT) {
    // Too large to compile synchronously on a browser's main thread: load in the background.
    void initColorKernels();
    return undefined;
  }
  try {
    kernels = setUpKernels(new WebAssembly.Instance(new WebAssembly.Module(bytes), {}));
  } catch {
    kernelsFailed = true; // e.g. a Content-Security-Policy without 'wasm-unsafe-eval'
  }
  return kernels;
}

async function loadKernels(): Promise<boolean> {
  if (kernels) return true;
  if (kernelsFailed || !simdSupported()) {
    kernelsFailed = true;
    return false;
  }
  try {
    const module = await WebAssembly.compile(kernelBytes());
    const instance = await WebAssembly.instantiate(module, {});
    kernels ??= setUpKernels(instance); // a synchronous load may have won the race
    return true;
  } catch {
    kernelsFailed = true;
    return false;
  }
}

/**
 * Load the WebAssembly SIMD colour kernels (asynchronous compilation, once). Resolves to true when
 * large conversions will run on them, false when they run on the JS loops (no WebAssembly SIMD, a
 * policy that forbids compilation, or `backend: 'js'`). Both give bit-identical results; without
 * this call the kernels still load on first use where synchronous compilation is allowed.
 */
export function initColorKernels(options: ColorKernelOptions = {}): Promise<boolean> {
  const backend = options.backend ?? 'auto';
  if (backend !== 'auto' && backend !== 'wasm' && backend !== 'js') {
    return Promise.reject(new TintaError('BAD_ARGUMENT', `initColorKernels: backend must be 'auto', 'wasm' or 'js', got ${String(backend)}`));
  }
  kernelsForcedJs = backend === 'js';
  if (kernelsForcedJs) return Promise.resolve(false);
  kernelsLoading ??= loadKernels();
  if (backend === 'auto') return kernelsLoading;
  return kernelsLoading.then((ok) => {
    if (!ok) {
      throw new TintaError('BACKEND_UNAVAILABLE', 'the WebAssembly SIMD colour kernels cannot load here (no WebAssembly SIMD, or compilation is forbidden)', {
        details: { backend: 'wasm' },
      });
    }
    return true;
  });
}

/** The implementation large 8-bit conversions run on now (loading the kernels if that can be done synchronously). */
export function colorKernelBackend(): ColorKernelBackend {
  return activeKernels() ? 'wasm' : 'js';
}

function activeKernels(): Kernels | undefined {
  if (kernelsForcedJs) return undefined;
  return kernels ?? loadKernelsSync();
}

/** rgba8ToLab on the kernels; false (nothing written) where the JS loop must run instead. */
function wasmRgba8ToLab(rgba: Uint8Array | Uint8ClampedArray, n: number, out: LabImage, channels: number): boolean {
  const { L, a, b } = out;
  if (!Number.isInteger(n) || (channels !== 3 && channels !== 4) || rgba.length < n * channels) return false;
  if (!(L instanceof Float32Array && a instanceof Float32Array && b instanceof Float32Array)) return false;
  if (L.length < n || a.length < n || b.length < n) return false;
  const k = activeKernels();
  if (!k) return false;
  const io = scratchAt(k.io, rgba.byteOffset), pL = scratchAt(k.pL, L.byteOffset), pA = scratchAt(k.pA, a.byteOffset), pB = scratchAt(k.pB, b.byteOffset);
  const src = rgba instanceof Uint8ClampedArray ? new Uint8ClampedArray(k.buf, io, 4 * WASM_CHUNK) : new Uint8Array(k.buf, io, 4 * WASM_CHUNK);
  const vL = new Float32Array(k.buf, pL, WASM_CHUNK), vA = new Float32Array(k.buf, pA, WASM_CHUNK), vB = new Float32Array(k.buf, pB, WASM_CHUNK);
  for (let i = 0; i < n; i += WASM_CHUNK) {
    const m = Math.min(WASM_CHUNK, n - i);
    src.set(rgba.subarray(i * channels, (i + m) * channels));
    k.x.rgbaToLab(io, m, channels, pL, pA, pB, k.cst, k.dec, k.cbrt);
    if (m === WASM_CHUNK) {
      L.set(vL, i);
      a.set(vA, i);
      b.set(vB, i);
    } else {
      L.set(vL.subarray(0, m), i);
      a.set(vA.subarray(0, m), i);
      b.set(vB.subarray(0, m), i);
    }
  }
  return true;
}

/** rgba8ToL on the kernels; false where the JS loop must run instead. */
function wasmRgba8ToL(rgba: Uint8Array | Uint8ClampedArray, n: number, out: Float32Array, channels: number): boolean {
  if (!Number.isInteger(n) || (channels !== 3 && channels !== 4) || rgba.length < n * channels) return false;
  if (!(out instanceof Float32Array) || out.length < n) return false;
  const k = activeKernels();
  if (!k) return false;
  const io = scratchAt(k.io, rgba.byteOffset), pL = scratchAt(k.pL, out.byteOffset);
  const src = rgba instanceof Uint8ClampedArray ? new Uint8ClampedArray(k.buf, io, 4 * WASM_CHUNK) : new Uint8Array(k.buf, io, 4 * WASM_CHUNK);
  const vL = new Float32Array(k.buf, pL, WASM_CHUNK);
  for (let i = 0; i < n; i += WASM_CHUNK) {
    const m = Math.min(WASM_CHUNK, n - i);
    src.set(rgba.subarray(i * channels, (i + m) * channels));
    k.x.rgbaToL(io, m, channels, pL, k.cst, k.dec, k.cbrt);
    out.set(m === WASM_CHUNK ? vL : vL.subarray(0, m), i);
  }
  return true;
}

/** labToRgba8 on the kernels (float32 planes only: other array-likes carry more precision); false where the JS loop must run. */
function wasmLabToRgba8(L: ArrayLike<number>, a: ArrayLike<number>, b: ArrayLike<number>, n: number, out: Uint8ClampedArray): boolean {
  if (!(L instanceof Float32Array && a instanceof Float32Array && b instanceof Float32Array)) return false;
  if (a.length < n || b.length < n || !(out instanceof Uint8ClampedArray) || out.length < 4 * n) return false;
  const k = activeKernels();
  if (!k) return false;
  const io = scratchAt(k.io, out.byteOffset), pL = scratchAt(k.pL, L.byteOffset), pA = scratchAt(k.pA, a.byteOffset), pB = scratchAt(k.pB, b.byteOffset);
  const dst = new Uint8ClampedArray(k.buf, io, 4 * WASM_CHUNK);
  const vL = new Float32Array(k.buf, pL, WASM_CHUNK), vA = new Float32Array(k.buf, pA, WASM_CHUNK), vB = new Float32Array(k.buf, pB, WASM_CHUNK);
  for (let i = 0; i < n; i += WASM_CHUNK) {
    const m = Math.min(WASM_CHUNK, n - i);
    vL.set(L.subarray(i, i + m));
    vA.set(a.subarray(i, i + m));
    vB.set(b.subarray(i, i + m));
    k.x.labToRgba(pL, pA, pB, m, io, k.cst, k.start, k.thr);
    out.set(m === WASM_CHUNK ? dst : dst.subarray(0, 4 * m), 4 * i);
  }
  return true;
}
