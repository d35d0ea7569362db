/**
 * A spatial index over a bucket table that makes the colour core's soft-encoding fast on whole
 * batches without re-implementing it. The ab plane is cut into small square cells; for each cell
 * we precompute the few buckets that can be among the k nearest of ANY point in it. Points are then
 * grouped by cell and each group is handed to the colour core's own `softEncode` /
 * `accumulateBucketHistogram` with a sub-table of just those candidates (~10-20 buckets instead of
 * 112 or 313). Candidates keep their table order, so ties break as in the full table and the
 * result is bit-identical to calling the core on the full table (checked in the tests).
 *
 * Why a candidate list is exact: let T be the k-th smallest, over all buckets, of the largest
 * distance from the bucket to the cell. Every point of the cell then has k buckets within T, so its
 * k nearest are all within T, so each of them is at most T from the cell's nearest point; every
 * bucket passing that test is kept.
 */
import { bucketsFromCenters, type AbBuckets } from './buckets.ts';
import { accumulateBucketHistogram, softEncode, type SoftEncodeOptions, type SoftTargets } from './encode.ts';
import { ErrorCodes, TintaError } from '../errors.ts';

/** A bucket table cut into cells with their candidate buckets; build with createAbGrid. */
export interface AbGrid {
  readonly buckets: AbBuckets;
  /** Largest k the candidate lists are valid for (any smaller k is valid too). */
  readonly k: number;
  /** Lowest a (and b) of the gridded square, and the cell side, in ab units. */
  readonly origin: number;
  readonly cell: number;
  /** Cells per axis; cell id = ia * side + ib, and id side*side is "outside" (all buckets). */
  readonly side: number;
  /** CSR: candidates of cell c are cand[start[c] .. start[c+1]), ascending bucket indices. */
  readonly start: Int32Array;
  readonly cand: Uint16Array;
  /** Sub-tables per cell, made on first use. */
  readonly tables: (AbBuckets | undefined)[];
}

/** Default cell side (ab units): small enough for short candidate lists, big enough for few groups. */
export const DEFAULT_GRID_CELL = 6;
// sRGB ab lies in about [-87, 99] x [-108, 95]; this square covers it with room to spare.
const GRID_HALF = 132;
// Cells are widened by this much when bounding distances, so a point that rounds into a cell from
// just outside it is still covered.
const GRID_SLACK = 0.01;

/** Build the grid of a bucket table for soft-encodings with up to k neighbours. */
export function createAbGrid(buckets: AbBuckets, k: number, cell = DEFAULT_GRID_CELL): AbGrid {
  const q = buckets.count;
  if (!(Number.isInteger(k) && k >= 1 && k <= q)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `createAbGrid: k must be an integer in [1, ${q}]; got ${k}.`);
  }
  if (!(cell > 0)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `createAbGrid: the cell side must be positive; got ${cell}.`);
  const c = buckets.centers;
  const side = Math.ceil((2 * GRID_HALF) / cell);
  const origin = -GRID_HALF;
  const start = new Int32Array(side * side + 2);
  const lists: number[] = [];
  const dmax = new Float64Array(q);
  const dmin = new Float64Array(q);
  const best = new Float64Array(k);
  for (let ia = 0; ia < side; ia++) {
    const a0 = origin + ia * cell - GRID_SLACK, a1 = origin + (ia + 1) * cell + GRID_SLACK;
    for (let ib = 0; ib < side; ib++) {
      const b0 = origin + ib * cell - GRID_SLACK, b1 = origin + (ib + 1) * cell + GRID_SLACK;
      for (let j = 0; j < q; j++) {
        const ca = c[2 * j]!, cb = c[2 * j + 1]!;
        const na = ca < a0 ? a0 - ca : ca > a1 ? ca - a1 : 0;
        const nb = cb < b0 ? b0 - cb : cb > b1 ? cb - b1 : 0;
        const fa = Math.max(Math.abs(ca - a0), Math.abs(ca - a1));
        const fb = Math.max(Math.abs(cb - b0), Math.abs(cb - b1));
        dmin[j] = na * na + nb * nb;
        dmax[j] = fa * fa + fb * fb;
      }
      const t = kthSmallest(dmax, k, best);
      start[ia * side + ib] = lists.length;
      const before = lists.length;
      for (let j = 0; j < q; j++) if (dmin[j]! <= t) lists.push(j);
      // The core refuses one-bucket tables; a k = 1 cell may have a single candidate, so add the
      // next closest (a superset stays exact). Order must stay ascending for the tie-breaks.
      if (lists.length - before < 2) {
        let extra = -1;
        for (let j = 0; j < q; j++) if (dmin[j]! > t && (extra < 0 || dmin[j]! < dmin[extra]!)) extra = j;
        lists.push(extra);
        const mine = lists.splice(before).sort((x, y) => x - y);
        lists.push(...mine);
      }
    }
  }
  // The outside cell (ab beyond the square, or NaN) keeps every bucket: the core sees the full table.
  start[side * side] = lists.length;
  for (let j = 0; j < q; j++) lists.push(j);
  start[side * side + 1] = lists.length;
  const tables: (AbBuckets | undefined)[] = new Array(side * side + 1).fill(undefined);
  tables[side * side] = buckets;
  return { buckets, k, origin, cell, side, start, cand: Uint16Array.from(lists), tables };
}

