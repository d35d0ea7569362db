// The video tab: a video the user picks or drops plays in a <video>; its frames are taken at the
// chosen size and rate (frames.js), pushed through the SDK's createVideoStream() and drawn as they
// come out, each next to the original frame it belongs to; the colorized frames are encoded as
// they come (encode.js) and offered as a WebM. Stacked models (metadata frames = n > 1) keep their
// ring buffer of frames in the SDK's worker, so a frame comes out (n - 1) / 2 pushes later; the
// smoothing slider blends each frame's colour with the previous one's (for any model).
// State for scripts: #video carries data-state (empty, loading, busy, done, stopped, error),
// data-frames (frames colorized by the last run), data-total, data-skipped, data-grab (play or
// seek), data-sought (frames taken by seeking), data-latency, data-model-frames, data-provider,
// data-download (ready) and data-error-code.
import { createColorizer, DEFAULT_MODEL, SHIPPED_MODELS } from '/dist/browser.js';
import { frameSize, videoFrames } from './frames.js';
import { openWebmEncoder, webmUnsupported } from './encode.js';

const $ = (id) => document.getElementById(id);

/**
 * Sets up the video tab. `modelFor(name)` gives { url, sha256 } of a shipped model; `wasmPaths`
 * is where ONNX Runtime's files are; `tabs` (from setupTabs) lets a dropped video open the tab.
 */
