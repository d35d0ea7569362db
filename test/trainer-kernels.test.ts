// Gradient checks of the wasm training kernels against tfjs's CPU backend, plus
// a small tf.layers net that must actually train on wasm.
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers' Node bundle is also what registers tfjs-core's gradients in Node.
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels, stockWasmKernel } from '../trainer/kernels/wasm-training.ts';

const TOL = 1e-4;
type Pad = 'same' | 'valid' | number | [[number, number], [number, number], [number, number], [number, number]];

before(async () => {
  assert.ok(await tf.setBackend('wasm'));
  await tf.ready();
  // Always our conv path here (tiny test shapes would otherwise often go to the stock loop).
  registerWasmTrainingKernels({ preferStockWhenCheaper: false });
});

/** Deterministic values in [-1, 1), so both backends see the same inputs. */
function values(n: number, seed: number): Float32Array {
  const a = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    a[i] = s / 2 ** 31 - 1;
  }
  return a;
}

/** Runs `fn` on one backend and copies its results out (tensors freed). */
function on(backend: string, fn: () => tf.Tensor[]): Float32Array[] {
  tf.setBackend(backend);
  const out = tf.tidy(fn);
  const data = out.map((t) => t.dataSync() as Float32Array);
  tf.dispose(out);
  return data;
}

/** max|a-b| / max|b|: the error relative to the reference's scale. */
function relErr(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) {
    d = Math.max(d, Math.abs(a[i] - b[i]));
    m = Math.max(m, Math.abs(b[i]));
  }
  return d / (m || 1);
}

function assertSame(fn: () => tf.Tensor[], what: string): void {
  const cpu = on('cpu', fn);
  const wasm = on('wasm', fn);
  tf.setBackend('wasm');
  cpu.forEach((ref, i) => {
    const e = relErr(wasm[i], ref);
    assert.ok(e <= TOL, `${what}: output ${i} differs from cpu by ${e.toExponential(2)}`);
  });
}

/** A loss whose gradient dy differs at every position, so misplaced values show. */
function weighted(y: tf.Tensor): tf.Scalar {
  return tf.sum(tf.mul(y, tf.sin(tf.reshape(tf.range(0, y.size), y.shape))));
}

interface ConvCase { n: number; h: number; w: number; ci: number; co: number; k: number; s: number | [number, number]; pad: Pad }

function convGrads(c: ConvCase): () => tf.Tensor[] {
  const xv = values(c.n * c.h * c.w * c.ci, 1 + c.k);
  const wv = values(c.k * c.k * c.ci * c.co, 7 + c.ci);
  const rounding = typeof c.pad === 'number' ? 'floor' : undefined;
  return () => {
    const x = tf.tensor4d(xv, [c.n, c.h, c.w, c.ci]);
    const w = tf.tensor4d(wv, [c.k, c.k, c.ci, c.co]);
    const g = tf.grads((a: tf.Tensor, f: tf.Tensor) =>
      weighted(tf.conv2d(a as tf.Tensor4D, f as tf.Tensor4D, c.s, c.pad, 'NHWC', 1, rounding)));
    return g([x, w]);
  };
}

