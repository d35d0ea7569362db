// The embed demo (demos/embed) in headless Chromium, served by the demo server: the
// <tinta-colorize src="…"> element colorizes its photo, a grayscale photo dropped on an element
// without src comes out coloured (mean Lab chroma above MIN_CHROMA, lightness kept), attributes
// re-render it (saturation="0" gives gray), a missing photo gives a typed `tinta-error`, and the
// plain-script example colorizes its <img>. No console errors. Screenshot: test-artifacts/demos-embed.png.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Page } from 'playwright-core';
import { startDemoServer, type DemoServer } from '../demos/serve.ts';
import { ensureDist } from './sdk-dist-build.ts';
import { chromiumGate, launchChromium, NO_GPU_FLAGS } from './browser/chromium.ts';
import { collectErrors, decodeRgba, dropFile, grayPhoto, MAX_GRAY_CHROMA, meanChroma, meanLightnessDiff, MIN_CHROMA, readCanvas, screenshot } from './demos/helpers.ts';

const W = 96, H = 64;
const LOAD_MS = 300_000;

const chromium = chromiumGate();
const skip = chromium.skip;

const closers: (() => Promise<void>)[] = [];
let server: DemoServer;
let page: Page;
let errors: string[];

before(async () => {
  if (skip) return;
  await ensureDist();
  server = await startDemoServer({ port: 0 });
  closers.push(() => server.close());
  const browser = await launchChromium(NO_GPU_FLAGS);
  closers.push(() => browser.close());
  page = await browser.context.newPage();
  errors = collectErrors(page);
  await page.goto(`${server.origin}/embed/`);
});

after(async () => {
  for (const close of closers.reverse()) await close().catch(() => undefined);
});

const elementState = (id: string): Promise<string | null> => page.evaluate((id) => document.getElementById(id)!.getAttribute('state'), id);

async function waitForElement(id: string, timeout = LOAD_MS): Promise<void> {
  await page.waitForFunction((id) => ['done', 'error'].includes(document.getElementById(id)?.getAttribute('state') ?? ''), id, { timeout, polling: 100 });
  const caption = await page.evaluate((id) => document.getElementById(id)!.shadowRoot!.querySelector('p')!.textContent, id);
  assert.equal(await elementState(id), 'done', `<tinta-colorize id="${id}"> failed: ${caption}`);
}

/** Runs `change` in the page and resolves with the detail of the element's next tinta-colorized / tinta-error event. */
function nextEvent(id: string, change: string): Promise<{ type: string; detail: { provider?: string; code?: string; message?: string } }> {
  return page.evaluate(({ id, change }) => new Promise((resolve) => {
    const el = document.getElementById(id)!;
    // Inline arrows only: tsx would wrap a named function in a helper the page does not have.
    // A listener left over from an earlier call resolves an already settled promise: a no-op.
    for (const type of ['tinta-colorized', 'tinta-error']) {
      el.addEventListener(type, (e) => resolve({ type: e.type, detail: (e as CustomEvent).detail }), { once: true });
    }
    // The change to make, as [attribute, value] (null removes it).
    const [name, value] = JSON.parse(change) as [string, string | null];
    if (value === null) el.removeAttribute(name);
    else el.setAttribute(name, value);
  }), { id, change });
}

test('Chromium is available for the embed demo test', (t) => chromium.check(t));

