/**
 * Video with a colorizer: `colorizer.colorizeVideo(frames)` (an async iterable in, one out) and
 * `colorizer.createVideoStream()` (push a frame, get back the frames that became ready; flush at
 * the end). The ring buffer of frames and the smoothing state live next to the session (in the
 * worker when there is one; sdk/core/video.ts), so each frame is decoded and sent once.
 *
 * With a stacked model (metadata `frames` = n = 2r + 1) a frame comes out r pushes after it went
 * in; with a single-frame model every push returns its own frame. `smoothing` (alpha in [0, 1))
 * blends each frame's low-resolution ab with the previous output's, restarting at scene cuts.
 * The same code runs in Node, browsers and Deno; frames are whatever that runtime's colorize() takes.
 */
import { ErrorCodes, TintaError, isTintaError } from './errors.ts';
import type { ModelInfo } from './model/metadata.ts';
import type { ImageSource } from './runtime/types.ts';
import type { ColorizeResult } from './colorizer.ts';
import { resolveColorizeOptions, type ColorizeOptions } from './options.ts';
import { DEFAULT_SCENE_CUT, type VideoFrameReply, type VideoParams, type VideoReply, type VideoRequest } from './core/video.ts';

export { DEFAULT_SCENE_CUT };

/** Options of colorizeVideo() and createVideoStream(): colorize()'s, plus smoothing. */
export interface VideoOptions extends ColorizeOptions {
  /** Exponential ab smoothing: weight of the previous frame's colour, in [0, 1) (default 0 = off; 0.6 is strong). */
  smoothing?: number;
  /** Mean |dL| between consecutive frames (L units, 0-100) above which smoothing restarts (default 20). */
  sceneCut?: number;
}

/** One colorized frame. */
export interface VideoFrameResult extends ColorizeResult {
  /** The frame's position in the sequence (0-based, in push order). */
  readonly index: number;
  /** True when smoothing restarted at this frame (a scene cut was detected). */
  readonly sceneCut: boolean;
}

/** A push/flush video stream. */
export interface VideoStream<I> {
  /** Frames a push is behind: (n - 1) / 2 for an n-frame model, 0 for a single-frame one. */
  readonly latency: number;
  /** Adds the next frame; resolves to the frames that became ready (in order, possibly none). An unreadable frame (IMAGE_*) rejects this push only. */
  push(frame: I): Promise<VideoFrameResult[]>;
  /** Ends the stream: resolves to the remaining frames (edge frames replicated). */
  flush(): Promise<VideoFrameResult[]>;
  /** Abandons the stream and frees its frames (no more output). */
  close(): Promise<void>;
}

/** What a colorizer lends its video streams. */
export interface VideoHost<I> {
  readonly info: ModelInfo;
  readonly maxPixels: number;
  toImageSource(frame: I, o: { transfer: boolean; maxPixels: number }): Promise<{ source: ImageSource; transfer: Transferable[] }>;
  /** Runs one stream step through the colorizer's queue and executor. */
  step(req: VideoRequest, transfer: Transferable[], signal?: AbortSignal): Promise<VideoReply>;
  /** The public result of one frame (`total`: ms of the step, shared by its frames). */
  result(frame: VideoFrameReply, total: number): ColorizeResult;
  /** A stream id unique within the colorizer. */
  newStreamId(): number;
}

/** Validated video options. */
export function resolveVideoOptions(o: VideoOptions | undefined, info: ModelInfo, maxPixels: number): { params: VideoParams; maxPixels: number; transfer: boolean; signal: AbortSignal | undefined } {
  const { smoothing, sceneCut, ...rest } = o ?? {};
  const alpha = smoothing ?? 0;
  if (typeof alpha !== 'number' || !(alpha >= 0 && alpha < 1)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `colorizeVideo: smoothing must be a number in [0, 1) (the weight of the previous frame's colour; 0 = off); got ${String(smoothing)}.`);
  }
  const cut = sceneCut ?? DEFAULT_SCENE_CUT;
  if (typeof cut !== 'number' || !(cut > 0)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `colorizeVideo: sceneCut must be a positive number (mean |dL| in L units); got ${String(sceneCut)}.`);
  if (info.frames % 2 !== 1) throw new TintaError(ErrorCodes.MODEL_INVALID, `This model stacks ${info.frames} frames; video needs an odd number (a centre frame). Re-export it.`);
  const r = resolveColorizeOptions(rest, info, maxPixels);
  return { params: { ...r.params, smoothing: alpha, sceneCut: cut }, maxPixels: r.maxPixels, transfer: r.transfer, signal: r.signal };
}

