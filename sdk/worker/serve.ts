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

  const api: WorkerApi = {
    async init(req) {
      try {
        return await host.init(req);
      } catch (e) {
        throw toWire(e);
      }
    },
    async run(id, req) {
      running.add(id);
      const work = host.run(req, async (stage) => {
        // Let queued messages (a cancel) in before deciding to go on.
        await yieldToEventLoop();
        if (crash) await die(crash);
        if (cancelled.has(id)) throw abortedError(stage);
      });
      active.add(work);
      try {
        const reply = await work;
        return transfer(reply, [reply.rgba.buffer, reply.ab.buffer]);
      } catch (e) {
        throw toWire(e);
      } finally {
        active.delete(work);
        running.delete(id);
        cancelled.delete(id);
      }
    },
    async video(id, req) {
      running.add(id);
      const work = host.video(req, async (stage) => {
        await yieldToEventLoop();
        if (crash) await die(crash);
        if (cancelled.has(id)) throw abortedError(stage);
      });
      active.add(work);
      try {
        const reply = await work;
        return transfer(reply, reply.frames.flatMap((f) => [f.rgba.buffer, f.ab.buffer]));
      } catch (e) {
        throw toWire(e);
      } finally {
        active.delete(work);
        running.delete(id);
        cancelled.delete(id);
      }
    },
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
