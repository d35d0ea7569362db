// The web demo's Video tab (demos/web/video.js) in headless Chromium, served by the demo server.
// The test clip is made in the page: 8 frames of 96x64 (a grayscale photo panning 4 px a frame)
// encoded at 10 fps with WebCodecs and written as WebM by the demo's own encode.js/webm.js; the
// tab gets it through its file input, colorizes it with the shipped model (wasm) taking frames by
// playback (requestVideoFrameCallback), then again by seeking, and the downloaded WebM is decoded
// in the page frame by frame. Checked: frame count and size, colour (mean Lab chroma), that
// output frame k is source frame k (lightness), that both ways of taking frames agree, a stacked
// model picked as a file (latency 1), stopping a run, a clip recorded with MediaRecorder dropped
// on the photo tab, a file that is no video, and no console errors. Screenshot: test-artifacts/demos-video.png.
// The offline list (demos/precache.ts) is checked to hold the tab's modules.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { startDemoServer, webPrecache, type DemoServer } from '../demos/serve.ts';
import { rgba8ToLab } from '../sdk/color/index.ts';
import { ensureDist } from './sdk-dist-build.ts';
import { countOff } from './sdk-dist-compare.ts';
import { buildStackModel } from './video-fixtures.ts';
import { chromiumGate, launchChromium, NO_GPU_FLAGS } from './browser/chromium.ts';
import { ARTIFACTS, collectErrors, decodeRgba, dropFile, grayPhoto, MIN_CHROMA, meanChroma, meanLightnessDiff, readCanvas, screenshot } from './demos/helpers.ts';

const W = 96, H = 64, N = 8, FPS = 10;
const LOAD_MS = 300_000; // first model load on wasm with two busy cores: generous

const chromium = chromiumGate();
const skip = chromium.skip;

/** The source frames: a grayscale photo 128 px wide, seen through a 96 px window moving 4 px a frame. */
let sources: Uint8Array[] = [];
const closers: (() => Promise<void>)[] = [];

before(async () => {
  if (skip) return;
  await ensureDist();
  const wide = W + 4 * N;
  const { data } = await decodeRgba(await grayPhoto(wide, H, 'coffee.jpg'));
  sources = Array.from({ length: N }, (_, i) => {
    const f = new Uint8Array(W * H * 4);
    for (let y = 0; y < H; y++) f.set(data.subarray((y * wide + 4 * i) * 4, (y * wide + 4 * i + W) * 4), y * W * 4);
    return f;
  });
});

after(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

const b64 = (bytes: Uint8Array): string => Buffer.from(bytes).toString('base64');
const unb64 = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'base64'));

/** Mean |L1 - L2| over the frame. */
const dL = (x: Uint8Array, y: Uint8Array): number => meanLightnessDiff(x, y, W, H);
/** The source frame whose lightness is closest to `rgba`'s, and how close. */
function closestSource(rgba: Uint8Array): { index: number; diff: number } {
  let best = { index: -1, diff: Infinity };
  sources.forEach((s, index) => {
    const diff = dL(s, rgba);
    if (diff < best.diff) best = { index, diff };
  });
  return best;
}

interface VideoState { state?: string; frames: number; total: number; sought: number; grab?: string; latency?: string; modelFrames?: string; download?: string; errorCode?: string; status: string; timings: string }

const videoState = (page: Page): Promise<VideoState> =>
  page.evaluate(() => {
    const d = document.getElementById('video')!.dataset;
    return {
      state: d.state, frames: Number(d.frames), total: Number(d.total), sought: Number(d.sought), grab: d.grab, latency: d.latency, modelFrames: d.modelFrames,
      download: d.download, errorCode: d.errorCode, status: document.getElementById('video-status')!.textContent ?? '', timings: document.getElementById('video-timings')!.textContent ?? '',
    };
  });

