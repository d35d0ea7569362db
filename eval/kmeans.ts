/**
 * k-means (Lloyd) with k-means++ initialisation (Arthur & Vassilvitskii 2007), seeded and fully
 * deterministic: the same points, k and seed give the same clusters, numbered by size.
 */
import { TintaError, ErrorCodes } from '../sdk/errors.ts';
import { createRng } from '../trainer/data/rng.ts';

/** Options of kmeans(). */
export interface KMeansOptions {
  k: number;
  /** Seed of the k-means++ draws; default 1. */
  seed?: number;
  /** Independent k-means++ starts; the one with the lowest inertia wins (default 4). */
  restarts?: number;
  /** Lloyd iterations per start at most (default 100). */
  maxIterations?: number;
}

/** What kmeans() returns. Clusters are numbered by size, largest first (ties: earliest first member). */
export interface KMeansResult {
  centroids: Float64Array[];
  /** Cluster of each point. */
  assignment: Int32Array;
  /** Squared Euclidean distance of each point to its centroid. */
  distances: Float64Array;
  sizes: number[];
  /** Sum of the squared distances. */
  inertia: number;
  iterations: number;
}

/** A small seeded PRNG (mulberry32): uniform in [0, 1). */
export function seededRandom(seed: number): () => number {
  return createRng(seed).float;
}

function dist2(x: ArrayLike<number>, c: Float64Array): number {
  let s = 0;
  for (let j = 0; j < c.length; j++) { const d = x[j]! - c[j]!; s += d * d; }
  return s;
}

/** k-means++ seeding: the first centre uniformly, each next one with probability proportional to D². */
function seedCentroids(points: readonly ArrayLike<number>[], k: number, rnd: () => number): Float64Array[] {
  const n = points.length;
  const cents: Float64Array[] = [Float64Array.from(points[Math.min(n - 1, Math.floor(rnd() * n))]!)];
  const d = new Float64Array(n).fill(Infinity);
  while (cents.length < k) {
    const last = cents[cents.length - 1]!;
    let total = 0;
    for (let i = 0; i < n; i++) { d[i] = Math.min(d[i]!, dist2(points[i]!, last)); total += d[i]!; }
    let pick = -1;
    if (total > 0) {
      let r = rnd() * total;
      for (let i = 0; i < n; i++) { r -= d[i]!; if (r < 0 && d[i]! > 0) { pick = i; break; } }
      // Rounding can leave r >= 0 after the loop: take the last point with a non-zero distance.
      if (pick < 0) for (let i = n - 1; i >= 0; i--) if (d[i]! > 0) { pick = i; break; }
    }
    // All points already coincide with a centre (fewer distinct points than k): reuse one.
    if (pick < 0) pick = Math.min(n - 1, Math.floor(rnd() * n));
    cents.push(Float64Array.from(points[pick]!));
  }
  return cents;
}

function assign(points: readonly ArrayLike<number>[], cents: Float64Array[], assignment: Int32Array, distances: Float64Array): boolean {
  let changed = false;
  for (let i = 0; i < points.length; i++) {
    let best = 0, bd = Infinity;
    for (let c = 0; c < cents.length; c++) { const v = dist2(points[i]!, cents[c]!); if (v < bd) { bd = v; best = c; } }
    distances[i] = bd;
    if (assignment[i] !== best) { assignment[i] = best; changed = true; }
  }
  return changed;
}

function lloyd(points: readonly ArrayLike<number>[], cents: Float64Array[], maxIterations: number) {
  const n = points.length, k = cents.length, dim = cents[0]!.length;
  const assignment = new Int32Array(n).fill(-1);
  const distances = new Float64Array(n);
  let iterations = 0;
  let converged = false;
  for (; iterations < maxIterations; iterations++) {
    if (!assign(points, cents, assignment, distances)) { converged = true; break; }
    const sums = Array.from({ length: k }, () => new Float64Array(dim));
    const counts = new Int32Array(k);
    for (let i = 0; i < n; i++) {
      const s = sums[assignment[i]!]!, p = points[i]!;
      for (let j = 0; j < dim; j++) s[j]! += p[j]!;
      counts[assignment[i]!]!++;
    }
    for (let c = 0; c < k; c++) {
      if (counts[c]! > 0) {
        for (let j = 0; j < dim; j++) cents[c]![j] = sums[c]![j]! / counts[c]!;
      } else {
        // An empty cluster takes the point farthest from its centre (deterministic: first such point).
        let far = 0;
        for (let i = 1; i < n; i++) if (distances[i]! > distances[far]!) far = i;
        cents[c] = Float64Array.from(points[far]!);
        distances[far] = 0;
      }
    }
  }
  // Out of iterations: the centres moved after the last assignment, so assign once more.
  if (!converged) assign(points, cents, assignment, distances);
  let inertia = 0;
  for (let i = 0; i < n; i++) inertia += distances[i]!;
  return { assignment, distances, inertia, iterations };
}

/** Clusters `points` (equal-length vectors) into `k` groups under squared Euclidean distance. */
export function kmeans(points: readonly ArrayLike<number>[], opts: KMeansOptions): KMeansResult {
  const { k } = opts;
  const n = points.length;
  if (!(Number.isInteger(k) && k >= 1)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `k must be a positive integer; got ${k}.`);
  if (n < k) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `k-means needs at least k = ${k} points; got ${n}. Lower k or add images.`);
  const dim = points[0]!.length;
  for (const p of points) if (p.length !== dim) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `k-means points must all have ${dim} values.`);
  const restarts = opts.restarts ?? 4, maxIterations = opts.maxIterations ?? 100;
  if (!(Number.isInteger(restarts) && restarts >= 1)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `restarts must be a positive integer; got ${restarts}.`);
  const rnd = seededRandom(opts.seed ?? 1);
  let best: (ReturnType<typeof lloyd> & { cents: Float64Array[] }) | undefined;
  for (let r = 0; r < restarts; r++) {
    const cents = seedCentroids(points, k, rnd);
    const run = lloyd(points, cents, maxIterations);
    // Strictly lower only, so ties keep the earlier start.
    if (!best || run.inertia < best.inertia) best = { ...run, cents };
  }
  const b = best!;
  // Number clusters by size (largest first), ties by their earliest member, so output order is stable.
  const sizes = new Array<number>(k).fill(0);
  const first = new Array<number>(k).fill(n);
  for (let i = 0; i < n; i++) { const c = b.assignment[i]!; sizes[c]!++; if (i < first[c]!) first[c] = i; }
  const order = Array.from({ length: k }, (_, c) => c).sort((x, y) => sizes[y]! - sizes[x]! || first[x]! - first[y]!);
  const rank = new Int32Array(k);
  order.forEach((c, r) => { rank[c] = r; });
  const assignment = b.assignment.map((c) => rank[c]!);
  return {
    centroids: order.map((c) => b.cents[c]!),
    assignment,
    distances: b.distances,
    sizes: order.map((c) => sizes[c]!),
    inertia: b.inertia,
    iterations: b.iterations,
  };
}
