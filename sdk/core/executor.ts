/**
 * Where a colorizer's engine runs. Two implementations share this shape: InlineExecutor (this
 * thread; simplest, blocks it during pre/postprocessing) and WorkerExecutor (sdk/worker/, a
 * worker thread; the caller's thread never blocks).
 */
import { ErrorCodes, TintaError } from '../errors.ts';
import type { RuntimeAdapter } from '../runtime/types.ts';
import { abortedError } from './engine.ts';
import { EngineHost } from './host.ts';
import type { InitReply, InitRequest, RunReply, RunRequest } from './protocol.ts';
import type { VideoReply, VideoRequest } from './video.ts';
import { yieldToEventLoop } from './yield.ts';

/** Runs an engine somewhere. */
export interface Executor {
  readonly kind: 'inline' | 'worker';
  /** Creates the model session on `req.provider`. */
  init(req: InitRequest): Promise<InitReply>;
  /** Colorizes; `transfer` lists buffers the executor may move instead of copying. */
  run(req: RunRequest, transfer: Transferable[], signal?: AbortSignal): Promise<RunReply>;
  /** One step of a video stream (see core/video.ts). */
  video(req: VideoRequest, transfer: Transferable[], signal?: AbortSignal): Promise<VideoReply>;
  /** A round trip that does nothing (measures the executor's overhead). */
  ping(): Promise<void>;
  /** Releases the session (and the worker). */
  dispose(): Promise<void>;
}

/** Runs the engine on the calling thread. */
export class InlineExecutor implements Executor {
  readonly kind = 'inline' as const;
  private readonly host: EngineHost;
  private readonly active = new Set<Promise<unknown>>();
  private disposing = false;

  constructor(runtime: RuntimeAdapter) {
    this.host = new EngineHost(runtime);
  }

  init(req: InitRequest): Promise<InitReply> {
    return this.host.init(req);
  }

  run(req: RunRequest, _transfer: Transferable[], signal?: AbortSignal): Promise<RunReply> {
    return this.track(this.host.run(req, this.checkpoint(signal)));
  }

  video(req: VideoRequest, _transfer: Transferable[], signal?: AbortSignal): Promise<VideoReply> {
    return this.track(this.host.video(req, this.checkpoint(signal)));
  }

  private checkpoint(signal: AbortSignal | undefined) {
    return async (stage: string): Promise<void> => {
      // Let timers and events (the caller's abort) run between stages.
      await yieldToEventLoop();
      if (this.disposing) throw new TintaError(ErrorCodes.DISPOSED, 'The colorizer was disposed while this call was running.');
      if (signal?.aborted) throw abortedError(stage);
    };
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.active.add(p);
    const forget = (): void => void this.active.delete(p);
    p.then(forget, forget);
    return p;
  }

  async ping(): Promise<void> {}

  /** Stops running calls at their next stage boundary, waits for them, then frees the session. */
  async dispose(): Promise<void> {
    this.disposing = true;
    await Promise.all([...this.active].map((p) => p.catch(() => undefined)));
    await this.host.dispose();
  }
}
