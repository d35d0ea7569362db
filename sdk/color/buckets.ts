/**
 * The quantized ab output space: the network predicts a distribution over these bucket centres.
 *
 * - `seed` (default, 112 buckets): the ab grid of step 14 centred on (0, 0), keeping every cell
 *   whose centre is a displayable sRGB colour for some lightness: there is an L in [0, 100] at
 *   which (L, a, b) converts to sRGB with every encoded channel within [2/255, 253/255]. The 2/255
 *   margin pins the count: the bare "in gamut" test keeps 113 cells, the 113th, (-56, 0), reaches
 *   only 1.07/255 inside the gamut (at L = 90) and the next weakest 2.67/255, so any margin between
 *   the two gives the same 112 cells (the tests check both neighbours of the threshold).
 * - `zhang313`: Zhang et al. (2016) quantize with grid 10 and keep Q = 313 cells. Their table came
 *   from ImageNet statistics and reaches beyond the sRGB gamut, so no gamut rule reproduces it; we
 *   keep the 313 grid-10 centres nearest to the sRGB gamut's ab footprint (ties broken by a, then b).
 *   That holds every cell any sRGB colour falls into (261) plus the ring around them, which is what
 *   the option is for: the grid, the resolution and the Q of Zhang et al.
 */
import { TintaError, ErrorCodes } from '../errors.ts';
import { labToLinearRgb, linearRgbToLab, linearToSrgb, srgbToLinear } from './lab.ts';

/** A bucket table: interleaved centres [a0, b0, a1, b1, ...]. */
export interface AbBuckets {
  /** Name of the scheme ('seed', 'zhang313' or 'custom'). */
  readonly name: string;
  /** Grid step in ab units (informational for custom tables). */
  readonly step: number;
  /** Number of buckets Q. */
  readonly count: number;
  /** Interleaved centres, length 2Q. */
  readonly centers: Float32Array;
}

/** The names of the built-in bucket schemes. */
export type BucketScheme = 'seed' | 'zhang313';

/** Margin (encoded sRGB) a seed cell centre must keep inside the gamut at its best L. */
export const SEED_GAMUT_MARGIN = 2 / 255;
const SEED_STEP = 14;

function marginAt(L: number, a: number, b: number, rgb: number[]): number {
  labToLinearRgb(L, a, b, rgb);
  let m = Infinity;
  for (let c = 0; c < 3; c++) {
    const v = rgb[c]!;
    const e = v < 0 ? v * 12.92 : linearToSrgb(v);
    if (e < m) m = e;
    if (1 - e < m) m = 1 - e;
  }
  return m;
}

/**
 * The largest margin, over L in [0,100], by which (L, a, b) stays inside the sRGB cube
 * (encoded sRGB units; negative when out of gamut at every L). A sweep in steps of 0.5
 * finds the best L, then a sweep in steps of 0.01 around it refines the value.
 */
export function gamutMargin(a: number, b: number): number {
  const rgb = [0, 0, 0];
  let best = -Infinity, bestL = 0;
  for (let i = 0; i <= 200; i++) {
    const m = marginAt(i / 2, a, b, rgb);
    if (m > best) { best = m; bestL = i / 2; }
  }
  for (let i = -50; i <= 50; i++) {
    const L = bestL + i / 100;
    if (L < 0 || L > 100) continue;
    const m = marginAt(L, a, b, rgb);
    if (m > best) best = m;
  }
  return best;
}

function freeze(name: string, step: number, centers: number[]): AbBuckets {
  const c = Float32Array.from(centers);
  return Object.freeze({ name, step, count: c.length / 2, centers: c });
}

let seedCache: AbBuckets | undefined;
let zhangCache: AbBuckets | undefined;

/** The seed's 112 buckets (step 14; see the module comment for the exact rule). */
export function seedBuckets(margin = SEED_GAMUT_MARGIN): AbBuckets {
  if (margin === SEED_GAMUT_MARGIN && seedCache) return seedCache;
  const centers: number[] = [];
  // |a|, |b| <= 126 covers the whole sRGB footprint (a in [-87, 99], b in [-108, 95]).
  for (let i = -9; i <= 9; i++) {
    for (let j = -9; j <= 9; j++) {
      const a = i * SEED_STEP, b = j * SEED_STEP;
      if (gamutMargin(a, b) >= margin) centers.push(a, b);
    }
  }
  const t = freeze('seed', SEED_STEP, centers);
  if (margin === SEED_GAMUT_MARGIN) seedCache = t;
  return t;
}

