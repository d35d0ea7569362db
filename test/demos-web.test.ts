// The web demo (demos/web) in headless Chromium (the system's chromium, driven by playwright-core),
// served by the demo server (demos/serve.ts): a dropped grayscale photo comes out coloured
// (mean Lab chroma above MIN_CHROMA) with the grayscale panel gray and the photo's lightness
// kept; the saturation slider re-runs live; the downloaded PNG holds the same pixels; a file that
// is no image gives a typed error; picked and pasted photos work too; switching the model re-runs; then, once the service worker says the page is ready for
// offline use, the server is stopped and the network cut, and the reloaded page colorizes again.
// One WebGPU run on SwiftShader, skipped when Chromium offers no adapter.
// Screenshots: test-artifacts/demos-web*.png. Locally a missing Chromium skips; under CI=true it fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { startDemoServer, type DemoServer } from '../demos/serve.ts';
import { ensureDist } from './sdk-dist-build.ts';
import { chromiumGate, launchChromium, NO_GPU_FLAGS, SWIFTSHADER_WEBGPU_FLAGS } from './browser/chromium.ts';
import { collectErrors, decodeRgba, dropFile, grayPhoto, MAX_GRAY_CHROMA, meanChroma, meanLightnessDiff, MIN_CHROMA, readCanvas, screenshot } from './demos/helpers.ts';

const W = 96, H = 64;
const LOAD_MS = 300_000; // model load on wasm with two busy cores: generous

const chromium = chromiumGate();
const skip = chromium.skip;

let photo: Buffer;
const closers: (() => Promise<void>)[] = [];

before(async () => {
  if (skip) return;
  await ensureDist(); // the tests' build (with its stamp), so the demo server finds dist/ current
  photo = await grayPhoto(W, H);
});

