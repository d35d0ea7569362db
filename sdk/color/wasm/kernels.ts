// @ts-nocheck -- AssemblyScript source, not part of the TypeScript program. Build: npm run build:wasm
/**
 * WebAssembly SIMD kernels for the three hot conversions of sdk/color/lab.ts
 * (rgba8ToLab, rgba8ToL, labToRgba8).
 *
 * They repeat the JS loops of lab.ts operation for operation in double precision (f64x2, two pixels per
 * vector), so their float32 / byte outputs are bit-identical to the JS path: every product and sum is
 * evaluated in the same order, wasm has no fused multiply-add, sqrt is correctly rounded, the table
 * lookups use the same tables, and floor() / the clamps give the same bins as `x | 0` and the JS
 * ternaries on every value that can occur. f32x4 (four pixels per vector) was rejected for accuracy:
 * float32 rounding alone moves a = 500 (fx - fy) by several 1e-5 from the JS results, and the table
 * gathers (a quarter of the forward time) stay one scalar load per pixel and channel either way.
 *
 * Nothing here owns data: lab.ts computes the lookup tables and constants once and copies them into
 * linear memory (one source of truth), lays out scratch buffers above heapBase(), and passes pointers.
 * Kernels round n up to a multiple of 2 or 4 pixels: they may read and write up to 3 pixels past `n`
 * inside the scratch buffers (garbage in, ignored out; nothing can trap), and the caller copies out
 * only `n`.
 */

// Indices into the f64 constant block (must match kernelConstants() in lab.ts).
const M0: i32 = 0; // 0..8: white-normalised sRGB -> XYZ matrix (FWD), row-major
const I0: i32 = 9; // 9..17: XYZ -> sRGB matrix with the white folded in (INV), row-major
const EPS: i32 = 18; // LAB_EPSILON
const K116: i32 = 19; // LAB_KAPPA / 116
const C16: i32 = 20; // 16 / 116
const SCALE: i32 = 21; // CBRT_BINS / CBRT_RANGE
const KAPPA: i32 = 22; // LAB_KAPPA
const FEPS: i32 = 23; // 6 / 29
const KINV: i32 = 24; // 1 / LAB_KAPPA
const LLIN: i32 = 25; // LAB_KAPPA * LAB_EPSILON
const D116: i32 = 26; // 1 / 116
const D500: i32 = 27; // 1 / 500
const D200: i32 = 28; // 1 / 200
const BINS: i32 = 29; // ENCODE_BINS
// 30..35: the literals 116, 16, 500, 200, 1 and 2^52. Loop-invariant loads keep V8 from rebuilding
// v128 constants inside the loops (three instructions each).
const N116: i32 = 30;
const N16: i32 = 31;
const N500: i32 = 32;
const N200: i32 = 33;
const ONE: i32 = 34;
const MAGIC: i32 = 35; // 2^52: added to an integer-valued double in [0, 2^31), leaves the integer in the low 32 bits

/** First free byte of linear memory (the caller lays out tables and scratch from here). */
export function heapBase(): usize {
  return __heap_base;
}

@inline function k(cst: usize, i: i32): v128 {
  return f64x2.splat(load<f64>(cst + (<usize>i << 3)));
}

/** [tab[i0], tab[i1]] of an f64 table. */
@inline function pair(tab: usize, i0: u32, i1: u32): v128 {
  return v128.load64_lane(tab + (<usize>i1 << 3), v128.load64_zero(tab + (<usize>i0 << 3)), 1);
}

/**
 * cbrt(t) exactly as lab.ts's loops compute it: g(sqrt(t)) linearly interpolated from the table,
 * q + (tab[j + 1] - q) * (u - j) with u = sqrt(t) * scale, j = u | 0. Needs t >= 0 (true for the
 * non-negative linear values and matrix), so floor(u) = u | 0 and j is a valid index.
 */
