import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import {
  rgba8ToLab, rgba8ToL, labToRgba8, createLabImage, initColorKernels, colorKernelBackend, type LabImage,
} from '../sdk/color/lab.ts';
import { KERNELS_SOURCE_SHA256, KERNELS_WASM_BASE64 } from '../sdk/color/wasm/kernels.wasm.ts';
import { isTintaError } from '../sdk/errors.ts';

const root = fileURLToPath(new URL('..', import.meta.url));

/** Deterministic pseudo-random bytes / floats. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomBytes(n: number, seed: number): Uint8ClampedArray {
  const r = rng(seed);
  const out = new Uint8ClampedArray(n);
  for (let i = 0; i < n; i++) out[i] = (r() * 256) | 0;
  return out;
}

/** Run `f` on the JS loops (forced), then restore the WebAssembly kernels. */
async function onJs<T>(f: () => T): Promise<T> {
  assert.equal(await initColorKernels({ backend: 'js' }), false);
  assert.equal(colorKernelBackend(), 'js');
  try {
    return f();
  } finally {
    assert.equal(await initColorKernels(), true);
    assert.equal(colorKernelBackend(), 'wasm');
  }
}

/** Number of float32 elements whose bit patterns differ (NaN payloads and -0 count). */
function bitDiffs(x: Float32Array, y: Float32Array): number {
  assert.equal(x.length, y.length);
  const a = new Uint32Array(x.buffer, x.byteOffset, x.length), b = new Uint32Array(y.buffer, y.byteOffset, y.length);
  let d = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) d++;
  return d;
}

function byteDiffs(x: ArrayLike<number>, y: ArrayLike<number>): number {
  assert.equal(x.length, y.length);
  let d = 0;
  for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) d++;
  return d;
}

function labDiffs(x: LabImage, y: LabImage): number {
  return bitDiffs(x.L, y.L) + bitDiffs(x.a, y.a) + bitDiffs(x.b, y.b);
}

/** Random Lab planes: in and far out of gamut, with NaN (several payloads), infinities, -0, huge and tiny values. */
function nastyLab(n: number, seed: number): LabImage {
  const r = rng(seed);
  const lab = createLabImage(n, 1);
  const special = [NaN, -NaN, Infinity, -Infinity, 0, -0, 1e-45, -1e-45, 1e-38, 3.4e38, -3.4e38, 1e30, -1e30, 100, 0.5, 8, 7.999999, 8.000001, 16, -16, 1e5, -1e5];
  const u32 = new Uint32Array(lab.L.buffer);
  for (const plane of [lab.L, lab.a, lab.b]) {
    for (let i = 0; i < n; i++) {
      const k = r();
      if (k < 0.6) plane[i] = plane === lab.L ? r() * 100 : (r() - 0.5) * 260; // mostly plausible
      else if (k < 0.9) plane[i] = (r() - 0.5) * 1000; // far out of gamut
      else plane[i] = special[(r() * special.length) | 0]!;
    }
  }
  // NaNs with unusual payloads (quiet and signalling bit patterns, both signs).
  const nanBits = [0x7fc00001, 0xffc00000, 0x7f800001, 0xffffffff, 0x7fbfffff];
  for (let i = 0; i < 64; i++) u32[(r() * u32.length) | 0] = nanBits[i % nanBits.length]!;
  // A fine grey ramp (every code threshold crossed many times) and the exact corners.
  for (let i = 0; i < Math.min(n, 200_000); i += 2) {
    lab.L[i] = (100 * i) / 200_000;
    lab.a[i] = 0;
    lab.b[i] = 0;
  }
  lab.L[1] = 100; lab.a[1] = 0; lab.b[1] = 0;
  lab.L[3] = 0; lab.a[3] = 0; lab.b[3] = 0;
  return lab;
}

