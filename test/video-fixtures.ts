/**
 * Shared by the video tests: a small real stacked model (the SDK test model with a first 1x1
 * convolution that mixes the n input frames with given weights) and synthetic clips.
 */
import { GraphBuilder, DataType, encodeModel } from '../converters/onnx/model.ts';
import { buildMetadata } from '../sdk/model/metadata.ts';
import { nearestBucket } from '../sdk/color/buckets.ts';
import { GREEN_AB, WARM_AB, testModelInfo } from './sdk-fixtures.ts';

/**
 * An n-frame model (n = mix.length): x = sum_f mix[f] * frame_f, then the SDK test model (3x3 blur,
 * 4x4 average pool, 1x1 head: dark -> neutral, mid -> green, light -> warm). With mix [1, 0, 0] the
 * output for frame t is the single-frame test model's output for frame t-1.
 */
export function buildStackModel(mix: number[]): Uint8Array {
  const n = mix.length;
  const info = testModelInfo({ frames: n, provenance: { source: 'test/video-fixtures.ts' } });
  const q = info.buckets.count;
  const g = new GraphBuilder({ name: 'tinta-video-test' });
  g.addInput('L', DataType.FLOAT, [1, n, 'H', 'W']);
  // The normalised input is L/50 - 1 per frame; mixing weights that sum to 1 keep that form.
  g.addInitializer('mix.w', Float32Array.from(mix), [1, n, 1, 1]);
  g.addInitializer('mix.b', new Float32Array([0]), [1]);
  g.addInitializer('blur.w', new Float32Array(9).fill(1 / 9), [1, 1, 3, 3]);
  g.addInitializer('blur.b', new Float32Array([0]), [1]);
  const neutral = nearestBucket(info.buckets, 0, 0);
  const green = nearestBucket(info.buckets, GREEN_AB[0], GREEN_AB[1]);
  const warm = nearestBucket(info.buckets, WARM_AB[0], WARM_AB[1]);
  const w = new Float32Array(q), b = new Float32Array(q).fill(-4);
  w[neutral] = -12; b[neutral] = -4;
  w[green] = -4; b[green] = 0;
  w[warm] = 6; b[warm] = 0;
  g.addInitializer('head.w', w, [q, 1, 1, 1]);
  g.addInitializer('head.b', b, [q]);
  g.addNode({ opType: 'Conv', inputs: ['L', 'mix.w', 'mix.b'], outputs: ['mixed'], attrs: { kernel_shape: [1, 1] } });
  g.addNode({ opType: 'Conv', inputs: ['mixed', 'blur.w', 'blur.b'], outputs: ['blurred'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } });
  g.addNode({ opType: 'AveragePool', inputs: ['blurred'], outputs: ['pooled'], attrs: { kernel_shape: [4, 4], strides: [4, 4] } });
  g.addNode({ opType: 'Conv', inputs: ['pooled', 'head.w', 'head.b'], outputs: ['logits'], attrs: { kernel_shape: [1, 1] } });
  g.addOutput('logits', DataType.FLOAT, [1, q, 'h', 'w']);
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