@inline function cbrtT(t: v128, scale: v128, magic: v128, cbrt: usize): v128 {
  const u = f64x2.mul(f64x2.sqrt(t), scale);
  const jf = f64x2.floor(u);
  const j = f64x2.add(jf, magic); // the integer jf in the low 32 bits of each lane
  const lo = v128.load(cbrt + (<usize>i32x4.extract_lane(j, 0) << 3)); // [tab[j0], tab[j0 + 1]]
  const hi = v128.load(cbrt + (<usize>i32x4.extract_lane(j, 2) << 3)); // [tab[j1], tab[j1 + 1]]
  const q = f64x2.shuffle(lo, hi, 0, 2);
  return f64x2.add(q, f64x2.mul(f64x2.sub(f64x2.shuffle(lo, hi, 1, 3), q), f64x2.sub(u, jf)));
}

/** CIE f(t) as lab.ts computes it: cbrtT(t) above epsilon, k116 * t + c16 below. */
@inline function labF(t: v128, eps: v128, k116: v128, c16: v128, scale: v128, magic: v128, cbrt: usize): v128 {
  return v128.bitselect(cbrtT(t, scale, magic, cbrt), f64x2.add(f64x2.mul(k116, t), c16), f64x2.gt(t, eps));
}

/** Two f64 lanes -> two f32 (round to nearest, like a Float32Array store) in the low half. */
@inline function f32pair(v: v128): v128 {
  return f32x4.demote_f64x2_zero(v);
}

/** Four float32 from two f64x2 (pixels 0,1 from lo and 2,3 from hi). */
@inline function f32quad(lo: v128, hi: v128): v128 {
  return i64x2.shuffle(f32pair(lo), f32pair(hi), 0, 2);
}

/**
 * RGBA8 (ch = 4) or RGB8 (ch = 3) at src -> planar Lab float32 at dL, dA, dB (n pixels, rounded up to 4).
 * dec: sRGB8 code -> linear (256 f64); cbrt: the f(t) table (CBRT_BINS + 2 f64).
 */
export function rgbaToLab(src: usize, n: i32, ch: i32, dL: usize, dA: usize, dB: usize, cst: usize, dec: usize, cbrt: usize): void {
  const m0 = k(cst, M0), m1 = k(cst, M0 + 1), m2 = k(cst, M0 + 2);
  const m3 = k(cst, M0 + 3), m4 = k(cst, M0 + 4), m5 = k(cst, M0 + 5);
  const m6 = k(cst, M0 + 6), m7 = k(cst, M0 + 7), m8 = k(cst, M0 + 8);
  const eps = k(cst, EPS), k116 = k(cst, K116), c16 = k(cst, C16), scale = k(cst, SCALE);
  const v116 = k(cst, N116), v16 = k(cst, N16), v500 = k(cst, N500), v200 = k(cst, N200), magic = k(cst, MAGIC);
  const step = <usize>ch;
  let p = src;
  for (let i: usize = 0, e = <usize>n << 2; i < e; i += 8) {
    const p1 = p + step;
    const r = pair(dec, load<u8>(p), load<u8>(p1));
    const g = pair(dec, load<u8>(p, 1), load<u8>(p1, 1));
    const b = pair(dec, load<u8>(p, 2), load<u8>(p1, 2));
    const fx = labF(f64x2.add(f64x2.add(f64x2.mul(m0, r), f64x2.mul(m1, g)), f64x2.mul(m2, b)), eps, k116, c16, scale, magic, cbrt);
    const fy = labF(f64x2.add(f64x2.add(f64x2.mul(m3, r), f64x2.mul(m4, g)), f64x2.mul(m5, b)), eps, k116, c16, scale, magic, cbrt);
    const fz = labF(f64x2.add(f64x2.add(f64x2.mul(m6, r), f64x2.mul(m7, g)), f64x2.mul(m8, b)), eps, k116, c16, scale, magic, cbrt);
    v128.store64_lane(dL + i, f32pair(f64x2.sub(f64x2.mul(v116, fy), v16)), 0);
    v128.store64_lane(dA + i, f32pair(f64x2.mul(v500, f64x2.sub(fx, fy))), 0);
    v128.store64_lane(dB + i, f32pair(f64x2.mul(v200, f64x2.sub(fy, fz))), 0);
    p = p1 + step;
  }
}