const channels = [[1, 4], [3, 5], [8, 2], [16, 16]] as const;
const table: ConvCase[] = [];
for (const k of [1, 3, 4, 5]) {
  for (const s of [1, 2]) {
    for (const pad of ['same', 'valid'] as const) {
      for (const h of [7, 8]) {
        const [ci, co] = channels[table.length % channels.length];
        table.push({ n: table.length % 2 ? 3 : 1, h, w: h + 3, ci, co, k, s, pad });
      }
    }
  }
}
// non-square strides, numeric pads and explicit pads (some wider than the kernel: crops)
table.push(
  { n: 2, h: 9, w: 8, ci: 3, co: 4, k: 3, s: [2, 1], pad: 'same' },
  { n: 2, h: 9, w: 8, ci: 3, co: 4, k: 4, s: [1, 2], pad: 'valid' },
  { n: 2, h: 9, w: 10, ci: 3, co: 4, k: 5, s: 3, pad: 'same' },
  { n: 2, h: 9, w: 8, ci: 3, co: 4, k: 3, s: 2, pad: 1 },
  { n: 2, h: 9, w: 8, ci: 3, co: 4, k: 3, s: 2, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { n: 2, h: 9, w: 8, ci: 3, co: 4, k: 3, s: 1, pad: [[0, 0], [3, 0], [2, 4], [0, 0]] },
);

test('registration is idempotent and replaces the stock Conv2DBackpropInput', () => {
  registerWasmTrainingKernels();
  registerWasmTrainingKernels();
  const mine = tf.getKernel('Conv2DBackpropInput', 'wasm');
  const stock = stockWasmKernel('Conv2DBackpropInput');
  assert.ok(mine && stock && mine.kernelFunc !== stock.kernelFunc);
  assert.ok(tf.getKernel('Conv2DBackpropFilter', 'wasm'));
  assert.equal(stockWasmKernel('Conv2DBackpropFilter'), undefined); // wasm never had one
});

test(`conv2d dx and dW match the cpu backend (${table.length} cases)`, () => {
  for (const c of table) assertSame(convGrads(c), `conv ${JSON.stringify(c)}`);
});

test('Conv2DBackpropInput picks the stock loop only where it is cheaper, and stays exact', () => {
  const cases: ConvCase[] = [
    { n: 1, h: 2, w: 2, ci: 128, co: 128, k: 3, s: 1, pad: 'same' }, // tiny map, wide filter: stock
    { n: 1, h: 4, w: 4, ci: 64, co: 64, k: 3, s: 2, pad: 'same' }, // stock
    { n: 2, h: 16, w: 16, ci: 8, co: 8, k: 3, s: 2, pad: 'same' }, // ours
  ];
  registerWasmTrainingKernels({ preferStockWhenCheaper: true });
  try {
    for (const c of cases) assertSame(convGrads(c), `auto ${JSON.stringify(c)}`);
  } finally {
    registerWasmTrainingKernels({ preferStockWhenCheaper: false });
  }
});

test('gradients free every intermediate on the wasm backend', () => {
  tf.setBackend('wasm');
  const backend = tf.backend() as unknown as { numDataIds(): number };
  const fn = convGrads({ n: 2, h: 9, w: 8, ci: 3, co: 4, k: 4, s: 2, pad: 'same' });
  tf.dispose(tf.tidy(fn)); // first call may allocate lazily-created state
  const ids = backend.numDataIds();
  const tensors = tf.memory().numTensors;
  tf.dispose(tf.tidy(fn));
  assert.equal(backend.numDataIds(), ids);
  assert.equal(tf.memory().numTensors, tensors);
});

test('conv2dTranspose op matches cpu, including stride-2 even/odd outputs', () => {
  for (const [k, s, pad, oh] of [[4, 2, 'same', 16], [3, 2, 'same', 15], [3, 2, 'valid', 17], [2, 2, 'valid', 16], [5, 1, 'same', 8]] as const) {
    const ih = pad === 'same' ? Math.ceil(oh / s) : Math.ceil((oh - k + 1) / s);
    const xv = values(2 * ih * ih * 6, k), wv = values(k * k * 3 * 6, s + 3);
    assertSame(() => {
      const x = tf.tensor4d(xv, [2, ih, ih, 6]);
      const w = tf.tensor4d(wv, [k, k, 3, 6]);
      const f = (a: tf.Tensor, b: tf.Tensor) => tf.conv2dTranspose(a as tf.Tensor4D, b as tf.Tensor4D, [2, oh, oh, 3], s, pad);
      return [f(x, w), ...tf.grads((a: tf.Tensor, b: tf.Tensor) => weighted(f(a, b)))([x, w])];
    }, `conv2dTranspose k${k} s${s} ${pad} -> ${oh}`);
  }
});

test('Conv2DTranspose layer forward and backward match cpu', () => {
  const [n, h, ci, co, k] = [3, 6, 5, 4, 4];
  const xv = values(n * h * h * ci, 11), kv = values(k * k * co * ci, 12), bv = values(co, 13);
  assertSame(() => {
    const layer = tfl.layers.conv2dTranspose({ filters: co, kernelSize: k, strides: 2, padding: 'same' });
    layer.build([n, h, h, ci]);
    layer.setWeights([tf.tensor4d(kv, [k, k, co, ci]), tf.tensor1d(bv)]);
    const x = tf.variable(tf.tensor4d(xv, [n, h, h, ci]));
    const kernel = layer.trainableWeights[0].read() as tf.Variable;
    const y = layer.apply(x) as tf.Tensor;
    const { grads } = tf.variableGrads(() => weighted(layer.apply(x) as tf.Tensor), [x, kernel]);
    const out = [y, grads[x.name], grads[kernel.name]];
    tf.dispose([x, ...layer.weights.map((w) => w.read())]);
    return out;
  }, 'Conv2DTranspose layer');
});

test('depthwise conv gradients match cpu', () => {
  for (const [k, s, m, pad] of [[3, 1, 1, 'same'], [3, 2, 1, 'same'], [3, 2, 2, 'valid'], [5, 2, 3, 'same'], [4, 1, 2, 'valid']] as const) {
    const xv = values(2 * 9 * 8 * 3, k + m), wv = values(k * k * 3 * m, s);
    assertSame(() => {
      const x = tf.tensor4d(xv, [2, 9, 8, 3]);
      const w = tf.tensor4d(wv, [k, k, 3, m]);
      return tf.grads((a: tf.Tensor, b: tf.Tensor) => weighted(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad)))([x, w]);
    }, `depthwise k${k} s${s} m${m} ${pad}`);
  }
});

