/**
 * SDK end to end on Node: a 1 MP and a 12 MP photo (raw RGBA, decoding excluded) through
 * createColorizer() on each Node backend, split into preprocess / model / postprocess; where
 * the pre/post time goes for 12 MP (against the colour core's own round trip, measured in the
 * same run); the worker's round-trip cost (a no-op call, and the same colorization in and out
 * of the worker); and the SDK's overhead over a bare session.run on the same tensor.
 * Prints times and ratios; never passes or fails on time. Run: npm run bench:sdk
 * The model is a synthetic ~0.9 GMAC network (test/sdk-fixtures.ts buildBenchModel).
 */
import * as ort from 'onnxruntime-node';
import { createColorizer, type Colorizer, type NodeImageInput, type Timings } from '../sdk/node.ts';
import { internalsOf } from '../sdk/colorizer.ts';
import { parseModelInfo } from '../sdk/model/metadata.ts';
import { readOnnxMetadata } from '../sdk/model/onnx-metadata.ts';
import { rgba8ToL, rgba8ToLab, labToRgba8 } from '../sdk/color/lab.ts';
import { annealedMean, applySaturation } from '../sdk/color/decode.ts';
import { networkSize, resamplePlane } from '../sdk/core/resample.ts';
import { fitLinearModels, applyLinearModels, upsampleAb } from '../sdk/core/guided.ts';
import { preprocess } from '../sdk/core/pipeline.ts';
import { buildBenchModel, syntheticPhoto } from '../test/sdk-fixtures.ts';

const REPS = Number(process.env.REPS ?? 3);
const MODEL = buildBenchModel();
const info = parseModelInfo(readOnnxMetadata(MODEL).metadata);

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
const ms = (x: number): string => `${x.toFixed(x < 10 ? 2 : 0)} ms`.padStart(10);
const pad = (s: string, n: number): string => s.padEnd(n);

const photos = [
  { name: '1 MP', width: 1155, height: 866 },
  { name: '12 MP', width: 4000, height: 3000 },
].map((p) => ({ ...p, data: syntheticPhoto(p.width, p.height, 3) }));

async function timeColorize(c: Colorizer<NodeImageInput>, p: (typeof photos)[number], reps: number): Promise<Timings> {
  await c.colorize({ data: p.data, width: p.width, height: p.height }); // warm-up
  const runs: Timings[] = [];
  for (let i = 0; i < reps; i++) runs.push((await c.colorize({ data: p.data, width: p.width, height: p.height })).timings);
  const pick = (k: keyof Timings): number => median(runs.map((r) => r[k]));
  return { decode: pick('decode'), preprocess: pick('preprocess'), model: pick('model'), postprocess: pick('postprocess'), total: pick('total') };
}

console.log(`tinta SDK on Node ${process.version}, model ${(MODEL.length / 1024).toFixed(0)} KiB (~0.9 GMAC at 256 px), one ORT thread, median of ${REPS}`);
console.log('\nEnd to end, inline (decode excluded):');
console.log(`  ${pad('backend', 8)}${pad('photo', 7)}${'preprocess'.padStart(10)}${'model'.padStart(10)}${'postproc'.padStart(10)}${'total'.padStart(10)}   pre+post`);
const totals: Record<string, Timings> = {};
for (const backend of ['native', 'wasm'] as const) {
  const c = await createColorizer({ model: MODEL, backend, worker: false, threads: 1 });
  for (const p of photos) {
    const t = await timeColorize(c, p, p.name === '12 MP' ? REPS : REPS * 3);
    totals[`${backend} ${p.name}`] = t;
    console.log(`  ${pad(backend, 8)}${pad(p.name, 7)}${ms(t.preprocess)}${ms(t.model)}${ms(t.postprocess)}${ms(t.total)}${ms(t.preprocess + t.postprocess)}`);
  }
  await c.dispose();
}
const n12 = totals['native 12 MP']!, w12 = totals['wasm 12 MP']!;
console.log(`  model stage wasm / native: ${(w12.model / n12.model).toFixed(2)}x; end to end 12 MP wasm / native: ${(w12.total / n12.total).toFixed(2)}x`);

