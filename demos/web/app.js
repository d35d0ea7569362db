// The web demo: loads the shipped model with the built SDK, colorizes the photo the user gives,
// shows original | grayscale | colorized (before/after), re-runs live when the temperature or
// saturation (or the network size) changes, the latest settings winning, and offers the result
// as a PNG. The Video tab is video.js.
// State for people is in #status; for scripts, #app carries data-state (starting, loading, ready,
// busy, done, error), data-runs (finished colorizations), data-provider and data-error-code.
import { createColorizer, DEFAULT_MODEL, SHIPPED_MODELS } from '/dist/browser.js';
import { setupCompare } from './compare.js';
import { grayscale } from './gray.js';
import { watchInputs } from './input.js';
import { registerOffline } from './offline.js';
import { setupTabs } from './tabs.js';
import { setupVideoTab } from './video.js';

const $ = (id) => document.getElementById(id);
const app = $('app');
// The shipped models, served by the demo server from the repository's models/ folder; the
// manifest's hash is checked. Only the default one is stored for offline use up front.
const modelFor = (name) => ({ url: `/models/${SHIPPED_MODELS[name].file}`, sha256: SHIPPED_MODELS[name].sha256 ?? undefined });
// ONNX Runtime's .wasm/.mjs, self-hosted next to the page (never a CDN); with COOP/COEP this runs threaded.
const WASM_PATHS = '/ort/';

let colorizer = null; // Promise of the colorizer for the chosen backend
let loadMs = 0;
let photo = null; // { image: ImageData, name }
let running = false;
let pending = false;
let temperatureTouched = false;

function setState(state, message) {
  app.dataset.state = state;
  if (message !== undefined) $('status').textContent = message;
}

function fail(e) {
  app.dataset.errorCode = e?.code ?? 'ERROR';
  setState('error', e?.code ? `${e.message} [${e.code}]` : String(e?.message ?? e));
}

function onProgress(p) {
  if (p.status === 'download') {
    const pct = p.total ? ` ${Math.round((100 * p.loaded) / p.total)}%` : '';
    setState('loading', `Downloading the model…${pct}`);
  } else if (p.status === 'session') setState('loading', `Starting the model on ${p.provider}…`);
  else if (p.status === 'warning') console.warn(`tinta: ${p.message} [${p.code}]`);
}

function loadColorizer() {
  const backend = $('backend').value;
  const model = modelFor($('model').value);
  const previous = colorizer;
  const t0 = performance.now();
  setState('loading', `Loading the model (${backend})…`);
  const next = (async () => {
    if (previous) await (await previous.catch(() => null))?.dispose();
    return createColorizer({ model: model.url, sha256: model.sha256, backend, wasmPaths: WASM_PATHS, cache: false, onProgress });
  })();
  colorizer = next;
  next.then(
    (c) => {
      if (colorizer !== next) return;
      loadMs = performance.now() - t0;
      app.dataset.provider = c.provider;
      if (!temperatureTouched) showValue('temperature', c.info.temperature);
      setState('ready', `Model ready on ${c.provider}${c.inWorker ? ' (in a worker)' : ''} in ${(loadMs / 1000).toFixed(1)} s. ${photo ? '' : 'Give it a photo.'}`);
      if (photo) void run();
    },
    (e) => {
      if (colorizer === next) fail(e);
    },
  );
}

function showValue(id, value) {
  $(id).value = String(value);
  $(`${id}-value`).textContent = Number(value).toFixed(2);
}

function drawTo(canvas, image) {
  canvas.width = image.width;
  canvas.height = image.height;
  canvas.getContext('2d').putImageData(image, 0, 0);
}

async function setPhoto(blob, name) {
  // From here on the page works on this photo: the last one's 'done' or 'error' no longer applies
  // (while the model loads, 'loading' stays and the photo runs once it is ready).
  if (app.dataset.state !== 'loading') {
    delete app.dataset.errorCode;
    setState('busy', `Reading ${name}…`);
  }
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob, { imageOrientation: 'from-image' });
  } catch (e) {
    fail({ code: 'IMAGE_UNSUPPORTED', message: `"${name}" could not be read as an image (${e?.message ?? e}). Use a JPEG, PNG or WebP photo.` });
    return;
  }
  const canvas = $('original');
  canvas.width = bitmap.width;
  canvas.height = bitmap.height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  // Transparent pixels count as white, as the SDK does for encoded images.
  ctx.fillStyle = '#fff';
  ctx.fillRect(0, 0, bitmap.width, bitmap.height);
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  const image = ctx.getImageData(0, 0, canvas.width, canvas.height);
  const gray = grayscale(image);
  drawTo($('gray'), gray);
  drawTo($('before'), gray);
  const result = $('result');
  result.width = image.width;
  result.height = image.height;
  $('download').disabled = true;
  photo = { image, name };
  void run();
}