test('unsortedSegmentSum (gather gradient) matches cpu', () => {
  const xv = values(6 * 4, 5);
  assertSame(() => [
    tf.unsortedSegmentSum(tf.tensor2d(xv, [6, 4]), tf.tensor1d([2, 0, 2, -1, 4, 0], 'int32'), 5),
    tf.grads((t: tf.Tensor) => weighted(tf.gather(t, tf.tensor1d([3, 1, 3, 0], 'int32'))))([tf.tensor2d(xv, [6, 4])])[0],
  ], 'unsortedSegmentSum');
});

/** conv+BN+relu, a stride-2 branch with Conv2DTranspose, both upsamplings, concat, softmax. */
function tinyNet(): tfl.LayersModel {
  const input = tfl.input({ shape: [16, 16, 1] });
  const a = tfl.layers.reLU().apply(
    tfl.layers.batchNormalization().apply(
      tfl.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', useBias: false }).apply(input))) as tfl.SymbolicTensor;
  const down = tfl.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }).apply(a) as tfl.SymbolicTensor;
  const up1 = tfl.layers.upSampling2d({ size: [2, 2] }).apply(down) as tfl.SymbolicTensor;
  const up2 = tfl.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }).apply(down) as tfl.SymbolicTensor;
  const up3 = tfl.layers.conv2dTranspose({ filters: 4, kernelSize: 4, strides: 2, padding: 'same' }).apply(down) as tfl.SymbolicTensor;
  const merged = tfl.layers.concatenate().apply([a, up1, up2, up3]) as tfl.SymbolicTensor;
  const out = tfl.layers.dense({ units: 5, activation: 'softmax' }).apply(merged) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

test('wasm ResizeNearestNeighborGrad is right for batch > 1 (the cpu one is not)', () => {
  // tfjs-backend-cpu 4.22 indexes dy with the images' batch stride, so its
  // UpSampling2D gradient is wrong past the first image; check wasm by hand.
  const [n, h, w, c] = [3, 3, 4, 2];
  const dyv = values(n * 2 * h * 2 * w * c, 21);
  const ref = new Float32Array(n * h * w * c);
  for (let b = 0; b < n; b++) for (let y = 0; y < 2 * h; y++) for (let x = 0; x < 2 * w; x++) for (let k = 0; k < c; k++) {
    ref[((b * h + (y >> 1)) * w + (x >> 1)) * c + k] += dyv[((b * 2 * h + y) * 2 * w + x) * c + k];
  }
  const [got] = on('wasm', () => {
    const dy = tf.tensor4d(dyv, [n, 2 * h, 2 * w, c]);
    return tf.grads((t: tf.Tensor) => tf.sum(tf.mul(tf.image.resizeNearestNeighbor(t as tf.Tensor4D, [2 * h, 2 * w]), dy)))([tf.ones([n, h, w, c])]);
  });
  assert.ok(relErr(got, ref) <= TOL);
});

