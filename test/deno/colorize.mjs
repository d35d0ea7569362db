// Run by test/sdk-deno.test.ts as `deno run -A test/deno/colorize.mjs <job.json>`: imports the
// built SDK (dist/deno.js), colorizes the fixture photo (raw RGBA, and PNG bytes when given)
// with the fixture model from a file, inline and in a worker, writes each output's RGBA next to
// the job file and prints what happened as one JSON line.
import { createColorizer } from '../../dist/deno.js';

const job = JSON.parse(await Deno.readTextFile(Deno.args[0]));
const dir = job.dir;
const photo = new Uint8ClampedArray(await Deno.readFile(`${dir}/photo.rgba`));
const png = job.png ? await Deno.readFile(`${dir}/photo.png`) : null;

const DenoWorker = globalThis.Worker;
const runs = [];
for (const worker of job.workers ?? [false, true]) {
  const events = [];
  const c = await createColorizer({ model: `${dir}/${job.model ?? 'model.onnx'}`, worker, cache: false, onProgress: (e) => events.push(e.status) });
  const inputs = [['raw', { data: photo, width: job.width, height: job.height }]];
  if (png) inputs.push(['png', png]);
  for (const [kind, input] of inputs) {
    const name = `${worker ? 'worker' : 'inline'}-${kind}`;
    try {
      const r = await c.colorize(input);
      await Deno.writeFile(`${dir}/${name}.rgba`, new Uint8Array(r.rgba().buffer, r.rgba().byteOffset, r.rgba().byteLength));
      runs.push({ name, provider: r.provider, inWorker: c.inWorker, width: r.width, height: r.height, events });
    } catch (e) {
      runs.push({ name, error: { code: e?.code, message: String(e?.message ?? e) } });
    }
  }
  await c.dispose();
}
// onnxruntime-web's Node build replaces globalThis.Worker when its wasm starts; the SDK puts it back.
console.log(JSON.stringify({ deno: Deno.version.deno, runs, workerGlobalKept: globalThis.Worker === DenoWorker }));
