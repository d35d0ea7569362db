/**
 * Conv training kernels on tfjs's WASM backend (one core, SIMD): Conv2DBackpropFilter and
 * Conv2DBackpropInput from trainer/kernels/wasm-training.ts against the stock wasm
 * Conv2DBackpropInput and the CPU backend, all measured in the same run, plus a whole
 * training step of a small U-Net in img/s. Prints times and ratios; never passes or fails on time.
 * Run: npm run bench:kernels   (SIZES=64,128 to skip 224 in the kernel table; STEP_SIZES=64,128,224
 * for training steps, 224 is off by default as one step takes most of a minute; REPS=3 runs per wasm kernel)
 */
import * as tf from '@tensorflow/tfjs-core';
// tfjs-layers' Node bundle also registers tfjs-core's gradients.
import * as tfl from '@tensorflow/tfjs-layers';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-wasm';
import { registerWasmTrainingKernels, stockWasmKernel } from '../trainer/kernels/wasm-training.ts';

const SIZES = (process.env.SIZES ?? '64,128,224').split(',').map(Number);
const STEP_SIZES = (process.env.STEP_SIZES ?? '64,128').split(',').map(Number);
const REPS = Number(process.env.REPS ?? 3);
const BATCH = 8;

await tf.setBackend('wasm');
await tf.ready();
registerWasmTrainingKernels();
const stockInput = stockWasmKernel('Conv2DBackpropInput')!;

/** A layer of a colorization U-Net: input at size/div, k x k conv, stride s, ci -> co. */
interface Layer { name: string; div: number; ci: number; co: number; k: number; s: number }
const LAYERS: Layer[] = [
  { name: 'enc 3x3 s1 32->32', div: 1, ci: 32, co: 32, k: 3, s: 1 },
  { name: 'down 3x3 s2 64->128', div: 2, ci: 64, co: 128, k: 3, s: 2 },
  { name: 'mid 3x3 s1 128->128', div: 4, ci: 128, co: 128, k: 3, s: 1 },
  { name: 'deep 3x3 s1 256->256', div: 8, ci: 256, co: 256, k: 3, s: 1 },
  { name: 'proj 1x1 s1 256->128', div: 8, ci: 256, co: 128, k: 1, s: 1 },
  // The conv whose transpose is an upsampling Conv2DTranspose(128->64, 4x4, s2).
  { name: 'up^T 4x4 s2 64->128', div: 2, ci: 64, co: 128, k: 4, s: 2 },
];

/**
 * CPU time of this process in ms. Wasm here is single-threaded and synchronous, so this is
 * the kernels' own time, and unlike wall time it does not grow when other processes share the core.
 */
function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median CPU ms of `reps` runs after one warm-up (both backends compute synchronously: done when it returns). */
function ms(fn: () => tf.Tensor, reps: number, warm = true): number {
  if (warm) fn().dispose();
  const times: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t = cpuMs();
    fn().dispose();
    times.push(cpuMs() - t);
  }
  return median(times);
}

interface Tensors { x: tf.Tensor4D; w: tf.Tensor4D; dy: tf.Tensor4D }

function makeTensors(l: Layer, n: number, h: number): Tensors {
  const x = tf.randomNormal([n, h, h, l.ci]) as tf.Tensor4D;
  const w = tf.randomNormal([l.k, l.k, l.ci, l.co]) as tf.Tensor4D;
  const ho = Math.ceil(h / l.s);
  const dy = tf.randomNormal([n, ho, ho, l.co]) as tf.Tensor4D;
  return { x, w, dy };
}

const filterGrad = ({ x, dy, w }: Tensors, l: Layer) => () =>
  tf.engine().runKernel('Conv2DBackpropFilter', { x, dy }, { strides: l.s, pad: 'same', dataFormat: 'NHWC', filterShape: w.shape }) as tf.Tensor;
const inputGrad = ({ x, dy, w }: Tensors, l: Layer) => () =>
  tf.engine().runKernel('Conv2DBackpropInput', { dy, filter: w }, { strides: l.s, pad: 'same', dataFormat: 'NHWC', inputShape: x.shape }) as tf.Tensor;
