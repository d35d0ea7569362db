/**
 * Starting the tinta worker in Node (worker_threads). From the TypeScript sources the entry is
 * a .ts file that Node cannot load by itself, so the worker is started from a one-line module
 * that registers tsx's loader (tsx/esm/api) and then imports the entry; a built dist ships
 * entry-node.js and starts it directly. The worker does not keep the process alive while idle.
 */
import { Worker } from 'node:worker_threads';
import { ErrorCodes, TintaError } from '../errors.ts';
import { nodeEndpoint } from './comlink.ts';
import type { SpawnWorker, WorkerExitInfo, WorkerHandle } from './handle.ts';

const FROM_SOURCE = import.meta.url.endsWith('.ts');

// Flags that load TypeScript in the parent are dropped: the worker registers tsx itself. So are
// the parent's inline script (-e/-p and their code) and --input-type, with which a worker given
// a file refuses to start (a parent run as `node --input-type=module -e ...`).
function workerExecArgv(): string[] {
  const out: string[] = [];
  const args = process.execArgv;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if ((a === '--import' || a === '--loader' || a === '--experimental-loader') && /tsx/.test(args[i + 1] ?? '')) { i++; continue; }
    if (/^--(import|loader|experimental-loader)=.*tsx/.test(a)) continue;
    if (a === '--input-type' || a === '-e' || a === '--eval' || a === '-p' || a === '--print') { i++; continue; }
    if (/^--(input-type|eval|print)=/.test(a)) continue;
    out.push(a);
  }
  return out;
}

function startWorker(): Worker {
  // Built: a literal URL (the build rewrites '.ts' to '.js'), which bundlers for Node can follow.
  if (!FROM_SOURCE) return new Worker(new URL('./entry-node.ts', import.meta.url), { execArgv: workerExecArgv() });
  const entry = new URL('./entry-node.ts', import.meta.url);
  let tsxApi: string;
  try {
    tsxApi = import.meta.resolve('tsx/esm/api');
  } catch (e) {
    throw new TintaError(ErrorCodes.BACKEND_UNAVAILABLE, 'Running the tinta worker from its TypeScript sources needs tsx installed; install tsx, use the built package, or pass worker: false.', { cause: e });
  }
  const boot = `import(${JSON.stringify(tsxApi)}).then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); });`;
  return new Worker(boot, { eval: true, execArgv: workerExecArgv() });
}

/** Starts a tinta worker thread. */
export const spawnNodeWorker: SpawnWorker = (): WorkerHandle => {
  const worker = startWorker();
  worker.unref();
  let reason: string | undefined;
  const exitCbs: ((info: WorkerExitInfo) => void)[] = [];
  worker.on('error', (e: unknown) => {
    reason = e instanceof Error ? e.message : String(e);
  });
  worker.on('messageerror', (e: unknown) => {
    reason = `a message could not be deserialised (${e instanceof Error ? e.message : String(e)})`;
  });
  worker.once('exit', (code: number) => {
    const info: WorkerExitInfo = reason !== undefined ? { code, reason } : { code };
    for (const cb of exitCbs) cb(info);
  });
  return {
    endpoint: nodeEndpoint(worker),
    onExit(cb) {
      exitCbs.push(cb);
    },
    async terminate() {
      await worker.terminate();
    },
    setBusy(busy) {
      if (busy) worker.ref();
      else worker.unref();
    },
  };
};
