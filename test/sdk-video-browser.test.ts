// The video API of the built browser bundle in headless Chromium (the system's chromium through
// playwright-core), served like test/sdk-browser.test.ts (COOP/COEP, the strict CSP, the bare
// onnxruntime-web import mapped): the page imports dist/browser.js and test/deno/video.mjs (the
// routine the Deno test runs) and colorizes a short synthetic clip with a 5-frame stacked test
// model on wasm, inline and in the module worker, with createVideoStream() (raw RGBA, push/flush,
// no smoothing) and colorizeVideo() (ImageData frames, smoothing 0.5). Each frame matches the
// Node build's (native, inline) within 1/255 on >= 99.9% of pixels, in order, with two pushes of
// latency. Locally a missing Chromium skips; under CI=true it fails.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ensureDist, DIST, ROOT } from './sdk-dist-build.ts';
import { countOff, meanSpread } from './sdk-dist-compare.ts';
import { buildStackModel, checkClipRuns, movingClip, nodeVideoReference, type ClipRun } from './video-fixtures.ts';
import { startStaticServer, type Route } from './browser/server.ts';
import { chromiumGate, launchChromium, NO_GPU_FLAGS } from './browser/chromium.ts';

const W = 96, H = 72, COUNT = 7;
// Uneven weights: a stack read in the wrong order, or centred on the wrong frame, gives other colours.
const MIX = [0.3, 0.1, 0.4, 0.05, 0.15];
const MODEL = buildStackModel(MIX);
const CLIP = movingClip(W, H, COUNT, 5);
const SMOOTHING = 0.5;
const ORT_DIST = join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');

const chromium = chromiumGate();
const skip = chromium.skip;

const reference: Record<'plain' | 'smoothed', Uint8ClampedArray[]> = { plain: [], smoothed: [] };
const closers: (() => Promise<void>)[] = [];

const fixtures: Route = {
  prefix: '/fixture/',
  bytes(url) {
    if (url.pathname === '/fixture/video-model.onnx') return MODEL;
    if (url.pathname === '/fixture/frames.rgba') return new Uint8Array(Buffer.concat(CLIP.map((f) => Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength))));
    return null;
  },
};

// As in test/sdk-browser.test.ts: the README's strict policy, and ORT's browser build for the bare import.
const CSP = { 'content-security-policy': "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; img-src 'self' blob: data:" };
const mapOrt = (code: string): string => code.replace(/(['"])onnxruntime-web\1/g, "'/ort/ort.bundle.min.mjs'");

before(async () => {
  if (skip) return;
  await ensureDist();
  Object.assign(reference, await nodeVideoReference(MODEL, CLIP, SMOOTHING));
});

after(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

interface PageRun extends ClipRun {
  rgba?: string[];
}

/** Runs test/deno/video.mjs's colorizeClip() in the page with the built bundle; the frames come back as base64. */
async function runInPage(page: Page, job: Record<string, unknown>): Promise<PageRun[]> {
  return page.evaluate(async (job) => {
    const [sdk, clip] = await Promise.all([import(String('/dist/browser.js')), import(String('/deno/video.mjs'))]);
    const bytes = new Uint8ClampedArray(await (await fetch('/fixture/frames.rgba')).arrayBuffer());
    const size = Number(job.width) * Number(job.height) * 4;
    const frames = Array.from({ length: Number(job.count) }, (_, i) => ({ data: bytes.slice(i * size, (i + 1) * size), width: job.width, height: job.height }));
    const runs = await clip.colorizeClip(sdk.createColorizer, { ...job, frames });
    for (const run of runs) {
      run.rgba = run.rgba?.map((x: Uint8ClampedArray) => {
        let s = '';
        for (let i = 0; i < x.length; i += 0x8000) s += String.fromCharCode(...x.subarray(i, i + 0x8000));
        return btoa(s);
      });
    }
    return runs;
  }, job);
}

test('Chromium is available for the browser video tests', (t) => chromium.check(t));

test('the built browser bundle runs the video API (5-frame stacked model, wasm, inline and in its worker, stream and colorizeVideo) with the Node frames', { skip, timeout: 300_000 }, async (t) => {
  assert.equal(reference.plain.length, COUNT);
  assert.ok(meanSpread(reference.plain[3]!) > 8, 'the Node reference is coloured');
  assert.ok(countOff(reference.plain[3]!, reference.smoothed[3]!) > W * H * 0.05, 'smoothing changes the colours');
  assert.ok(countOff(reference.plain[3]!, reference.plain[4]!) > W * H * 0.05, 'neighbouring frames differ, so a frame out of place fails');

  const server = await startStaticServer([
    fixtures,
    { prefix: '/dist/', dir: DIST, rewriteJs: mapOrt },
    { prefix: '/ort/', dir: ORT_DIST },
    { prefix: '/deno/', dir: join(ROOT, 'test', 'deno') },
    { prefix: '/', dir: join(ROOT, 'test', 'browser') },
  ], CSP);
  closers.push(() => server.close());
  const browser = await launchChromium(NO_GPU_FLAGS);
  closers.push(() => browser.close());
  const page = await browser.context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/favicon/.test(m.text()) && !/status of 404/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  await page.goto(`${server.origin}/index.html`);
  await page.waitForFunction(() => (globalThis as { tintaReady?: boolean }).tintaReady === true, null, { timeout: 60_000 });

  const runs = await runInPage(page, {
    model: '/fixture/video-model.onnx', width: W, height: H, count: COUNT,
    stream: { smoothing: 0 }, iterate: { smoothing: SMOOTHING }, asImageData: true, extra: { backend: 'wasm', wasmPaths: '/ort/' },
  });
  checkClipRuns(t, runs, { width: W, height: H, count: COUNT, reference, frames: (run) => (k) => new Uint8Array(Buffer.from(run.rgba![k]!, 'base64')) });
  assert.deepEqual(errors, []);
  // The browser's own favicon request is the only thing this server did not have (its 404 is left out of `errors` above).
  assert.deepEqual(server.log.filter((l) => l.status !== 200 && l.path !== '/favicon.ico'), []);
  // The worker was started from dist as published, and ORT's files came from wasmPaths.
  const served = new Set(server.log.filter((l) => l.status === 200).map((l) => l.path));
  for (const p of ['/dist/worker/entry-browser.js', '/ort/ort-wasm-simd-threaded.jsep.wasm']) assert.ok(served.has(p), `${p} was served`);
});