const stockInputGrad = ({ x, dy, w }: Tensors, l: Layer) => () => {
  const info = stockInput.kernelFunc({ inputs: { dy, filter: w }, backend: tf.backend(), attrs: { strides: l.s, pad: 'same', dataFormat: 'NHWC', inputShape: x.shape } });
  return tf.engine().makeTensorFromTensorInfo(info as tf.TensorInfo);
};
// Fresh weights each call, as in training: every optimizer step gives a variable a new
// dataId, so XNNPACK re-packs the filter on every forward too (the gradients always do).
const forward = ({ x, w }: Tensors, l: Layer) => () => {
  const fresh = tf.clone(w);
  const y = tf.conv2d(x, fresh, l.s, 'same');
  fresh.dispose();
  return y;
};

const f1 = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
const pad = (s: string, n: number) => s.padStart(n);

// 1. wasm kernels per layer, batch 8.
console.log(`wasm backend, batch ${BATCH}, CPU ms (median of ${REPS}; stock BackpropInput: 1 run); fwd = forward conv, dW/dx = its gradients`);
console.log(`${'size'.padEnd(5)}${'layer'.padEnd(24)}${pad('fwd', 8)}${pad('dW', 8)}${pad('dx', 8)}${pad('stock dx', 10)}${pad('dW/fwd', 8)}${pad('dx/fwd', 8)}${pad('stock/dx', 10)}`);
for (const size of SIZES) {
  for (const l of LAYERS) {
    const t = makeTensors(l, BATCH, size / l.div);
    const fwd = ms(forward(t, l), REPS);
    const dw = ms(filterGrad(t, l), REPS);
    const dx = ms(inputGrad(t, l), REPS);
    const stock = ms(stockInputGrad(t, l), 1, false);
    console.log(`${String(size).padEnd(5)}${l.name.padEnd(24)}${pad(f1(fwd), 8)}${pad(f1(dw), 8)}${pad(f1(dx), 8)}${pad(f1(stock), 10)}` +
      `${pad((dw / fwd).toFixed(2), 8)}${pad((dx / fwd).toFixed(2), 8)}${pad((stock / dx).toFixed(1) + 'x', 10)}`);
    tf.dispose([t.x, t.w, t.dy]);
  }
}

// 2. Against the CPU backend: it is hundreds of times slower, so batch 1 at 32x32, one run.
const CPU_SIZE = 32;
console.log(`\ncpu backend vs wasm, batch 1, ${CPU_SIZE}x${CPU_SIZE}, CPU ms (cpu: 1 run)`);
console.log(`${'layer'.padEnd(24)}${pad('cpu dW', 9)}${pad('wasm dW', 9)}${pad('ratio', 8)}${pad('cpu dx', 9)}${pad('wasm dx', 9)}${pad('ratio', 8)}`);
for (const l of LAYERS) {
  const h = CPU_SIZE / l.div;
  const cpuMs: number[] = [];
  const wasmMs: number[] = [];
  for (const backend of ['cpu', 'wasm']) {
    await tf.setBackend(backend);
    const t = makeTensors(l, 1, h);
    const reps = backend === 'cpu' ? 1 : REPS;
    (backend === 'cpu' ? cpuMs : wasmMs).push(ms(filterGrad(t, l), reps, backend !== 'cpu'), ms(inputGrad(t, l), reps, backend !== 'cpu'));
    tf.dispose([t.x, t.w, t.dy]);
  }
  console.log(`${l.name.padEnd(24)}${pad(f1(cpuMs[0]!), 9)}${pad(f1(wasmMs[0]!), 9)}${pad((cpuMs[0]! / wasmMs[0]!).toFixed(0) + 'x', 8)}` +
    `${pad(f1(cpuMs[1]!), 9)}${pad(f1(wasmMs[1]!), 9)}${pad((cpuMs[1]! / wasmMs[1]!).toFixed(0) + 'x', 8)}`);
}
await tf.setBackend('wasm');

