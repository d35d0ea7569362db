/**
 * Exported model speed and size: fp32, fp16 and int8 of each preset at 256x256 (random weights
 * with trained-looking batch-norm statistics; int8 calibrated on 4 synthetic photos) in
 * onnxruntime-node (CPU, 1 intra-op thread) and onnxruntime-web (WASM, 1 thread). Prints file size,
 * MACs counted from the graph, median latency after warm-up, achieved GFLOP/s (2 x MACs / time) and
 * the int8/fp32 and fp16/fp32 speed ratios measured in the same run; never passes or fails on time.
 * Runs are interleaved across precisions so load drift on a shared machine hits them alike.
 * Run: npm run bench:models   (env: RUNS=7, SIZE=256, PRESETS=tiny,seed)
 */
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { initBackend } from '../trainer/backend.ts';
import { buildModel, presetConfig, type Preset } from '../trainer/model.ts';
import { exportModel } from '../converters/export.ts';
import { quantizeModel, normalisedL } from '../converters/quantize.ts';
import { countMacs } from '../converters/flops.ts';
import { decodeModel } from '../converters/onnx/model.ts';
import { formatBytes } from '../sdk/errors.ts';
import { randomizeWeights, syntheticPhoto } from '../test/converters-fixtures.ts';

type Ort = typeof ortNode;
const RUNS = Number(process.env.RUNS ?? 7);
const SIZE = Number(process.env.SIZE ?? 256);
const PRESETS = (process.env.PRESETS ?? 'tiny,seed').split(',') as Preset[];
const PRECISIONS = ['fp32', 'fp16', 'int8'] as const;
type Precision = (typeof PRECISIONS)[number];

ortWeb.env.wasm.numThreads = 1;
ortNode.env.logLevel = 'error';
ortWeb.env.logLevel = 'error';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

/** Median latency (ms) of each model on one runtime, runs interleaved across the models. */
async function latencies(ort: Ort, models: Uint8Array[], opts: ortNode.InferenceSession.SessionOptions): Promise<number[]> {
  const L = Float32Array.from({ length: SIZE * SIZE }, (_, i) => ((i % SIZE) + Math.floor(i / SIZE)) / (2 * SIZE));
  const feeds = { L: new ort.Tensor('float32', L, [1, 1, SIZE, SIZE]) };
  const sessions = [];
  for (const m of models) sessions.push(await ort.InferenceSession.create(m, { logSeverityLevel: 3, ...opts }));
  for (const s of sessions) for (let i = 0; i < 2; i++) await s.run(feeds);
  const times: number[][] = models.map(() => []);
  for (let r = 0; r < RUNS; r++) {
    for (const [i, s] of sessions.entries()) {
      const t0 = performance.now();
      await s.run(feeds);
      times[i]!.push(performance.now() - t0);
    }
  }
  for (const s of sessions) await s.release();
  return times.map(median);
}

await initBackend('wasm');
const calibration = Array.from({ length: 4 }, (_, i) => normalisedL(syntheticPhoto(SIZE, SIZE, 40 + i)));
const rows: { preset: Preset; precision: Precision; bytes: number; macs: number; node: number; web: number }[] = [];
for (const preset of PRESETS) {
  const model = buildModel(presetConfig(preset));
  randomizeWeights(model, 1);
  const fp32 = exportModel(model, { buckets: 'seed' });
  model.dispose();
  const macs = countMacs(decodeModel(fp32), { L: [1, 1, SIZE, SIZE] }).total;
  const bytes: Record<Precision, Uint8Array> = {
    fp32,
    fp16: (await quantizeModel(fp32, { mode: 'fp16' })).bytes,
    // targetAgreement 0: every quantizable conv int8 (random weights agree poorly with anything, and
    // the accuracy fallback would keep convs float), so this times the fully quantized network.
    int8: (await quantizeModel(fp32, { mode: 'int8', calibration, targetAgreement: 0 })).bytes,
  };
  const models = PRECISIONS.map((p) => bytes[p]);
  const node = await latencies(ortNode, models, { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential' });
  const web = await latencies(ortWeb as unknown as Ort, models, {});
  PRECISIONS.forEach((precision, i) => rows.push({ preset, precision, bytes: bytes[precision].length, macs, node: node[i]!, web: web[i]! }));
}

const gflops = (macs: number, ms: number) => ((2 * macs) / (ms * 1e6)).toFixed(1);
console.log(`exported models at ${SIZE}x${SIZE}, median of ${RUNS} runs after 2 warm-up runs, 1 thread each`);
console.log('preset  precision       size   GMAC   node ms  node GFLOP/s   web ms  web GFLOP/s');
for (const r of rows) {
  console.log(
    `${r.preset.padEnd(7)} ${r.precision.padEnd(9)} ${formatBytes(r.bytes).padStart(10)} ${(r.macs / 1e9).toFixed(2).padStart(6)} ` +
      `${r.node.toFixed(1).padStart(9)} ${gflops(r.macs, r.node).padStart(13)} ${r.web.toFixed(1).padStart(8)} ${gflops(r.macs, r.web).padStart(12)}`,
  );
}
for (const preset of PRESETS) {
  const by = (p: Precision) => rows.find((r) => r.preset === preset && r.precision === p)!;
  const f = by('fp32');
  for (const p of ['int8', 'fp16'] as const) {
    const q = by(p);
    console.log(`${preset} ${p}/fp32: ${(f.node / q.node).toFixed(2)}x faster in onnxruntime-node, ${(f.web / q.web).toFixed(2)}x in WASM, ${(q.bytes / f.bytes).toFixed(2)} of the size`);
  }
}
