/**
 * The colorizer, built by a factory that receives its platform pieces (runtime adapter, input
 * conversion, worker spawner, cache), so every runtime shares this file and its entry point
 * stays small. Loading: resolve the backend -> load and verify the bytes -> check the model's
 * contract -> create the session on the first provider that works (in a worker or inline).
 * Calls are queued and run one at a time; each can be cancelled.
 */
import { ErrorCodes, TintaError, isTintaError } from './errors.ts';
import type { ModelInfo } from './model/metadata.ts';
import { providersForPrecision, resolveBackend } from './backends.ts';
import { emit, WarningCodes } from './progress.ts';
import { isModelCache, type ModelCache } from './loader/cache.ts';
import { loadModelBytes } from './loader/load.ts';
import { inspectModel } from './core/contract.ts';
import { InlineExecutor, type Executor } from './core/executor.ts';
import type { InitReply, RunReply } from './core/protocol.ts';
import { SerialQueue } from './core/queue.ts';
import { WorkerExecutor } from './worker/supervisor.ts';
import type { SpawnWorker } from './worker/handle.ts';
import type { CrashMode } from './worker/api.ts';
import type { ImageSource, Provider, RuntimeAdapter } from './runtime/types.ts';
import { resolveColorizeOptions, resolveColorizerOptions, type ColorizeOptions, type ColorizerOptions } from './options.ts';
import { colorizeFrameSequence, openVideoStream, type VideoFrameResult, type VideoHost, type VideoOptions, type VideoStream } from './video.ts';

/** What a runtime's entry point supplies to the factory. */
export interface Platform<I> {
  runtime: RuntimeAdapter;
  /** Turns a caller's image into an ImageSource (on the calling thread), with buffers that may be moved. */
  toImageSource(input: I, o: { transfer: boolean; maxPixels: number }): Promise<{ source: ImageSource; transfer: Transferable[] }>;
  /** Starts a worker; absent where workers are not supported. */
  spawnWorker?: SpawnWorker;
  /** What `worker: 'auto'` means here. */
  workerByDefault: boolean;
  /** The cache for `cache: true` (the default place) or a directory path. */
  cacheFor(option: true | string): ModelCache | null;
  /** Base URL for relative model URLs where there is no file system. */
  baseUrl?: string;
  /** Wraps RGBA as an ImageData (browsers). */
  makeImageData?(rgba: Uint8ClampedArray, width: number, height: number): ImageData;
}

/** Milliseconds spent in each part of one colorize() call. */
export interface Timings {
  /** Decoding the input to RGBA (0 for raw RGBA). */
  decode: number;
  /** RGBA -> L, downscale, normalise. */
  preprocess: number;
  /** The network (session.run). */
  model: number;
  /** Annealed mean, guided upsampling, Lab -> RGBA. */
  postprocess: number;
  /** The whole call from when it left the queue, worker round trip included. */
  total: number;
}

/** One colorized image, at the input's full resolution. */
export interface ColorizeResult {
  readonly width: number;
  readonly height: number;
  /** The execution provider that really ran this call. */
  readonly provider: Provider;
  readonly timings: Readonly<Timings>;
  /** The colorized pixels, RGBA8 (alpha 255); the same array on every call, owned by the result. */
  rgba(): Uint8ClampedArray;
  /** The predicted chroma at full resolution, planar (views into one buffer). */
  ab(): { a: Float32Array; b: Float32Array };
  /** The pixels as an ImageData (browsers; BAD_ARGUMENT where ImageData does not exist). */
  toImageData(): ImageData;
}

/** A loaded model, ready to colorize images of type I. */
export interface Colorizer<I> {
  /** The model's metadata. */
  readonly info: ModelInfo;
  /** The execution provider running the model. */
  readonly provider: Provider;
  /** True when sessions run in a worker. */
  readonly inWorker: boolean;
  /** Colorizes one image (queued behind earlier calls). */
  colorize(image: I, options?: ColorizeOptions): Promise<ColorizeResult>;
  /** Colorizes a sequence of frames in play order; yields each frame when ready (stacked models read their neighbours; see sdk/video.ts). */
  colorizeVideo(frames: Iterable<I> | AsyncIterable<I>, options?: VideoOptions): AsyncGenerator<VideoFrameResult, void, undefined>;
  /** A push/flush stream of frames, for frames that arrive one at a time (a camera, a decoder). */
  createVideoStream(options?: VideoOptions): VideoStream<I>;
  /** Releases the session and the worker; later calls reject with DISPOSED. */
  dispose(): Promise<void>;
}

// Test and benchmark hooks live behind this symbol (not exported from any entry point).
const internals: unique symbol = Symbol('tinta.internals');

/** What `colorizer[internals]` offers. */
export interface ColorizerInternals {
  readonly executor: Executor;
  /** A no-op round trip through the executor (and the worker). */
  ping(): Promise<void>;
  /** Makes the worker die at the next stage boundary of the next call (worker mode only). */
  crashWorkerAtNextStage(mode: CrashMode): Promise<void>;
  /** Workers started so far (0 inline). */
  workerStarts(): number;
}

