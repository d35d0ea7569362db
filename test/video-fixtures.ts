/**
 * Shared by the video tests: a small real stacked model (the SDK test model with a first 1x1
 * convolution that mixes the n input frames with given weights) and synthetic clips.
 */
import { GraphBuilder, DataType, encodeModel } from '../converters/onnx/model.ts';
import { buildMetadata } from '../sdk/model/metadata.ts';
import { nearestBucket } from '../sdk/color/buckets.ts';
import assert from 'node:assert/strict';
import type { TestContext } from 'node:test';
import { addTestHead, testModelInfo } from './sdk-fixtures.ts';
import { countOff } from './sdk-dist-compare.ts';

/**
 * An n-frame model (n = mix.length): x = sum_f mix[f] * frame_f, then the SDK test model (3x3 blur,
 * 4x4 average pool, 1x1 head: dark -> neutral, mid -> green, light -> warm). With mix [1, 0, 0] the
 * output for frame t is the single-frame test model's output for frame t-1.
 */
export function buildStackModel(mix: number[]): Uint8Array {
  const n = mix.length;
  const info = testModelInfo({ frames: n, provenance: { source: 'test/video-fixtures.ts' } });
  const g = new GraphBuilder({ name: 'tinta-video-test' });
  g.addInput('L', DataType.FLOAT, [1, n, 'H', 'W']);
  // The normalised input is L/50 - 1 per frame; mixing weights that sum to 1 keep that form.
  g.addInitializer('mix.w', Float32Array.from(mix), [1, n, 1, 1]);
  g.addInitializer('mix.b', new Float32Array([0]), [1]);
  g.addNode({ opType: 'Conv', inputs: ['L', 'mix.w', 'mix.b'], outputs: ['mixed'], attrs: { kernel_shape: [1, 1] } });
  addTestHead(g, info, 'mixed');
  return encodeModel({ graph: g, producer: 'tinta-test', metadata: buildMetadata(info) });
}

/** n RGBA frames: a still bluish gradient with an orange disc moving `speed` px right per frame (speed 0: identical frames). */
export function movingClip(width: number, height: number, n: number, speed: number): { data: Uint8ClampedArray; width: number; height: number }[] {
  const frames: { data: Uint8ClampedArray; width: number; height: number }[] = [];
  const r = Math.min(width, height) * 0.25;
  for (let t = 0; t < n; t++) {
    const data = new Uint8ClampedArray(width * height * 4);
    const cx = width * 0.3 + t * speed, cy = height * 0.5;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const p = 4 * (y * width + x);
        const inDisc = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
        if (inDisc) { data[p] = 240; data[p + 1] = 150; data[p + 2] = 40; } else { data[p] = 30 + x; data[p + 1] = 60 + y; data[p + 2] = 140 + x; }
        data[p + 3] = 255;
      }
    }
    frames.push({ data, width, height });
  }
  return frames;
}

/** Node's frames of `clip` (native, inline) without smoothing and with `smoothing`: what the other runtimes must match. */
export async function nodeVideoReference(model: Uint8Array, clip: { data: Uint8ClampedArray; width: number; height: number }[], smoothing: number): Promise<Record<'plain' | 'smoothed', Uint8ClampedArray[]>> {
  // Imported here, so the tests that only build models and clips do not load ONNX Runtime.
  const { createColorizer } = await import('../sdk/node.ts');
  const reference: Record<'plain' | 'smoothed', Uint8ClampedArray[]> = { plain: [], smoothed: [] };
  const c = await createColorizer({ model, backend: 'native', worker: false, threads: 1, cache: false });
  try {
    for (const [key, s] of [['plain', 0], ['smoothed', smoothing]] as const) {
      for await (const r of c.colorizeVideo(clip.map((f) => ({ data: f.data.slice(), width: f.width, height: f.height })), { smoothing: s })) reference[key].push(r.rgba().slice());
    }
  } finally {
    await c.dispose();
  }
  return reference;
}

/** What test/deno/video.mjs's colorizeClip() reports for one run (Deno prints it, the browser page returns it). */
export interface ClipRun {
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
  error?: { code?: string; message: string };
}

/**
 * Checks colorizeClip()'s runs of the 5-frame model on wasm (stream runs: two pushes of latency,
 * the flush gives the last two): frames in order, each within 1/255 of Node's frame (`reference.plain`
 * for stream runs, `.smoothed` for iterate runs) on >= 99.9% of pixels. `frames(run)` reads a run's frame k.
 */
export function checkClipRuns<R extends ClipRun>(
  t: TestContext, runs: R[],
  o: { width: number; height: number; count: number; reference: Record<'plain' | 'smoothed', Uint8ClampedArray[]>; frames: (run: R) => (k: number) => Uint8Array },
): void {
  const { width: W, height: H, count } = o;
  assert.deepEqual(runs.map((x) => x.name), ['inline-stream', 'inline-iterate', 'worker-stream', 'worker-iterate']);
  for (const run of runs) {
    assert.equal(run.error, undefined, `${run.name}: ${run.error?.code} ${run.error?.message}`);
    assert.deepEqual([run.provider, run.inWorker, run.modelFrames], ['wasm', run.name.startsWith('worker'), 5], run.name);
    assert.deepEqual([run.width, run.height], [W, H], run.name);
    assert.deepEqual(run.indices, [...Array(count).keys()], `${run.name}: frames in order`);
    if (run.name.endsWith('stream')) {
      assert.equal(run.latency, 2, run.name);
      assert.deepEqual(run.perPush, [0, 0, 1, 1, 1, 1, 1], `${run.name}: frame t comes out when frame t + 2 goes in`);
      assert.equal(run.flushed, 2, `${run.name}: the flush gives the last two frames`);
    }
    const frame = o.frames(run);
    const ref = run.name.endsWith('stream') ? o.reference.plain : o.reference.smoothed;
    const offs = ref.map((want, k) => countOff(want, frame(k)));
    t.diagnostic(`${run.name}: pixels off by > 1/255 per frame: ${offs.join(' ')}`);
    offs.forEach((off, k) => assert.ok(off <= W * H * 0.001, `${run.name}, frame ${k}: ${off} of ${W * H} pixels differ from Node by more than 1/255`));
  }
}
