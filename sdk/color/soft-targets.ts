/**
 * Soft-encoded training targets at 1/4 resolution, fast: for every 4x4 block of input pixels, the
 * mean of the colour core's soft-encodings (k nearest buckets, Gaussian weights) of its 16 pixels.
 *
 * The core's `softEncode` spends a few hundred ns per pixel (a k-nearest search over the table and
 * k exp() calls), and a batch has n*S*S pixels (131k at n = 8, S = 128). When the bucket centres
 * lie on a square lattice (both built-in tables do), the same numbers are computed here for a
 * fraction of that:
 *
 * 1. The ab plane is cut into fine cells (FINE_CELL units). For each cell, on first use, we list
 *    the few buckets (usually exactly k) that can be among the k nearest of some point of the cell:
 *    the k-th smallest "farthest distance to the cell" bounds the k-th neighbour distance, and
 *    every bucket whose nearest distance to the cell is within that bound is kept.
 * 2. For a point p = r + delta in the cell (r its centre) and a lattice centre c = step * (i, j),
 *    exp(-|p - c|^2 / 2s^2) = exp(-|delta|^2 / 2s^2) * K_c * X^i * Y^j, with K_c = exp(-|r - c|^2 / 2s^2),
 *    X = exp(step * delta_a / s^2) and Y likewise. The first factor is common to all buckets and
 *    cancels in the normalisation: a pixel costs two exp() calls and a few products.
 * 3. When a cell lists more than k buckets, the pixel's exact squared distances to them are
 *    computed as the core computes them, and the farthest are dropped with the core's tie rule
 *    (among equal distances the lower bucket index wins), so the chosen buckets are always the
 *    core's.
 *
 * Points outside the gridded square (or NaN), cells listing more than MAX_LIST buckets, and every
 * pixel of a table that is not a lattice go through the core's `softEncode` itself (via the cell
 * grid of ab-grid.ts). The weights differ from the core's only by floating-point rounding (~1e-7);
 * the tests compare the two.
 */
import type { AbBuckets } from './buckets.ts';
import { ErrorCodes, TintaError } from '../errors.ts';
import { createAbGrid, softEncodeGrid, type AbGrid } from './ab-grid.ts';

/** Fine cell side in ab units: smaller means shorter lists (less selection), more cells to set up. */
export const FINE_CELL = 0.25;
/** Longest per-cell bucket list the fast path handles. */
export const MAX_LIST = 8;
// Candidate cells (ab-grid) are a whole number of fine cells on the same origin, so a fine cell
// always lies inside one candidate cell and only needs to look at its candidates.
const FINE_PER_COARSE = 12;
const HALF = 132; // ab-grid's square; sRGB ab fits well inside
const SIDE = Math.round((2 * HALF) / FINE_CELL);
const SLACK = 0.01; // cells are widened by this, so points that round into a cell are covered
const UNKNOWN = -1, CORE = -2; // cellEntry markers
const NO_ENTRY = -1; // per-pixel marker: take the core path
// Taylor coefficients 1/n! of exp; with |x| <= 0.15 the next term is below 1e-13 of the sum.
const POLY_EXP_LIMIT = 0.15;
const C3 = 1 / 6, C4 = 1 / 24, C5 = 1 / 120, C6 = 1 / 720, C7 = 1 / 5040, C8 = 1 / 40320;

/** Per (buckets, k, sigma) state of the fast path; cells are filled in lazily. Build with createSoftPlan. */
export interface SoftPlan {
  readonly buckets: AbBuckets;
  readonly k: number;
  readonly sigma: number;
  /** Candidate grid (also drives the exact core fallback). */
  readonly grid: AbGrid;
  /** Lattice step, or 0 when the table is not a lattice (then every pixel takes the core path). */
  readonly step: number;
  /** Per fine cell: UNKNOWN, CORE (use the core) or its entry number. */
  readonly cellEntry: Int32Array;
  /** The cells' bucket lists (MAX_LIST slots per entry). */
  tables: EntryTables;
  /** Largest lattice offset in any entry (sizes the power tables). */
  maxOffset: number;
  /** Per-pixel entries of the last call, kept to avoid reallocating each batch. */
  entryOf: Int32Array;
}

