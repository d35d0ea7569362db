/**
 * Colour core throughput: a 12-megapixel RGBA8 image -> planar Lab float32 -> RGBA8 on one core,
 * against converting pixel by pixel with culori (a popular colour library), measured in the same run.
 * Prints times and ratios; never passes or fails on time. Run: npm run bench:color
 */
import { converter } from 'culori';
import { rgba8ToLab, labToRgba8, rgba8ToL, createLabImage } from '../sdk/color/lab.ts';

const W = 4000, H = 3000, N = W * H;
const REPS = Number(process.env.REPS ?? 7);

/** A photo-like test image: smooth gradients, texture and noise (deterministic). */
function makeImage(): Uint8ClampedArray {
  const img = new Uint8ClampedArray(N * 4);
  let s = 12345;
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      s = (s * 1103515245 + 12345) >>> 0;
      const noise = (s >>> 24) / 32 - 4;
      const p = 4 * (y * W + x);
      img[p] = 128 + 90 * Math.sin(x / 350 + y / 900) + noise;
      img[p + 1] = 110 + 80 * Math.cos(y / 260) + 20 * Math.sin(x / 40) + noise;
      img[p + 2] = 60 + 70 * Math.sin((x + y) / 500) + noise;
      img[p + 3] = 255;
    }
  }
  return img;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

const img = makeImage();
const lab = createLabImage(W, H);
const out = new Uint8ClampedArray(N * 4);
const L = new Float32Array(N);
const fwd: number[] = [], back: number[] = [], lOnly: number[] = [];
for (let r = 0; r < REPS; r++) {
  let t = performance.now();
  rgba8ToLab(img, W, H, lab);
  fwd.push(performance.now() - t);
  t = performance.now();
  labToRgba8(lab.L, lab.a, lab.b, out);
  back.push(performance.now() - t);
  t = performance.now();
  rgba8ToL(img, W, H, L);
  lOnly.push(performance.now() - t);
}
let mismatch = 0;
for (let i = 0; i < out.length; i++) if (out[i] !== img[i]) mismatch++;

// culori, pixel by pixel, on a 1-megapixel slice (it is far slower); per-pixel cost scaled to 12 MP.
const toLab = converter('lab65');
const toRgb = converter('rgb');
const SLICE = 1_000_000;
const t0 = performance.now();
let sink = 0;
for (let i = 0; i < SLICE; i++) {
  const p = 4 * i;
  const c = toLab({ mode: 'rgb', r: img[p]! / 255, g: img[p + 1]! / 255, b: img[p + 2]! / 255 });
  const back8 = toRgb(c);
  sink += Math.round(back8.r * 255) + Math.round(back8.g * 255) + Math.round(back8.b * 255);
}
const culoriMs = ((performance.now() - t0) / SLICE) * N;

const ours = median(fwd) + median(back);
console.log(`colour core, ${W}x${H} = ${(N / 1e6).toFixed(0)} MP RGBA8, one core, median of ${REPS}`);
console.log(`  RGBA8 -> Lab float32    ${median(fwd).toFixed(0).padStart(6)} ms   (${(N / median(fwd) / 1e3).toFixed(0)} MP/s)`);
console.log(`  Lab -> RGBA8            ${median(back).toFixed(0).padStart(6)} ms   (${(N / median(back) / 1e3).toFixed(0)} MP/s)`);
console.log(`  round trip              ${ours.toFixed(0).padStart(6)} ms   (target <= 250 ms on the reference machine)`);
console.log(`  RGBA8 -> L only         ${median(lOnly).toFixed(0).padStart(6)} ms`);
console.log(`  culori round trip       ${culoriMs.toFixed(0).padStart(6)} ms   (per-pixel objects, 1 MP measured, scaled)`);
console.log(`  speed-up vs culori      ${(culoriMs / ours).toFixed(1)}x   (target >= 20x)`);
console.log(`  round-trip mismatches   ${mismatch} of ${out.length} bytes   (checksum ${sink % 997})`);
