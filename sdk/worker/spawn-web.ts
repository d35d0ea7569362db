/**
 * Starting the tinta worker as a module Web Worker (browsers, Deno). A Web Worker gives no exit
 * event: a crash shows as an 'error' or 'messageerror' event, after which the worker is
 * terminated (its state is unknown) and reported dead; the exit test hook posts a message first.
 */
import type { Endpoint } from './comlink.ts';
import type { SpawnWorker, WorkerExitInfo } from './handle.ts';

/** Message a worker posts right before closing itself (see entry-browser.ts / entry-deno.ts). */
export interface ExitNotice {
  tintaExit: number;
}

/**
 * A SpawnWorker for a module worker: `entry` is its URL, or a function that creates it. Entry
 * points pass a function that constructs the Worker from a literal URL relative to
 * import.meta.url, the form bundlers (Vite, webpack) find and bundle as a worker; a URL held in a
 * variable is invisible to them.
 */
export function webWorkerSpawner(entry: URL | (() => Worker)): SpawnWorker {
  return () => {
    const worker = typeof entry === 'function' ? entry() : new Worker(entry, { type: 'module', name: 'tinta' });
    const cbs: ((info: WorkerExitInfo) => void)[] = [];
    let ended = false;
    const end = (info: WorkerExitInfo): void => {
      if (ended) return;
      ended = true;
      worker.terminate();
      for (const cb of cbs) cb(info);
    };
    worker.addEventListener('error', (ev: ErrorEvent) => {
      ev.preventDefault();
      end({ code: null, reason: ev.message || 'an error in the worker' });
    });
    worker.addEventListener('messageerror', () => end({ code: null, reason: 'a message could not be deserialised' }));
    worker.addEventListener('message', (ev: MessageEvent) => {
      const d = ev.data as Partial<ExitNotice> | null;
      if (d && typeof d.tintaExit === 'number') end({ code: d.tintaExit });
    });
    return {
      endpoint: worker as unknown as Endpoint,
      onExit(cb) {
        cbs.push(cb);
      },
      async terminate() {
        end({ code: null, reason: 'terminated' });
      },
      setBusy() {
        // Web Workers never keep a page alive.
      },
    };
  };
}