after(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

interface Session {
  server: DemoServer;
  context: BrowserContext;
  page: Page;
  errors: string[];
}

async function openDemo(flags: string[], query: string): Promise<Session> {
  const server = await startDemoServer({ port: 0 });
  closers.push(() => server.close());
  const browser = await launchChromium(flags);
  closers.push(() => browser.close());
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  await page.goto(`${server.origin}/${query}`);
  return { server, context: browser.context, page, errors };
}

let wasmSession: Promise<Session> | undefined;
/** The demo on wasm, shared by the tests below in order (the offline test continues the first visit). */
const wasmDemo = (): Promise<Session> => (wasmSession ??= openDemo(NO_GPU_FLAGS, '?backend=wasm'));

const state = (page: Page): Promise<{ state?: string; runs: number; provider?: string; errorCode?: string; status: string }> =>
  page.evaluate(() => {
    const d = document.getElementById('app')!.dataset;
    return { state: d.state, runs: Number(d.runs), provider: d.provider, errorCode: d.errorCode, status: document.getElementById('status')!.textContent ?? '' };
  });

/** Waits until the app is in one of `states` (and, for 'done', has finished more than `runsBefore` runs). */
async function waitFor(page: Page, states: string[], runsBefore = -1, timeout = LOAD_MS): Promise<void> {
  await page.waitForFunction(({ states, runsBefore }) => {
    const d = document.getElementById('app')!.dataset;
    return states.includes(d.state ?? '') && (d.state !== 'done' || Number(d.runs) > runsBefore);
  }, { states, runsBefore }, { timeout, polling: 100 });
}

/** Drops the test photo and waits for its colorization; returns the result canvas. */
async function colorizeDropped(page: Page): Promise<{ data: Uint8Array; width: number; height: number }> {
  const before = (await state(page)).runs;
  await dropFile(page, '#drop', photo, 'old-photo.jpg', 'image/jpeg');
  await waitFor(page, ['done', 'error'], before);
  const s = await state(page);
  assert.equal(s.state, 'done', `the demo failed: ${s.status}`);
  return readCanvas(page, '#result');
}

async function setSlider(page: Page, id: string, value: string): Promise<void> {
  const before = (await state(page)).runs;
  await page.locator(`#${id}`).fill(value);
  await waitFor(page, ['done', 'error'], before, 120_000);
}

test('Chromium is available for the demo tests', (t) => chromium.check(t));

test('the web demo colorizes a dropped grayscale photo (wasm): coloured result, gray panel, live saturation, PNG download, pick and paste, model switch', { skip, timeout: 600_000 }, async (t) => {
  const { page, errors, server } = await wasmDemo();
  await waitFor(page, ['ready', 'error']);
  assert.equal((await state(page)).state, 'ready', `the model did not load: ${(await state(page)).status}`);

  const result = await colorizeDropped(page);
  assert.deepEqual([result.width, result.height], [W, H]);
  const original = await readCanvas(page, '#original');
  const gray = await readCanvas(page, '#gray');
  const chroma = meanChroma(result.data, W, H);
  const grayChroma = meanChroma(gray.data, W, H);
  t.diagnostic(`mean chroma: result ${chroma.toFixed(2)}, grayscale panel ${grayChroma.toFixed(3)}, input ${meanChroma(original.data, W, H).toFixed(3)}`);
  assert.ok(chroma > MIN_CHROMA, `the result is coloured: mean chroma ${chroma.toFixed(2)} > ${MIN_CHROMA}`);
  assert.ok(grayChroma < MAX_GRAY_CHROMA, `the grayscale panel is gray: mean chroma ${grayChroma.toFixed(3)}`);
  const dL = meanLightnessDiff(original.data, result.data, W, H);
  t.diagnostic(`mean |L(result) - L(original)|: ${dL.toFixed(3)}`);
  assert.ok(dL < 2, `the colorization keeps the photo's lightness (mean |dL| ${dL.toFixed(2)})`);
  const s = await state(page);
  assert.equal(s.provider, 'wasm');
  const timings = await page.locator('#timings').textContent();
  assert.match(timings ?? '', /wasm .*model load \d+ ms.*network \d+.*total \d+ ms/, `timings are shown: ${timings}`);
  await screenshot(page, 'demos-web');

  // Live settings: saturation 0 gives gray, 2 gives more colour than 1.
  await setSlider(page, 'saturation', '0');
  const flat = meanChroma((await readCanvas(page, '#result')).data, W, H);
  await setSlider(page, 'saturation', '2');
  const vivid = meanChroma((await readCanvas(page, '#result')).data, W, H);
  t.diagnostic(`mean chroma at saturation 0: ${flat.toFixed(3)}, 1: ${chroma.toFixed(2)}, 2: ${vivid.toFixed(2)}`);
  assert.ok(flat < MAX_GRAY_CHROMA, `saturation 0 gives gray (${flat.toFixed(3)})`);
  assert.ok(vivid > chroma * 1.5, `saturation 2 gives more colour (${vivid.toFixed(2)} vs ${chroma.toFixed(2)})`);
  await setSlider(page, 'saturation', '1');

  // The download is a PNG of the result canvas.
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
  assert.equal(download.suggestedFilename(), 'old-photo.colorized.png');
  const png = await decodeRgba(readFileSync((await download.path())!));
  const shown = await readCanvas(page, '#result');
  assert.deepEqual([png.width, png.height], [W, H]);
  assert.deepEqual(png.data, shown.data, 'the downloaded PNG holds the result pixels');
  assert.ok(meanChroma(png.data, W, H) > MIN_CHROMA);

  // A file that is no image: a typed error, and the page still works afterwards.
  const runs = (await state(page)).runs;
  await dropFile(page, '#drop', new TextEncoder().encode('not a photo'), 'notes.txt', 'text/plain');
  await waitFor(page, ['error'], runs, 30_000);
  const bad = await state(page);
  assert.equal(bad.errorCode, 'IMAGE_UNSUPPORTED');
  assert.match(bad.status, /"notes\.txt" could not be read as an image/);

  // Picked with the file input, and pasted: the same path as a drop.
  let runsNow = (await state(page)).runs;
  await page.setInputFiles('#file', { name: 'picked.jpg', mimeType: 'image/jpeg', buffer: await grayPhoto(64, 48, 'chelsea.jpg') });
  await waitFor(page, ['done', 'error'], runsNow);
  const picked = await readCanvas(page, '#result');
  assert.deepEqual([picked.width, picked.height], [64, 48], 'the picked photo was colorized');
  assert.ok(meanChroma(picked.data, 64, 48) > MIN_CHROMA);
  runsNow = (await state(page)).runs;
  await page.evaluate((b64) => {
    const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
    const clipboardData = new DataTransfer();
    clipboardData.items.add(new File([bytes], 'pasted.jpg', { type: 'image/jpeg' }));
    document.dispatchEvent(new ClipboardEvent('paste', { clipboardData, bubbles: true, cancelable: true }));
  }, (await grayPhoto(48, 64, 'astronaut.jpg')).toString('base64'));
  await waitFor(page, ['done', 'error'], runsNow);
  const pasted = await readCanvas(page, '#result');
  assert.deepEqual([pasted.width, pasted.height], [48, 64], 'the pasted photo was colorized');
  assert.ok(meanChroma(pasted.data, 48, 64) > MIN_CHROMA);

  // Another model: the old colorizer is disposed, the new one loads and the photo is colorized again.
  const runsBefore = (await state(page)).runs;
  await page.selectOption('#model', 'default-fp32');
  await waitFor(page, ['done', 'error'], runsBefore);
  const switched = await readCanvas(page, '#result');
  assert.deepEqual([switched.width, switched.height], [48, 64], 'the last photo (the pasted one) was colorized again');
  const fp32 = meanChroma(switched.data, switched.width, switched.height);
  t.diagnostic(`mean chroma with the fp32 model: ${fp32.toFixed(2)}`);
  assert.ok(fp32 > MIN_CHROMA, `the fp32 model's result is coloured: ${fp32.toFixed(2)}`);

  assert.deepEqual(errors, []);
  // ONNX Runtime's files came from this server (self-hosted), and the SDK's worker was started.
  const served = new Set(server.requests.filter((r) => r.status === 200).map((r) => r.path));
  for (const p of ['/dist/browser.js', '/dist/worker/entry-browser.js', '/ort/ort.bundle.min.mjs', '/ort/ort-wasm-simd-threaded.jsep.wasm', '/models/tinta-default.int8.onnx']) {
    assert.ok(served.has(p), `${p} was served`);
  }
});

test('the web demo works offline: after the first visit, with the server stopped and the network cut, a reload colorizes again', { skip, timeout: 600_000 }, async (t) => {
  const { page, errors, server, context } = await wasmDemo();
  await page.waitForFunction(() => document.getElementById('offline')?.dataset.ready === 'true', null, { timeout: LOAD_MS, polling: 250 });
  assert.match((await page.locator('#offline').textContent()) ?? '', /ready for offline use/);
  const cached = await page.evaluate(async () => {
    const names = (await caches.keys()).filter((k) => k.startsWith('tinta-demo-'));
    const urls = names.length === 1 ? (await (await caches.open(names[0]!)).keys()).map((r) => new URL(r.url).pathname) : [];
    return { names, urls, controlled: navigator.serviceWorker.controller !== null };
  });
  assert.equal(cached.controlled, true, 'the service worker controls the page');
  assert.equal(cached.names.length, 1, `one versioned cache: ${cached.names.join(', ')}`);
  for (const p of ['/', '/app.js', '/dist/browser.js', '/dist/worker/entry-browser.js', '/ort/ort-wasm-simd-threaded.jsep.wasm', '/models/tinta-default.int8.onnx']) {
    assert.ok(cached.urls.includes(p), `${p} is cached`);
  }
  t.diagnostic(`${cached.urls.length} files cached in ${cached.names[0]}`);

  const answered = server.requests.length;
  await server.close();
  await context.setOffline(true);
  await page.reload();
  await waitFor(page, ['ready', 'error']);
  assert.equal((await state(page)).state, 'ready', `offline, the model did not load: ${(await state(page)).status}`);
  const result = await colorizeDropped(page);
  const chroma = meanChroma(result.data, W, H);
  t.diagnostic(`offline: mean chroma ${chroma.toFixed(2)}`);
  assert.ok(chroma > MIN_CHROMA, `offline, the result is coloured: ${chroma.toFixed(2)}`);
  assert.equal(server.requests.length, answered, 'nothing reached the server after it stopped');
  assert.equal(await page.evaluate(() => navigator.onLine), false, 'the browser was offline');
  await screenshot(page, 'demos-web-offline');
  assert.deepEqual(errors, []);
});

test('the web demo on WebGPU (SwiftShader): one smoke run, skipped when Chromium offers no adapter', { skip, timeout: 600_000 }, async (t) => {
  // The network sees 96x64 (not the model's 384x256): SwiftShader runs WebGPU on the CPU, slowly.
  // The fp32 model: onnxruntime-web's WebGPU provider miscomputes int8 models (sdk/README.md), and
  // the fp32 file is what the docs recommend for WebGPU.
  const { page, errors } = await openDemo(SWIFTSHADER_WEBGPU_FLAGS, '?backend=webgpu&model=default-fp32&resolution=64');
  await waitFor(page, ['ready', 'error']);
  const s = await state(page);
  if (s.state === 'error' && s.errorCode === 'BACKEND_UNAVAILABLE') {
    t.skip(`no WebGPU adapter in this Chromium (${s.status})`);
    return;
  }
  assert.equal(s.state, 'ready', `WebGPU did not load: ${s.status}`);
  const result = await colorizeDropped(page);
  const chroma = meanChroma(result.data, W, H);
  const after = await state(page);
  t.diagnostic(`WebGPU: provider ${after.provider}, mean chroma ${chroma.toFixed(2)}, ${await page.locator('#timings').textContent()}`);
  // A WebGPU session that fails while running falls back to wasm with a warning (see sdk/README.md).
  assert.ok(after.provider === 'webgpu' || after.provider === 'wasm', `provider ${after.provider}`);
  assert.ok(chroma > MIN_CHROMA, `the WebGPU result is coloured: ${chroma.toFixed(2)}`);
  await screenshot(page, 'demos-web-webgpu');
  assert.deepEqual(errors, []);
});
