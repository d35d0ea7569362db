/** A started worker as the supervisor sees it, whatever the runtime. */
import type { Endpoint } from './comlink.ts';

/** Why a worker stopped. */
export interface WorkerExitInfo {
  /** Exit code where the runtime reports one (Node), else null. */
  code: number | null;
  /** The uncaught error or message that killed it, when known. */
  reason?: string;
}

/** One running worker. */
export interface WorkerHandle {
  readonly endpoint: Endpoint;
  /** Called once when the worker stops for any reason (crash, exit, terminate). */
  onExit(cb: (info: WorkerExitInfo) => void): void;
  /** Stops the worker. */
  terminate(): Promise<void>;
  /** Whether the worker should keep the process alive (Node: ref while calls are pending). */
  setBusy(busy: boolean): void;
}

/** Starts a fresh worker. */
export type SpawnWorker = () => WorkerHandle;