/** Colorizes the current photo with the current settings; calls made while one runs collapse into one more run. */
async function run() {
  if (!photo || !colorizer) return;
  if (running) {
    pending = true;
    return;
  }
  running = true;
  delete app.dataset.errorCode;
  try {
    do {
      pending = false;
      const current = photo;
      const c = await colorizer;
      setState('busy', `Colorizing ${current.name}…`);
      let r;
      try {
        const options = { temperature: $('temperature').valueAsNumber, saturation: $('saturation').valueAsNumber };
        if ($('resolution').value) options.resolution = Number($('resolution').value);
        r = await c.colorize(current.image, options);
      } catch (e) {
        // The backend changed meanwhile: run again on the new colorizer.
        if (e?.code === 'DISPOSED') {
          pending = true;
          continue;
        }
        throw e;
      }
      if (current !== photo) continue; // a newer photo arrived; it is already pending
      drawTo($('result'), r.toImageData());
      app.dataset.provider = r.provider;
      app.dataset.runs = String(Number(app.dataset.runs) + 1);
      const t = r.timings;
      $('timings').textContent =
        `${r.provider}${c.inWorker ? ' in a worker' : ''} · model load ${loadMs.toFixed(0)} ms · ` +
        `preprocess ${t.preprocess.toFixed(0)} · network ${t.model.toFixed(0)} · postprocess ${t.postprocess.toFixed(0)} · total ${t.total.toFixed(0)} ms`;
      $('download').disabled = false;
    } while (pending);
    setState('done', `Colorized ${photo.name} (${photo.image.width}x${photo.image.height}).`);
  } catch (e) {
    fail(e);
  } finally {
    running = false;
  }
}

function download() {
  const stem = (photo?.name ?? 'photo').replace(/\.[^.]+$/, '');
  $('result').toBlob((blob) => {
    if (!blob) return;
    const a = document.createElement('a');
    a.href = URL.createObjectURL(blob);
    a.download = `${stem}.colorized.png`;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  }, 'image/png');
}

for (const id of ['temperature', 'saturation']) {
  $(id).addEventListener('input', () => {
    if (id === 'temperature') temperatureTouched = true;
    showValue(id, $(id).value);
    void run();
  });
}
for (const name of Object.keys(SHIPPED_MODELS)) $('model').add(new Option(`${name} (${SHIPPED_MODELS[name].file})`, name, false, name === DEFAULT_MODEL));
$('model').addEventListener('change', loadColorizer);
$('backend').addEventListener('change', loadColorizer);
$('resolution').addEventListener('change', () => void run());
$('download').addEventListener('click', download);
setupCompare($('compare'), $('before'), $('split'));
watchInputs(
  { drop: $('drop'), file: $('file'), capture: $('capture'), camera: $('camera'), dialog: $('camera-dialog'), video: $('camera-video'), shoot: $('camera-shoot'), cancel: $('camera-cancel') },
  (blob, name) => void setPhoto(blob, name),
  (message) => setState(app.dataset.state, message),
);

// ?backend=wasm|webgpu|auto, ?model=NAME and ?resolution=64|128|… preselect those settings (links, tests).
const query = new URLSearchParams(location.search);
for (const id of ['backend', 'model', 'resolution']) {
  const wanted = query.get(id);
  if (wanted && [...$(id).options].some((o) => o.value === wanted)) $(id).value = wanted;
}
loadColorizer();
void registerOffline($('offline'));
// The video tab loads its own colorizer when it gets a video (its model may be a stacked one).
setupVideoTab({ modelFor, wasmPaths: WASM_PATHS, tabs: setupTabs(document.querySelector('[role="tablist"]')) });
