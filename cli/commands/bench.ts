/** `tinta bench`: runs one of the repository's benchmarks (bench/*.bench.ts) with the same Node. */
import type { Command } from 'commander';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { ErrorCodes, TintaError } from '../../sdk/errors.ts';

const BENCH_DIR = fileURLToPath(new URL('../../bench/', import.meta.url));

/** What each benchmark measures (the first line of `tinta bench --help`). */
const ABOUT: Record<string, string> = {
  color: 'colour core: sRGB <-> Lab, JS loops vs WASM SIMD vs culori',
  kernels: 'training kernels on the WASM backend vs tfjs defaults',
  train: 'training throughput: images/s with 1 and 2 replicas',
  models: 'exported models: fp32 / fp16 / int8 size and latency, native and WASM',
  sdk: 'SDK end to end: 1 MP and 12 MP, stage by stage, worker and bare-session overhead',
};

/** The benchmarks present in this installation, by name. */
export function listBenchmarks(dir = BENCH_DIR): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith('.bench.ts')).map((f) => f.slice(0, -'.bench.ts'.length)).sort();
}

/** Runs benchmark `name` in a child Node (tsx loader), its output streamed; resolves to its exit code. */
export function runBenchmark(name: string, env: Record<string, string> = {}, dir = BENCH_DIR): Promise<number> {
  const known = listBenchmarks(dir);
  if (known.length === 0) throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'The benchmarks are not part of this installation: run them from a clone of the repository.');
  if (!known.includes(name)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `No benchmark named '${name}'; there are: ${known.join(', ')}.`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(dir, `${name}.bench.ts`)], { stdio: 'inherit', env: { ...process.env, ...env } });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

/** Register the command on `program`. */
export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('run a benchmark (ratios measured side by side in one run, never pass/fail on time)')
    .argument('[name]', `one of: ${Object.keys(ABOUT).join(', ')}`)
    .option('--list', 'list the benchmarks and what each measures')
    .option('--env <KEY=VALUE...>', 'settings passed to the benchmark (e.g. RUNS=3, SIZE=256)')
    .addHelpText('after', '\nExamples:\n  tinta bench --list\n  tinta bench sdk\n  tinta bench models --env RUNS=3 PRESETS=tiny')
    .action(async (name: string | undefined, o: { list?: boolean; env?: string[] }) => {
      if (o.list || !name) {
        for (const b of listBenchmarks()) console.log(`${b.padEnd(8)} ${ABOUT[b] ?? ''}`);
        return;
      }
      const env: Record<string, string> = {};
      for (const kv of o.env ?? []) {
        const i = kv.indexOf('=');
        if (i <= 0) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `--env takes KEY=VALUE; got '${kv}'.`);
        env[kv.slice(0, i)] = kv.slice(i + 1);
      }
      const code = await runBenchmark(name, env);
      if (code !== 0) process.exitCode = code;
    });
}
