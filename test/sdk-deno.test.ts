// The built SDK in Deno (node_modules/.bin/deno, from the npm package): test/deno/colorize.mjs
// imports dist/deno.js and colorizes the fixture photo with the fixture model (written to a temp
// file), inline and in a Deno worker, from raw RGBA and from PNG bytes; the colours match the
// Node build's within 1/255 on >= 99.9% of pixels.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createColorizer } from '../sdk/node.ts';
import { encodeImage } from '../sdk/image/node.ts';
import { ensureDist, ROOT } from './sdk-dist-build.ts';
import { countOff, meanSpread } from './sdk-dist-compare.ts';
import { buildTestModel, syntheticPhoto } from './sdk-fixtures.ts';
import { runDenoJob } from './deno-run.ts';

const W = 333, H = 217;
const MODEL = buildTestModel();
const PHOTO = syntheticPhoto(W, H);

let dir: string;
let reference: Uint8ClampedArray;

before(async () => {
  await ensureDist();
  dir = mkdtempSync(join(tmpdir(), 'tinta-deno-'));
  writeFileSync(join(dir, 'model.onnx'), MODEL);
  writeFileSync(join(dir, 'photo.rgba'), PHOTO);
  writeFileSync(join(dir, 'photo.png'), await encodeImage({ data: PHOTO, width: W, height: H }, 'png'));
  const c = await createColorizer({ model: MODEL, backend: 'native', worker: false, threads: 1, cache: false });
  try {
    reference = (await c.colorize({ data: PHOTO, width: W, height: H })).rgba().slice();
  } finally {
    await c.dispose();
  }
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface DenoRun {
  name: string;
  provider?: string;
  inWorker?: boolean;
  width?: number;
  height?: number;
  events?: string[];
  error?: { code?: string; message: string };
}

test('Deno runs the built SDK (wasm, inline and in a worker, raw RGBA and PNG bytes) with the Node colours', { timeout: 300_000 }, () => {
  const out = runDenoJob<{ deno: string; runs: DenoRun[]; workerGlobalKept: boolean }>('colorize.mjs', dir, { dir, width: W, height: H, png: true });
  assert.ok(out.workerGlobalKept, "the app's globalThis.Worker is still Deno's after an inline session");
  assert.deepEqual(out.runs.map((x) => x.name), ['inline-raw', 'inline-png', 'worker-raw', 'worker-png']);
  assert.ok(meanSpread(reference) > 8, `the Node reference is coloured (mean RGB spread ${meanSpread(reference).toFixed(1)})`);
  for (const run of out.runs) {
    assert.equal(run.error, undefined, `${run.name}: ${run.error?.code} ${run.error?.message}`);
    assert.equal(run.provider, 'wasm', run.name);
    assert.equal(run.inWorker, run.name.startsWith('worker'), run.name);
    assert.deepEqual([run.width, run.height], [W, H], run.name);
    assert.deepEqual(run.events, ['session', 'ready'], run.name);
    const got = new Uint8Array(readFileSync(join(dir, `${run.name}.rgba`)));
    assert.ok(meanSpread(got) > 8, `${run.name} is coloured (mean RGB spread ${meanSpread(got).toFixed(1)})`);
    const off = countOff(reference, got);
    assert.ok(off <= W * H * 0.001, `${run.name}: ${off} of ${W * H} pixels differ from Node by more than 1/255`);
  }
});

test('the shipped int8 model in Deno (wasm) gives the Node native colours within 2/255 on >= 99% of values', { timeout: 300_000 }, async () => {
  const shipped = readFileSync(join(ROOT, 'models', 'tinta-default.int8.onnx'));
  writeFileSync(join(dir, 'int8.onnx'), shipped);
  const c = await createColorizer({ model: new Uint8Array(shipped), backend: 'native', worker: false, threads: 1, cache: false });
  let native: Uint8ClampedArray;
  try {
    native = (await c.colorize({ data: PHOTO, width: W, height: H })).rgba().slice();
  } finally {
    await c.dispose();
  }
  const out = runDenoJob<{ runs: DenoRun[] }>('colorize.mjs', dir, { dir, width: W, height: H, png: false, model: 'int8.onnx', workers: [false] });
  assert.deepEqual(out.runs.map((x) => x.name), ['inline-raw']);
  assert.equal(out.runs[0]!.error, undefined, JSON.stringify(out.runs[0]!.error));
  const got = new Uint8Array(readFileSync(join(dir, 'inline-raw.rgba')));
  assert.ok(meanSpread(native) > 2, `the int8 model colours the photo (mean RGB spread ${meanSpread(native).toFixed(1)})`);
  const off = countOff(native, got, 2);
  assert.ok(off <= W * H * 0.01, `${off} of ${W * H} pixels differ from Node native by more than 2/255`);
});
