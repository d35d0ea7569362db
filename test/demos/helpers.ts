/**
 * Shared by the demo tests: a small grayscale test photo made with sharp, colour measures from
 * the colour core (sdk/color), and page helpers (drop a file, read a canvas back, collect
 * console errors, save screenshots under test-artifacts/).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import type { Page } from 'playwright-core';
import { rgba8ToLab } from '../../sdk/color/index.ts';
import { ROOT } from '../sdk-dist-build.ts';

/** Where screenshots go (git-ignored). */
export const ARTIFACTS = join(ROOT, 'test-artifacts');

/**
 * The shipped model's measured mean Lab chroma on grayscale photos is about 8.5-12 (96x64 copies
 * of the four examples/, Node native, temperature 0.38); a gray image has 0. Half of the weakest
 * case leaves room for wasm/WebGPU rounding and other photos while a gray or washed-out output fails.
 */
export const MIN_CHROMA = 4;
/** A gray image's mean chroma stays below this (8-bit rounding gives at most a few tenths). */
export const MAX_GRAY_CHROMA = 1;

/** A grayscale JPEG (width x height) of one of the repository's example photos. */
export async function grayPhoto(width = 96, height = 64, example = 'coffee.jpg'): Promise<Buffer> {
  return sharp(join(ROOT, 'examples', example)).resize(width, height, { fit: 'cover' }).grayscale().jpeg({ quality: 92 }).toBuffer();
}

/** RGBA pixels of an encoded image (sRGB, alpha added). */
export async function decodeRgba(bytes: Uint8Array): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(bytes).toColourspace('srgb').ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 4) throw new Error(`expected RGBA, got ${info.channels} channels`);
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height };
}

/** Mean CIE Lab chroma sqrt(a² + b²) of RGBA pixels. */
export function meanChroma(rgba: Uint8Array | Uint8ClampedArray, width: number, height: number): number {
  const lab = rgba8ToLab(rgba, width, height);
  let sum = 0;
  for (let i = 0; i < lab.a.length; i++) sum += Math.hypot(lab.a[i]!, lab.b[i]!);
  return sum / lab.a.length;
}

/** Mean |L1 - L2| of two RGBA images of the same size. */
export function meanLightnessDiff(x: Uint8Array | Uint8ClampedArray, y: Uint8Array | Uint8ClampedArray, width: number, height: number): number {
  const a = rgba8ToLab(x, width, height).L, b = rgba8ToLab(y, width, height).L;
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += Math.abs(a[i]! - b[i]!);
  return sum / a.length;
}

/** A canvas's pixels, read in the page. `shadowHost` reads a canvas inside that element's shadow root. */
export async function readCanvas(page: Page, selector: string, shadowHost?: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const r = await page.evaluate(({ selector, shadowHost }) => {
    const root: ParentNode | null | undefined = shadowHost ? document.querySelector(shadowHost)?.shadowRoot : document;
    const canvas = root?.querySelector(selector) as HTMLCanvasElement | null;
    if (!canvas) throw new Error(`no canvas ${selector}`);
    const { width, height } = canvas;
    if (width === 0 || height === 0) return { b64: '', width, height };
    const bytes = canvas.getContext('2d')!.getImageData(0, 0, width, height).data;
    let s = '';
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
    return { b64: btoa(s), width, height };
  }, { selector, shadowHost });
  return { data: new Uint8Array(Buffer.from(r.b64, 'base64')), width: r.width, height: r.height };
}

/** Drops a file on `selector` the way a drag from the desktop does (a drop event carrying a DataTransfer). */
export async function dropFile(page: Page, selector: string, bytes: Uint8Array, name: string, type: string): Promise<void> {
  const dataTransfer = await page.evaluateHandle(({ b64, name, type }) => {
    const bin = atob(b64);
    const data = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) data[i] = bin.charCodeAt(i);
    const dt = new DataTransfer();
    dt.items.add(new File([data], name, { type }));
    return dt;
  }, { b64: Buffer.from(bytes).toString('base64'), name, type });
  await page.dispatchEvent(selector, 'dragover', { dataTransfer });
  await page.dispatchEvent(selector, 'drop', { dataTransfer });
  await dataTransfer.dispose();
}

/** Console errors and uncaught exceptions of `page`, collected from now on. */
export function collectErrors(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/favicon/.test(m.text())) errors.push(`console: ${m.text()}`);
  });
  return errors;
}

/** Saves a full-page screenshot as test-artifacts/NAME.png. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
