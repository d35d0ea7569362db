// <tinta-colorize>: a custom element a third-party page drops in to show a photo colorized.
//
//   <script type="module" src="/embed/tinta-colorize.js"></script>
//   <tinta-colorize src="old.jpg" temperature="0.3"></tinta-colorize>
//
// Attributes: src (the photo; a photo dropped on the element replaces it), model (a shipped model
// name such as "default", or the URL of a .onnx file), temperature, saturation, backend
// ("auto", "wasm", "webgpu"). Elements with the same model and backend share one colorizer
// (one model load, one worker). The element reflects its progress in its `state` attribute
// (loading, busy, done, error) and fires `tinta-colorized` (detail: provider, timings, width,
// height) or `tinta-error` (detail: code, message). The SDK, ONNX Runtime's files and the shipped
// models are found relative to this file (../dist/, ../ort/, ../models/): host them together.
import { createColorizer, ErrorCodes, SHIPPED_MODELS, TintaError } from '../dist/browser.js';

const HERE = import.meta.url;
const WASM_PATHS = new URL('../ort/', HERE).href;
const colorizers = new Map(); // "model url|backend" -> Promise of a colorizer

/** The model URL and expected hash for a `model` attribute: a shipped name, else a URL. */
function modelFor(name) {
  const shipped = Object.prototype.hasOwnProperty.call(SHIPPED_MODELS, name) ? SHIPPED_MODELS[name] : null;
  if (shipped) return { url: new URL(`../models/${shipped.file}`, HERE).href, sha256: shipped.sha256 ?? undefined };
  return { url: new URL(name, document.baseURI).href, sha256: undefined };
}

function colorizerFor(modelName, backend) {
  const model = modelFor(modelName);
  const key = `${model.url}|${backend}`;
  let c = colorizers.get(key);
  if (!c) {
    c = createColorizer({ model: model.url, ...(model.sha256 ? { sha256: model.sha256 } : {}), backend, wasmPaths: WASM_PATHS, cache: false });
    colorizers.set(key, c);
    // A failed load is not kept: the next element (or attribute change) tries again.
    c.catch(() => colorizers.delete(key));
  }
  return c;
}

function numberAttr(el, name) {
  const v = el.getAttribute(name);
  if (v === null || v.trim() === '') return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `<tinta-colorize> ${name}="${v}" is not a number.`);
  return n;
}

const STYLE = `
:host { display: inline-block; position: relative; min-width: 8rem; min-height: 4rem; border-radius: 0.4rem; overflow: hidden; background: #8881; }
:host([state="busy"]) canvas, :host([state="loading"]) canvas { opacity: 0.6; }
:host(.over) { outline: 3px dashed #2a7; }
canvas { display: block; width: 100%; height: auto; }
p { position: absolute; inset: auto 0 0 0; margin: 0; padding: 0.2rem 0.5rem; font: 0.8rem system-ui, sans-serif; background: #000a; color: #fff; }
p:empty { display: none; }
`;

/** The element. */
export class TintaColorize extends HTMLElement {
  static observedAttributes = ['src', 'model', 'temperature', 'saturation', 'backend'];

  #canvas;
  #caption;
  #dropped = null; // a File dropped on the element, which replaces src
  #run = 0; // only the latest render paints
  #scheduled = false;
  /** The last result (ColorizeResult), or null. */
  result = null;

  constructor() {
    super();
    const root = this.attachShadow({ mode: 'open' });
    const style = document.createElement('style');
    style.textContent = STYLE;
    this.#canvas = document.createElement('canvas');
    this.#canvas.setAttribute('part', 'canvas');
    this.#caption = document.createElement('p');
    this.#caption.setAttribute('part', 'status');
    root.append(style, this.#canvas, this.#caption);
    this.addEventListener('dragover', (e) => {
      e.preventDefault();
      this.classList.add('over');
    });
    this.addEventListener('dragleave', () => this.classList.remove('over'));
    this.addEventListener('drop', (e) => {
      e.preventDefault();
      e.stopPropagation();
      this.classList.remove('over');
      const file = e.dataTransfer?.files?.[0];
      if (file) {
        this.#dropped = file;
        this.#schedule();
      }
    });
  }

  /** The canvas showing the photo (then its colorization). */
  get canvas() {
    return this.#canvas;
  }

  connectedCallback() {
    this.#schedule();
  }

  attributeChangedCallback(name) {
    if (name === 'src') this.#dropped = null;
    if (this.isConnected) this.#schedule();
  }

  // Several attributes set in a row give one render.
  #schedule() {
    if (this.#scheduled) return;
    this.#scheduled = true;
    queueMicrotask(() => {
      this.#scheduled = false;
      void this.#render();
    });
  }

  #setState(state, text) {
    this.setAttribute('state', state);
    this.#caption.textContent = text;
  }

  async #render() {
    const run = ++this.#run;
    const src = this.getAttribute('src');
    if (!this.#dropped && !src) {
      this.#setState('empty', 'Drop a photo here');
      return;
    }
    try {
      const options = { temperature: numberAttr(this, 'temperature'), saturation: numberAttr(this, 'saturation') };
      for (const k of Object.keys(options)) if (options[k] === undefined) delete options[k];
      this.#setState('loading', 'Loading…');
      const blob = this.#dropped ?? (await this.#fetch(new URL(src, document.baseURI)));
      // Show the photo at once; the colorization replaces it.
      const bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image' }).catch((e) => {
        throw new TintaError(ErrorCodes.IMAGE_UNSUPPORTED, `The photo could not be decoded (${e?.message ?? e}); use a JPEG, PNG or WebP.`);
      });
      if (run !== this.#run) return bitmap.close();
      this.#canvas.width = bitmap.width;
      this.#canvas.height = bitmap.height;
      this.#canvas.getContext('2d').drawImage(bitmap, 0, 0);
      bitmap.close();
      const colorizer = await colorizerFor(this.getAttribute('model') || 'default', this.getAttribute('backend') || 'auto');
      if (run !== this.#run) return;
      this.#setState('busy', 'Colorizing…');
      const r = await colorizer.colorize(blob, options);
      if (run !== this.#run) return;
      this.#canvas.getContext('2d').putImageData(r.toImageData(), 0, 0);
      this.result = r;
      this.#setState('done', '');
      this.dispatchEvent(new CustomEvent('tinta-colorized', { detail: { provider: r.provider, timings: r.timings, width: r.width, height: r.height } }));
    } catch (e) {
      if (run !== this.#run) return;
      const code = e?.code ?? 'ERROR';
      const message = String(e?.message ?? e);
      this.#setState('error', `${message} [${code}]`);
      this.dispatchEvent(new CustomEvent('tinta-error', { detail: { code, message } }));
    }
  }

  async #fetch(url) {
    let res;
    try {
      res = await fetch(url);
    } catch (e) {
      throw new TintaError(ErrorCodes.IMAGE_NOT_FOUND, `Could not fetch ${url.href}: ${e?.message ?? e}.`);
    }
    if (!res.ok) throw new TintaError(ErrorCodes.IMAGE_NOT_FOUND, `Could not fetch ${url.href}: HTTP ${res.status}.`);
    return res.blob();
  }
}

if (!customElements.get('tinta-colorize')) customElements.define('tinta-colorize', TintaColorize);