/** The L plane only, exactly as lab.ts's rgba8ToL (its linear branch is kappa * y, not 116 * f - 16). */
@inline function lOnly(y: v128, eps: v128, kappa: v128, scale: v128, magic: v128, v116: v128, v16: v128, cbrt: usize): v128 {
  return v128.bitselect(f64x2.sub(f64x2.mul(v116, cbrtT(y, scale, magic, cbrt)), v16), f64x2.mul(kappa, y), f64x2.gt(y, eps));
}

/** RGBA8 / RGB8 -> the L plane (float32) at dL. */
export function rgbaToL(src: usize, n: i32, ch: i32, dL: usize, cst: usize, dec: usize, cbrt: usize): void {
  const m3 = k(cst, M0 + 3), m4 = k(cst, M0 + 4), m5 = k(cst, M0 + 5);
  const eps = k(cst, EPS), kappa = k(cst, KAPPA), scale = k(cst, SCALE);
  const v116 = k(cst, N116), v16 = k(cst, N16), magic = k(cst, MAGIC);
  const step = <usize>ch;
  let p = src;
  for (let i: usize = 0, e = <usize>n << 2; i < e; i += 16) {
    const p1 = p + step, p2 = p1 + step, p3 = p2 + step;
    const y01 = f64x2.add(f64x2.add(
      f64x2.mul(m3, pair(dec, load<u8>(p), load<u8>(p1))),
      f64x2.mul(m4, pair(dec, load<u8>(p, 1), load<u8>(p1, 1)))),
      f64x2.mul(m5, pair(dec, load<u8>(p, 2), load<u8>(p1, 2))));
    const y23 = f64x2.add(f64x2.add(
      f64x2.mul(m3, pair(dec, load<u8>(p2), load<u8>(p3))),
      f64x2.mul(m4, pair(dec, load<u8>(p2, 1), load<u8>(p3, 1)))),
      f64x2.mul(m5, pair(dec, load<u8>(p2, 2), load<u8>(p3, 2))));
    v128.store(dL + i, f32quad(lOnly(y01, eps, kappa, scale, magic, v116, v16, cbrt), lOnly(y23, eps, kappa, scale, magic, v116, v16, cbrt)));
    p = p3 + step;
  }
}

/** One sRGB8 code: the bin's first code, plus one if v reaches the threshold inside the bin. */
@inline function code(v: f64, bin: i32, start: usize, thr: usize): u32 {
  return <u32>load<u8>(start + <usize>bin) + <u32>(v >= load<f64>(thr + (<usize>bin << 3)));
}

/**
 * Linear RGB of two pixels -> two RGBA8 words (alpha 255), clamped to [0, 1] with NaN -> 0:
 * pmax(0, v) is `0 < v ? v : 0`. lab.ts clamps with `v < 0 ? 0 : v > 1 ? 1 : v` and lets NaN fall
 * through to bin 0 where it fails the threshold: code 0 either way, and all other values agree
 * (-0 becomes +0: bin 0, below the threshold, code 0 either way).
 */