test('<tinta-colorize> colorizes its src and a dropped photo; attributes re-render it; the plain script colorizes its <img>', { skip, timeout: 600_000 }, async (t) => {
  // The element with src="../examples/cameraman.jpg" (a real black-and-white photo).
  await waitForElement('photo');
  const cameraman = await readCanvas(page, 'canvas', '#photo');
  const cameramanChroma = meanChroma(cameraman.data, cameraman.width, cameraman.height);
  assert.deepEqual([cameraman.width, cameraman.height], [384, 384]);
  assert.ok(cameramanChroma > MIN_CHROMA, `cameraman.jpg is coloured: mean chroma ${cameramanChroma.toFixed(2)}`);

  // A grayscale photo dropped on the element that has no src.
  assert.equal(await elementState('dropzone'), 'empty');
  const photo = await grayPhoto(W, H, 'chelsea.jpg');
  await dropFile(page, '#dropzone', photo, 'cat.jpg', 'image/jpeg');
  await waitForElement('dropzone');
  const dropped = await readCanvas(page, 'canvas', '#dropzone');
  assert.deepEqual([dropped.width, dropped.height], [W, H]);
  const chroma = meanChroma(dropped.data, W, H);
  const input = await decodeRgba(photo);
  assert.ok(meanChroma(input.data, W, H) < MAX_GRAY_CHROMA, 'the dropped photo is gray');
  assert.ok(chroma > MIN_CHROMA, `the dropped photo comes out coloured: mean chroma ${chroma.toFixed(2)}`);
  const dL = meanLightnessDiff(input.data, dropped.data, W, H);
  assert.ok(dL < 2, `its lightness is kept (mean |dL| ${dL.toFixed(2)})`);

  // Attributes re-render: saturation="0" is gray, back to 1.2 is coloured again.
  const gray = await nextEvent('dropzone', JSON.stringify(['saturation', '0']));
  assert.equal(gray.type, 'tinta-colorized', JSON.stringify(gray.detail));
  assert.equal(gray.detail.provider, 'wasm', "backend 'auto' without a GPU runs wasm");
  const flat = meanChroma((await readCanvas(page, 'canvas', '#dropzone')).data, W, H);
  assert.ok(flat < MAX_GRAY_CHROMA, `saturation="0" gives gray (${flat.toFixed(3)})`);
  await nextEvent('dropzone', JSON.stringify(['saturation', '1.2']));
  const again = meanChroma((await readCanvas(page, 'canvas', '#dropzone')).data, W, H);
  assert.ok(Math.abs(again - chroma) < 0.5, `saturation="1.2" again gives the first colours (${again.toFixed(2)} vs ${chroma.toFixed(2)})`);

  // Bad attributes: a typed error event, and the element says so.
  const bad = await nextEvent('dropzone', JSON.stringify(['temperature', 'warm']));
  assert.deepEqual([bad.type, bad.detail.code], ['tinta-error', 'BAD_ARGUMENT']);
  assert.equal(await elementState('dropzone'), 'error');

  // The plain-script example.
  await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('plain-status')?.dataset.state ?? ''), null, { timeout: LOAD_MS });
  assert.equal(await page.evaluate(() => document.getElementById('plain-status')!.dataset.state), 'done', (await page.locator('#plain-status').textContent()) ?? '');
  const plain = await readCanvas(page, '#plain canvas.tinta-result');
  const plainChroma = meanChroma(plain.data, plain.width, plain.height);
  assert.ok(plainChroma > MIN_CHROMA, `the plain script's result is coloured: ${plainChroma.toFixed(2)}`);
  t.diagnostic(`mean chroma: cameraman ${cameramanChroma.toFixed(2)}, dropped ${chroma.toFixed(2)} (saturation 0: ${flat.toFixed(3)}), plain script ${plainChroma.toFixed(2)}`);

  await page.evaluate(() => document.getElementById('dropzone')!.setAttribute('temperature', '0.38'));
  await waitForElement('dropzone');
  await screenshot(page, 'demos-embed');
  assert.deepEqual(errors, []);
});

test('<tinta-colorize> with a missing photo fires tinta-error IMAGE_NOT_FOUND', { skip, timeout: 120_000 }, async () => {
  await page.evaluate(() => {
    const el = document.createElement('tinta-colorize');
    el.id = 'missing';
    document.querySelector('main')!.append(el);
  });
  const r = await nextEvent('missing', JSON.stringify(['src', '/examples/no-such-photo.jpg']));
  assert.deepEqual([r.type, r.detail.code], ['tinta-error', 'IMAGE_NOT_FOUND']);
  assert.match(r.detail.message ?? '', /no-such-photo\.jpg: HTTP 404/);
  // The browser itself logs the 404 of the fetch; nothing else may be logged.
  assert.deepEqual(errors.filter((e) => !/status of 404/.test(e)), []);
});
