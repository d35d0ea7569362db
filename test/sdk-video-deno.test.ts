// The video API of the built SDK in Deno (node_modules/.bin/deno): test/deno/video.mjs imports
// dist/deno.js and colorizes a short synthetic clip with a 5-frame stacked test model, inline and
// in a Deno worker, with createVideoStream() (push/flush, no smoothing) and colorizeVideo()
// (smoothing 0.5). Each frame matches the Node build's (native, inline) within 1/255 on >= 99.9%
// of pixels, frames come out in order with two pushes of latency, and the flush gives the last two.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDist } from './sdk-dist-build.ts';
import { countOff, meanSpread } from './sdk-dist-compare.ts';
import { buildStackModel, checkClipRuns, movingClip, nodeVideoReference, type ClipRun } from './video-fixtures.ts';
import { runDenoJob } from './deno-run.ts';

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
  Object.assign(reference, await nodeVideoReference(MODEL, CLIP, SMOOTHING));
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface DenoRun extends ClipRun {
  events?: string[];
}

test('Deno runs the video API of the built SDK (5-frame stacked model, wasm, inline and in a worker, stream and colorizeVideo) with the Node frames', { timeout: 300_000 }, (t) => {
  assert.equal(reference.plain.length, COUNT);
  // Sanity of the reference: coloured, and smoothing changed it (so comparing both checks both paths).
  assert.ok(meanSpread(reference.plain[3]!) > 8, `the Node reference is coloured (mean RGB spread ${meanSpread(reference.plain[3]!).toFixed(1)})`);
  assert.ok(countOff(reference.plain[3]!, reference.smoothed[3]!) > W * H * 0.05, 'smoothing changes the colours');
  assert.ok(countOff(reference.plain[3]!, reference.plain[4]!) > W * H * 0.05, 'neighbouring frames differ, so a frame out of place fails');

  const out = runDenoJob<{ deno: string; runs: DenoRun[]; workerGlobalKept: boolean }>('video.mjs', dir, { dir, width: W, height: H, count: COUNT, stream: { smoothing: 0 }, iterate: { smoothing: SMOOTHING } });
  assert.ok(out.workerGlobalKept, "the app's globalThis.Worker is still Deno's");
  checkClipRuns(t, out.runs, {
    width: W, height: H, count: COUNT, reference,
    frames: (run) => {
      const all = new Uint8Array(readFileSync(join(dir, `${run.name}.rgba`)));
      assert.equal(all.length, COUNT * W * H * 4);
      return (k) => all.subarray(k * W * H * 4, (k + 1) * W * H * 4);
    },
  });
});
