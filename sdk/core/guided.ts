/**
 * Upsampling the network's low-resolution ab to full resolution, guided by the full-resolution L.
 *
 * The fast guided filter (He & Sun 2015, after He, Sun & Tang's guided filter): within each small
 * window of the low-resolution grid, ab is modelled as a linear function of L, ab ~ A*L + B, with
 * A and B fitted by least squares on the low-resolution L (the full L area-averaged onto the ab
 * grid) and ab. A and B are smooth, so they are interpolated bilinearly to full resolution, where
 * q = A*L + B is evaluated with the ORIGINAL full-resolution L. An edge in L therefore becomes an
 * equally sharp edge in ab, where plain bilinear upsampling smears colour across it by the whole
 * upscaling factor. Cost: a few O(n) box filters on the small grid, then one pass over the full
 * image with 2 multiply-adds per plane and pixel.
 */

/** Tuning of the guided upsampling. */
export interface GuidedParams {
  /** Window radius on the low-resolution grid, in low-resolution pixels (window 2r+1). */
  radius: number;
  /**
   * Regularisation in L units squared: windows whose L varies less than about sqrt(eps) get a
   * flat colour instead of a slope, so film grain and JPEG noise do not turn into colour noise.
   */
  eps: number;
}

/**
 * Defaults chosen on the synthetic edge tests: radius 1 keeps windows small enough to hold two
 * colours at most near an edge (where the linear model is exact); eps = 4 (L sigma 2) ignores
 * noise but keeps edges of a few L units.
 */
export const DEFAULT_GUIDED: Readonly<GuidedParams> = Object.freeze({ radius: 1, eps: 4 });

/**
 * Normalised box filter: the mean over the (2r+1)^2 window clipped to the image, by running sums
 * (O(n) whatever r). `tmp` (w*h) is scratch.
 */
export function boxMean(src: Float32Array, w: number, h: number, r: number, out: Float32Array, tmp: Float32Array): Float32Array {
  // Horizontal running sums with the clipped count.
  for (let y = 0; y < h; y++) {
    const row = y * w;
    let s = 0;
    const first = Math.min(r, w - 1);
    for (let x = 0; x <= first; x++) s += src[row + x]!;
    for (let x = 0; x < w; x++) {
      const lo = x - r, hi = x + r;
      tmp[row + x] = s / (Math.min(hi, w - 1) - Math.max(lo, 0) + 1);
      if (hi + 1 < w) s += src[row + hi + 1]!;
      if (lo >= 0) s -= src[row + lo]!;
    }
  }
  // Vertical, column sums kept per x so rows are read sequentially.
  const col = new Float64Array(w);
  const first = Math.min(r, h - 1);
  for (let y = 0; y <= first; y++) for (let x = 0; x < w; x++) col[x]! += tmp[y * w + x]!;
  for (let y = 0; y < h; y++) {
    const lo = y - r, hi = y + r;
    const inv = 1 / (Math.min(hi, h - 1) - Math.max(lo, 0) + 1);
    const row = y * w;
    for (let x = 0; x < w; x++) out[row + x] = col[x]! * inv;
    if (hi + 1 < h) { const add = (hi + 1) * w; for (let x = 0; x < w; x++) col[x]! += tmp[add + x]!; }
    if (lo >= 0) { const sub = lo * w; for (let x = 0; x < w; x++) col[x]! -= tmp[sub + x]!; }
  }
  return out;
}

/** The per-pixel linear models ab = A*L + B on the low-resolution grid (already window-averaged). */
export interface LinearModels {
  width: number;
  height: number;
  Aa: Float32Array;
  Ba: Float32Array;
  Ab: Float32Array;
  Bb: Float32Array;
}

/** Fits ab ~ A*L + B in every (2r+1)^2 window of the low-resolution grid and averages the fits (He et al.). */
export function fitLinearModels(
  guide: Float32Array,
  a: Float32Array,
  b: Float32Array,
  w: number,
  h: number,
  params: GuidedParams = DEFAULT_GUIDED,
): LinearModels {
  const n = w * h, r = params.radius, eps = params.eps;
  const tmp = new Float32Array(n);
  const prod = new Float32Array(n);
  const mI = boxMean(guide, w, h, r, new Float32Array(n), tmp);
  for (let i = 0; i < n; i++) prod[i] = guide[i]! * guide[i]!;
  const mII = boxMean(prod, w, h, r, new Float32Array(n), tmp);
  const fit = (p: Float32Array): [Float32Array, Float32Array] => {
    const mp = boxMean(p, w, h, r, new Float32Array(n), tmp);
    for (let i = 0; i < n; i++) prod[i] = guide[i]! * p[i]!;
    const mIp = boxMean(prod, w, h, r, new Float32Array(n), tmp);
    const A = new Float32Array(n), B = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const mi = mI[i]!;
      const varI = mII[i]! - mi * mi;
      const A0 = (mIp[i]! - mi * mp[i]!) / ((varI > 0 ? varI : 0) + eps);
      A[i] = A0;
      B[i] = mp[i]! - A0 * mi;
    }
    // Each pixel lies in (2r+1)^2 windows: average their models.
    return [boxMean(A, w, h, r, mp, tmp), boxMean(B, w, h, r, mIp, tmp)];
  };
  const [Aa, Ba] = fit(a);
  const [Ab, Bb] = fit(b);
  return { width: w, height: h, Aa, Ba, Ab, Bb };
}

/** A run of output columns that interpolate between the same two low-resolution cells. */
interface ColumnRun {
  start: number;
  end: number;
  /** Left cell of the pair (the right one is cell + 1, or cell itself when lw = 1). */
  cell: number;
  /** Interpolation weight of the right cell at `start`, and its increase per column. */
  t0: number;
  step: number;
}