// Where the 12 MP pre/post time goes, stage by stage, on the core functions.
{
  const p = photos[1]!;
  const W = p.width, H = p.height, N = W * H;
  const net = networkSize(W, H, info.recommendedSize, info.spatialMultiple);
  const gw = net.width / 4, gh = net.height / 4;
  const logits = new Float32Array(info.buckets.count * gw * gh).map((_, i) => Math.sin(i) * 3);
  const stages: Record<string, number[]> = {};
  const cpu: Record<string, number[]> = {};
  // CPU time of this process as well as wall time: on a busy machine it is the steadier measure of a
  // single-threaded stage (nothing else runs in the process while it does).
  const time = (name: string, f: () => void): void => {
    const c = process.cpuUsage();
    const t = performance.now();
    f();
    (stages[name] ??= []).push(performance.now() - t);
    const d = process.cpuUsage(c);
    (cpu[name] ??= []).push((d.user + d.system) / 1000);
  };
  const L = new Float32Array(N), A = new Float32Array(N), B = new Float32Array(N), out = new Uint8ClampedArray(4 * N);
  let netL: Float32Array = new Float32Array(0), guide: Float32Array = new Float32Array(0);
  let ab: { a: Float32Array; b: Float32Array } = { a: new Float32Array(0), b: new Float32Array(0) };
  let m: ReturnType<typeof fitLinearModels> | undefined;
  const lab = { L: new Float32Array(N), a: new Float32Array(N), b: new Float32Array(N), width: W, height: H };
  for (let r = 0; r < REPS + 1; r++) {
    time('RGBA -> L (colour core)', () => rgba8ToL(p.data, W, H, L));
    time(`area downscale to ${net.width}x${net.height}`, () => { netL = resamplePlane(L, W, H, net.width, net.height); });
    time('annealed mean + saturation', () => { ab = applySaturation(annealedMean(logits, info.buckets, { pixels: gw * gh, layout: 'chw', kind: 'logits' }, 0.38), 1); });
    time(`guided fit on the ${gw}x${gh} grid`, () => { guide = resamplePlane(netL, net.width, net.height, gw, gh); m = fitLinearModels(guide, ab.a, ab.b, gw, gh); });
    time('guided apply at full res', () => applyLinearModels(m!, L, W, H, A, B));
    time('Lab -> RGBA (colour core)', () => labToRgba8(L, A, B, out));
    time('(bilinear upsample, for comparison)', () => upsampleAb(ab.a, ab.b, gw, gh, 'bilinear', L, guide, W, H, A, B));
    time('(colour core round trip RGBA->Lab->RGBA)', () => { rgba8ToLab(p.data, W, H, lab); labToRgba8(lab.L, lab.a, lab.b, out); });
  }
  // The minimum is printed too: on a shared machine it is the best estimate of the unloaded cost.
  console.log('\n12 MP pre/post, stage by stage (core functions, one core):   median       min    CPU time');
  let sum = 0, sumMin = 0, sumCpu = 0;
  for (const [name, xs] of Object.entries(stages)) {
    const t = median(xs.slice(1)), lo = Math.min(...xs.slice(1)), c = median(cpu[name]!.slice(1));
    if (!name.startsWith('(')) { sum += t; sumMin += lo; sumCpu += c; }
    console.log(`  ${pad(name, 44)}${ms(t)}${ms(lo)}${ms(c)}`);
  }
  const core = median(stages['(colour core round trip RGBA->Lab->RGBA)']!.slice(1));
  const colourCore = median(stages['RGBA -> L (colour core)']!.slice(1)) + median(stages['Lab -> RGBA (colour core)']!.slice(1));
  console.log(`  ${pad('pre+post sum', 44)}${ms(sum)}${ms(sumMin)}${ms(sumCpu)}   (target <= 500 ms on one core)`);
  console.log(`  of which the colour core (RGBA->L, Lab->RGBA): ${ms(colourCore).trim()} = ${((100 * colourCore) / sum).toFixed(0)}%; SDK-own stages ${ms(sum - colourCore).trim()}`);
  console.log(`  pre+post / colour-core round trip: ${(sum / core).toFixed(2)}x`);
}

// Worker: a no-op round trip, and the same 1 MP colorization in and out of the worker.
{
  const inline = await createColorizer({ model: MODEL, backend: 'native', worker: false, threads: 1 });
  const inWorker = await createColorizer({ model: MODEL, backend: 'native', worker: true, threads: 1 });
  const pings: number[] = [];
  for (let i = 0; i < 300; i++) {
    const t = performance.now();
    await internalsOf(inWorker).ping();
    pings.push(performance.now() - t);
  }
  const p = photos[0]!;
  const a = await timeColorize(inline, p, REPS * 3);
  const b = await timeColorize(inWorker, p, REPS * 3);
  console.log('\nWorker (native, 1 MP):');
  console.log(`  no-op round trip                 ${ms(median(pings.slice(50)))}`);
  console.log(`  colorize total inline            ${ms(a.total)}`);
  console.log(`  colorize total in worker         ${ms(b.total)}   (${(b.total / a.total).toFixed(2)}x; stage sum in the worker ${ms(b.decode + b.preprocess + b.model + b.postprocess).trim()}, so transfer + messaging ${ms(b.total - (b.decode + b.preprocess + b.model + b.postprocess)).trim()})`);
  await inline.dispose();
  await inWorker.dispose();
}

// SDK model stage vs a bare onnxruntime-node session.run on the same tensor.
{
  const p = photos[0]!;
  const prep = preprocess({ data: p.data, width: p.width, height: p.height }, info, info.recommendedSize);
  const session = await ort.InferenceSession.create(MODEL, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', logSeverityLevel: 3 });
  const tensor = new ort.Tensor('float32', prep.input.data, [...prep.input.dims]);
  const bare: number[] = [];
  for (let i = 0; i < REPS * 3 + 2; i++) {
    const t = performance.now();
    await session.run({ L: tensor });
    bare.push(performance.now() - t);
  }
  await session.release();
  const sdk = totals['native 1 MP']!;
  const b = median(bare.slice(2));
  console.log(`\nSDK vs bare session.run (native, ${prep.netWidth}x${prep.netHeight} input from the 1 MP photo):`);
  console.log(`  bare session.run                 ${ms(b)}`);
  console.log(`  SDK model stage                  ${ms(sdk.model)}   (${(sdk.model / b).toFixed(2)}x)`);
  console.log(`  SDK whole colorize (1 MP)        ${ms(sdk.total)}   (${(sdk.total / b).toFixed(2)}x the bare run: the rest is full-resolution pre/post)`);
}
