/**
 * Training throughput: images/s of the `tiny` and `seed` presets at 64, 128 and 224 px for the plain
 * CPU backend (one step of one image, 64 px only: it is ~300x slower), WASM with 1 worker and WASM with all
 * workers, plus the peak RSS of each configuration (each runs in its own process).
 *
 * Batches come through the trainer's real data pipeline by default (DATA=cache): a photo cache of
 * generated colour photos, random crops, flips, Lab conversion and soft-encoded targets, exactly as
 * `tinta train` builds them; with workers, each replica builds its own shard. DATA=synthetic feeds
 * ready-made arrays instead, which times the network alone.
 *
 * "independent" runs one single-worker process per core at the same time and adds their images/s: no
 * gradient exchange at all, so it is the most that data parallelism could reach on this machine (cores
 * that share caches and memory bandwidth slow each other down). "all workers / independent" is then the
 * efficiency of the worker pool itself. The pool's line shows where its mean step went.
 *
 * Shared machines drift by several percent within minutes, so the three modes run in ROUNDS
 * interleaved rounds (1 worker, independent, all workers, then again) and every ratio is taken within
 * a round: the summary gives the median of the rounds and their range. Never passes or fails on time.
 *
 *   npm run bench:train                    # everything (takes a while)
 *   SIZES=128 PRESETS=tiny ROUNDS=5 npm run bench:train
 *   SIZES=64,128 PRESETS=tiny BATCH=8 DATA=synthetic npm run bench:train
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TRAIN_DEFAULTS } from '../trainer/train.ts';
import type { PoolTimings } from '../trainer/parallel/pool.ts';
import type { Stepper } from '../trainer/local.ts';

interface Result { preset: string; size: number; mode: string; imgPerSec: number; steps: number; peakRssMb: number; note?: string; phases?: PoolTimings }

const SELF = fileURLToPath(import.meta.url);
const BATCH = Number(process.env.BATCH ?? TRAIN_DEFAULTS.batchSize);
const SECONDS = Number(process.env.SECONDS_PER_CASE ?? 15);
const ROUNDS = Math.max(1, Number(process.env.ROUNDS ?? 3));
const DATA = process.env.DATA ?? 'cache';
const PHOTOS = 48;

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
  const Q = cfg.buckets, o = size / 4;
  const n = mode === 'cpu' ? 1 : BATCH;
  // DATA=cache: the trainer's own pipeline over the cache the parent built (as trainer/train.ts steps).
  const { openDataset, epochOrder } = await import('../trainer/data/dataset.ts');
  const { getBuckets } = await import('../sdk/color/buckets.ts');
  const data = DATA === 'cache' && mode !== 'cpu' ? { dataset: await openDataset(process.env.CASE_CACHE!), buckets: getBuckets('seed') } : undefined;
  const stepper: Stepper = workers > 1
    ? await GradientPool.start({ workers, backend, model, optimizer, modelConfig: cfg, inputSize: size, bucketWeights: null, ...(data ? { data } : {}) })
    : localStepper(model, optimizer, null, 1, data);
  const synthetic = () => {
    const L = new Float32Array(n * size * size);
    for (let i = 0; i < L.length; i++) L[i] = ((i * 2654435761) >>> 0) / 2 ** 32;
    const target = new Float32Array(n * o * o * Q);
    for (let i = 0; i < n * o * o; i++) target[i * Q + (i % Q)] = 1;
    return { n, size, buckets: Q, L, target };
  };
  const next = (step: number) => {
    if (!data) return stepper.step(synthetic(), step, 1e-3, 5);
    const per = Math.floor(data.dataset.count / n), epoch = Math.floor(step / per), k = step % per;
    const indices = epochOrder(data.dataset.count, 1, epoch).slice(k * n, (k + 1) * n);
    return stepper.stepSamples({ indices, size, seed: 1, augment: true, epoch, stepInEpoch: k }, step, 1e-3, 5);
  };
  const maxSteps = mode === 'cpu' ? 1 : 1000; // the CPU backend: one step of one image (it is ~300x slower)
  if (mode !== 'cpu') await next(0); // warm-up: kernels, weight packing
  if (stepper instanceof GradientPool) stepper.resetTimings();
  let steps = 0;
  const t0 = performance.now();
  while (steps < maxSteps && (steps < 2 || performance.now() - t0 < SECONDS * 1000)) {
    await next(steps + 1);
    steps++;
  }
  const sec = (performance.now() - t0) / 1000;
  const phases = stepper instanceof GradientPool ? stepper.timings() : undefined;
  await stepper.close();
  data?.dataset.close();
  // maxRSS is in KiB; worker threads share the process, so this is the whole configuration.
  const peak = process.resourceUsage().maxRSS / 1024;
  process.stdout.write(JSON.stringify({ preset, size, mode, imgPerSec: (steps * n) / sec, steps, peakRssMb: peak, ...(phases ? { phases } : {}) } satisfies Result) + '\n');
}

/** A pool's mean step, by phase: where the time between "compute" and "step" goes. */
function phaseLine(t: PoolTimings): string {
  const per = (ms: number) => (ms / Math.max(1, t.steps)).toFixed(0);
  const sync = t.stepMs - t.computeMs[0]! - t.applyMs;
  return `per step ${per(t.stepMs)} ms: compute ${t.computeMs.map(per).join('/')} (coordinator/workers), prepare ${per(t.prepareMs)}, ` +
    `wait ${per(t.waitMs)}, average ${per(t.averageMs)}, apply ${per(t.applyMs)}, wait for workers' apply ${per(t.waitApplyMs)}; ` +
    `synchronisation ${(100 * sync / Math.max(1, t.stepMs)).toFixed(1)}% of the step`;
}