// Two arrays with one 64-byte-ish record per entry each, rather than one array per field: a pixel's
// entry is then at most two cache misses away (the hot loop is bound by those, not by arithmetic).
interface EntryTables {
  count: number;
  /** K factors (slot s of entry e at e * MAX_LIST + s). */
  K: Float64Array;
  /** bucket index | u << 16 | v << 20, and the list length << 24 in slot 0. */
  P: Int32Array;
}

function entryTables(cap: number): EntryTables {
  return { count: 0, K: new Float64Array(cap * MAX_LIST), P: new Int32Array(cap * MAX_LIST) };
}

/** Set up the fast path for soft targets with k neighbours and Gaussian width sigma. */
export function createSoftPlan(buckets: AbBuckets, k: number, sigma: number): SoftPlan {
  if (!(Number.isInteger(k) && k >= 1 && k <= buckets.count)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Soft-encoding: k must be an integer in [1, ${buckets.count}]; got ${k}.`);
  }
  if (!(sigma > 0)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Soft-encoding: sigma must be positive; got ${sigma}.`);
  const grid = createAbGrid(buckets, k, FINE_CELL * FINE_PER_COARSE);
  const c = buckets.centers;
  let step = buckets.step > 0 && k <= MAX_LIST ? buckets.step : 0;
  for (let j = 0; j < c.length && step > 0; j++) {
    if (Math.abs(c[j]! / step - Math.round(c[j]! / step)) > 1e-6) step = 0;
  }
  return { buckets, k, sigma, grid, step, cellEntry: new Int32Array(SIDE * SIDE).fill(UNKNOWN), tables: entryTables(4096), maxOffset: 0, entryOf: new Int32Array(0) };
}

/** List the buckets that can be among the k nearest in fine cell (fa, fb); returns its entry or CORE. */
function settleCell(plan: SoftPlan, fa: number, fb: number): number {
  const { k, grid, step } = plan;
  const c = plan.buckets.centers;
  const a0 = -HALF + fa * FINE_CELL - SLACK, a1 = -HALF + (fa + 1) * FINE_CELL + SLACK;
  const b0 = -HALF + fb * FINE_CELL - SLACK, b1 = -HALF + (fb + 1) * FINE_CELL + SLACK;
  const coarse = Math.floor(fa / FINE_PER_COARSE) * grid.side + Math.floor(fb / FINE_PER_COARSE);
  const s0 = grid.start[coarse]!, s1 = grid.start[coarse + 1]!;
  const dmin: number[] = [], dmax: number[] = [];
  for (let x = s0; x < s1; x++) {
    const ca = c[2 * grid.cand[x]!]!, cb = c[2 * grid.cand[x]! + 1]!;
    const na = ca < a0 ? a0 - ca : ca > a1 ? ca - a1 : 0, nb = cb < b0 ? b0 - cb : cb > b1 ? cb - b1 : 0;
    const fa2 = Math.max(Math.abs(ca - a0), Math.abs(ca - a1)), fb2 = Math.max(Math.abs(cb - b0), Math.abs(cb - b1));
    dmin.push(na * na + nb * nb);
    dmax.push(fa2 * fa2 + fb2 * fb2);
  }
  const bound = [...dmax].sort((x, y) => x - y)[k - 1]!;
  const list: number[] = [];
  for (let x = s0; x < s1; x++) if (dmin[x - s0]! <= bound) list.push(grid.cand[x]!); // grid.cand is ascending
  const id = fa * SIDE + fb;
  if (list.length > MAX_LIST) return (plan.cellEntry[id] = CORE);
  const ra = -HALF + (fa + 0.5) * FINE_CELL, rb = -HALF + (fb + 0.5) * FINE_CELL;
  const dr = list.map((q) => (c[2 * q]! - ra) ** 2 + (c[2 * q + 1]! - rb) ** 2);
  const drMin = Math.min(...dr);
  const li = list.map((q) => Math.round(c[2 * q]! / step)), lj = list.map((q) => Math.round(c[2 * q + 1]! / step));
  const iMin = Math.min(...li), jMin = Math.min(...lj);
  // Offsets are packed in 4 bits; lists spread wider only occur far outside the gamut.
  if (Math.max(...li) - iMin > 15 || Math.max(...lj) - jMin > 15) return (plan.cellEntry[id] = CORE);
  let t = plan.tables;
  if ((t.count + 1) * MAX_LIST > t.P.length) t = plan.tables = growTables(t);
  const e = t.count++;
  const inv2s2 = 1 / (2 * plan.sigma * plan.sigma);
  for (let s = 0; s < list.length; s++) {
    const o = e * MAX_LIST + s, u = li[s]! - iMin, v = lj[s]! - jMin;
    // Relative to the nearest, as the core does, so cells far from every bucket do not underflow.
    t.K[o] = Math.exp(-(dr[s]! - drMin) * inv2s2);
    t.P[o] = list[s]! | (u << 16) | (v << 20) | (s === 0 ? list.length << 24 : 0);
    if (u > plan.maxOffset) plan.maxOffset = u;
    if (v > plan.maxOffset) plan.maxOffset = v;
  }
  return (plan.cellEntry[id] = e);
}

