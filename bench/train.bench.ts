/**
 * Training throughput: images/s of the `tiny` and `seed` presets at 64, 128 and 224 px for the plain
 * CPU backend (one step of one image, 64 px only: it is ~300x slower), WASM with 1 worker and WASM with all
 * workers, plus the peak RSS of each configuration (each runs in its own process).
 *
 * "independent" runs one single-worker process per core at the same time and adds their images/s: no
 * gradient exchange at all, so it is the most that data parallelism could reach on this machine (cores
 * that share caches and memory bandwidth slow each other down). "all workers / independent" is then the
 * efficiency of the worker pool itself.
 * Prints ratios measured in the same run; never passes or fails on time.
 *
 *   npm run bench:train                    # everything (takes a while)
 *   SIZES=64,128 PRESETS=tiny BATCH=8 npm run bench:train
 */
import { spawn } from 'node:child_process';
import { cpus } from 'node:os';
import { fileURLToPath } from 'node:url';
import { TRAIN_DEFAULTS } from '../trainer/train.ts';

interface Result { preset: string; size: number; mode: string; imgPerSec: number; steps: number; peakRssMb: number; note?: string }

const SELF = fileURLToPath(import.meta.url);
const BATCH = Number(process.env.BATCH ?? TRAIN_DEFAULTS.batchSize);
const SECONDS = Number(process.env.SECONDS_PER_CASE ?? 20);

async function child(): Promise<void> {
  const preset = process.env.CASE_PRESET as 'tiny' | 'seed';
  const size = Number(process.env.CASE_SIZE);
  const mode = process.env.CASE_MODE!;
  const tf = await import('@tensorflow/tfjs-core');
  const { initBackend } = await import('../trainer/backend.ts');
  const { buildModel, presetConfig } = await import('../trainer/model.ts');
  const { localStepper } = await import('../trainer/local.ts');
  const { GradientPool } = await import('../trainer/parallel/pool.ts');
  const backend = mode === 'cpu' ? 'cpu' : 'wasm';
  await initBackend(backend);
  const cfg = presetConfig(preset);
  const model = buildModel(cfg, { inputSize: size });
  const optimizer = tf.train.adam(1e-3);
  const workers = mode === 'wasm-all' ? cpus().length : 1;
  const stepper = workers > 1
    ? await GradientPool.start({ workers, backend, model, optimizer, modelConfig: cfg, inputSize: size, bucketWeights: null })
    : localStepper(model, optimizer, null);
  const Q = cfg.buckets, o = size / 4;
  const n = mode === 'cpu' ? 1 : BATCH;
  const batch = () => {
    const L = new Float32Array(n * size * size);
    for (let i = 0; i < L.length; i++) L[i] = ((i * 2654435761) >>> 0) / 2 ** 32;
    const target = new Float32Array(n * o * o * Q);
    for (let i = 0; i < n * o * o; i++) target[i * Q + (i % Q)] = 1;
    return { n, size, buckets: Q, L, target };
  };
  const maxSteps = mode === 'cpu' ? 1 : 1000; // the CPU backend: one step of one image (it is ~300x slower)
  if (mode !== 'cpu') await stepper.step(batch(), 0, 1e-3, 5); // warm-up: kernels, weight packing
  let steps = 0;
  const t0 = performance.now();
  while (steps < maxSteps && (steps < 2 || performance.now() - t0 < SECONDS * 1000)) {
    await stepper.step(batch(), steps + 1, 1e-3, 5);
    steps++;
  }
  const sec = (performance.now() - t0) / 1000;
  await stepper.close();
  // maxRSS is in KiB; worker threads share the process, so this is the whole configuration.
  const peak = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ preset, size, mode, imgPerSec: (steps * n) / sec, steps, peakRssMb: peak } satisfies Result) + '\n');
}

/** Run one case in its own process; resolves to its result line (or a failure note). */
function runCase(preset: string, size: number, mode: string): Promise<Result> {
  return new Promise((resolve) => {
    const timeoutMs = (mode === 'cpu' ? 5 : 15) * 60_000;
    const p = spawn(process.execPath, ['--import', 'tsx', SELF], {
      env: { ...process.env, BENCH_CHILD: '1', CASE_PRESET: preset, CASE_SIZE: String(size), CASE_MODE: mode },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '', err = '', timedOut = false;
    p.stdout.on('data', (d: Buffer) => { out += d; });
    p.stderr.on('data', (d: Buffer) => { err += d; });
    const timer = setTimeout(() => { timedOut = true; p.kill('SIGKILL'); }, timeoutMs);
    p.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? '') as Result);
      } catch {
        const why = timedOut ? 'timed out' : err.split('\n').find((l) => /Error/.test(l)) ?? 'no output';
        resolve({ preset, size, mode, imgPerSec: NaN, steps: 0, peakRssMb: NaN, note: `failed: ${why}` });
      }
    });
  });
}

async function main(): Promise<void> {
  const presets = (process.env.PRESETS ?? 'tiny,seed').split(',');
  const sizes = (process.env.SIZES ?? '64,128,224').split(',').map(Number);
  const results: Result[] = [];
  console.log(`training throughput, batch ${BATCH}, ${cpus().length} cores, ~${SECONDS} s per case`);
  for (const preset of presets) {
    for (const size of sizes) {
      for (const mode of ['cpu', 'wasm-1', 'independent', 'wasm-all']) {
        if (mode === 'cpu' && size > 64) {
          results.push({ preset, size, mode, imgPerSec: NaN, steps: 0, peakRssMb: NaN, note: 'skipped (one step would take minutes)' });
        } else if (mode === 'independent') {
          const each = await Promise.all(cpus().map(() => runCase(preset, size, 'wasm-1')));
          const failed = each.find((r) => !Number.isFinite(r.imgPerSec));
          results.push({
            preset, size, mode, imgPerSec: each.reduce((a, r) => a + r.imgPerSec, 0), steps: each.reduce((a, r) => a + r.steps, 0),
            peakRssMb: Math.max(...each.map((r) => r.peakRssMb)), note: failed?.note ?? `${each.length} single-worker processes at once`,
          });
        } else {
          results.push(await runCase(preset, size, mode));
        }
        const x = results[results.length - 1]!;
        console.log(`  ${preset.padEnd(5)} ${String(size).padStart(3)}px ${mode.padEnd(11)} ${Number.isFinite(x.imgPerSec) ? x.imgPerSec.toFixed(2).padStart(7) + ' img/s' : '      -      '}  peak RSS ${Number.isFinite(x.peakRssMb) ? x.peakRssMb.toFixed(0) + ' MB' : '-'}${x.note ? '  ' + x.note : ''}`);
      }
    }
  }
  console.log('\nratios (same run):');
  for (const preset of presets) {
    for (const size of sizes) {
      const get = (m: string) => results.find((r) => r.preset === preset && r.size === size && r.mode === m)?.imgPerSec ?? NaN;
      const one = get('wasm-1'), all = get('wasm-all'), cpu = get('cpu'), indep = get('independent');
      console.log(`  ${preset.padEnd(5)} ${String(size).padStart(3)}px  all workers / 1 worker = ${(all / one).toFixed(2)}x` +
        `   independent / 1 worker = ${(indep / one).toFixed(2)}x   all workers / independent = ${(100 * all / indep).toFixed(0)}%` +
        (Number.isFinite(cpu) ? `   wasm 1 worker / cpu = ${(one / cpu).toFixed(0)}x` : ''));
    }
  }
}

if (process.env.BENCH_CHILD) await child();
else await main();
