// The same without a custom element: a page script that calls the SDK directly, colorizing every
// <img data-tinta> on the page into a canvas placed after it. This is all an app needs:
// createColorizer() once, then colorize() per image (an <img>, a canvas, a Blob or a URL).
import { createColorizer, SHIPPED_MODELS } from '../dist/browser.js';

const status = document.getElementById('plain-status');
const shipped = SHIPPED_MODELS.default;

try {
  const colorizer = await createColorizer({
    model: new URL(`../models/${shipped.file}`, import.meta.url).href,
    sha256: shipped.sha256,
    wasmPaths: new URL('../ort/', import.meta.url).href, // self-hosted ONNX Runtime files
    cache: false,
  });
  for (const img of document.querySelectorAll('img[data-tinta]')) {
    await img.decode();
    const r = await colorizer.colorize(img);
    const canvas = document.createElement('canvas');
    canvas.width = r.width;
    canvas.height = r.height;
    canvas.className = 'tinta-result';
    canvas.getContext('2d').putImageData(r.toImageData(), 0, 0);
    img.after(canvas);
  }
  status.dataset.state = 'done';
  status.textContent = `Colorized on ${colorizer.provider}.`;
} catch (e) {
  status.dataset.state = 'error';
  status.textContent = `${e?.message ?? e}${e?.code ? ` [${e.code}]` : ''}`;
}