export function setupVideoTab({ modelFor, wasmPaths, tabs }) {
  const panel = $('video');
  const video = $('video-source');
  let loaded = null; // { name, url } of the video in the <video> element
  let modelFile = null; // { name, bytes } of a model the user picked
  let held = null; // { key, colorizer: Promise }
  let job = null; // { controller, done: Promise } of the run in progress
  let download = null; // { blob, name }
  let generation = 0;

  const setState = (state, message) => {
    panel.dataset.state = state;
    if (message !== undefined) $('video-status').textContent = message;
  };
  const fail = (e) => {
    panel.dataset.errorCode = e?.code ?? 'ERROR';
    setState('error', e?.code ? `${e.message} [${e.code}]` : String(e?.message ?? e));
  };
  const setting = (id) => $(id).value;

  for (const name of Object.keys(SHIPPED_MODELS)) $('video-model').add(new Option(`${name} (${SHIPPED_MODELS[name].file})`, name, false, name === DEFAULT_MODEL));
  // ?backend= and ?model= preselect the same settings as on the photo tab.
  const query = new URLSearchParams(location.search);
  for (const [param, id] of [['backend', 'video-backend'], ['model', 'video-model']]) {
    const wanted = query.get(param);
    if (wanted && [...$(id).options].some((o) => o.value === wanted)) $(id).value = wanted;
  }

  /** The colorizer for the chosen model and backend: kept while they stay the same. */
  function colorizerFor() {
    const backend = setting('video-backend');
    const name = setting('video-model');
    const key = name === 'file' ? `file:${modelFile.name}:${modelFile.bytes.length}:${backend}` : `${name}:${backend}`;
    if (held?.key === key) return held.colorizer;
    const previous = held?.colorizer;
    const model = name === 'file' ? { model: modelFile.bytes.slice() } : { model: modelFor(name).url, sha256: modelFor(name).sha256 };
    const colorizer = (async () => {
      if (previous) await (await previous.catch(() => null))?.dispose();
      return createColorizer({ ...model, backend, wasmPaths, cache: false, onProgress: (p) => {
        if (p.status === 'session') setState('loading', `Starting the model on ${p.provider}…`);
        else if (p.status === 'warning') console.warn(`tinta: ${p.message} [${p.code}]`);
      } });
    })();
    held = { key, colorizer };
    // A failed load is not kept: the next run tries again.
    colorizer.catch(() => {
      if (held?.colorizer === colorizer) held = null;
    });
    return colorizer;
  }

  function showModelNote(info) {
    const n = info?.frames ?? 1;
    panel.dataset.modelFrames = String(n);
    $('video-model-note').textContent = n > 1
      ? `stacked model: each frame is colorized from ${n} frames (${(n - 1) / 2} before and after), ${(n - 1) / 2} frame(s) of latency`
      : 'single-frame model: smoothing steadies its colours';
  }

  function setVideo(file, name) {
    if (!file) return;
    tabs?.open('video');
    job?.controller.abort(new DOMException('another video', 'AbortError')); // before its frames vanish
    if (loaded) URL.revokeObjectURL(loaded.url);
    loaded = { name, url: URL.createObjectURL(file) };
    delete panel.dataset.errorCode;
    setState('loading', `Opening ${name}…`);
    video.src = loaded.url;
    $('video-run').disabled = true;
  }

  video.addEventListener('loadedmetadata', () => {
    if (!loaded) return;
    $('video-run').disabled = false;
    void run();
  });
  video.addEventListener('error', () => {
    if (!loaded || !video.getAttribute('src')) return;
    const why = video.error?.message || ['', 'aborted', 'network error', 'decode error', 'format not supported'][video.error?.code ?? 0] || 'unknown error';
    $('video-run').disabled = true;
    fail({ code: 'IMAGE_UNSUPPORTED', message: `"${loaded.name}" could not be played by this browser (${why}). Use a video it plays: WebM (VP8/VP9/AV1) or MP4 (H.264) in Chromium.` });
  });

  /** Stops the run in progress (if any) and waits until it has let go of the video. */
  async function stop() {
    const current = job;
    if (!current) return;
    current.controller.abort(new DOMException('stopped', 'AbortError'));
    await current.done;
  }

  async function run() {
    const gen = ++generation;
    await stop();
    // Another run was asked for while this one waited: that one goes ahead.
    if (gen !== generation || !loaded || !(video.videoWidth > 0)) return;
    const controller = new AbortController();
    const done = colorizeVideo(controller.signal).catch((e) => {
      if (controller.signal.aborted) setState('stopped', `Stopped: ${panel.dataset.frames} frames colorized.`);
      else fail(e);
    });
    job = { controller, done };
    $('video-stop').disabled = false;
    await done;
    if (job?.done === done) {
      job = null;
      $('video-stop').disabled = true;
    }
  }

  async function colorizeVideo(signal) {
    delete panel.dataset.errorCode;
    delete panel.dataset.download;
    Object.assign(panel.dataset, { frames: '0', skipped: '0' });
    $('video-download').disabled = true;
    $('video-timings').textContent = '';
    download = null;
    const name = loaded.name;
    setState('loading', 'Loading the model…');
    const t0 = performance.now();
    const c = await colorizerFor();
    signal.throwIfAborted();
    const loadMs = performance.now() - t0;
    showModelNote(c.info);
    panel.dataset.provider = c.provider;

    const fps = Math.min(60, Math.max(1, Number(setting('video-fps')) || 10));
    const { width, height } = frameSize(video.videoWidth, video.videoHeight, Number(setting('video-size')));
    for (const id of ['video-original', 'video-result']) Object.assign($(id), { width, height });
    const options = { smoothing: Number(setting('video-smoothing')), signal };
    if (setting('video-resolution')) options.resolution = Number(setting('video-resolution'));
    const stream = c.createVideoStream(options);
    panel.dataset.latency = String(stream.latency);

    const noWebm = await webmUnsupported(width, height);
    const encoder = noWebm ? null : await openWebmEncoder({ width, height, fps });
    $('video-download').title = noWebm ? `No WebM download: ${noWebm}.` : '';
    const wasControls = video.controls, wasMuted = video.muted;
    video.controls = false; // the user's seeking would fight the frame grabbing
    video.muted = true;
    const originals = []; // frames pushed and not yet out, oldest first (outputs come in push order)
    const sums = { model: 0, preprocess: 0, postprocess: 0 };
    const skipped = [];
    let out = 0;
    try {
      const grab = await videoFrames(video, { mode: setting('video-grab'), fps, width, height, signal });
      Object.assign(panel.dataset, { grab: grab.mode, total: String(grab.count) });
      const tStart = performance.now();
      const origCtx = $('video-original').getContext('2d');
      const resultCtx = $('video-result').getContext('2d');
      const show = (frames) => {
        for (const r of frames) {
          origCtx.putImageData(originals.shift(), 0, 0);
          resultCtx.putImageData(r.toImageData(), 0, 0);
          encoder?.add($('video-result'), out);
          for (const k of Object.keys(sums)) sums[k] += r.timings[k];
          out++;
          Object.assign(panel.dataset, { frames: String(out), sought: String(grab.stats.sought) });
          const per = (k) => (sums[k] / out).toFixed(0);
          $('video-original-caption').textContent = `Original, frame ${r.index + 1}${r.sceneCut ? ' (scene cut: smoothing restarted)' : ''}`;
          $('video-timings').textContent =
            `${r.provider}${c.inWorker ? ' in a worker' : ''} · model load ${loadMs.toFixed(0)} ms · ${width}x${height} at ${fps} fps, frames by ${grab.mode === 'play' ? `playback (${grab.stats.sought} by seeking)` : 'seeking'} · ` +
            `${(out / ((performance.now() - tStart) / 1000)).toFixed(2)} frames/s · per frame: network ${per('model')} · preprocess ${per('preprocess')} · postprocess ${per('postprocess')} ms` +
            (stream.latency ? ` · latency ${stream.latency} frame${stream.latency > 1 ? 's' : ''}` : '');
        }
      };
      setState('busy', `Colorizing ${name}: 0 of ${grab.count} frames…`);
      try {
        for await (const f of grab.frames) {
          let ready;
          originals.push(f.image);
          try {
            ready = await stream.push(f.image);
          } catch (e) {
            // An unreadable frame is left out and reported; the others go on.
            if (!String(e?.code ?? '').startsWith('IMAGE_')) throw e;
            originals.pop();
            skipped.push(`frame ${f.index + 1}: ${e.message}`);
            panel.dataset.skipped = String(skipped.length);
            continue;
          }
          show(ready);
          setState('busy', `Colorizing ${name}: ${out} of ${grab.count} frames…`);
        }
        show(await stream.flush());
      } finally {
        if (signal.aborted) await stream.close();
      }
      if (skipped.length) console.warn(`tinta: skipped ${skipped.length} frame(s):\n${skipped.join('\n')}`);
      if (encoder) {
        download = { blob: await encoder.finish(), name: `${name.replace(/\.[^.]+$/, '')}.colorized.webm` };
        panel.dataset.download = 'ready';
        $('video-download').disabled = false;
      }
      const secs = (performance.now() - tStart) / 1000;
      setState('done', `Colorized ${out} frames of ${name} (${width}x${height}) in ${secs.toFixed(1)} s${skipped.length ? `; ${skipped.length} unreadable frame(s) skipped` : ''}.${noWebm ? ` No WebM download: ${noWebm}.` : ''}`);
    } finally {
      encoder?.close();
      video.controls = wasControls;
      video.muted = wasMuted;
    }
  }

  function saveResult() {
    if (!download) return;
    const a = document.createElement('a');
    a.href = URL.createObjectURL(download.blob);
    a.download = download.name;
    a.click();
    setTimeout(() => URL.revokeObjectURL(a.href), 60_000);
  }

  const first = (list) => (list && list.length > 0 ? list[0] : null);
  $('video-file').addEventListener('change', () => {
    const f = first($('video-file').files);
    if (f) setVideo(f, f.name || 'video');
    $('video-file').value = ''; // picking the same file again still fires 'change'
  });
  // Drops: a video dropped anywhere, or anything dropped while this tab is open, comes here
  // (capture phase, ahead of the photo tab's listener on the document).
  document.addEventListener('drop', (e) => {
    const f = first(e.dataTransfer?.files);
    if (!f || !(panel.hidden === false || f.type.startsWith('video/'))) return;
    e.preventDefault();
    e.stopPropagation();
    $('drop')?.classList.remove('over'); // the photo tab's highlight, which its own drop handler would clear
    setVideo(f, f.name || 'dropped video');
  }, { capture: true });
  $('video-model-file').addEventListener('change', async () => {
    const f = first($('video-model-file').files);
    $('video-model-file').value = '';
    if (!f) return;
    modelFile = { name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) };
    let option = [...$('video-model').options].find((o) => o.value === 'file');
    if (!option) $('video-model').add((option = new Option('', 'file')));
    option.textContent = `${f.name} (your file)`;
    $('video-model').value = 'file';
    void run();
  });
  $('video-smoothing').addEventListener('input', () => {
    $('video-smoothing-value').textContent = Number(setting('video-smoothing')).toFixed(2);
  });
  for (const id of ['video-model', 'video-backend']) $(id).addEventListener('change', () => void run());
  $('video-run').addEventListener('click', () => void run());
  $('video-stop').addEventListener('click', () => void stop());
  $('video-download').addEventListener('click', saveResult);
}