test('a small conv net gives the same gradients on wasm as on cpu', () => {
  tf.setBackend('cpu');
  const ref = tinyNet();
  const weights = ref.getWeights().map((w) => ({ shape: w.shape, data: w.dataSync().slice() }));
  ref.dispose();
  // Batch 1: the cpu reference's nearest-upsampling gradient is wrong for batch > 1 (see above).
  const xv = values(16 * 16, 3);
  const labels = Array.from(values(16 * 16, 4), (v) => Math.floor((v + 1) * 2.5));
  assertSame(() => {
    const model = tinyNet();
    model.setWeights(weights.map((w) => tf.tensor(w.data, w.shape)));
    const x = tf.tensor4d(xv, [1, 16, 16, 1]);
    const y = tf.oneHot(tf.tensor3d(labels, [1, 16, 16], 'int32'), 5);
    const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
    const { value, grads } = tf.variableGrads(() =>
      tf.mean(tfl.metrics.categoricalCrossentropy(y, model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar, vars);
    const out = [value, ...vars.map((v) => grads[v.name])];
    model.dispose();
    return out;
  }, 'tiny net');
});

test('a small conv net trains on wasm: loss goes down', async () => {
  tf.setBackend('wasm');
  const model = tinyNet();
  model.compile({ optimizer: tf.train.adam(0.02), loss: 'categoricalCrossentropy' });
  const x = tf.tensor4d(values(4 * 16 * 16, 9), [4, 16, 16, 1]);
  // A learnable target: the class is the quantised input intensity.
  const y = tf.tidy(() => tf.oneHot(tf.cast(tf.reshape(tf.floor(tf.mul(tf.add(x, 1), 2.499)), [4, 16, 16]), 'int32'), 5));
  const losses: number[] = [];
  for (let i = 0; i < 10; i++) losses.push(Number(await model.trainOnBatch(x, y)));
  assert.ok(losses.every(Number.isFinite), `non-finite loss: ${losses}`);
  assert.ok(losses[9] < losses[0] * 0.8, `loss did not decrease: ${losses.map((l) => l.toFixed(3)).join(' ')}`);
  tf.dispose([x, y]);
  model.dispose();
});

test('Slice, SplitV and Tile replacements match cpu (float32, int32, bool)', () => {
  const xv = values(3 * 4 * 5 * 6, 31);
  for (const dtype of ['float32', 'int32', 'bool'] as const) {
    // (bool from a comparison: wasm's cast float32->bool truncates instead of testing != 0)
    const make = () => dtype === 'bool' ? tf.greater(tf.tensor4d(xv, [3, 4, 5, 6]), 0) : tf.cast(tf.mul(tf.tensor4d(xv, [3, 4, 5, 6]), 3), dtype);
    const asFloat = (ts: tf.Tensor[]) => ts.map((t) => tf.cast(t, 'float32'));
    assertSame(() => {
      const x = make();
      return asFloat([
        tf.slice(x, [1, 0, 2, 1], [2, 4, 3, 4]), tf.slice(x, [0, 1, 0, 0], [3, 2, -1, -1]), tf.slice(x, [2, 3, 4, 5], [1, 1, 1, 1]),
        tf.slice(tf.reshape(x, [360]), [7], [100]), tf.slice(x, [0, 0, 0, 0], [3, 4, 5, 6]),
        ...tf.split(x, [2, 4], 3), ...tf.split(x, 2, 1), ...tf.split(x, [1, 2], 0),
        tf.tile(x, [2, 1, 3, 1]), tf.tile(tf.slice(x, [0, 0, 0, 0], [1, 1, 1, 6]), [3, 4, 5, 1]), tf.tile(tf.reshape(x, [360]), [3]),
        tf.tile(tf.reshape(x, [12, 30]), [2, 3]),
      ]);
    }, `slice/split/tile ${dtype}`);
  }
});
