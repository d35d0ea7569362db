/**
 * Small seeded randomness for the data pipeline. Every random choice the trainer makes about data
 * (epoch order, crops, flips, the train/val split) is drawn from a generator whose seed is a hash of
 * the numbers that identify the choice, e.g. (seed, epoch, step, sample): any batch can then be
 * rebuilt exactly from those numbers, which is how a resumed run gets the same data order back.
 */

/** A seeded generator: `float()` in [0, 1), `uint32()` in [0, 2^32), `int(n)` in [0, n). */
export interface Rng {
  float(): number;
  uint32(): number;
  int(n: number): number;
}

// Murmur3's 32-bit finaliser: full avalanche, so nearby keys (step 7, step 8) give unrelated seeds.
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A 32-bit hash of a tuple of numbers (each taken as a uint32; order matters). */
export function hashKey(...parts: number[]): number {
  let h = 0x9e3779b9 ^ parts.length;
  for (const p of parts) {
    // Murmur3's block mix: rotate-multiply each part into the state before the next one.
    let k = Math.imul(p >>> 0, 0xcc9e2d51);
    k = Math.imul((k << 15) | (k >>> 17), 0x1b873593);
    h ^= k;
    h = (Math.imul((h << 13) | (h >>> 19), 5) + 0xe6546b64) | 0;
  }
  return fmix32(h);
}

/** A 32-bit hash of a hex digest (e.g. a sha1), keyed by `seed`: used for content-stable choices. */
export function hashHex(hex: string, seed = 0): number {
  const parts: number[] = [seed];
  for (let i = 0; i < hex.length; i += 8) parts.push(Number.parseInt(hex.slice(i, i + 8), 16) || 0);
  return hashKey(...parts);
}

/** mulberry32: tiny, fast and good enough for crops, flips and shuffles (not for cryptography). */
export function createRng(seed: number): Rng {
  let s = seed >>> 0;
  const uint32 = (): number => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return (t ^ (t >>> 14)) >>> 0;
  };
  const float = (): number => uint32() / 4294967296;
  // Multiply-shift rather than modulo; the bias (n / 2^32) is far below anything a crop can notice.
  const int = (n: number): number => Math.floor(float() * n);
  return { float, uint32, int };
}

/** A uniformly random permutation of 0..n-1 (Fisher-Yates driven by `rng`). */
export function permutation(n: number, rng: Rng): Uint32Array {
  const p = new Uint32Array(n);
  for (let i = 0; i < n; i++) p[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    const t = p[i]!;
    p[i] = p[j]!;
    p[j] = t;
  }
  return p;
}