/** The k-th smallest value of `xs` (1-based), by insertion into `best` (k is small: 1 to ~10). */
function kthSmallest(xs: Float64Array, k: number, best: Float64Array): number {
  if (k > 32) return Float64Array.from(xs).sort()[k - 1]!;
  best.fill(Infinity);
  for (let j = 0; j < xs.length; j++) {
    const x = xs[j]!;
    if (x >= best[k - 1]!) continue;
    let s = k - 1;
    while (s > 0 && best[s - 1]! > x) {
      best[s] = best[s - 1]!;
      s--;
    }
    best[s] = x;
  }
  return best[k - 1]!;
}

function subTable(g: AbGrid, id: number): AbBuckets {
  let t = g.tables[id];
  if (!t) {
    const s = g.start[id]!, e = g.start[id + 1]!;
    const centers = new Float32Array(2 * (e - s));
    for (let j = s; j < e; j++) {
      centers[2 * (j - s)] = g.buckets.centers[2 * g.cand[j]!]!;
      centers[2 * (j - s) + 1] = g.buckets.centers[2 * g.cand[j]! + 1]!;
    }
    t = bucketsFromCenters(centers, `${g.buckets.name}-cell${id}`, g.buckets.step);
    g.tables[id] = t;
  }
  return t;
}

/** Points grouped by cell: sorted copies of a and b, where each came from, and the group bounds. */
interface Groups {
  order: Uint32Array;
  a: Float64Array;
  b: Float64Array;
  /** Non-empty cells as [id, begin, end] triples into order/a/b. */
  spans: Int32Array;
  count: number;
}

// Counting sort by cell id: two passes over the points, no comparisons. Float64 copies keep any
// input value exactly, so the core computes the very same distances it would on the originals.
function groupByCell(g: AbGrid, a: ArrayLike<number>, b: ArrayLike<number>): Groups {
  const n = a.length;
  const cells = g.side * g.side + 1;
  const id = new Int32Array(n);
  const fill = new Int32Array(cells + 1);
  const inv = 1 / g.cell, side = g.side, out = side * side, o = g.origin;
  for (let i = 0; i < n; i++) {
    const ia = Math.floor((a[i]! - o) * inv), ib = Math.floor((b[i]! - o) * inv);
    // The comparisons are false for NaN, which therefore lands in the outside cell.
    const c = ia >= 0 && ia < side && ib >= 0 && ib < side ? ia * side + ib : out;
    id[i] = c;
    fill[c + 1]!++;
  }
  let used = 0;
  for (let c = 0; c < cells; c++) {
    if (fill[c + 1]! > 0) used++;
    fill[c + 1]! += fill[c]!;
  }
  const spans = new Int32Array(3 * used);
  for (let c = 0, u = 0; c < cells; c++) {
    if (fill[c + 1]! > fill[c]!) {
      spans[u++] = c;
      spans[u++] = fill[c]!;
      spans[u++] = fill[c + 1]!;
    }
  }
  const order = new Uint32Array(n);
  const sa = new Float64Array(n), sb = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const p = fill[id[i]!]!++;
    order[p] = i;
    sa[p] = a[i]!;
    sb[p] = b[i]!;
  }
  return { order, a: sa, b: sb, spans, count: used };
}

/**
 * Exactly `softEncode(grid.buckets, a, b, opts)` of the colour core (same indices, same weights,
 * same order), computed cell by cell. `opts.k` must not exceed `grid.k`. Writes into `out` when
 * its arrays are large enough.
 */
export function softEncodeGrid(g: AbGrid, a: ArrayLike<number>, b: ArrayLike<number>, opts: SoftEncodeOptions = {}, out?: SoftTargets): SoftTargets {
  const k = opts.k ?? g.k;
  if (!(Number.isInteger(k) && k >= 1 && k <= g.k)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `softEncodeGrid: k must be an integer in [1, ${g.k}] for this grid; got ${k}.`);
  }
  const n = a.length;
  const res: SoftTargets = out && out.k === k && out.index.length >= n * k && out.weight.length >= n * k
    ? out
    : { k, index: new Uint16Array(n * k), weight: new Float32Array(n * k) };
  const grp = groupByCell(g, a, b);
  const { order, spans } = grp;
  const { cand, start } = g;
  for (let u = 0; u < spans.length; u += 3) {
    const id = spans[u]!, s = spans[u + 1]!, e = spans[u + 2]!;
    const sub = softEncode(subTable(g, id), grp.a.subarray(s, e), grp.b.subarray(s, e), { ...opts, k });
    const base = start[id]!;
    for (let j = 0; j < e - s; j++) {
      const dst = order[s + j]! * k, src = j * k;
      for (let t = 0; t < k; t++) {
        res.index[dst + t] = cand[base + sub.index[src + t]!]!;
        res.weight[dst + t] = sub.weight[src + t]!;
      }
    }
  }
  return res;
}

/** Exactly the colour core's hard `accumulateBucketHistogram(grid.buckets, a, b, hist)`, cell by cell. */
export function accumulateHistogramGrid(g: AbGrid, a: ArrayLike<number>, b: ArrayLike<number>, hist: Float64Array = new Float64Array(g.buckets.count)): Float64Array {
  if (hist.length !== g.buckets.count) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Histogram length ${hist.length} does not match ${g.buckets.count} buckets.`);
  }
  const grp = groupByCell(g, a, b);
  for (let u = 0; u < grp.spans.length; u += 3) {
    const id = grp.spans[u]!, s = grp.spans[u + 1]!, e = grp.spans[u + 2]!;
    const t = subTable(g, id);
    const h = accumulateBucketHistogram(t, grp.a.subarray(s, e), grp.b.subarray(s, e), new Float64Array(t.count));
    const base = g.start[id]!;
    for (let j = 0; j < t.count; j++) if (h[j]! !== 0) hist[g.cand[base + j]!]! += h[j]!;
  }
  return hist;
}
