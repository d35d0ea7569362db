/**
 * The worker side, for every runtime: an EngineHost exposed through Comlink on `endpoint`.
 * Results go back with their buffers transferred (moved, not copied).
 */
import { abortedError } from '../core/engine.ts';
import { EngineHost } from '../core/host.ts';
import { yieldToEventLoop } from '../core/yield.ts';
import type { RuntimeAdapter } from '../runtime/types.ts';
import type { CrashMode, WorkerApi } from './api.ts';
import { expose, transfer, type Endpoint } from './comlink.ts';
import { toWire } from './wire-error.ts';

/** How this runtime ends the worker from inside (the crash test hook). */
export interface WorkerExit {
  exit(code: number): void;
}

/** Serves the tinta worker API on `endpoint`. */
export function serveWorker(endpoint: Endpoint, runtime: RuntimeAdapter, ends: WorkerExit): void {
  const host = new EngineHost(runtime);
  const running = new Set<number>();
  const cancelled = new Set<number>();
  const active = new Set<Promise<unknown>>();
  let crash: CrashMode | undefined;

  const die = (mode: CrashMode): Promise<never> => {
    if (mode === 'exit') ends.exit(70);
    // An uncaught error on a fresh task, as a real bug would raise it.
    return new Promise<never>(() => {
      setTimeout(() => {
        throw new Error('tinta test hook: uncaught error in the worker');
      }, 0);
    });
  };

  /**
   * One call `id` of the host that stops at its next stage boundary once cancelled (or crashes there
   * under the test hook); its reply goes back with `buffers` transferred.
   */
  async function cancellable<R>(id: number, call: (check: (stage: string) => Promise<void>) => Promise<R>, buffers: (r: R) => ArrayBufferLike[]): Promise<R> {
    running.add(id);
    const work = call(async (stage) => {
      // Let queued messages (a cancel) in before deciding to go on.
      await yieldToEventLoop();
      if (crash) await die(crash);
      if (cancelled.has(id)) throw abortedError(stage);
    });
    active.add(work);
    try {
      const reply = await work;
      return transfer(reply, buffers(reply) as Transferable[]);
    } catch (e) {
      throw toWire(e);
    } finally {
      active.delete(work);
      running.delete(id);
      cancelled.delete(id);
    }
  }

  const api: WorkerApi = {
    async init(req) {
      try {
        return await host.init(req);
      } catch (e) {
        throw toWire(e);
      }
    },
    run: (id, req) => cancellable(id, (check) => host.run(req, check), (r) => [r.rgba.buffer, r.ab.buffer]),
    video: (id, req) => cancellable(id, (check) => host.video(req, check), (r) => r.frames.flatMap((f) => [f.rgba.buffer, f.ab.buffer])),
    cancel(id) {
      if (running.has(id)) cancelled.add(id);
    },
    ping() {
      return 0;
    },
    crashAtNextStage(mode) {
      crash = mode;
    },
    // Running calls stop at their next stage boundary; the session is freed only once none is
    // inside it (releasing a native session mid-run is not safe).
    async dispose() {
      for (const id of running) cancelled.add(id);
      await Promise.all([...active].map((p) => p.catch(() => undefined)));
      await host.dispose();
    },
  };
  expose(api, endpoint);
}
