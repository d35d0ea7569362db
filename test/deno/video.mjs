// The video API through a built bundle, shared by two tests: test/sdk-video-deno.test.ts runs it
// as `deno run -A test/deno/video.mjs <job.json>` (dist/deno.js; frames and the model from the
// job's folder; each run's frames written there as one .rgba file; a JSON line on stdout), and
// test/sdk-video-browser.test.ts imports colorizeClip() into a page (dist/browser.js).
// Plain JavaScript, so both runtimes load it as it is.

/**
 * Colorizes `frames` (raw RGBA, in play order) with one colorizer per worker setting, once with
 * createVideoStream() (push/flush) and once with colorizeVideo(), each with its own smoothing.
 * Returns per run: what came out of each push and the flush, the frames' indices and RGBA.
 */
export async function colorizeClip(createColorizer, { model, frames, workers = [false, true], stream = {}, iterate = { smoothing: 0.5 }, asImageData = false, extra = {} }) {
  const input = (f) => (asImageData ? new ImageData(new Uint8ClampedArray(f.data), f.width, f.height) : { data: f.data.slice(), width: f.width, height: f.height });
  const runs = [];
  for (const worker of workers) {
    const events = [];
    let c;
    try {
      c = await createColorizer({ model, worker, cache: false, ...extra, onProgress: (e) => events.push(e.status) });
    } catch (e) {
      runs.push({ name: `${worker ? 'worker' : 'inline'}-load`, error: { code: e?.code, message: String(e?.message ?? e) } });
      continue;
    }
    try {
      for (const api of ['stream', 'iterate']) {
        const name = `${worker ? 'worker' : 'inline'}-${api}`;
        const out = { name, provider: c.provider, inWorker: c.inWorker, modelFrames: c.info.frames, events, perPush: [], indices: [], rgba: [] };
        const keep = (r) => {
          out.indices.push(r.index);
          out.rgba.push(r.rgba().slice());
          out.width = r.width;
          out.height = r.height;
        };
        try {
          if (api === 'stream') {
            const s = c.createVideoStream(stream);
            out.latency = s.latency;
            for (const f of frames) {
              const ready = await s.push(input(f));
              out.perPush.push(ready.length);
              ready.forEach(keep);
            }
            const rest = await s.flush();
            out.flushed = rest.length;
            rest.forEach(keep);
          } else {
            for await (const r of c.colorizeVideo(frames.map(input), iterate)) keep(r);
          }
        } catch (e) {
          out.error = { code: e?.code, message: String(e?.message ?? e) };
        }
        runs.push(out);
      }
    } finally {
      await c.dispose();
    }
  }
  return runs;
}

if (import.meta.main && globalThis.Deno) {
  const { createColorizer } = await import('../../dist/deno.js');
  const job = JSON.parse(await Deno.readTextFile(Deno.args[0]));
  const all = new Uint8ClampedArray(await Deno.readFile(`${job.dir}/frames.rgba`));
  const size = job.width * job.height * 4;
  const frames = Array.from({ length: job.count }, (_, i) => ({ data: all.slice(i * size, (i + 1) * size), width: job.width, height: job.height }));
  const DenoWorker = globalThis.Worker;
  const runs = await colorizeClip(createColorizer, { model: `${job.dir}/model.onnx`, frames, stream: job.stream, iterate: job.iterate });
  for (const run of runs) {
    if (!run.rgba) continue;
    const joined = new Uint8Array(run.rgba.reduce((s, x) => s + x.length, 0));
    let at = 0;
    for (const x of run.rgba) {
      joined.set(x, at);
      at += x.length;
    }
    await Deno.writeFile(`${job.dir}/${run.name}.rgba`, joined);
    delete run.rgba;
  }
  console.log(JSON.stringify({ deno: Deno.version.deno, runs, workerGlobalKept: globalThis.Worker === DenoWorker }));
}
