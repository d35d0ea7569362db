// The Node SDK end to end on a real (small) tinta model: both backends with and without the
// worker agree, output sizes match odd inputs, colour inputs keep their L, bad inputs and bad
// models give the right TintaError codes (and the worker survives them), calls can be aborted,
// a crashed worker is replaced, and 500 calls do not leak.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createColorizer, ErrorCodes, TintaError, type Colorizer, type NodeImageInput, type Progress } from '../sdk/node.ts';
import { internalsOf } from '../sdk/colorizer.ts';
import { rgba8ToL, rgba8ToLab, labToRgba8 } from '../sdk/color/lab.ts';
import { encodeImage } from '../sdk/image/node.ts';
import { GraphBuilder, DataType, encodeModel } from '../converters/onnx/model.ts';
import { buildMetadata } from '../sdk/model/metadata.ts';
import { buildTestModel, syntheticPhoto, testModelInfo } from './sdk-fixtures.ts';

const MODEL = buildTestModel();
const W = 333, H = 217;
const PHOTO = syntheticPhoto(W, H);
const raw = (data = PHOTO, width = W, height = H): NodeImageInput => ({ data, width, height });

/** A promise's outcome, observed at once (so a rejection is never unhandled while we wait). */
function settle<T>(p: Promise<T>): Promise<{ ok: true; value: T } | { ok: false; error: unknown }> {
  return p.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
}

function assertCode(o: { ok: boolean; error?: unknown }, code: string, what: string): TintaError {
  assert.ok(!o.ok, `${what}: expected ${code}, but it resolved`);
  assert.ok(o.error instanceof TintaError, `${what}: expected a TintaError, got ${String(o.error)}`);
  assert.equal(o.error.code, code, `${what}: ${o.error.message}`);
  return o.error;
}

async function rejectsWith(p: Promise<unknown>, code: string, what: string, re?: RegExp): Promise<TintaError> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof TintaError, `${what}: expected a TintaError, got ${String(e)}`);
    assert.equal(e.code, code, `${what}: ${e.message}`);
    if (re) assert.match(e.message, re, what);
    return e;
  }
  assert.fail(`${what}: expected ${code}, but it resolved`);
}

const unhandled: unknown[] = [];
const onUnhandled = (e: unknown): void => void unhandled.push(e);
process.on('unhandledRejection', onUnhandled);

type Config = { backend: 'native' | 'wasm'; worker: boolean };
const CONFIGS: Config[] = [
  { backend: 'native', worker: false },
  { backend: 'native', worker: true },
  { backend: 'wasm', worker: false },
  { backend: 'wasm', worker: true },
];
const colorizers = new Map<string, Colorizer<NodeImageInput>>();
const key = (c: Config): string => `${c.backend}/${c.worker ? 'worker' : 'inline'}`;

before(async () => {
  for (const c of CONFIGS) colorizers.set(key(c), await createColorizer({ model: MODEL, backend: c.backend, worker: c.worker, threads: 1 }));
});

after(async () => {
  for (const c of colorizers.values()) await c.dispose();
  process.off('unhandledRejection', onUnhandled);
});

