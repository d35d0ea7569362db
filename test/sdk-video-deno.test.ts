// The video API of the built SDK in Deno (node_modules/.bin/deno): test/deno/video.mjs imports
// dist/deno.js and colorizes a short synthetic clip with a 5-frame stacked test model, inline and
// in a Deno worker, with createVideoStream() (push/flush, no smoothing) and colorizeVideo()
// (smoothing 0.5). Each frame matches the Node build's (native, inline) within 1/255 on >= 99.9%
// of pixels, frames come out in order with two pushes of latency, and the flush gives the last two.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createColorizer } from '../sdk/node.ts';
import { ensureDist, ROOT } from './sdk-dist-build.ts';
import { countOff, meanSpread } from './sdk-dist-compare.ts';
import { buildStackModel, movingClip } from './video-fixtures.ts';

const DENO = join(ROOT, 'node_modules', '.bin', 'deno');
const W = 96, H = 72, COUNT = 7;
// Uneven weights: a stack read in the wrong order, or centred on the wrong frame, gives other colours.
const MIX = [0.3, 0.1, 0.4, 0.05, 0.15];
const MODEL = buildStackModel(MIX);
const CLIP = movingClip(W, H, COUNT, 5);
const SMOOTHING = 0.5;

let dir: string;
/** Node's frames (native, inline) without smoothing and with SMOOTHING. */
const reference: Record<'plain' | 'smoothed', Uint8ClampedArray[]> = { plain: [], smoothed: [] };

before(async () => {
  await ensureDist();
  dir = mkdtempSync(join(tmpdir(), 'tinta-deno-video-'));
  writeFileSync(join(dir, 'model.onnx'), MODEL);
  writeFileSync(join(dir, 'frames.rgba'), Buffer.concat(CLIP.map((f) => Buffer.from(f.data.buffer, f.data.byteOffset, f.data.byteLength))));
  const c = await createColorizer({ model: MODEL, backend: 'native', worker: false, threads: 1, cache: false });
  try {
    for (const [key, smoothing] of [['plain', 0], ['smoothed', SMOOTHING]] as const) {
      for await (const r of c.colorizeVideo(CLIP.map((f) => ({ data: f.data.slice(), width: W, height: H })), { smoothing })) reference[key].push(r.rgba().slice());
    }
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
  modelFrames?: number;
  latency?: number;
  perPush?: number[];
  flushed?: number;
  indices?: number[];
  width?: number;
  height?: number;
  events?: string[];
  error?: { code?: string; message: string };
}

test('Deno runs the video API of the built SDK (5-frame stacked model, wasm, inline and in a worker, stream and colorizeVideo) with the Node frames', { timeout: 300_000 }, (t) => {
  assert.ok(existsSync(DENO), `Deno is not installed at ${DENO}; it comes with npm ci (the deno devDependency)`);
  assert.equal(reference.plain.length, COUNT);
  // Sanity of the reference: coloured, and smoothing changed it (so comparing both checks both paths).
  assert.ok(meanSpread(reference.plain[3]!) > 8, `the Node reference is coloured (mean RGB spread ${meanSpread(reference.plain[3]!).toFixed(1)})`);
  assert.ok(countOff(reference.plain[3]!, reference.smoothed[3]!) > W * H * 0.05, 'smoothing changes the colours');
  assert.ok(countOff(reference.plain[3]!, reference.plain[4]!) > W * H * 0.05, 'neighbouring frames differ, so a frame out of place fails');

  writeFileSync(join(dir, 'job.json'), JSON.stringify({ dir, width: W, height: H, count: COUNT, stream: { smoothing: 0 }, iterate: { smoothing: SMOOTHING } }));
  const r = spawnSync(DENO, ['run', '-A', join(ROOT, 'test', 'deno', 'video.mjs'), join(dir, 'job.json')], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 240_000,
    env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1' },
  });
  assert.equal(r.status, 0, `deno exited with ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { deno: string; runs: DenoRun[]; workerGlobalKept: boolean };
  assert.ok(out.workerGlobalKept, "the app's globalThis.Worker is still Deno's");
  assert.deepEqual(out.runs.map((x) => x.name), ['inline-stream', 'inline-iterate', 'worker-stream', 'worker-iterate']);
  for (const run of out.runs) {
    assert.equal(run.error, undefined, `${run.name}: ${run.error?.code} ${run.error?.message}`);
    assert.deepEqual([run.provider, run.inWorker, run.modelFrames], ['wasm', run.name.startsWith('worker'), 5], run.name);
    assert.deepEqual([run.width, run.height], [W, H], run.name);
    assert.deepEqual(run.indices, [...Array(COUNT).keys()], `${run.name}: frames in order`);
    if (run.name.endsWith('stream')) {
      assert.equal(run.latency, 2, run.name);
      assert.deepEqual(run.perPush, [0, 0, 1, 1, 1, 1, 1], `${run.name}: frame t comes out when frame t + 2 goes in`);
      assert.equal(run.flushed, 2, `${run.name}: the flush gives the last two frames`);
    }
    const all = new Uint8Array(readFileSync(join(dir, `${run.name}.rgba`)));
    assert.equal(all.length, COUNT * W * H * 4);
    const ref = run.name.endsWith('stream') ? reference.plain : reference.smoothed;
    const offs = ref.map((want, k) => countOff(want, all.subarray(k * W * H * 4, (k + 1) * W * H * 4)));
    t.diagnostic(`${run.name}: pixels off by > 1/255 per frame: ${offs.join(' ')}`);
    offs.forEach((off, k) => assert.ok(off <= W * H * 0.001, `${run.name}, frame ${k}: ${off} of ${W * H} pixels differ from Node by more than 1/255`));
  }
});
