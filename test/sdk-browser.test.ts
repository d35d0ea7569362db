// The built SDK in headless Chromium (the system's /usr/bin/chromium, driven by playwright-core),
// served by a local server with COOP/COEP (cross-origin isolated) and a strict CSP: dist/browser.js as published
// colorizes the fixture photo on wasm inline and in its module worker with the Node colours;
// backend 'auto' without a GPU picks wasm and says so; WebGPU on SwiftShader runs (or falls back
// to wasm with a warning); and an app built by Vite that imports the package by name works, with
// onnxruntime-web bundled (zero config) and self-hosted (wasmPaths, threads).
// Locally a missing Chromium skips these tests; under CI=true it fails them.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { createColorizer } from '../sdk/node.ts';
import { ensureDist, DIST, ROOT } from './sdk-dist-build.ts';
import { countOff, meanSpread } from './sdk-dist-compare.ts';
import { buildTestModel, syntheticPhoto } from './sdk-fixtures.ts';
import { startStaticServer, type Route, type StaticServer } from './browser/server.ts';
import { chromiumGate, launchChromium, NO_GPU_FLAGS, SWIFTSHADER_WEBGPU_FLAGS } from './browser/chromium.ts';

const W = 333, H = 217;
const MODEL = buildTestModel();
const INT8 = new Uint8Array(readFileSync(join(ROOT, 'models', 'tinta-default.int8.onnx')));
const ORT_DIST = join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');
const PAGES = join(ROOT, 'test', 'browser');

const chromium = chromiumGate();
const skip = chromium.skip;

let reference: Uint8ClampedArray;
const closers: (() => Promise<void>)[] = [];

/** The fixture model and photos (any size, /fixture/photo-WxH.rgba). */
const fixtures: Route = {
  prefix: '/fixture/',
  bytes(url) {
    if (url.pathname === '/fixture/model.onnx') return MODEL;
    if (url.pathname === '/fixture/int8.onnx') return INT8;
    const m = /^\/fixture\/photo-(\d+)x(\d+)\.rgba$/.exec(url.pathname);
    return m ? new Uint8Array(syntheticPhoto(Number(m[1]), Number(m[2])).buffer) : null;
  },
};

// The strict policy the README recommends: no eval, no inline script, wasm compilation allowed.
const CSP = {
  'content-security-policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; img-src 'self' blob: data:",
};