/** Run one case in its own process; resolves to its result line (or a failure note). */
function runCase(preset: string, size: number, mode: string, cache: string): Promise<Result> {
  return new Promise((resolve) => {
    const timeoutMs = (mode === 'cpu' ? 5 : 15) * 60_000;
    const p = spawn(process.execPath, ['--import', 'tsx', SELF], {
      env: { ...process.env, BENCH_CHILD: '1', CASE_PRESET: preset, CASE_SIZE: String(size), CASE_MODE: mode, CASE_CACHE: cache },
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
        // The first line that starts with an error's name (wasm runtimes print whole minified sources before it).
        const lines = err.split('\n').map((l) => l.trim()).filter((l) => l && l.length < 1000);
        const why = timedOut ? 'timed out' : lines.find((l) => /^[A-Za-z]*Error\b/.test(l)) ?? lines.at(-1) ?? 'no output';
        resolve({ preset, size, mode, imgPerSec: NaN, steps: 0, peakRssMb: NaN, note: `failed: ${why}` });
      }
    });
  });
}

/** A photo cache of generated colour photos for training size `size` (the same for every case). */
async function benchCache(root: string, size: number): Promise<string> {
  const sharp = (await import('sharp')).default;
  const { buildCache, cacheSide } = await import('../trainer/data/cache.ts');
  const side = cacheSide(size) + 16;
  const photos = join(root, 'photos');
  mkdirSync(photos, { recursive: true });
  let seed = 12345;
  const rnd = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let k = 0; k < PHOTOS; k++) {
    // Smooth fields of three random colours plus fine texture: colourful, varied, cheap to make.
    const c = Array.from({ length: 9 }, () => 30 + rnd() * 200);
    const px = Buffer.alloc(side * side * 3);
    for (let y = 0; y < side; y++) {
      for (let x = 0; x < side; x++) {
        const u = x / side, v = y / side, t = 8 * ((x * 7 + y * 13 + k) % 5);
        for (let ch = 0; ch < 3; ch++) px[(y * side + x) * 3 + ch] = Math.min(255, c[ch]! * (1 - u) + c[3 + ch]! * u * (1 - v) + c[6 + ch]! * v * u + t);
      }
    }
    await sharp(px, { raw: { width: side, height: side, channels: 3 } }).png().toFile(join(photos, `p${String(k).padStart(3, '0')}.png`));
  }
  const dir = join(root, `cache-${size}`);
  await buildCache({ dirs: [photos], cacheDir: dir, size });
  rmSync(photos, { recursive: true, force: true });
  return dir;
}

const MODES = ['wasm-1', 'independent', 'wasm-all'] as const;

function median(xs: number[]): number {
  const v = xs.filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return NaN;
  return v.length % 2 ? v[v.length >> 1]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
}

const fmt = (x: Result): string =>
  `${Number.isFinite(x.imgPerSec) ? x.imgPerSec.toFixed(2).padStart(7) + ' img/s' : '      -      '}  peak RSS ${Number.isFinite(x.peakRssMb) ? x.peakRssMb.toFixed(0) + ' MB' : '-'}${x.note ? '  ' + x.note : ''}`;