test('native and wasm, with and without the worker, give the same colours at the input size (333x217)', async () => {
  const ref = await colorizers.get('native/inline')!.colorize(raw());
  assert.equal(ref.width, W);
  assert.equal(ref.height, H);
  assert.equal(ref.rgba().length, W * H * 4);
  assert.equal(ref.ab().a.length, W * H);
  // The model colours dark pixels blue and light ones orange: the output is really coloured.
  let chroma = 0;
  for (let i = 0; i < W * H; i++) chroma += Math.hypot(ref.ab().a[i]!, ref.ab().b[i]!);
  assert.ok(chroma / (W * H) > 5, `mean chroma ${chroma / (W * H)}`);
  for (const c of CONFIGS.slice(1)) {
    const col = colorizers.get(key(c))!;
    assert.equal(col.provider, c.backend);
    assert.equal(col.inWorker, c.worker);
    const r = await col.colorize(raw());
    assert.equal(r.provider, c.backend);
    assert.deepEqual([r.width, r.height], [W, H]);
    const a = ref.rgba(), b = r.rgba();
    let off = 0;
    for (let p = 0; p < a.length; p += 4) {
      if (Math.abs(a[p]! - b[p]!) > 1 || Math.abs(a[p + 1]! - b[p + 1]!) > 1 || Math.abs(a[p + 2]! - b[p + 2]!) > 1) off++;
    }
    assert.ok(off <= W * H * 0.001, `${key(c)}: ${off} of ${W * H} pixels differ by more than 1/255 in some channel`);
    for (const t of ['decode', 'preprocess', 'model', 'postprocess', 'total'] as const) assert.ok(r.timings[t] >= 0, t);
  }
});

test('a colour photo is re-colorized from its lightness: the output keeps the input L', async () => {
  const r = await colorizers.get('native/worker')!.colorize(raw());
  const Lin = rgba8ToL(PHOTO, W, H);
  const Lout = rgba8ToLab(r.rgba(), W, H).L;
  let within = 0, worst = 0;
  for (let i = 0; i < W * H; i++) {
    const d = Math.abs(Lin[i]! - Lout[i]!);
    if (d <= 0.5) within++;
    worst = Math.max(worst, d);
  }
  // 8-bit rounding moves L by < 0.5; gamut clipping of a few saturated darks may move it more.
  assert.ok(within >= 0.999 * W * H, `${W * H - within} pixels moved by more than 0.5 L (worst ${worst.toFixed(2)})`);
  // The gray version of the photo (same L, up to 8-bit rounding) gets the same colours: only L is read.
  const gray = labToRgba8(Lin, new Float32Array(W * H), new Float32Array(W * H));
  const g = await colorizers.get('native/worker')!.colorize(raw(gray));
  let dab = 0;
  for (let i = 0; i < W * H; i++) dab += Math.abs(g.ab().a[i]! - r.ab().a[i]!) + Math.abs(g.ab().b[i]! - r.ab().b[i]!);
  assert.ok(dab / (W * H) < 0.5, `mean |d(ab)| between colour and gray input ${dab / (W * H)}`);
});