// dist/ has one bare import, onnxruntime-web. Without a bundler a page maps it (import maps do
// not reach module workers, so the server does it, as an ESM CDN would) to ORT's browser build.
const mapOrt = (code: string): string => code.replace(/(['"])onnxruntime-web\1/g, "'/ort/ort.bundle.min.mjs'");

interface PageResult {
  provider?: string;
  resultProvider?: string;
  inWorker?: boolean;
  width?: number;
  height?: number;
  rgba?: string;
  imageData?: boolean;
  crossOriginIsolated?: boolean;
  events: ({ status: string; provider?: string; code?: string; message?: string })[];
  ms?: { load: number; colorize: number };
  error?: { code?: string; message: string };
}

/** Runs the page's harness with `options`; fails (instead of hanging) after `ms`. */
async function runOnPage(page: Page, options: Record<string, unknown>, ms = 120_000): Promise<PageResult> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      page.evaluate((o) => (globalThis as unknown as { tintaRun(o: unknown): Promise<PageResult> }).tintaRun(o), { width: W, height: H, ...options }),
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`the page did not answer within ${ms} ms for ${JSON.stringify(options)}`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Opens `url` in a fresh page, collecting console errors and page errors, and waits for the harness. */
async function openPage(context: { newPage(): Promise<Page> }, url: string): Promise<{ page: Page; errors: string[] }> {
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/favicon/.test(m.text()) && !/status of 404/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  await page.waitForFunction(() => (globalThis as { tintaReady?: boolean }).tintaReady === true, null, { timeout: 60_000 });
  return { page, errors };
}

/** Asserts a page run colorized the photo at full size with (nearly) the Node colours. */
function assertNodeColours(r: PageResult, what: string): void {
  assert.equal(r.error, undefined, `${what}: ${r.error?.code} ${r.error?.message}`);
  assert.deepEqual([r.width, r.height], [W, H], what);
  assert.equal(r.imageData, true, `${what}: toImageData() gives an ImageData`);
  const got = new Uint8Array(Buffer.from(r.rgba!, 'base64'));
  assert.ok(meanSpread(got) > 8, `${what}: coloured (mean RGB spread ${meanSpread(got).toFixed(1)})`);
  const off = countOff(reference, got);
  assert.ok(off <= W * H * 0.001, `${what}: ${off} of ${W * H} pixels differ from Node by more than 1/255`);
}

before(async () => {
  if (skip) return;
  await ensureDist();
  const c = await createColorizer({ model: MODEL, backend: 'native', worker: false, threads: 1, cache: false });
  try {
    reference = (await c.colorize({ data: syntheticPhoto(W, H), width: W, height: H })).rgba().slice();
  } finally {
    await c.dispose();
  }
  assert.ok(meanSpread(reference) > 8, 'the Node reference is coloured');
});

after(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

const direct = new Map<string, Promise<{ page: Page; errors: string[]; server: StaticServer }>>();

/** The direct page (built bundle, no bundler) in a Chromium started with `flags` (one per set of flags). */
function directPage(flags: string[]): Promise<{ page: Page; errors: string[]; server: StaticServer }> {
  const key = flags.join(' ');
  if (!direct.has(key)) direct.set(key, openDirectPage(flags));
  return direct.get(key)!;
}

async function openDirectPage(flags: string[]): Promise<{ page: Page; errors: string[]; server: StaticServer }> {
  const server = await startStaticServer([
    fixtures,
    { prefix: '/dist/', dir: DIST, rewriteJs: mapOrt },
    { prefix: '/ort/', dir: ORT_DIST },
    { prefix: '/', dir: PAGES },
  ], CSP);
  closers.push(() => server.close());
  const browser = await launchChromium(flags);
  closers.push(() => browser.close());
  const { page, errors } = await openPage(browser.context, `${server.origin}/index.html`);
  return { page, errors, server };
}

test('Chromium is available for the browser tests', (t) => {
  chromium.check(t);
});

test('the built browser bundle in Chromium: wasm inline and in its worker give the Node colours (333x217)', { skip, timeout: 300_000 }, async () => {
  const { page, errors, server } = await directPage(NO_GPU_FLAGS);
  const inline = await runOnPage(page, { backend: 'wasm', worker: false, wasmPaths: '/ort/' });
  assertNodeColours(inline, 'worker: false');
  assert.equal(inline.crossOriginIsolated, true, 'COOP/COEP make the page cross-origin isolated');
  assert.deepEqual([inline.provider, inline.resultProvider, inline.inWorker], ['wasm', 'wasm', false]);
  const inWorker = await runOnPage(page, { backend: 'wasm', worker: true, wasmPaths: '/ort/' });
  assertNodeColours(inWorker, 'worker: true');
  assert.deepEqual([inWorker.provider, inWorker.resultProvider, inWorker.inWorker], ['wasm', 'wasm', true]);
  assert.deepEqual(errors, []);
  // The worker was started from dist as published, and ORT's files came from wasmPaths.
  const served = new Set(server.log.filter((l) => l.status === 200).map((l) => l.path));
  for (const p of ['/dist/browser.js', '/dist/worker/entry-browser.js', '/ort/ort-wasm-simd-threaded.jsep.wasm']) assert.ok(served.has(p), `${p} was served`);
});

test('the shipped int8 model on wasm in Chromium gives the Node native colours within 2/255 on >= 99% of pixels', { skip, timeout: 300_000 }, async () => {
  const { page, errors } = await directPage(NO_GPU_FLAGS);
  const c = await createColorizer({ model: INT8, backend: 'native', worker: false, threads: 1, cache: false });
  let native: Uint8ClampedArray;
  try {
    native = (await c.colorize({ data: syntheticPhoto(W, H), width: W, height: H })).rgba().slice();
  } finally {
    await c.dispose();
  }
  const r = await runOnPage(page, { backend: 'wasm', worker: true, wasmPaths: '/ort/', model: '/fixture/int8.onnx' });
  assert.equal(r.error, undefined, `${r.error?.code} ${r.error?.message}`);
  assert.deepEqual([r.width, r.height, r.resultProvider], [W, H, 'wasm']);
  const got = new Uint8Array(Buffer.from(r.rgba!, 'base64'));
  assert.ok(meanSpread(native) > 2, `the int8 model colours the photo (mean RGB spread ${meanSpread(native).toFixed(1)})`);
  const off = countOff(native, got, 2);
  assert.ok(off <= W * H * 0.01, `${off} of ${W * H} pixels differ from Node native by more than 2/255`);
  assert.deepEqual(errors, []);
});

test("backend 'auto' without a GPU (--disable-gpu) picks wasm and reports it", { skip, timeout: 300_000 }, async () => {
  const { page, errors } = await directPage(NO_GPU_FLAGS);
  const r = await runOnPage(page, { backend: 'auto', wasmPaths: '/ort/' });
  assertNodeColours(r, "backend 'auto'");
  assert.deepEqual([r.provider, r.resultProvider, r.inWorker], ['wasm', 'wasm', true]);
  const sessions = r.events.filter((e) => e.status === 'session').map((e) => e.provider);
  assert.deepEqual(sessions, ['wasm'], 'WebGPU is not even tried when requestAdapter() returns null');
  assert.equal(r.events.at(-1)?.status, 'ready');
  assert.equal(r.events.at(-1)?.provider, 'wasm');
  const forced = await runOnPage(page, { backend: 'webgpu', wasmPaths: '/ort/' });
  assert.equal(forced.error?.code, 'BACKEND_UNAVAILABLE', `backend 'webgpu' without an adapter: ${JSON.stringify(forced.error)}`);
  assert.deepEqual(errors, []);
});

test('WebGPU on SwiftShader: a webgpu session runs the model (or falls back to wasm with a warning)', { skip, timeout: 400_000 }, async (t) => {
  const { page } = await directPage(SWIFTSHADER_WEBGPU_FLAGS);
  for (const worker of [false, true]) {
    const r = await runOnPage(page, { backend: 'auto', worker, wasmPaths: '/ort/' }, 300_000);
    const what = `auto on SwiftShader, worker: ${worker}`;
    assert.equal(r.error, undefined, `${what}: ${r.error?.code} ${r.error?.message}`);
    const warned = r.events.some((e) => e.status === 'warning' && /FALLBACK/.test(e.code ?? ''));
    assert.ok(r.resultProvider === 'webgpu' || (r.resultProvider === 'wasm' && warned), `${what}: ran on ${r.resultProvider}, events ${JSON.stringify(r.events)}`);
    assert.equal(r.events.find((e) => e.status === 'session')?.provider, 'webgpu', `${what}: WebGPU is tried first when an adapter exists`);
    assert.deepEqual([r.width, r.height], [W, H]);
    const got = new Uint8Array(Buffer.from(r.rgba!, 'base64'));
    assert.ok(meanSpread(got) > 8, `${what}: coloured`);
    // Functional only: GPU float maths may round differently, but not by much.
    const off = countOff(reference, got, 2);
    assert.ok(off <= W * H * 0.01, `${what}: ${off} pixels differ from Node by more than 2/255`);
    t.diagnostic(`${what}: provider ${r.resultProvider}, load ${r.ms?.load.toFixed(0)} ms, colorize ${r.ms?.colorize.toFixed(0)} ms, ${countOff(reference, got)} px off by > 1/255`);
  }
  // An int8 model with 'auto' skips WebGPU (its int8 results differ from the CPU providers') and says so.
  const q = await runOnPage(page, { backend: 'auto', worker: false, wasmPaths: '/ort/', model: '/fixture/int8.onnx' }, 300_000);
  assert.equal(q.error, undefined, `int8 auto: ${q.error?.code} ${q.error?.message}`);
  assert.equal(q.resultProvider, 'wasm');
  assert.deepEqual(q.events.filter((e) => e.status === 'session').map((e) => e.provider), ['wasm']);
  assert.ok(q.events.some((e) => e.status === 'warning' && e.code === 'INT8_NOT_ON_WEBGPU'), JSON.stringify(q.events));
});

test("an app built by Vite that imports 'tinta' by name works inline and in the worker", { skip, timeout: 400_000 }, async () => {
  const { build } = await import('vite');
  const app = mkdtempSync(join(tmpdir(), 'tinta-vite-'));
  closers.push(async () => rmSync(app, { recursive: true, force: true }));
  cpSync(join(PAGES, 'vite'), app, { recursive: true });
  cpSync(join(PAGES, 'harness.js'), join(app, 'harness.js'));
  // The package as an installed dependency: node_modules/tinta -> this repository (its exports map is used).
  mkdirSync(join(app, 'node_modules'));
  symlinkSync(ROOT, join(app, 'node_modules', 'tinta'), 'dir');
  const outDir = join(app, 'dist');
  await build({ root: app, configFile: false, logLevel: 'error', build: { outDir, emptyOutDir: true } });
  const assets = readdirSync(join(outDir, 'assets'));
  assert.ok(assets.some((f) => f.startsWith('entry-browser')), `Vite bundled the worker as its own file: ${assets.join(', ')}`);

  const server = await startStaticServer([fixtures, { prefix: '/ort/', dir: ORT_DIST }, { prefix: '/', dir: outDir }], CSP);
  closers.push(() => server.close());
  const browser = await launchChromium(NO_GPU_FLAGS);
  closers.push(() => browser.close());
  const { page, errors } = await openPage(browser.context, `${server.origin}/`);
  // Zero config: ORT and its .wasm come from the app's own bundle (one thread, see the README).
  for (const worker of [false, true]) {
    const r = await runOnPage(page, { backend: 'wasm', worker });
    assertNodeColours(r, `Vite app, worker: ${worker}`);
    assert.equal(r.inWorker, worker);
  }
  // Self-hosted ORT files (wasmPaths) in a cross-origin isolated page: wasm threads.
  const threaded = await runOnPage(page, { backend: 'auto', wasmPaths: '/ort/' });
  assertNodeColours(threaded, 'Vite app, wasmPaths');
  assert.deepEqual([threaded.resultProvider, threaded.inWorker], ['wasm', true]);
  assert.deepEqual(errors, []);
  const served = server.log.filter((l) => l.status === 200).map((l) => l.path);
  assert.ok(served.some((p) => /^\/assets\/ort-wasm-simd-threaded.*\.wasm$/.test(p)), 'the bundled .wasm was used (zero config)');
  assert.ok(served.includes('/ort/ort-wasm-simd-threaded.jsep.mjs'), 'wasmPaths served ORT files');
});