async function main(): Promise<void> {
  const presets = (process.env.PRESETS ?? 'tiny,seed').split(',');
  const sizes = (process.env.SIZES ?? '64,128,224').split(',').map(Number);
  const root = mkdtempSync(join(tmpdir(), 'tinta-bench-train-'));
  console.log(`training throughput, batch ${BATCH}, ${cpus().length} cores, ~${SECONDS} s per case, ${ROUNDS} interleaved round(s), ` +
    (DATA === 'cache' ? `batches from a photo cache of ${PHOTOS} generated photos (the trainer's pipeline)` : 'synthetic batches (network only)'));
  const summary: string[] = [];
  try {
    for (const size of sizes) {
      const cache = DATA === 'cache' ? await benchCache(root, size) : '';
      for (const preset of presets) {
        let cpuIps = NaN;
        if (size === 64) {
          const cpu = await runCase(preset, size, 'cpu', cache);
          cpuIps = cpu.imgPerSec;
          console.log(`  ${preset.padEnd(5)} ${String(size).padStart(3)}px cpu          ${fmt(cpu)}`);
        } else {
          console.log(`  ${preset.padEnd(5)} ${String(size).padStart(3)}px cpu                -        skipped (one step would take minutes)`);
        }
        const rounds: Record<(typeof MODES)[number], Result>[] = [];
        for (let r = 0; r < ROUNDS; r++) {
          const got = {} as Record<(typeof MODES)[number], Result>;
          for (const mode of MODES) {
            let x: Result;
            if (mode === 'independent') {
              const each = await Promise.all(cpus().map(() => runCase(preset, size, 'wasm-1', cache)));
              const failed = each.find((e) => !Number.isFinite(e.imgPerSec));
              x = {
                preset, size, mode, imgPerSec: each.reduce((a, e) => a + e.imgPerSec, 0), steps: each.reduce((a, e) => a + e.steps, 0),
                peakRssMb: Math.max(...each.map((e) => e.peakRssMb)), note: failed?.note ?? `${each.length} single-worker processes at once`,
              };
            } else {
              x = await runCase(preset, size, mode, cache);
            }
            got[mode] = x;
            console.log(`  ${preset.padEnd(5)} ${String(size).padStart(3)}px ${mode.padEnd(11)}  ${fmt(x)}${ROUNDS > 1 ? `  (round ${r + 1})` : ''}`);
            if (x.phases) console.log(`${' '.repeat(24)}${phaseLine(x.phases)}`);
          }
          rounds.push(got);
        }
        const range = (f: (g: Record<(typeof MODES)[number], Result>) => number, unit: string, scale = 1) => {
          const v = rounds.map(f).map((x) => x * scale);
          const d = unit === '%' ? 0 : 2;
          return `${median(v).toFixed(d)}${unit}` + (ROUNDS > 1 ? ` [${Math.min(...v).toFixed(d)}-${Math.max(...v).toFixed(d)}]` : '');
        };
        summary.push(`  ${preset.padEnd(5)} ${String(size).padStart(3)}px  ` +
          `1 worker ${median(rounds.map((g) => g['wasm-1'].imgPerSec)).toFixed(2)}, all workers ${median(rounds.map((g) => g['wasm-all'].imgPerSec)).toFixed(2)} img/s;  ` +
          `all workers / 1 worker = ${range((g) => g['wasm-all'].imgPerSec / g['wasm-1'].imgPerSec, 'x')}   ` +
          `independent / 1 worker = ${range((g) => g.independent.imgPerSec / g['wasm-1'].imgPerSec, 'x')}   ` +
          `all workers / independent = ${range((g) => g['wasm-all'].imgPerSec / g.independent.imgPerSec, '%', 100)}` +
          (Number.isFinite(cpuIps) ? `   wasm 1 worker / cpu = ${(median(rounds.map((g) => g['wasm-1'].imgPerSec)) / cpuIps).toFixed(0)}x` : ''));
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  console.log(`\nratios within each round; median${ROUNDS > 1 ? ` [lowest-highest] of ${ROUNDS} rounds` : ''}:`);
  for (const line of summary) console.log(line);
}

if (process.env.BENCH_CHILD) await child();
else await main();
