/** What a tinta worker exposes through Comlink. */
import type { InitReply, InitRequest, RunReply, RunRequest } from '../core/protocol.ts';

/** How the test hook makes a worker die: exit the thread, or throw an uncaught error. */
export type CrashMode = 'exit' | 'throw';

/** The worker's Comlink API. Every rejection is a WireError (see wire-error.ts). */
export interface WorkerApi {
  init(req: InitRequest): Promise<InitReply>;
  /** Colorizes; `id` lets `cancel(id)` stop it at its next stage boundary. */
  run(id: number, req: RunRequest): Promise<RunReply>;
  cancel(id: number): void;
  /** A no-op round trip. */
  ping(): number;
  /** Test hook: die (as `mode` says) at the next stage boundary of a run. */
  crashAtNextStage(mode: CrashMode): void;
  dispose(): Promise<void>;
}