describe('colour WebAssembly kernels', () => {
  test('the generated module is current, small enough to compile synchronously, and loads', async () => {
    const src = readFileSync(new URL('../sdk/color/wasm/kernels.ts', import.meta.url), 'utf8');
    assert.equal(createHash('sha256').update(src).digest('hex'), KERNELS_SOURCE_SHA256, 'kernels.wasm.ts is stale: run npm run build:wasm');
    const size = Buffer.from(KERNELS_WASM_BASE64, 'base64').length;
    assert.ok(size <= 4096, `module is ${size} bytes`);
    assert.equal(await initColorKernels(), true);
    assert.equal(colorKernelBackend(), 'wasm');
    assert.equal(await initColorKernels({ backend: 'wasm' }), true);
    await assert.rejects(initColorKernels({ backend: 'gpu' as never }), (e: unknown) => isTintaError(e, 'BAD_ARGUMENT'));
    assert.equal(colorKernelBackend(), 'wasm');
  });

  test('every one of the 16,777,216 sRGB8 colours survives the WASM round trip exactly, and the L plane matches', async () => {
    assert.equal(await initColorKernels(), true);
    const n = 1 << 24;
    const rgba = new Uint8ClampedArray(n * 4);
    const rgba32 = new Uint32Array(rgba.buffer);
    for (let i = 0; i < n; i++) rgba32[i] = ((i >> 16) | (i & 0xff00) | ((i & 255) << 16) | 0xff000000) >>> 0;
    const lab = rgba8ToLab(rgba, 4096, 4096);
    const back = labToRgba8(lab.L, lab.a, lab.b);
    const back32 = new Uint32Array(back.buffer);
    let mismatches = 0;
    for (let i = 0; i < n; i++) if (back32[i] !== rgba32[i]) mismatches++;
    assert.equal(mismatches, 0);
    assert.equal(bitDiffs(rgba8ToL(rgba, 4096, 4096), lab.L), 0);
    // Bit-identical to the JS loops on all of them (first 4 M colours: the JS path is slower).
    const part = rgba.subarray(0, 4 * (1 << 22));
    const js = await onJs(() => rgba8ToLab(part, 1 << 22, 1));
    assert.equal(bitDiffs(js.L, lab.L.subarray(0, 1 << 22)), 0);
    assert.equal(bitDiffs(js.a, lab.a.subarray(0, 1 << 22)), 0);
    assert.equal(bitDiffs(js.b, lab.b.subarray(0, 1 << 22)), 0);
  });

  test('rgba8ToLab and rgba8ToL: WASM and JS are bit-identical on a large random image (RGBA and RGB)', async () => {
    const n = 1_000_003;
    for (const channels of [4, 3] as const) {
      const rgba = randomBytes(n * channels, 7 + channels);
      const wasm = rgba8ToLab(rgba, n, 1, createLabImage(n, 1), channels);
      const wasmL = rgba8ToL(rgba, 1, n, new Float32Array(n), channels);
      const js = await onJs(() => rgba8ToLab(rgba, n, 1, createLabImage(n, 1), channels));
      const jsL = await onJs(() => rgba8ToL(rgba, 1, n, new Float32Array(n), channels));
      assert.equal(labDiffs(wasm, js), 0, `channels ${channels}`);
      assert.equal(bitDiffs(wasmL, jsL), 0, `L only, channels ${channels}`);
    }
  });

  test('labToRgba8: WASM and JS give identical bytes on random, out-of-gamut, NaN and extreme Lab values', async () => {
    const n = 1_000_001;
    const lab = nastyLab(n, 99);
    const wasm = labToRgba8(lab.L, lab.a, lab.b);
    const js = await onJs(() => labToRgba8(lab.L, lab.a, lab.b));
    assert.equal(byteDiffs(wasm, js), 0);
    assert.deepEqual(Array.from(wasm.subarray(4, 12)), [255, 255, 255, 255, 0, 0, 0, 255]); // L=100 white, L=0 black
    let clipped = 0;
    for (let i = 0; i < wasm.length; i += 4) if (wasm[i] === 0 || wasm[i] === 255) clipped++;
    assert.ok(clipped > n / 10, 'the sample reaches far out of gamut');
  });

  test('odd sizes around the WASM threshold and chunk boundaries agree with the JS loops', async () => {
    for (const n of [1, 3, 4095, 4096, 4097, 4099, 16383, 16384, 16385, 32771, 50001]) {
      const rgba = randomBytes(4 * n, n);
      const lab = nastyLab(n, n + 1);
      const w = { lab: rgba8ToLab(rgba, n, 1), L: rgba8ToL(rgba, n, 1), rgba: labToRgba8(lab.L, lab.a, lab.b) };
      const j = await onJs(() => ({ lab: rgba8ToLab(rgba, n, 1), L: rgba8ToL(rgba, n, 1), rgba: labToRgba8(lab.L, lab.a, lab.b) }));
      assert.equal(labDiffs(w.lab, j.lab), 0, `rgba8ToLab n=${n}`);
      assert.equal(bitDiffs(w.L, j.L), 0, `rgba8ToL n=${n}`);
      assert.equal(byteDiffs(w.rgba, j.rgba), 0, `labToRgba8 n=${n}`);
      // Non-square shapes: width * height is what counts.
      if (n % 3 === 0) assert.equal(labDiffs(rgba8ToLab(rgba, n / 3, 3), w.lab), 0);
    }
  });

  test('subarray views at odd byte offsets: same results, nothing written outside the views', async () => {
    const n = 20_011;
    const GUARD = 37;
    for (const off of [1, 3, 5, 2048, 4093]) {
      // Input bytes at an odd offset inside a larger buffer.
      const backing = randomBytes(4 * n + 2 * GUARD + off, off);
      const rgba = new Uint8Array(backing.buffer, off + GUARD, 4 * n);
      const rgb = new Uint8ClampedArray(backing.buffer, off + GUARD, 3 * n);
      // Lab planes at unrelated (4-byte aligned) offsets in one shared buffer, with guard floats around them.
      const labBuf = new Float32Array(3 * n + 4 * GUARD).fill(-777);
      const planes = (): LabImage => ({
        width: n, height: 1,
        L: labBuf.subarray(GUARD, GUARD + n), a: labBuf.subarray(2 * GUARD + n, 2 * GUARD + 2 * n), b: labBuf.subarray(3 * GUARD + 2 * n, 3 * GUARD + 3 * n),
      });
      const outBuf = new Uint8ClampedArray(4 * n + 2 * GUARD + off).fill(42);
      const out = new Uint8ClampedArray(outBuf.buffer, off + GUARD, 4 * n);
      const Lbuf = new Float32Array(n + 2 * GUARD).fill(-5);
      const Lview = Lbuf.subarray(GUARD + (off % 7), GUARD + (off % 7) + n - GUARD);

      const run = () => {
        labBuf.fill(-777); outBuf.fill(42); Lbuf.fill(-5);
        const lab = rgba8ToLab(rgba, n, 1, planes());
        const labCopy = { L: lab.L.slice(), a: lab.a.slice(), b: lab.b.slice() };
        const lab3 = rgba8ToLab(rgb, n, 1, createLabImage(n, 1), 3);
        labToRgba8(lab.L, lab.a, lab.b, out);
        rgba8ToL(rgba, Lview.length, 1, Lview);
        return { labBuf: labBuf.slice(), labCopy, lab3, outBuf: outBuf.slice(), Lbuf: Lbuf.slice() };
      };
      const w = run();
      const j = await onJs(run);
      assert.equal(bitDiffs(w.labBuf, j.labBuf), 0, `Lab planes (guards included), offset ${off}`);
      assert.equal(labDiffs(w.lab3, j.lab3), 0, `RGB8 input, offset ${off}`);
      assert.equal(byteDiffs(w.outBuf, j.outBuf), 0, `RGBA8 output (guards included), offset ${off}`);
      assert.equal(bitDiffs(w.Lbuf, j.Lbuf), 0, `L plane (guards included), offset ${off}`);
      // The guards really are untouched, and the round trip through the views is exact.
      for (let i = 0; i < GUARD; i++) {
        assert.equal(w.outBuf[off + i], 42);
        assert.equal(w.outBuf[w.outBuf.length - 1 - i], 42);
        assert.equal(w.labBuf[i], -777);
        assert.equal(w.labBuf[w.labBuf.length - 1 - i], -777);
      }
      for (let i = 0; i < 4 * n; i++) if ((i & 3) !== 3) assert.equal(out[i], rgba[i]);
      assert.equal(bitDiffs(w.labCopy.L.subarray(0, Lview.length), w.Lbuf.subarray(GUARD + (off % 7), GUARD + (off % 7) + Lview.length)), 0);
    }
  });

  test('inputs the kernels do not take (short buffers, non-float32 planes) run the JS loops unchanged', async () => {
    const n = 5000;
    const lab = nastyLab(n, 5);
    // Float64 planes and plain arrays carry more than float32 precision: the JS loop runs on them.
    const L64 = Float64Array.from(lab.L), a64 = Float64Array.from(lab.a), b64 = Float64Array.from(lab.b);
    const w = labToRgba8(L64, a64, b64);
    const j = await onJs(() => labToRgba8(L64, a64, b64));
    assert.equal(byteDiffs(w, j), 0);
    // A short input image: the JS loop's behaviour (NaN Lab past the end of the input) is kept.
    const rgba = randomBytes(4 * n - 4, 3);
    const ws = rgba8ToLab(rgba, n, 1);
    const js = await onJs(() => rgba8ToLab(rgba, n, 1));
    assert.equal(labDiffs(ws, js), 0);
    assert.ok(Number.isNaN(ws.L[n - 1]!));
  });

  test('without WebAssembly the JS loops run with the same results, and backend "wasm" is a typed error', () => {
    const n = 6000;
    const rgba = randomBytes(4 * n, 11);
    const lab = rgba8ToLab(rgba, n, 1);
    const back = labToRgba8(lab.L, lab.a, lab.b);
    const digest = createHash('sha256').update(new Uint8Array(lab.L.buffer)).update(back).digest('hex');
    const script = `
      import { createHash } from 'node:crypto';
      import { rgba8ToLab, labToRgba8, initColorKernels, colorKernelBackend } from './sdk/color/lab.ts';
      const rng = (seed) => { let s = seed >>> 0; return () => { s = (Math.imul(s, 1664525) + 1013904223) >>> 0; return s / 2 ** 32; }; };
      const r = rng(11); const rgba = new Uint8ClampedArray(${4 * n}); for (let i = 0; i < rgba.length; i++) rgba[i] = (r() * 256) | 0;
      const lab = rgba8ToLab(rgba, ${n}, 1);
      const back = labToRgba8(lab.L, lab.a, lab.b);
      const ok = await initColorKernels();
      let code = 'none';
      try { await initColorKernels({ backend: 'wasm' }); } catch (e) { code = e.code; }
      console.log(JSON.stringify({ wasm: typeof WebAssembly, ok, backend: colorKernelBackend(), code,
        digest: createHash('sha256').update(new Uint8Array(lab.L.buffer)).update(back).digest('hex') }));
    `;
    const r = spawnSync(process.execPath, ['--no-expose-wasm', '--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const got = JSON.parse(r.stdout.trim().split('\n').pop()!);
    assert.deepEqual(got, { wasm: 'undefined', ok: false, backend: 'js', code: 'BACKEND_UNAVAILABLE', digest });
  });
});