const now = (): number => performance.now();

/** The test and benchmark hooks of a colorizer made by createColorizerWith (not public API). */
export function internalsOf(c: Colorizer<never>): ColorizerInternals {
  const hooks = (c as unknown as { [internals]?: ColorizerInternals })[internals];
  if (!hooks) throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'internalsOf: not a tinta colorizer.');
  return hooks;
}

function disposedError(): TintaError {
  return new TintaError(ErrorCodes.DISPOSED, 'This colorizer was disposed; create a new one with createColorizer().');
}

function loadAborted(): TintaError {
  return new TintaError(ErrorCodes.ABORTED, 'Loading the model was cancelled (its AbortSignal fired).');
}

// A model the runtime rejected is bad on every provider (except where WebGPU lacks a kernel).
function isModelFault(e: unknown, provider: Provider): boolean {
  return provider !== 'webgpu' && isTintaError(e) && (e.code === ErrorCodes.MODEL_INVALID || e.code === ErrorCodes.MODEL_NO_METADATA || e.code === ErrorCodes.MODEL_NEEDS_EMBEDDING);
}

class ColorizerImpl<I> implements Colorizer<I> {
  private readonly queue = new SerialQueue();
  private disposed = false;
  private current: Provider;

  constructor(
    private readonly platform: Platform<I>,
    private readonly executor: Executor,
    readonly info: ModelInfo,
    provider: Provider,
    private readonly maxPixels: number,
    private readonly onProgress: ColorizerOptions['onProgress'],
  ) {
    this.current = provider;
  }

  get provider(): Provider {
    return this.current;
  }

  get inWorker(): boolean {
    return this.executor.kind === 'worker';
  }

  async colorize(image: I, options?: ColorizeOptions): Promise<ColorizeResult> {
    if (this.disposed) throw disposedError();
    const o = resolveColorizeOptions(options, this.info, this.maxPixels);
    const { source, transfer } = await this.platform.toImageSource(image, { transfer: o.transfer, maxPixels: o.maxPixels });
    if (this.disposed) throw disposedError();
    return this.queue.run(async () => {
      const t = now();
      const reply = await this.executor.run({ source, params: o.params, maxPixels: o.maxPixels }, transfer, o.signal);
      for (const w of reply.warnings) emit(this.onProgress, { status: 'warning', code: w.code, message: w.message });
      this.current = reply.provider;
      return this.result(reply, now() - t);
    }, o.signal);
  }

  colorizeVideo(frames: Iterable<I> | AsyncIterable<I>, options?: VideoOptions): AsyncGenerator<VideoFrameResult, void, undefined> {
    if (this.disposed) throw disposedError();
    return colorizeFrameSequence(this.videoHost(), frames, options);
  }

  createVideoStream(options?: VideoOptions): VideoStream<I> {
    if (this.disposed) throw disposedError();
    return openVideoStream(this.videoHost(), options);
  }

  private streams = 0;

  private videoHost(): VideoHost<I> {
    return {
      info: this.info,
      maxPixels: this.maxPixels,
      toImageSource: (frame, o) => this.platform.toImageSource(frame, o),
      step: (req, transfer, signal) => {
        if (this.disposed) return Promise.reject(disposedError());
        return this.queue.run(async () => {
          const reply = await this.executor.video(req, transfer, signal);
          for (const w of reply.warnings) emit(this.onProgress, { status: 'warning', code: w.code, message: w.message });
          if (reply.frames.length) this.current = reply.frames[0]!.provider;
          return reply;
        }, signal);
      },
      result: (f, total) => this.result({ ...f, warnings: [] }, total),
      newStreamId: () => ++this.streams,
    };
  }

  private result(r: RunReply, total: number): ColorizeResult {
    const n = r.width * r.height;
    const platform = this.platform;
    const timings = Object.freeze({ decode: r.decodeMs, preprocess: r.timings.preprocess, model: r.timings.model, postprocess: r.timings.postprocess, total });
    return Object.freeze({
      width: r.width,
      height: r.height,
      provider: r.provider,
      timings,
      rgba: () => r.rgba,
      ab: () => ({ a: r.ab.subarray(0, n), b: r.ab.subarray(n, 2 * n) }),
      toImageData: (): ImageData => {
        if (!platform.makeImageData) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `ImageData does not exist in ${platform.runtime.name}; use result.rgba() with result.width and result.height.`);
        return platform.makeImageData(r.rgba, r.width, r.height);
      },
    });
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    this.queue.rejectQueued(disposedError());
    // The running call rejects with DISPOSED (at once in a worker, at its next stage boundary
    // inline); the session is freed once nothing runs inside it.
    await this.executor.dispose();
  }

  get [internals](): ColorizerInternals {
    const ex = this.executor;
    return {
      executor: ex,
      ping: () => ex.ping(),
      crashWorkerAtNextStage: async (mode) => {
        if (!(ex instanceof WorkerExecutor)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'crashWorkerAtNextStage needs worker: true.');
        await ex.crashAtNextStage(mode);
      },
      workerStarts: () => (ex instanceof WorkerExecutor ? ex.starts : 0),
    };
  }
}

