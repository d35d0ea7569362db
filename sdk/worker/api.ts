/** What a tinta worker exposes through Comlink. */
import type { InitReply, InitRequest, RunReply, RunRequest } from '../core/protocol.ts';
import type { VideoReply, VideoRequest } from '../core/video.ts';

/** How the test hook makes a worker die: exit the thread, or throw an uncaught error. */
export type CrashMode = 'exit' | 'throw';

/** The worker's Comlink API. Every rejection is a WireError (see wire-error.ts). */
export interface WorkerApi {
  init(req: InitRequest): Promise<InitReply>;
  /** Colorizes; `id` lets `cancel(id)` stop it at its next stage boundary. */
  run(id: number, req: RunRequest): Promise<RunReply>;
  /** One step of a video stream; cancellable by `id` like run. */
  video(id: number, req: VideoRequest): Promise<VideoReply>;
  cancel(id: number): void;
  /** A no-op round trip. */
  ping(): number;
  /** Test hook: die (as `mode` says) at the next stage boundary of a run. */
  crashAtNextStage(mode: CrashMode): void;
  dispose(): Promise<void>;
}