/** Waits for the video tab to finish (done or error) after `act` starts a run. */
async function runVideo(page: Page, act: () => Promise<void>): Promise<VideoState> {
  // A marker state, so a 'done' left from the previous run does not count.
  await page.evaluate(() => { document.getElementById('video')!.dataset.state = 'test-waiting'; });
  await act();
  await page.waitForFunction(() => ['done', 'error', 'stopped'].includes(document.getElementById('video')!.dataset.state ?? ''), null, { timeout: LOAD_MS, polling: 100 });
  return videoState(page);
}

/** Encodes RGBA frames (W x H) at FPS in the page with the demo's encode.js: the WebM bytes. */
async function encodeInPage(page: Page, frames: Uint8Array[]): Promise<Uint8Array> {
  const out = await page.evaluate(async ({ frames, width, height, fps }) => {
    const url = '/encode.js';
    const { openWebmEncoder } = await import(url);
    const enc = await openWebmEncoder({ width, height, fps });
    const canvas = document.createElement('canvas');
    Object.assign(canvas, { width, height });
    const ctx = canvas.getContext('2d')!;
    for (let i = 0; i < frames.length; i++) {
      const bytes = Uint8ClampedArray.from(atob(frames[i]!), (c) => c.charCodeAt(0));
      ctx.putImageData(new ImageData(bytes, width, height), 0, 0);
      enc.add(canvas, i);
    }
    const blob: Blob = await enc.finish();
    enc.close();
    const data = new Uint8Array(await blob.arrayBuffer());
    let s = '';
    for (let i = 0; i < data.length; i += 0x8000) s += String.fromCharCode(...data.subarray(i, i + 0x8000));
    return { codec: enc.codec as string, webm: btoa(s) };
  }, { frames: frames.map(b64), width: W, height: H, fps: FPS });
  assert.ok(['vp8', 'vp9'].includes(out.codec), out.codec);
  return unb64(out.webm);
}

/** Decodes a WebM in the page: its duration, size, and the frame on screen at (k + 0.5) / FPS for each k. */
async function decodeInPage(page: Page, webm: Uint8Array, count: number): Promise<{ duration: number; width: number; height: number; frames: Uint8Array[] }> {
  const r = await page.evaluate(async ({ webm, count, fps }) => {
    const bytes = Uint8Array.from(atob(webm), (c) => c.charCodeAt(0));
    const v = document.createElement('video');
    v.muted = true;
    v.src = URL.createObjectURL(new Blob([bytes], { type: 'video/webm' }));
    await new Promise((resolve, reject) => { v.onloadedmetadata = resolve; v.onerror = () => reject(new Error(`not decodable: ${v.error?.message}`)); });
    const canvas = document.createElement('canvas');
    Object.assign(canvas, { width: v.videoWidth, height: v.videoHeight });
    const ctx = canvas.getContext('2d', { willReadFrequently: true })!;
    const frames: string[] = [];
    for (let k = 0; k < count; k++) {
      await new Promise((resolve) => { v.onseeked = resolve; v.currentTime = (k + 0.5) / fps; });
      // On a busy machine 'seeked' can come before the frame is decoded, and drawing then draws
      // nothing: the canvas stays transparent (a decoded frame is opaque), so draw until it is there.
      let d = new Uint8ClampedArray(4);
      for (let waited = 0; d[3] === 0 && waited < 20_000; waited += 10) {
        if (waited > 0) await new Promise((resolve) => setTimeout(resolve, 10));
        ctx.clearRect(0, 0, canvas.width, canvas.height);
        ctx.drawImage(v, 0, 0);
        d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      }
      let s = '';
      for (let i = 0; i < d.length; i += 0x8000) s += String.fromCharCode(...d.subarray(i, i + 0x8000));
      frames.push(btoa(s));
    }
    return { duration: v.duration, width: v.videoWidth, height: v.videoHeight, frames };
  }, { webm: b64(webm), count, fps: FPS });
  return { ...r, frames: r.frames.map(unb64) };
}