// Columns grouped into runs, pixel centres aligned: column x sits at u = (x + 0.5) * lw / W - 0.5
// on the low-resolution grid, clamped to [0, lw - 1]. Within a run the weight grows linearly, so
// the hot loop advances each coefficient by one addition per pixel instead of indexing.
function columnRuns(lw: number, W: number): ColumnRun[] {
  const s = lw / W;
  const runs: ColumnRun[] = [];
  let x = 0;
  while (x < W) {
    const u = (x + 0.5) * s - 0.5;
    if (lw === 1 || u <= 0) {
      // Left border (or a single column of cells): cell 0, constant.
      let end = x + 1;
      while (end < W && (lw === 1 || (end + 0.5) * s - 0.5 <= 0)) end++;
      runs.push({ start: x, end, cell: 0, t0: 0, step: 0 });
      x = end;
    } else if (u >= lw - 1) {
      runs.push({ start: x, end: W, cell: lw - 2, t0: 1, step: 0 });
      x = W;
    } else {
      const cell = Math.floor(u);
      let end = x + 1;
      while (end < W && (end + 0.5) * s - 0.5 < cell + 1) end++;
      runs.push({ start: x, end, cell, t0: u - cell, step: s });
      x = end;
    }
  }
  return runs;
}

/**
 * Evaluates the linear models at full resolution: A and B interpolated bilinearly from the
 * low-resolution grid, then a = Aa*L + Ba and b = Ab*L + Bb with the full-resolution L.
 * Passing `L = null` treats every A as 0, which is plain bilinear upsampling of B.
 */
export function applyLinearModels(
  m: LinearModels,
  L: Float32Array | null,
  W: number,
  H: number,
  outA: Float32Array,
  outB: Float32Array,
): void {
  const lw = m.width, lh = m.height;
  const runs = columnRuns(lw, W);
  // Per output row: the two low-resolution rows blended vertically.
  const planes = L ? [m.Aa, m.Ba, m.Ab, m.Bb] : [m.Ba, m.Bb];
  const rows = planes.map(() => new Float64Array(lw));
  const sy = lh / H;
  const right = lw > 1 ? 1 : 0;
  for (let y = 0; y < H; y++) {
    let v = (y + 0.5) * sy - 0.5;
    v = v < 0 ? 0 : v > lh - 1 ? lh - 1 : v;
    const j0 = Math.min(Math.floor(v), Math.max(0, lh - 2));
    const j1 = Math.min(j0 + 1, lh - 1);
    const t = lh === 1 ? 0 : v - j0;
    for (let p = 0; p < planes.length; p++) {
      const src = planes[p]!, row = rows[p]!;
      const r0 = j0 * lw, r1 = j1 * lw;
      for (let k = 0; k < lw; k++) row[k] = src[r0 + k]! + (src[r1 + k]! - src[r0 + k]!) * t;
    }
    const o = y * W;
    if (L) {
      const rAa = rows[0]!, rBa = rows[1]!, rAb = rows[2]!, rBb = rows[3]!;
      for (const run of runs) {
        const c = run.cell, c1 = c + right, t0 = run.t0, st = run.step;
        const dAa = rAa[c1]! - rAa[c]!, dBa = rBa[c1]! - rBa[c]!, dAb = rAb[c1]! - rAb[c]!, dBb = rBb[c1]! - rBb[c]!;
        let aa = rAa[c]! + dAa * t0, ba = rBa[c]! + dBa * t0, ab = rAb[c]! + dAb * t0, bb = rBb[c]! + dBb * t0;
        const iAa = dAa * st, iBa = dBa * st, iAb = dAb * st, iBb = dBb * st;
        for (let x = o + run.start, e = o + run.end; x < e; x++) {
          const l = L[x]!;
          outA[x] = aa * l + ba;
          outB[x] = ab * l + bb;
          aa += iAa; ba += iBa; ab += iAb; bb += iBb;
        }
      }
    } else {
      const rA = rows[0]!, rB = rows[1]!;
      for (const run of runs) {
        const c = run.cell, c1 = c + right, t0 = run.t0, st = run.step;
        const dA = rA[c1]! - rA[c]!, dB = rB[c1]! - rB[c]!;
        let a = rA[c]! + dA * t0, b = rB[c]! + dB * t0;
        const iA = dA * st, iB = dB * st;
        for (let x = o + run.start, e = o + run.end; x < e; x++) {
          outA[x] = a;
          outB[x] = b;
          a += iA; b += iB;
        }
      }
    }
  }
}

/** How ab is brought to full resolution. */
export type UpsampleMethod = 'guided' | 'bilinear';

/**
 * Low-resolution ab (lw x lh) -> full-resolution ab (W x H) into outA/outB. 'guided' needs the
 * full-resolution L and the same L area-averaged onto the low-resolution grid (`guideLow`).
 */
export function upsampleAb(
  a: Float32Array,
  b: Float32Array,
  lw: number,
  lh: number,
  method: UpsampleMethod,
  L: Float32Array,
  guideLow: Float32Array,
  W: number,
  H: number,
  outA: Float32Array,
  outB: Float32Array,
  params: GuidedParams = DEFAULT_GUIDED,
): void {
  if (method === 'bilinear') {
    const zero = new Float32Array(0);
    applyLinearModels({ width: lw, height: lh, Aa: zero, Ba: a, Ab: zero, Bb: b }, null, W, H, outA, outB);
    return;
  }
  applyLinearModels(fitLinearModels(guideLow, a, b, lw, lh, params), L, W, H, outA, outB);
}