test('encoded images (PNG, JPEG bytes, a file path) are decoded and colorized at full size', async () => {
  const c = colorizers.get('native/worker')!;
  const png = await encodeImage({ data: PHOTO, width: W, height: H }, 'png');
  const fromPng = await c.colorize(png);
  const fromRaw = await c.colorize(raw());
  assert.deepEqual(fromPng.rgba(), fromRaw.rgba());
  const jpg = await encodeImage({ data: PHOTO, width: W, height: H }, 'jpeg');
  const dir = mkdtempSync(join(tmpdir(), 'tinta-sdk-'));
  try {
    writeFileSync(join(dir, 'p.jpg'), jpg);
    const fromPath = await c.colorize(join(dir, 'p.jpg'));
    assert.deepEqual([fromPath.width, fromPath.height], [W, H]);
    const fromAb = await c.colorize(jpg.buffer.slice(jpg.byteOffset, jpg.byteOffset + jpg.byteLength) as ArrayBuffer);
    assert.deepEqual(fromAb.rgba(), fromPath.rgba());
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('bad images give IMAGE_* errors, bad options BAD_ARGUMENT, and the worker keeps working', async () => {
  for (const name of ['native/worker', 'native/inline']) {
    const c = colorizers.get(name)!;
    const jpg = await encodeImage({ data: PHOTO, width: W, height: H }, 'jpeg');
    await rejectsWith(c.colorize(new Uint8Array(0)), ErrorCodes.IMAGE_EMPTY, `${name} empty bytes`);
    await rejectsWith(c.colorize(new TextEncoder().encode('this is not an image, just some text')), ErrorCodes.IMAGE_UNSUPPORTED, `${name} text bytes`);
    await rejectsWith(c.colorize(jpg.subarray(0, jpg.length >> 1)), ErrorCodes.IMAGE_TRUNCATED, `${name} truncated JPEG`);
    await rejectsWith(c.colorize({ data: new Uint8ClampedArray(0), width: 0, height: 5 }), ErrorCodes.IMAGE_ZERO_SIZE, `${name} 0x5 image`);
    await rejectsWith(c.colorize({ data: new Uint8ClampedArray(10), width: 2, height: 2 }), ErrorCodes.IMAGE_BAD_PIXELS, `${name} short data`);
    await rejectsWith(c.colorize(raw(), { maxPixels: 10_000 }), ErrorCodes.IMAGE_TOO_LARGE, `${name} raw over maxPixels`);
    await rejectsWith(c.colorize(jpg, { maxPixels: 10_000 }), ErrorCodes.IMAGE_TOO_LARGE, `${name} JPEG over maxPixels`);
    await rejectsWith(c.colorize('/nonexistent/tinta/photo.jpg'), ErrorCodes.IMAGE_NOT_FOUND, `${name} missing file`);
    await rejectsWith(c.colorize(raw(), { temperature: -1 }), ErrorCodes.BAD_ARGUMENT, `${name} temperature -1`);
    await rejectsWith(c.colorize(raw(), { temprature: 0.5 } as never), ErrorCodes.BAD_ARGUMENT, `${name} misspelt option`, /temprature/);
    await rejectsWith(c.colorize(42 as never), ErrorCodes.BAD_ARGUMENT, `${name} a number`);
    const ok = await c.colorize(raw());
    assert.deepEqual([ok.width, ok.height], [W, H], `${name} works after the errors`);
  }
  assert.equal(internalsOf(colorizers.get('native/worker')!).workerStarts(), 1, 'no worker restart was needed');
});

test('bad models: MODEL_INVALID, MODEL_NO_METADATA, MODEL_NOT_FOUND, MODEL_INTEGRITY, BACKEND_UNAVAILABLE', async () => {
  const inline = { worker: false, threads: 1 } as const;
  await rejectsWith(createColorizer({ ...inline, model: new Uint8Array(0) }), ErrorCodes.MODEL_INVALID, 'empty model', /empty/);
  await rejectsWith(createColorizer({ ...inline, model: new TextEncoder().encode('not a model at all, clearly') }), ErrorCodes.MODEL_INVALID, 'text model');
  await rejectsWith(createColorizer({ ...inline, model: MODEL.subarray(0, MODEL.length - 100) }), ErrorCodes.MODEL_INVALID, 'truncated model');
  await rejectsWith(createColorizer({ ...inline, model: buildTestModel({ metadata: false }) }), ErrorCodes.MODEL_NO_METADATA, 'no metadata');
  // Well-framed ONNX with tinta metadata, but a graph ORT refuses: its error is wrapped with context.
  const g = new GraphBuilder();
  g.addInput('L', DataType.FLOAT, [1, 1, 'H', 'W']);
  g.addNode({ opType: 'Relu', inputs: ['nowhere'], outputs: ['logits'] });
  g.addOutput('logits', DataType.FLOAT, [1, 112, 'h', 'w']);
  const broken = encodeModel({ graph: g, metadata: buildMetadata(testModelInfo()) });
  for (const backend of ['native', 'wasm'] as const) {
    for (const worker of [false, true]) {
      const e = await rejectsWith(createColorizer({ model: broken, backend, worker, threads: 1 }), ErrorCodes.MODEL_INVALID, `broken graph on ${backend}`, /nowhere/);
      assert.equal(e.details.provider, backend);
    }
  }
  await rejectsWith(createColorizer({ ...inline, model: '/nonexistent/model.onnx' }), ErrorCodes.MODEL_NOT_FOUND, 'missing file');
  await rejectsWith(createColorizer({ ...inline, model: 'no-such-shipped-model' }), ErrorCodes.MODEL_NOT_FOUND, 'unknown model name');
  await rejectsWith(createColorizer({ ...inline, model: MODEL, sha256: '0'.repeat(64) }), ErrorCodes.MODEL_INTEGRITY, 'wrong sha256');
  const be = await rejectsWith(createColorizer({ ...inline, model: MODEL, backend: 'cuda' as never }), ErrorCodes.BACKEND_UNAVAILABLE, 'unknown backend');
  assert.match(be.message, /'auto', 'native', 'wasm'/);
  await rejectsWith(createColorizer({ ...inline, model: MODEL, backend: 'webgpu' }), ErrorCodes.BACKEND_UNAVAILABLE, 'webgpu in Node');
  await rejectsWith(createColorizer({ ...inline, model: MODEL, thread: 2 } as never), ErrorCodes.BAD_ARGUMENT, 'misspelt option');
});

test('progress events arrive in order and name the provider that runs', async () => {
  const events: Progress[] = [];
  const c = await createColorizer({ model: MODEL, worker: false, threads: 1, onProgress: (p) => events.push(p) });
  try {
    assert.deepEqual(events.map((e) => e.status), ['session', 'ready']);
    assert.deepEqual(events[0], { status: 'session', provider: 'native' });
    assert.equal(c.provider, 'native'); // 'auto' in Node prefers native
    assert.equal(c.info.buckets.count, 112);
    assert.equal(c.info.recommendedSize, 64);
  } finally {
    await c.dispose();
  }
});

test('an AbortSignal cancels a queued call, a running call, or a call whose signal already fired', async () => {
  const c = colorizers.get('native/worker')!;
  const big = syntheticPhoto(900, 700);
  const first = settle(c.colorize({ data: big, width: 900, height: 700 }));
  const ctrl = new AbortController();
  const queued = c.colorize(raw(), { signal: ctrl.signal });
  ctrl.abort();
  await rejectsWith(queued, ErrorCodes.ABORTED, 'queued call', /queued/);
  const f = await first;
  assert.ok(f.ok && f.value.width === 900, 'the call ahead of it is unaffected');
  const ctrl2 = new AbortController();
  const running = c.colorize({ data: big, width: 900, height: 700 }, { signal: ctrl2.signal });
  setTimeout(() => ctrl2.abort(), 5);
  await rejectsWith(running, ErrorCodes.ABORTED, 'running call');
  await rejectsWith(c.colorize(raw(), { signal: AbortSignal.abort() }), ErrorCodes.ABORTED, 'already aborted');
  assert.equal((await c.colorize(raw())).width, W, 'works after aborts');
  // Underneath, the worker itself stops at a stage boundary and answers ABORTED.
  const ctrl3 = new AbortController();
  const req = { source: { kind: 'rgba' as const, image: { data: big.slice(), width: 900, height: 700 } }, params: { temperature: 0.38, saturation: 1, resolution: 512, upsample: 'guided' as const }, maxPixels: 1e8 };
  const inWorker = settle(internalsOf(c).executor.run(req, [], ctrl3.signal));
  setTimeout(() => ctrl3.abort(), 2);
  const e = assertCode(await inWorker, ErrorCodes.ABORTED, 'in the worker');
  assert.ok(['decode', 'preprocess', 'model', 'postprocess'].includes(String(e.details.stage)), `stopped before ${String(e.details.stage)}`);
});

test('a worker that dies mid-call rejects it with WORKER_CRASHED and is restarted for the next call', async () => {
  const c = await createColorizer({ model: MODEL, backend: 'native', worker: true, threads: 1 });
  try {
    const before = await c.colorize(raw());
    for (const [mode, starts] of [['exit', 2], ['throw', 3]] as const) {
      await internalsOf(c).crashWorkerAtNextStage(mode);
      const crashed = settle(c.colorize(raw()));
      const queuedBehind = settle(c.colorize(raw()));
      const e = assertCode(await crashed, ErrorCodes.WORKER_CRASHED, `crash by ${mode}`);
      if (mode === 'exit') assert.equal(e.details.exitCode, 70);
      else assert.match(String(e.details.reason), /uncaught error in the worker/);
      const next = await queuedBehind;
      assert.ok(next.ok, `the call queued behind the crash runs on a new worker: ${next.ok ? '' : String(next.error)}`);
      assert.deepEqual(next.value.rgba(), before.rgba(), `after the ${mode} crash the new worker gives the same output`);
      assert.equal(internalsOf(c).workerStarts(), starts);
    }
  } finally {
    await c.dispose();
  }
});

test('calls after dispose reject with DISPOSED; queued calls are rejected by dispose', async () => {
  for (const worker of [true, false]) {
    const c = await createColorizer({ model: MODEL, backend: 'native', worker, threads: 1 });
    const running = settle(c.colorize(raw()));
    const queued = settle(c.colorize(raw()));
    await new Promise((r) => setTimeout(r, 1));
    await c.dispose();
    assertCode(await queued, ErrorCodes.DISPOSED, `queued at dispose (worker ${worker})`);
    const r = await running;
    if (!r.ok) assertCode(r, ErrorCodes.DISPOSED, `running at dispose (worker ${worker})`);
    await rejectsWith(c.colorize(raw()), ErrorCodes.DISPOSED, `after dispose (worker ${worker})`);
    await c.dispose(); // twice is fine
  }
});

test('soak: 500 calls through the worker on 64x64 images stay within 50 MB of RSS, with no unhandled rejection', async () => {
  const c = colorizers.get('native/worker')!;
  const img = syntheticPhoto(64, 64, 9);
  for (let i = 0; i < 20; i++) await c.colorize({ data: img, width: 64, height: 64 });
  const rss0 = process.memoryUsage().rss;
  let last;
  for (let i = 0; i < 500; i++) last = await c.colorize({ data: img, width: 64, height: 64 });
  const grown = (process.memoryUsage().rss - rss0) / 1024 / 1024;
  assert.equal(last!.width, 64);
  assert.ok(grown < 50, `RSS grew by ${grown.toFixed(1)} MB over 500 calls`);
  assert.deepEqual(unhandled, []);
});

test('the shipped default model loads by name, passes its sha256 check and colorizes', async () => {
  const c = await createColorizer({ worker: false, threads: 1 });
  try {
    assert.equal(c.info.buckets.count, 112);
    assert.equal(c.info.precision, 'int8');
    const W = 64, H = 48;
    const r = await c.colorize({ data: syntheticPhoto(W, H, 3), width: W, height: H });
    assert.equal(r.width, W);
    assert.equal(r.rgba().length, W * H * 4);
  } finally {
    await c.dispose();
  }
});

test('the int8 default model gives the same colours on the native and WASM backends (within 2/255 on >= 99% of values)', async () => {
  const photo = new URL('../examples/chelsea.jpg', import.meta.url).pathname;
  const outs: Uint8ClampedArray[] = [];
  for (const backend of ['native', 'wasm'] as const) {
    const c = await createColorizer({ backend, worker: false, threads: 1 });
    try {
      outs.push((await c.colorize(photo)).rgba());
    } finally {
      await c.dispose();
    }
  }
  const [a, b] = outs as [Uint8ClampedArray, Uint8ClampedArray];
  assert.equal(a.length, b.length);
  let off = 0;
  for (let i = 0; i < a.length; i++) if (Math.abs(a[i]! - b[i]!) > 2) off++;
  assert.ok(off / a.length <= 0.01, `${((100 * off) / a.length).toFixed(3)}% of values differ by more than 2/255`);
});