@inline function encode2(dst: usize, rl: v128, gl: v128, bl: v128, zero: v128, one: v128, bins: v128, magic: v128, start: usize, thr: usize): void {
  rl = f64x2.pmin(one, f64x2.pmax(zero, rl));
  gl = f64x2.pmin(one, f64x2.pmax(zero, gl));
  bl = f64x2.pmin(one, f64x2.pmax(zero, bl));
  const kr = f64x2.add(f64x2.floor(f64x2.mul(rl, bins)), magic); // the bin in the low 32 bits of each lane
  const kg = f64x2.add(f64x2.floor(f64x2.mul(gl, bins)), magic);
  const kb = f64x2.add(f64x2.floor(f64x2.mul(bl, bins)), magic);
  store<u32>(dst,
    code(f64x2.extract_lane(rl, 0), i32x4.extract_lane(kr, 0), start, thr)
    | (code(f64x2.extract_lane(gl, 0), i32x4.extract_lane(kg, 0), start, thr) << 8)
    | (code(f64x2.extract_lane(bl, 0), i32x4.extract_lane(kb, 0), start, thr) << 16)
    | 0xff000000);
  store<u32>(dst,
    code(f64x2.extract_lane(rl, 1), i32x4.extract_lane(kr, 2), start, thr)
    | (code(f64x2.extract_lane(gl, 1), i32x4.extract_lane(kg, 2), start, thr) << 8)
    | (code(f64x2.extract_lane(bl, 1), i32x4.extract_lane(kb, 2), start, thr) << 16)
    | 0xff000000, 4);
}

/**
 * Planar Lab float32 at sL, sA, sB -> RGBA8 at dst (n pixels, rounded up to 4).
 * start: linear bin -> lowest possible code (ENCODE_BINS + 1 bytes); thr: the bin's threshold (f64).
 */
export function labToRgba(sL: usize, sA: usize, sB: usize, n: i32, dst: usize, cst: usize, start: usize, thr: usize): void {
  const i0 = k(cst, I0), i1 = k(cst, I0 + 1), i2 = k(cst, I0 + 2);
  const i3 = k(cst, I0 + 3), i4 = k(cst, I0 + 4), i5 = k(cst, I0 + 5);
  const i6 = k(cst, I0 + 6), i7 = k(cst, I0 + 7), i8 = k(cst, I0 + 8);
  const fEps = k(cst, FEPS), kInv = k(cst, KINV), lLin = k(cst, LLIN);
  const d116 = k(cst, D116), d500 = k(cst, D500), d200 = k(cst, D200), bins = k(cst, BINS);
  const v116 = k(cst, N116), v16 = k(cst, N16), one = k(cst, ONE), magic = k(cst, MAGIC), zero = f64x2.splat(0);
  for (let i: usize = 0, e = <usize>n << 2; i < e; i += 8) {
    const l = f64x2.promote_low_f32x4(v128.load64_zero(sL + i));
    const fy = f64x2.mul(f64x2.add(l, v16), d116);
    const fx = f64x2.add(fy, f64x2.mul(f64x2.promote_low_f32x4(v128.load64_zero(sA + i)), d500));
    const fz = f64x2.sub(fy, f64x2.mul(f64x2.promote_low_f32x4(v128.load64_zero(sB + i)), d200));
    const x = v128.bitselect(f64x2.mul(f64x2.mul(fx, fx), fx), f64x2.mul(f64x2.sub(f64x2.mul(v116, fx), v16), kInv), f64x2.gt(fx, fEps));
    const y = v128.bitselect(f64x2.mul(f64x2.mul(fy, fy), fy), f64x2.mul(l, kInv), f64x2.gt(l, lLin));
    const z = v128.bitselect(f64x2.mul(f64x2.mul(fz, fz), fz), f64x2.mul(f64x2.sub(f64x2.mul(v116, fz), v16), kInv), f64x2.gt(fz, fEps));
    encode2(dst + i,
      f64x2.add(f64x2.add(f64x2.mul(i0, x), f64x2.mul(i1, y)), f64x2.mul(i2, z)),
      f64x2.add(f64x2.add(f64x2.mul(i3, x), f64x2.mul(i4, y)), f64x2.mul(i5, z)),
      f64x2.add(f64x2.add(f64x2.mul(i6, x), f64x2.mul(i7, y)), f64x2.mul(i8, z)),
      zero, one, bins, magic, start, thr);
  }
}