async function downloadBytes(page: Page): Promise<{ name: string; bytes: Uint8Array }> {
  const [download] = await Promise.all([page.waitForEvent('download'), page.click('#video-download')]);
  return { name: download.suggestedFilename(), bytes: new Uint8Array(readFileSync((await download.path())!)) };
}

test('the offline list holds the video tab and its modules', () => {
  const urls = webPrecache().urls;
  for (const p of ['/video.js', '/frames.js', '/encode.js', '/webm.js', '/tabs.js']) assert.ok(urls.includes(p), `${p} is precached`);
});

test('Chromium is available for the video tab tests', (t) => chromium.check(t));

test('the video tab colorizes a WebM clip (wasm, shipped model): frames by playback and by seeking, side by side, WebM download, stop; a stacked model; a MediaRecorder clip dropped; a non-video', { skip, timeout: 600_000 }, async (t) => {
  const server: DemoServer = await startDemoServer({ port: 0 });
  closers.push(() => server.close());
  const browser = await launchChromium(NO_GPU_FLAGS);
  closers.push(() => browser.close());
  const page = await browser.context.newPage();
  const errors = collectErrors(page);
  await page.goto(`${server.origin}/?backend=wasm#video`);
  assert.equal(await page.locator('#video').isVisible(), true, '#video opens the video tab');
  assert.equal(await page.locator('#photo-tab').isVisible(), false);

  const t0 = Date.now();
  const clip = await encodeInPage(page, sources);
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(join(ARTIFACTS, 'demos-video-input.webm'), clip);
  t.diagnostic(`test clip: ${clip.length} bytes of WebM, ${N} frames ${W}x${H} at ${FPS} fps (made in ${Date.now() - t0} ms)`);

  // 1. Frames by playback (the default where requestVideoFrameCallback exists), smoothing 0.5.
  let t1 = Date.now();
  const played = await runVideo(page, () => page.setInputFiles('#video-file', { name: 'pan.webm', mimeType: 'video/webm', buffer: Buffer.from(clip) }));
  t.diagnostic(`playback run: ${played.status} | ${played.timings} | ${Date.now() - t1} ms`);
  // Frame 0 is always taken by seeking; more when the page was too busy to see a frame go by (on a
  // loaded machine that can be all of them, so how many is not asserted).
  assert.ok(played.sought >= 1 && played.sought <= N, `${played.sought} of ${N} frames by seeking`);
  assert.equal(played.state, 'done', played.status);
  assert.deepEqual([played.grab, played.total, played.frames, played.latency, played.modelFrames], ['play', N, N, '0', '1']);
  const result = await readCanvas(page, '#video-result');
  const original = await readCanvas(page, '#video-original');
  assert.deepEqual([result.width, result.height, original.width, original.height], [W, H, W, H]);
  const chroma = meanChroma(result.data, W, H);
  t.diagnostic(`last frame: mean chroma ${chroma.toFixed(2)} (original ${meanChroma(original.data, W, H).toFixed(2)}), |dL| to its original ${dL(result.data, original.data).toFixed(2)}`);
  assert.ok(chroma > MIN_CHROMA, `the colorized frame is coloured: mean chroma ${chroma.toFixed(2)} > ${MIN_CHROMA}`);
  // Side by side: the original shown is the frame that was colorized (the colorization keeps L).
  assert.ok(dL(result.data, original.data) < 2, `original and colorized are the same frame (mean |dL| ${dL(result.data, original.data).toFixed(2)})`);
  assert.equal(closestSource(result.data).index, N - 1, 'the last frame shown is the last frame of the clip');
  assert.match(played.timings, /wasm in a worker .*96x64 at 10 fps, frames by playback \(\d+ by seeking\) .*frames\/s .*network \d+/);
  await screenshot(page, 'demos-video');

  // The download: a WebM of N frames at 10 fps, frame k = source frame k, coloured.
  assert.equal(played.download, 'ready');
  const first = await downloadBytes(page);
  assert.equal(first.name, 'pan.colorized.webm');
  writeFileSync(join(ARTIFACTS, 'demos-video-output.webm'), first.bytes);
  const decoded = await decodeInPage(page, first.bytes, N);
  assert.deepEqual([decoded.width, decoded.height], [W, H]);
  assert.ok(Math.abs(decoded.duration - N / FPS) < 0.01, `duration ${decoded.duration} s`);
  const chromas = decoded.frames.map((f) => meanChroma(f, W, H));
  t.diagnostic(`downloaded frames: mean chroma ${chromas.map((c) => c.toFixed(1)).join(' ')}; closest source ${decoded.frames.map((f) => closestSource(f).index).join(' ')}`);
  // Playback takes the frame the browser presents when it can keep up; on a busy machine a late
  // callback may hand over a neighbour, so here frames are in order and within one of their slot.
  // The seeking run below is frame-exact.
  let previous = 0;
  decoded.frames.forEach((f, k) => {
    const near = closestSource(f);
    assert.ok(Math.abs(near.index - k) <= 1 && near.index >= previous, `downloaded frame ${k} is source frame ${k} or a neighbour, in order (closest: ${near.index}, mean |dL| ${near.diff.toFixed(2)})`);
    previous = near.index;
    assert.ok(chromas[k]! > MIN_CHROMA, `downloaded frame ${k} is coloured (${chromas[k]!.toFixed(2)})`);
  });

  // 2. Frames by seeking: the same frames, so the same colours.
  await page.selectOption('#video-grab', 'seek');
  t1 = Date.now();
  const sought = await runVideo(page, () => page.click('#video-run'));
  t.diagnostic(`seeking run: ${sought.status} | ${Date.now() - t1} ms`);
  assert.equal(sought.state, 'done', sought.status);
  assert.deepEqual([sought.grab, sought.total, sought.frames], ['seek', N, N]);
  const again = await readCanvas(page, '#video-result');
  const off = countOff(result.data, again.data);
  assert.ok(off <= W * H * 0.001, `playback and seeking give the same last frame (${off} pixels differ by more than 1/255)`);
  const exact = await decodeInPage(page, (await downloadBytes(page)).bytes, N);
  exact.frames.forEach((f, k) => {
    const near = closestSource(f);
    assert.equal(near.index, k, `seeking: downloaded frame ${k} is source frame ${k} (closest: ${near.index}, mean |dL| ${near.diff.toFixed(2)})`);
  });

  // Stop: at 30 fps the clip has 24 frames; stopping after the first leaves the rest undone, and the page still works.
  await page.fill('#video-fps', '30');
  await page.click('#video-run');
  await page.waitForFunction(() => Number(document.getElementById('video')!.dataset.frames) >= 1 && document.getElementById('video')!.dataset.state === 'busy', null, { timeout: LOAD_MS, polling: 50 });
  await page.click('#video-stop');
  await page.waitForFunction(() => ['stopped', 'done', 'error'].includes(document.getElementById('video')!.dataset.state ?? ''), null, { timeout: 60_000 });
  const halted = await videoState(page);
  t.diagnostic(`stop: ${halted.status}`);
  assert.equal(halted.state, 'stopped', halted.status);
  assert.ok(halted.frames >= 1 && halted.frames < halted.total && halted.total === 24, `${halted.frames} of ${halted.total} frames before the stop`);
  assert.equal(halted.download, undefined, 'a stopped run offers no download');
  await page.fill('#video-fps', String(FPS));

  // 3. A stacked model picked as a file: its metadata says 3 frames, so one frame of latency; still N frames out.
  await page.selectOption('#video-grab', 'auto');
  const stacked = await runVideo(page, () => page.setInputFiles('#video-model-file', { name: 'stack3.onnx', mimeType: 'application/octet-stream', buffer: Buffer.from(buildStackModel([0.25, 0.5, 0.25])) }));
  t.diagnostic(`stacked model: ${stacked.status} | ${stacked.timings}`);
  assert.equal(stacked.state, 'done', stacked.status);
  assert.deepEqual([stacked.modelFrames, stacked.latency, stacked.frames, stacked.total], ['3', '1', N, N]);
  assert.match(await page.locator('#video-model-note').textContent() ?? '', /stacked model: each frame is colorized from 3 frames/);
  assert.match(stacked.timings, /latency 1 frame/);
  const stackedLast = await readCanvas(page, '#video-result');
  assert.equal(closestSource(stackedLast.data).index, N - 1, 'the flush put out the last frame');
  assert.ok(dL(stackedLast.data, (await readCanvas(page, '#video-original')).data) < 2, 'with latency, the original shown still matches the colorized frame');
  assert.ok(meanChroma(stackedLast.data, W, H) > MIN_CHROMA, `the stacked test model colours the frame (${meanChroma(stackedLast.data, W, H).toFixed(2)})`);

  // 4. A clip recorded with MediaRecorder (another muxer, wall-clock timestamps) dropped on the photo tab: the video tab opens and takes it.
  await page.selectOption('#video-grab', 'seek');
  await page.click('#tab-photo');
  assert.equal(await page.locator('#video').isVisible(), false);
  const recorded = unb64(await page.evaluate(async ({ frames, width, height, fps }) => {
    const canvas = document.createElement('canvas');
    Object.assign(canvas, { width, height });
    const ctx = canvas.getContext('2d')!;
    const stream = canvas.captureStream(0);
    const track = stream.getVideoTracks()[0] as MediaStreamTrack & { requestFrame(): void };
    const rec = new MediaRecorder(stream, { mimeType: 'video/webm;codecs=vp8', videoBitsPerSecond: 2_000_000 });
    const chunks: Blob[] = [];
    rec.ondataavailable = (e) => chunks.push(e.data);
    const stopped = new Promise((resolve) => { rec.onstop = resolve; });
    rec.start();
    for (const f of frames) {
      ctx.putImageData(new ImageData(Uint8ClampedArray.from(atob(f), (c) => c.charCodeAt(0)), width, height), 0, 0);
      track.requestFrame();
      await new Promise((resolve) => setTimeout(resolve, 1000 / fps));
    }
    rec.stop();
    await stopped;
    const data = new Uint8Array(await new Blob(chunks).arrayBuffer());
    let s = '';
    for (let i = 0; i < data.length; i += 0x8000) s += String.fromCharCode(...data.subarray(i, i + 0x8000));
    return btoa(s);
  }, { frames: sources.map(b64), width: W, height: H, fps: FPS }));
  const dropped = await runVideo(page, () => dropFile(page, '#drop', recorded, 'recorded.webm', 'video/webm'));
  t.diagnostic(`MediaRecorder clip (${recorded.length} bytes): ${dropped.status}`);
  assert.equal(dropped.state, 'done', dropped.status);
  assert.equal(await page.locator('#video').isVisible(), true, 'a dropped video opens the video tab');
  // Wall-clock timestamps: the recorded length may be a frame short or long.
  assert.ok(Math.abs(dropped.frames - N) <= 1 && dropped.frames === dropped.total, `${dropped.frames} of ${dropped.total} frames`);
  const droppedLast = await readCanvas(page, '#video-result');
  assert.ok(meanChroma(droppedLast.data, W, H) > MIN_CHROMA, `coloured (${meanChroma(droppedLast.data, W, H).toFixed(2)})`);
  assert.notEqual(await page.evaluate(() => document.getElementById('app')!.dataset.state), 'error', 'the photo tab did not take the video');

  // 5. A file that is no video: a typed error; the photo tab is untouched.
  const bad = await runVideo(page, () => page.setInputFiles('#video-file', { name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not a video') }));
  assert.equal(bad.state, 'error');
  assert.equal(bad.errorCode, 'IMAGE_UNSUPPORTED');
  assert.match(bad.status, /"notes\.txt" could not be played by this browser/);

  assert.deepEqual(errors, []);
});
