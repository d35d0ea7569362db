/**
 * The engine's home: owns the session, decodes inputs and runs the pipeline. The in-process
 * executor uses it directly; a worker wraps it behind Comlink. One host holds at most one session.
 */
import { ErrorCodes, TintaError } from '../errors.ts';
import type { RuntimeAdapter, RuntimeWarning } from '../runtime/types.ts';
import { inspectModel } from './contract.ts';
import { Engine, type Checkpoint } from './engine.ts';
import type { InitReply, InitRequest, RunReply, RunRequest } from './protocol.ts';
import { VideoStreams, type VideoReply, type VideoRequest } from './video.ts';

/** Owns one model session and runs colorizations on it. */
export class EngineHost {
  private engine: Engine | undefined;
  private warnings: RuntimeWarning[] = [];
  private readonly streams = new VideoStreams();

  constructor(private readonly runtime: RuntimeAdapter) {}

  /** Creates the session on `req.provider` (replacing any previous one). */
  async init(req: InitRequest): Promise<InitReply> {
    const info = inspectModel(req.bytes, req.label);
    const warnings: RuntimeWarning[] = [];
    let live = false; // warnings raised after init (e.g. a run-time fallback) travel with the next run
    const session = await this.runtime.createSession(
      req.bytes,
      req.provider,
      { label: req.label, ...(req.threads !== undefined ? { threads: req.threads } : {}), ...(req.wasmPaths !== undefined ? { wasmPaths: req.wasmPaths } : {}) },
      (w) => void (live ? this.warnings : warnings).push(w),
    );
    const old = this.engine;
    this.engine = new Engine(session, info, req.label);
    this.streams.clear();
    live = true;
    await old?.release().catch(() => undefined);
    return { provider: session.provider, warnings };
  }

  /** Decodes and colorizes one image; `checkpoint` runs before each stage. */
  async run(req: RunRequest, checkpoint: Checkpoint): Promise<RunReply> {
    const engine = this.engine;
    if (!engine) throw new TintaError(ErrorCodes.DISPOSED, 'The colorizer has no model session (it was disposed or never initialised).');
    await checkpoint('decode');
    const t = performance.now();
    const image = await this.runtime.decodeImage(req.source, req.maxPixels);
    const decodeMs = performance.now() - t;
    const out = await engine.colorize(image, req.params, checkpoint);
    const warnings = this.warnings;
    this.warnings = [];
    return { ...out, decodeMs, warnings };
  }

  /** One step of a video stream (push a frame, flush, close); `checkpoint` runs before each stage. */
  async video(req: VideoRequest, checkpoint: Checkpoint): Promise<VideoReply> {
    const engine = this.engine;
    if (!engine) throw new TintaError(ErrorCodes.DISPOSED, 'The colorizer has no model session (it was disposed or never initialised).');
    const frames = await this.streams.step(engine, req, (src) => this.runtime.decodeImage(src, req.maxPixels), checkpoint);
    const warnings = this.warnings;
    this.warnings = [];
    return { frames, warnings };
  }

  /** Releases the session. */
  async dispose(): Promise<void> {
    this.streams.clear();
    const e = this.engine;
    this.engine = undefined;
    await e?.release();
  }
}
