/**
 * Shared by the SDK tests and bench: a small but real tinta model built with GraphBuilder, and
 * synthetic photos. The model: L -> normalise (metadata: x = L/50 - 1) -> 3x3 blur -> 4x4
 * average pool -> 1x1 conv to Q = 112 logits. The darkest pixels (L < 25) stay neutral, darker
 * mid-tones favour a green bucket and lighter ones a warm one, so the output is visibly and
 * deterministically coloured, and stays inside the sRGB gamut at each pixel's L (out-of-gamut
 * colours would be clipped, which changes L).
 */
import { GraphBuilder, DataType, encodeModel } from '../converters/onnx/model.ts';
import { buildMetadata, type ModelInfo } from '../sdk/model/metadata.ts';
import { seedBuckets, nearestBucket } from '../sdk/color/buckets.ts';

export const GREEN_AB: readonly [number, number] = [-14, 14];
export const WARM_AB: readonly [number, number] = [14, 14];

/** The metadata the test model carries (override fields to make variants). */
export function testModelInfo(over: Partial<Omit<ModelInfo, 'formatVersion'>> = {}): Omit<ModelInfo, 'formatVersion'> {
  return {
    kind: 'colorizer',
    buckets: seedBuckets(),
    temperature: 0.38,
    input: { name: 'L', scale: 1 / 50, offset: -1 },
    output: { name: 'logits', kind: 'logits', stride: 4 },
    spatialMultiple: 8,
    embedding: null,
    frames: 1,
    precision: 'fp32',
    recommendedSize: 64,
    provenance: { source: 'test/sdk-fixtures.ts' },
    contentHash: '',
    ...over,
  };
}

/**
 * The test models' body from the one-channel L-like tensor `input`: 3x3 blur, 4x4 average pool and
 * a 1x1 head whose logits are linear in x = L/50 - 1 (neutral -12x - 4, green -4x, warm 6x, the rest
 * -4), so dark -> neutral, mid -> green, light -> warm. Output: `logits` [1, Q, h, w].
 */
export function addTestHead(g: GraphBuilder, info: Omit<ModelInfo, 'formatVersion'>, input: string): void {
  const q = info.buckets.count;
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
  g.addNode({ opType: 'Conv', inputs: [input, 'blur.w', 'blur.b'], outputs: ['blurred'], attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1] } });
  g.addNode({ opType: 'AveragePool', inputs: ['blurred'], outputs: ['pooled'], attrs: { kernel_shape: [4, 4], strides: [4, 4] } });
  g.addNode({ opType: 'Conv', inputs: ['pooled', 'head.w', 'head.b'], outputs: ['logits'], attrs: { kernel_shape: [1, 1] } });
  g.addOutput('logits', DataType.FLOAT, [1, q, 'h', 'w']);
}

/** Bytes of the test model; `metadata: false` leaves the tinta metadata out. */
export function buildTestModel(opts: { metadata?: boolean; info?: Partial<Omit<ModelInfo, 'formatVersion'>>; channels?: number } = {}): Uint8Array {
  const info = testModelInfo(opts.info);
  const g = new GraphBuilder({ name: 'tinta-test' });
  g.addInput('L', DataType.FLOAT, [1, 1, 'H', 'W']);
  addTestHead(g, info, 'L');
  return encodeModel({ graph: g, producer: 'tinta-test', metadata: opts.metadata === false ? {} : buildMetadata(info) });
}

/** A deterministic photo-like RGBA image: gradients, a sharp-edged disc and a little noise. */
export function syntheticPhoto(width: number, height: number, seed = 1): Uint8ClampedArray {
  const data = new Uint8ClampedArray(width * height * 4);
  let s = seed >>> 0;
  const cx = width * 0.6, cy = height * 0.45, r = Math.min(width, height) * 0.25;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      s = (Math.imul(s, 1103515245) + 12345) >>> 0;
      const noise = (s >>> 28) - 8;
      const inDisc = (x - cx) ** 2 + (y - cy) ** 2 < r * r;
      const base = inDisc ? 200 : 40 + (180 * x) / width;
      const p = 4 * (y * width + x);
      data[p] = base + noise + 10 * Math.sin(y / 7);
      data[p + 1] = base * 0.9 + noise;
      data[p + 2] = base * 0.8 + 20 * Math.cos(x / 11);
      data[p + 3] = 255;
    }
  }
  return data;
}

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
}

/**
 * A model with a realistic amount of work for benchmarks (about 0.9 GMAC at 256x344): two
 * stride-2 3x3 convs (1 -> 32 -> 64 channels), four 3x3 convs at 1/4 resolution, a 1x1 head
 * to 112 logits. Weights are small pseudo-random numbers; the colours mean nothing.
 */
export function buildBenchModel(): Uint8Array {
  const info = testModelInfo({ recommendedSize: 256 });
  const q = info.buckets.count;
  const rnd = seeded(42);
  const g = new GraphBuilder({ name: 'tinta-bench' });
  g.addInput('L', DataType.FLOAT, [1, 1, 'H', 'W']);
  let x = 'L', cin = 1, k = 0;
  const conv = (cout: number, kernel: number, stride: number, relu: boolean): void => {
    const n = cout * cin * kernel * kernel;
    const scale = Math.sqrt(2 / (cin * kernel * kernel));
    g.addInitializer(`c${k}.w`, Float32Array.from({ length: n }, () => rnd() * scale), [cout, cin, kernel, kernel]);
    g.addInitializer(`c${k}.b`, new Float32Array(cout), [cout]);
    const p = (kernel - 1) / 2;
    const out = relu ? `c${k}.pre` : 'logits';
    g.addNode({ opType: 'Conv', inputs: [x, `c${k}.w`, `c${k}.b`], outputs: [out], attrs: { kernel_shape: [kernel, kernel], pads: [p, p, p, p], strides: [stride, stride] } });
    if (relu) g.addNode({ opType: 'Relu', inputs: [out], outputs: [`c${k}`] });
    x = `c${k}`;
    cin = cout;
    k++;
  };
  conv(32, 3, 2, true);
  conv(64, 3, 2, true);
  for (let i = 0; i < 4; i++) conv(64, 3, 1, true);
  conv(q, 1, 1, false);
  g.addOutput('logits', DataType.FLOAT, [1, q, 'h', 'w']);
  return encodeModel({ graph: g, producer: 'tinta-bench', metadata: buildMetadata(info) });
}
