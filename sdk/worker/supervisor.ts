/**
 * The WorkerExecutor: runs the engine in a worker through Comlink and watches the worker.
 * Comlink alone leaves every pending call hanging when its worker dies; here each call is
 * tracked, a dying worker rejects them all with WORKER_CRASHED, and the next call starts a fresh
 * worker and recreates the session (on the provider that worked before) before going on.
 */
import { ErrorCodes, TintaError } from '../errors.ts';
import type { Executor } from '../core/executor.ts';
import type { InitReply, InitRequest, RunReply, RunRequest } from '../core/protocol.ts';
import type { VideoReply, VideoRequest } from '../core/video.ts';
import type { CrashMode, WorkerApi } from './api.ts';
import { transfer, wrap, type Remote } from './comlink.ts';
import type { SpawnWorker, WorkerExitInfo, WorkerHandle } from './handle.ts';
import { fromWire } from './wire-error.ts';

interface Live {
  handle: WorkerHandle;
  api: Remote<WorkerApi>;
  /** Set once the worker stopped; carries the error its pending calls got. */
  dead: TintaError | undefined;
  /** Rejecters of the calls in flight. */
  pending: Set<(e: TintaError) => void>;
}

function crashedError(info: WorkerExitInfo): TintaError {
  const why = info.reason !== undefined ? `: ${info.reason}` : info.code !== null ? ` (exit code ${info.code})` : '';
  return new TintaError(
    ErrorCodes.WORKER_CRASHED,
    `The colorizer's worker stopped unexpectedly${why}. The calls it was running were lost; the next call starts a new worker.`,
    { details: { exitCode: info.code, ...(info.reason !== undefined ? { reason: info.reason } : {}) } },
  );
}

function disposedError(): TintaError {
  return new TintaError(ErrorCodes.DISPOSED, 'The colorizer was disposed while this call was running.');
}

// Bytes that may be transferred: a fresh copy, so the kept original survives for restarts.
function transferableCopy(req: InitRequest): [InitRequest, Transferable[]] {
  const bytes = req.bytes.slice();
  return [{ ...req, bytes }, [bytes.buffer]];
}

/** How long dispose() lets the worker free its session before terminating it. */
export const DISPOSE_GRACE_MS = 5000;

/** Runs the engine in a supervised worker. */
export class WorkerExecutor implements Executor {
  readonly kind = 'worker' as const;
  private live: Live | undefined;
  private restarting: Promise<Live> | undefined;
  private lastInit: InitRequest | undefined;
  private disposed = false;
  private seq = 0;
  /** Workers started so far (1 + restarts). */
  starts = 0;

  constructor(private readonly spawn: SpawnWorker) {}

  private start(): Live {
    const handle = this.spawn();
    this.starts++;
    const live: Live = { handle, api: wrap<WorkerApi>(handle.endpoint), dead: undefined, pending: new Set() };
    handle.onExit((info) => {
      const err = this.disposed ? disposedError() : crashedError(info);
      live.dead = err;
      if (this.live === live) this.live = undefined;
      for (const reject of [...live.pending]) reject(err);
      live.pending.clear();
    });
    this.live = live;
    return live;
  }

  // A call to the worker that settles when the worker answers or dies, whichever comes first.
  private call<T>(live: Live, f: (api: Remote<WorkerApi>) => Promise<T>): Promise<T> {
    if (live.dead) return Promise.reject(live.dead);
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const finish = (): void => {
        settled = true;
        live.pending.delete(onDeath);
        if (live.pending.size === 0) live.handle.setBusy(false);
      };
      const onDeath = (e: TintaError): void => {
        if (settled) return;
        finish();
        reject(e);
      };
      live.pending.add(onDeath);
      live.handle.setBusy(true);
      f(live.api).then(
        (v) => { if (!settled) { finish(); resolve(v); } },
        (e: unknown) => { if (!settled) { finish(); reject(fromWire(e)); } },
      );
    });
  }

  async init(req: InitRequest): Promise<InitReply> {
    if (this.disposed) throw disposedError();
    const live = this.live ?? this.start();
    const [msg, list] = transferableCopy(req);
    const reply = await this.call(live, (api) => api.init(transfer(msg, list)));
    // Restarts go straight to the provider that worked.
    this.lastInit = { ...req, provider: reply.provider };
    return reply;
  }

  // The live worker, or a new one with the session recreated.
  private ensure(): Promise<Live> {
    if (this.disposed) return Promise.reject(disposedError());
    if (this.live && !this.live.dead) return Promise.resolve(this.live);
    if (!this.lastInit) return Promise.reject(new TintaError(ErrorCodes.DISPOSED, 'The colorizer has no model session (it was never initialised).'));
    this.restarting ??= (async () => {
      try {
        const live = this.start();
        const [msg, list] = transferableCopy(this.lastInit!);
        await this.call(live, (api) => api.init(transfer(msg, list)));
        return live;
      } finally {
        this.restarting = undefined;
      }
    })();
    return this.restarting;
  }

  run(req: RunRequest, transferList: Transferable[], signal?: AbortSignal): Promise<RunReply> {
    return this.cancellable(signal, (api, id) => api.run(id, transfer(req, transferList)));
  }

  video(req: VideoRequest, transferList: Transferable[], signal?: AbortSignal): Promise<VideoReply> {
    return this.cancellable(signal, (api, id) => api.video(id, transfer(req, transferList)));
  }

  // A call with an id that `signal` cancels in the worker.
  private async cancellable<T>(signal: AbortSignal | undefined, f: (api: Remote<WorkerApi>, id: number) => Promise<T>): Promise<T> {
    const live = await this.ensure();
    const id = ++this.seq;
    const onAbort = (): void => {
      // Fire and forget: the worker stops at its next stage boundary and replies ABORTED.
      live.api.cancel(id).catch(() => undefined);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return await this.call(live, (api) => f(api, id));
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
  }

  async ping(): Promise<void> {
    const live = await this.ensure();
    await this.call(live, (api) => api.ping());
  }

  /** Test hook: the worker dies at the next stage boundary of its next run. */
  async crashAtNextStage(mode: CrashMode): Promise<void> {
    const live = await this.ensure();
    await this.call(live, (api) => api.crashAtNextStage(mode));
  }

  /**
   * Calls in flight reject with DISPOSED at once; the worker is asked to free its session (it
   * first lets a running call reach a stage boundary, since releasing a native session mid-run is
   * unsafe), bounded by DISPOSE_GRACE_MS, and is then terminated.
   */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    const live = this.live;
    this.live = undefined;
    if (!live) return;
    for (const reject of [...live.pending]) reject(disposedError());
    if (!live.dead) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        live.api.dispose().catch(() => undefined),
        new Promise<void>((r) => { timer = setTimeout(r, DISPOSE_GRACE_MS); }),
      ]);
      clearTimeout(timer);
    }
    await live.handle.terminate().catch(() => undefined);
  }
}