/** Zhang et al.'s grid-10, Q = 313 variant (see the module comment for the exact rule). */
export function zhang313Buckets(): AbBuckets {
  if (zhangCache) return zhangCache;
  // The sRGB ab footprint, sampled on a 0.5-unit occupancy grid from every 8-bit colour step of 3.
  const R = 140, S = 2; // ab range [-140, 140), 2 cells per unit
  const W = 2 * R * S;
  const occ = new Uint8Array(W * W);
  const lab = [0, 0, 0];
  for (let r = 0; r < 256; r += 3) for (let g = 0; g < 256; g += 3) for (let b = 0; b < 256; b += 3) {
    linearRgbToLab(srgbToLinear(r / 255), srgbToLinear(g / 255), srgbToLinear(b / 255), lab);
    occ[Math.round((lab[1]! + R) * S) * W + Math.round((lab[2]! + R) * S)] = 1;
  }
  const pts: number[] = [];
  for (let i = 0; i < W; i++) for (let j = 0; j < W; j++) if (occ[i * W + j]) pts.push(i / S - R, j / S - R);
  const cands: { a: number; b: number; d: number }[] = [];
  for (let i = -13; i <= 13; i++) {
    for (let j = -13; j <= 13; j++) {
      const a = 10 * i, b = 10 * j;
      let d = Infinity;
      for (let k = 0; k < pts.length; k += 2) {
        const da = pts[k]! - a, db = pts[k + 1]! - b;
        const dd = da * da + db * db;
        if (dd < d) d = dd;
      }
      cands.push({ a, b, d });
    }
  }
  cands.sort((x, y) => x.d - y.d || x.a - y.a || x.b - y.b);
  const kept = cands.slice(0, 313).sort((x, y) => x.a - y.a || x.b - y.b);
  zhangCache = freeze('zhang313', 10, kept.flatMap((c) => [c.a, c.b]));
  return zhangCache;
}

/** The built-in bucket table of a scheme. */
export function getBuckets(scheme: BucketScheme = 'seed'): AbBuckets {
  if (scheme === 'seed') return seedBuckets();
  if (scheme === 'zhang313') return zhang313Buckets();
  throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Unknown bucket scheme "${String(scheme)}": use "seed" (112) or "zhang313" (313).`);
}

/** A bucket table from explicit centres (e.g. read from a model's metadata). */
export function bucketsFromCenters(centers: ArrayLike<number>, name = 'custom', step = 0): AbBuckets {
  if (centers.length < 4 || centers.length % 2 !== 0) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `A bucket table needs an even number (>= 4) of values [a0, b0, a1, b1, ...]; got ${centers.length}.`);
  }
  for (let i = 0; i < centers.length; i++) {
    if (!Number.isFinite(centers[i]!)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Bucket centre value ${i} is not a finite number.`);
  }
  return freeze(name, step, Array.from(centers));
}

/** The table as compact JSON for ONNX metadata: {"name","step","centers":[a0,b0,...]}. */
export function serializeBuckets(t: AbBuckets): string {
  return JSON.stringify({ name: t.name, step: t.step, centers: Array.from(t.centers) });
}

/** Parse `serializeBuckets` output (throws a BAD_ARGUMENT TintaError when malformed). */
export function parseBuckets(json: string): AbBuckets {
  let o: unknown;
  try {
    o = JSON.parse(json);
  } catch (e) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'The bucket table is not valid JSON.', { cause: e });
  }
  const rec = o as { name?: unknown; step?: unknown; centers?: unknown };
  if (!rec || !Array.isArray(rec.centers)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'The bucket table has no "centers" array.');
  return bucketsFromCenters(rec.centers as number[], typeof rec.name === 'string' ? rec.name : 'custom', typeof rec.step === 'number' ? rec.step : 0);
}

/** Index of the bucket nearest to (a, b). */
export function nearestBucket(t: AbBuckets, a: number, b: number): number {
  const c = t.centers;
  let best = 0, bd = Infinity;
  for (let q = 0, k = 0; q < t.count; q++, k += 2) {
    const da = c[k]! - a, db = c[k + 1]! - b;
    const d = da * da + db * db;
    if (d < bd) { bd = d; best = q; }
  }
  return best;
}

/** Hard bucket index of every pixel of planar a/b planes. */
export function quantizeAb(t: AbBuckets, a: ArrayLike<number>, b: ArrayLike<number>, out: Uint16Array = new Uint16Array(a.length)): Uint16Array {
  for (let i = 0; i < a.length; i++) out[i] = nearestBucket(t, a[i]!, b[i]!);
  return out;
}