// 3. A whole training step: forward + backward + Adam on a small colorization U-Net.
function unet(size: number): tfl.LayersModel {
  const convBnRelu = (t: tfl.SymbolicTensor, filters: number, strides = 1) =>
    tfl.layers.reLU().apply(tfl.layers.batchNormalization().apply(
      tfl.layers.conv2d({ filters, kernelSize: 3, strides, padding: 'same', useBias: false }).apply(t))) as tfl.SymbolicTensor;
  const conv = (t: tfl.SymbolicTensor, filters: number) =>
    tfl.layers.conv2d({ filters, kernelSize: 3, padding: 'same', activation: 'relu' }).apply(t) as tfl.SymbolicTensor;
  const input = tfl.input({ shape: [size, size, 1] });
  const e1 = convBnRelu(input, 32);
  const e2 = convBnRelu(e1, 64, 2);
  const e3 = convBnRelu(e2, 128, 2);
  const mid = conv(e3, 128);
  const u2 = tfl.layers.conv2dTranspose({ filters: 64, kernelSize: 4, strides: 2, padding: 'same' }).apply(mid) as tfl.SymbolicTensor;
  const d2 = conv(tfl.layers.concatenate().apply([u2, e2]) as tfl.SymbolicTensor, 64);
  const u1 = tfl.layers.upSampling2d({ size: [2, 2], interpolation: 'bilinear' }).apply(d2) as tfl.SymbolicTensor;
  const d1 = conv(tfl.layers.concatenate().apply([u1, e1]) as tfl.SymbolicTensor, 32);
  const out = tfl.layers.conv2d({ filters: 2, kernelSize: 1, activation: 'tanh' }).apply(d1) as tfl.SymbolicTensor;
  return tfl.model({ inputs: input, outputs: out });
}

async function stepImgPerSec(size: number, steps: number): Promise<number> {
  const model = unet(size);
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'meanSquaredError' });
  const x = tf.randomNormal([BATCH, size, size, 1]);
  const y = tf.randomUniform([BATCH, size, size, 2], -1, 1);
  await model.trainOnBatch(x, y); // warm-up: builds optimizer slots and XNNPACK operators
  const t = cpuMs();
  for (let i = 0; i < steps; i++) await model.trainOnBatch(x, y);
  const secs = (cpuMs() - t) / 1000;
  tf.dispose([x, y]);
  model.dispose();
  return (steps * BATCH) / secs;
}

/** Swaps the stock wasm Conv2DBackpropInput back in for the duration of fn. */
async function withStockInputGrad<T>(fn: () => Promise<T>): Promise<T> {
  tf.unregisterKernel('Conv2DBackpropInput', 'wasm');
  tf.registerKernel(stockInput);
  try {
    return await fn();
  } finally {
    registerWasmTrainingKernels();
  }
}

const params = (() => { const m = unet(64); const n = m.countParams(); m.dispose(); return n; })();
console.log(`\ntraining step, U-Net (${(params / 1e6).toFixed(2)} M params, BN, Conv2DTranspose, bilinear up, concat), batch ${BATCH}, Adam, wasm, per CPU second`);
console.log(`${'size'.padEnd(6)}${pad('img/s', 8)}${pad('ms/step', 9)}${pad('img/s stock dx', 16)}${pad('speed-up', 10)}`);
for (const size of STEP_SIZES) {
  const ours = await stepImgPerSec(size, size <= 64 ? 5 : size <= 128 ? 3 : 1);
  // The stock kernel's step is slow; skip it at the largest size.
  const stock = size <= 128 ? await withStockInputGrad(() => stepImgPerSec(size, size <= 64 ? 2 : 1)) : NaN;
  console.log(`${String(size).padEnd(6)}${pad(ours.toFixed(2), 8)}${pad(f1((1000 * BATCH) / ours), 9)}` +
    `${pad(Number.isNaN(stock) ? '-' : stock.toFixed(2), 16)}${pad(Number.isNaN(stock) ? '-' : (ours / stock).toFixed(1) + 'x', 10)}`);
}
