/**
 * Colour core throughput: a 12-megapixel RGBA8 image -> planar Lab float32 -> RGBA8 on one core, on both
 * implementations side by side (the JS loops and the WebAssembly SIMD kernels, alternating in the same run),
 * against converting pixel by pixel with culori (a popular colour library), measured in the same run.
 * Prints times and ratios; never passes or fails on time. Run: npm run bench:color
 */
import { loadavg } from 'node:os';
import { converter } from 'culori';
import { rgba8ToLab, labToRgba8, rgba8ToL, createLabImage, initColorKernels, type ColorKernelBackend } from '../sdk/color/lab.ts';

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

const load0 = loadavg();
const img = makeImage();
const wasmLoaded = await initColorKernels();
const paths: ColorKernelBackend[] = wasmLoaded ? ['js', 'wasm'] : ['js'];
const res = Object.fromEntries(paths.map((p) => [p, {
  lab: createLabImage(W, H), out: new Uint8ClampedArray(N * 4), L: new Float32Array(N),
  fwd: [] as number[], back: [] as number[], lOnly: [] as number[],
}]));
// CPU time of this thread (less disturbed than wall time when other processes share the cores).
const cpuMs = (f: () => void) => { const c = process.cpuUsage(); f(); const d = process.cpuUsage(c); return (d.user + d.system) / 1000; };
for (let r = 0; r < REPS; r++) {
  for (const p of paths) {
    await initColorKernels({ backend: p });
    const o = res[p]!;
    o.fwd.push(cpuMs(() => rgba8ToLab(img, W, H, o.lab)));
    o.back.push(cpuMs(() => labToRgba8(o.lab.L, o.lab.a, o.lab.b, o.out)));
    o.lOnly.push(cpuMs(() => rgba8ToL(img, W, H, o.L)));
  }
}
await initColorKernels();
const mismatch: Record<string, number> = {};
for (const p of paths) {
  let m = 0;
  const out = res[p]!.out;
  for (let i = 0; i < out.length; i++) if (out[i] !== img[i]) m++;
  mismatch[p] = m;
}
let pathDiffs = 0;
if (wasmLoaded) {
  const j = res.js!, w = res.wasm!;
  const bits = (x: Float32Array, y: Float32Array) => {
    const a = new Uint32Array(x.buffer, x.byteOffset, x.length), b = new Uint32Array(y.buffer, y.byteOffset, y.length);
    let d = 0;
    for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) d++;
    return d;
  };
  pathDiffs = bits(j.lab.L, w.lab.L) + bits(j.lab.a, w.lab.a) + bits(j.lab.b, w.lab.b) + bits(j.L, w.L);
  for (let i = 0; i < j.out.length; i++) if (j.out[i] !== w.out[i]) pathDiffs++;
}

// culori, pixel by pixel, on a 1-megapixel slice (it is far slower); per-pixel cost scaled to 12 MP.
const toLab = converter('lab65');
const toRgb = converter('rgb');
const SLICE = 1_000_000;
const c0 = process.cpuUsage();
let sink = 0;
for (let i = 0; i < SLICE; i++) {
  const p = 4 * i;
  const c = toLab({ mode: 'rgb', r: img[p]! / 255, g: img[p + 1]! / 255, b: img[p + 2]! / 255 });
  const back8 = toRgb(c);
  sink += Math.round(back8.r * 255) + Math.round(back8.g * 255) + Math.round(back8.b * 255);
}
const cd = process.cpuUsage(c0);
const culoriMs = ((cd.user + cd.system) / 1000 / SLICE) * N;
const load1 = loadavg();

// One column per implementation: JS loops, then the WebAssembly SIMD kernels (what large images use after initColorKernels()).
const col = (f: (p: ColorKernelBackend) => string) => paths.map((p) => f(p).padStart(22)).join('');
const ms = (x: number) => `${x.toFixed(0)} ms`;
const rate = (x: number) => `${ms(x)} (${(N / x / 1e3).toFixed(0)} MP/s)`;
const trip = (p: ColorKernelBackend) => median(res[p]!.fwd) + median(res[p]!.back);
console.log(`colour core, ${W}x${H} = ${(N / 1e6).toFixed(0)} MP RGBA8, one core, CPU time, median of ${REPS}, both paths alternating in one run`);
console.log(`  load average ${load0.map((x) => x.toFixed(2)).join(' ')} at start, ${load1.map((x) => x.toFixed(2)).join(' ')} at end (1, 5, 15 min)`);
console.log(`  ${''.padEnd(24)}${col((p) => (p === 'js' ? 'JS loops' : 'WASM SIMD'))}`);
console.log(`  RGBA8 -> Lab float32    ${col((p) => rate(median(res[p]!.fwd)))}`);
console.log(`  Lab -> RGBA8            ${col((p) => rate(median(res[p]!.back)))}`);
console.log(`  round trip              ${col((p) => ms(trip(p)))}   (target <= 250 ms on the reference machine)`);
console.log(`  RGBA8 -> L only         ${col((p) => ms(median(res[p]!.lOnly)))}`);
console.log(`  culori round trip       ${ms(culoriMs).padStart(22)}   (per-pixel objects, 1 MP measured, scaled)`);
console.log(`  speed-up vs culori      ${col((p) => `${(culoriMs / trip(p)).toFixed(1)}x`)}   (target >= 20x)`);
console.log(`  round-trip mismatches   ${col((p) => `${mismatch[p]} of ${N * 4} bytes`)}   (checksum ${sink % 997})`);
if (wasmLoaded) console.log(`  WASM vs JS outputs      ${pathDiffs === 0 ? 'bit-identical' : `${pathDiffs} differing elements`}`);
else console.log('  WASM SIMD kernels       unavailable here: JS loops only');