function growTables(t: EntryTables): EntryTables {
  const g = entryTables((2 * t.P.length) / MAX_LIST);
  g.count = t.count;
  g.K.set(t.K);
  g.P.set(t.P);
  return g;
}

/**
 * Add the block-mean soft targets of n images of S x S pixels (planar a/b, image-major, row-major)
 * to `target` ([n, S/4, S/4, Q]; the caller zeroes it). Returns how many pixels took the core path.
 */
export function accumulateBlockTargets(plan: SoftPlan, a: Float32Array, b: Float32Array, n: number, S: number, target: Float32Array): number {
  const { k } = plan;
  const q = plan.buckets.count;
  const o = S >> 2, lowPx = o * o, total = n * S * S;
  if (!(Number.isSafeInteger(S) && S % 4 === 0 && a.length >= total && b.length >= total && target.length >= n * lowPx * q)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `accumulateBlockTargets: need S a multiple of 4, ${total} a/b values and ${n * lowPx * q} target values.`);
  }
  const invCell = 1 / FINE_CELL;
  const lattice = plan.step > 0;
  // Pass 1: every pixel's entry (settling new cells), so the hot loop below never grows tables.
  if (plan.entryOf.length < total) plan.entryOf = new Int32Array(total);
  const entryOf = plan.entryOf;
  let slowCount = 0;
  for (let p = 0; p < total; p++) {
    const fa = Math.floor((a[p]! + HALF) * invCell), fb = Math.floor((b[p]! + HALF) * invCell);
    let e = CORE;
    // False for NaN and outside the square.
    if (lattice && fa >= 0 && fa < SIDE && fb >= 0 && fb < SIDE) {
      e = plan.cellEntry[fa * SIDE + fb]!;
      if (e === UNKNOWN) e = settleCell(plan, fa, fb);
    }
    if (e === CORE) {
      entryOf[p] = NO_ENTRY;
      slowCount++;
    } else entryOf[p] = e;
  }
  // Pass 2: the fast path, on local references only.
  const { K, P } = plan.tables;
  const c = plan.buckets.centers;
  const inv2s2 = 1 / (2 * plan.sigma * plan.sigma);
  const kx = 2 * plan.step * inv2s2; // X = exp(step * delta / sigma^2)
  const poly = kx * (FINE_CELL / 2 + SLACK) <= POLY_EXP_LIMIT;
  const maxOff = plan.maxOffset;
  const xp = new Float64Array(maxOff + 1), yp = new Float64Array(maxOff + 1);
  const w = new Float64Array(MAX_LIST), d = new Float64Array(MAX_LIST);
  xp[0] = 1;
  yp[0] = 1;
  const slow = new Int32Array(slowCount);
  let ns = 0;
  for (let j = 0, p = 0; j < n; j++) {
    for (let r = 0; r < S; r++) {
      const blockRow = j * lowPx + (r >> 2) * o;
      for (let col = 0; col < S; col++, p++) {
        const e = entryOf[p]!;
        if (e === NO_ENTRY) {
          slow[ns++] = p;
          continue;
        }
        const av = a[p]!, bv = b[p]!;
        // The cell centre, recomputed from the value: cheaper than storing it per entry.
        const ra = (Math.floor((av + HALF) * invCell) + 0.5) * FINE_CELL - HALF;
        const rb = (Math.floor((bv + HALF) * invCell) + 0.5) * FINE_CELL - HALF;
        const xa = kx * (av - ra), xb = kx * (bv - rb);
        // |xa|, |xb| <= POLY_EXP_LIMIT: the degree-8 Taylor polynomial is exp to ~1e-13, and cheaper.
        const X = poly ? 1 + xa * (1 + xa * (0.5 + xa * (C3 + xa * (C4 + xa * (C5 + xa * (C6 + xa * (C7 + xa * C8))))))) : Math.exp(xa);
        const Y = poly ? 1 + xb * (1 + xb * (0.5 + xb * (C3 + xb * (C4 + xb * (C5 + xb * (C6 + xb * (C7 + xb * C8))))))) : Math.exp(xb);
        for (let t = 1; t <= maxOff; t++) {
          xp[t] = xp[t - 1]! * X;
          yp[t] = yp[t - 1]! * Y;
        }
        const base = e * MAX_LIST, m = P[base]! >>> 24;
        let sum = 0;
        for (let s = 0; s < m; s++) {
          const pk = P[base + s]!;
          const wv = K[base + s]! * xp[(pk >> 16) & 15]! * yp[(pk >> 20) & 15]!;
          w[s] = wv;
          sum += wv;
        }
        if (m > k) {
          // Drop the m - k farthest; the core's distances, and its tie rule (higher index loses).
          for (let s = 0; s < m; s++) {
            const qq = P[base + s]! & 0xffff;
            const da = c[2 * qq]! - av, db = c[2 * qq + 1]! - bv;
            d[s] = da * da + db * db;
          }
          for (let drop = m - k; drop > 0; drop--) {
            let worst = -1, wd = -Infinity;
            for (let s = 0; s < m; s++) if (d[s]! >= wd) { wd = d[s]!; worst = s; }
            w[worst] = 0;
            d[worst] = -Infinity;
          }
          sum = 0;
          for (let s = 0; s < m; s++) sum += w[s]!;
        }
        const scale = 1 / (16 * sum);
        const t0 = (blockRow + (col >> 2)) * q;
        for (let s = 0; s < m; s++) target[t0 + (P[base + s]! & 0xffff)]! += w[s]! * scale;
      }
    }
  }
  if (ns > 0) {
    const sa = new Float32Array(ns), sb = new Float32Array(ns);
    for (let i = 0; i < ns; i++) {
      sa[i] = a[slow[i]!]!;
      sb[i] = b[slow[i]!]!;
    }
    const enc = softEncodeGrid(plan.grid, sa, sb, { k, sigma: plan.sigma });
    const SS = S * S;
    for (let i = 0; i < ns; i++) {
      const p = slow[i]!;
      const j = Math.floor(p / SS), rem = p - j * SS, r = Math.floor(rem / S), col = rem - r * S;
      const t0 = (j * lowPx + (r >> 2) * o + (col >> 2)) * q;
      for (let s = 0; s < k; s++) target[t0 + enc.index[i * k + s]!]! += enc.weight[i * k + s]! / 16;
    }
  }
  return ns;
}