const now = (): number => performance.now();

/** Opens a stream on `host` (what colorizer.createVideoStream() does). */
export function openVideoStream<I>(host: VideoHost<I>, options?: VideoOptions): VideoStream<I> {
  const o = resolveVideoOptions(options, host.info, host.maxPixels);
  const id = host.newStreamId();
  let tail: Promise<unknown> = Promise.resolve();
  let failure: unknown;
  let ended = false;
  let pushed = 0;

  const wrap = (reply: VideoReply, total: number): VideoFrameResult[] =>
    reply.frames.map((f) => Object.freeze({ ...host.result(f, total / Math.max(1, reply.frames.length)), index: f.index, sceneCut: f.sceneCut }));

  // Steps run one after another in call order, even when the caller does not await each push.
  const serial = <T>(job: () => Promise<T>): Promise<T> => {
    const p = tail.then(async () => {
      if (failure !== undefined) throw failure;
      try {
        return await job();
      } catch (e) {
        // A frame that cannot be read never enters the stream: that push fails, the stream goes on.
        if (isTintaError(e) && e.code.startsWith('IMAGE_')) throw e;
        failure = e;
        // The engine may hold frames of this stream: free them (unless the stream never started there).
        if (pushed > 0 && !(isTintaError(e) && (e.code === ErrorCodes.DISPOSED || e.code === ErrorCodes.WORKER_CRASHED))) {
          host.step({ stream: id, op: 'close', params: o.params, maxPixels: o.maxPixels }, []).catch(() => undefined);
        }
        throw e;
      }
    });
    tail = p.catch(() => undefined);
    return p;
  };

  const endedError = () => new TintaError(ErrorCodes.BAD_ARGUMENT, 'This video stream was flushed or closed; open a new one for another sequence.');

  return {
    latency: (host.info.frames - 1) >> 1,
    push(frame) {
      if (ended) return Promise.reject(endedError());
      return serial(async () => {
        const { source, transfer } = await host.toImageSource(frame, { transfer: o.transfer, maxPixels: o.maxPixels });
        const t = now();
        const first = pushed === 0;
        pushed++;
        const reply = await host.step({ stream: id, op: 'push', first, source, params: o.params, maxPixels: o.maxPixels }, transfer, o.signal);
        return wrap(reply, now() - t);
      });
    },
    flush() {
      if (ended) return Promise.reject(endedError());
      ended = true;
      return serial(async () => {
        if (pushed === 0) return [];
        const t = now();
        const reply = await host.step({ stream: id, op: 'flush', params: o.params, maxPixels: o.maxPixels }, [], o.signal);
        return wrap(reply, now() - t);
      });
    },
    async close() {
      if (ended) return;
      ended = true;
      await tail;
      if (pushed > 0 && failure === undefined) await host.step({ stream: id, op: 'close', params: o.params, maxPixels: o.maxPixels }, []).catch(() => undefined);
    },
  };
}

/** Colorizes `frames` in order; yields each colorized frame as soon as it is ready (what colorizer.colorizeVideo() does). */
export async function* colorizeFrameSequence<I>(host: VideoHost<I>, frames: Iterable<I> | AsyncIterable<I>, options?: VideoOptions): AsyncGenerator<VideoFrameResult, void, undefined> {
  if (frames === null || typeof frames !== 'object' || (!(Symbol.asyncIterator in frames) && !(Symbol.iterator in frames))) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'colorizeVideo: frames must be an iterable or async iterable of images (in play order).');
  }
  const stream = openVideoStream(host, options);
  let finished = false;
  try {
    for await (const frame of frames) yield* await stream.push(frame);
    const rest = await stream.flush();
    finished = true;
    yield* rest;
  } finally {
    // Stopped early (break, an error, or a frame source that threw): free the stream's frames.
    if (!finished) await stream.close();
  }
}