/** Loads a model and returns a colorizer running on the first provider that works. */
export async function createColorizerWith<I>(platform: Platform<I>, options?: ColorizerOptions): Promise<Colorizer<I>> {
  const t0 = now();
  const o = resolveColorizerOptions(options);
  const { runtime } = platform;
  const providers: Provider[] = [];
  for (const p of resolveBackend(o.backend, runtime.name)) {
    if (await runtime.isAvailable(p)) providers.push(p);
    else if (o.backend !== 'auto') {
      throw new TintaError(
        ErrorCodes.BACKEND_UNAVAILABLE,
        p === 'webgpu' ? 'Backend \'webgpu\' is not available: this browser returned no WebGPU adapter. Use \'auto\' or \'wasm\'.' : `Backend '${p}' is not available here.`,
        { details: { backend: p, runtime: runtime.name } },
      );
    }
  }
  if (providers.length === 0) throw new TintaError(ErrorCodes.BACKEND_UNAVAILABLE, `No execution provider is available in ${runtime.name}.`);
  const cache = o.cache === false ? null : isModelCache(o.cache) ? o.cache : platform.cacheFor(o.cache);
  const loaded = await loadModelBytes(o.model, {
    runtime,
    cache,
    ...(o.sha256 !== undefined ? { sha256: o.sha256 } : {}),
    ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    ...(o.signal ? { signal: o.signal } : {}),
    ...(platform.baseUrl !== undefined ? { baseUrl: platform.baseUrl } : {}),
  });
  // Checked here too (cheap), so a bad model fails before any worker starts.
  const info = inspectModel(loaded.bytes, loaded.label);
  const chosen = providersForPrecision(providers, info.precision, o.backend);
  if (chosen.skippedWebgpu) {
    providers.splice(0, providers.length, ...chosen.providers);
    emit(o.onProgress, { status: 'warning', code: WarningCodes.INT8_NOT_ON_WEBGPU, message: 'An int8 model runs on wasm: onnxruntime-web\'s WebGPU provider gives different colours for int8 models. Use an fp32 or fp16 model for WebGPU.' });
  } else if (info.precision === 'int8' && providers[0] === 'webgpu') {
    emit(o.onProgress, { status: 'warning', code: WarningCodes.INT8_NOT_ON_WEBGPU, message: 'An int8 model on WebGPU: onnxruntime-web\'s WebGPU provider gives different colours for int8 models than wasm. Use an fp32 or fp16 model for WebGPU.' });
  }
  const useWorker = o.worker === 'auto' ? platform.workerByDefault && platform.spawnWorker !== undefined : o.worker;
  if (useWorker && !platform.spawnWorker) {
    throw new TintaError(ErrorCodes.BACKEND_UNAVAILABLE, `worker: true, but ${runtime.name} offers no workers here; pass worker: false or 'auto'.`);
  }
  const executor: Executor = useWorker ? new WorkerExecutor(platform.spawnWorker!) : new InlineExecutor(runtime);
  let reply: InitReply | undefined;
  let failure: unknown;
  try {
    for (let i = 0; i < providers.length && !reply; i++) {
      const provider = providers[i]!;
      if (o.signal?.aborted) throw loadAborted();
      emit(o.onProgress, { status: 'session', provider });
      try {
        reply = await executor.init({
          bytes: loaded.bytes,
          label: loaded.label,
          provider,
          ...(o.threads !== undefined ? { threads: o.threads } : {}),
          ...(o.wasmPaths !== undefined ? { wasmPaths: o.wasmPaths } : {}),
        });
      } catch (e) {
        failure = e;
        const next = providers[i + 1];
        if (isModelFault(e, provider) || next === undefined || (isTintaError(e) && e.code === ErrorCodes.WORKER_CRASHED)) throw e;
        emit(o.onProgress, {
          status: 'warning',
          code: WarningCodes.BACKEND_FALLBACK,
          message: `The ${provider} backend failed (${e instanceof Error ? e.message : String(e)}); trying ${next}.`,
        });
      }
    }
    if (!reply) throw failure;
    if (o.signal?.aborted) throw loadAborted();
  } catch (e) {
    await executor.dispose().catch(() => undefined);
    throw e;
  }
  for (const w of reply.warnings) emit(o.onProgress, { status: 'warning', code: w.code, message: w.message });
  emit(o.onProgress, { status: 'ready', provider: reply.provider, elapsed: now() - t0 });
  return new ColorizerImpl(platform, executor, info, reply.provider, o.maxPixels, o.onProgress);
}
