/**
 * Video in the engine, runtime-agnostic: per stream, a ring buffer of prepared frames (full-res L
 * kept for the output, network-size L for the stacks) and the state of exponential ab smoothing.
 *
 * A model with `frames` = n = 2r + 1 colorizes frame t from the stack t-r..t+r, so frame t comes
 * out once frame t+r went in (r frames of latency); `flush` ends the stream and emits the last r
 * frames, the missing neighbours replaced by the last frame (the first frame stands in the same
 * way for the frames before it), which is what the trainer does at clip edges.
 *
 * Smoothing works on the low-resolution ab, before upsampling (cheap, and the guided upsampling
 * then puts the smoothed colour on this frame's edges): ab_t = alpha * ab_t-1 + (1 - alpha) * pred_t.
 * A scene cut, a mean |dL| between consecutive network-size frames above `sceneCut`, restarts it,
 * so one shot's colours never bleed into the next.
 */
import { ErrorCodes, TintaError } from '../errors.ts';
import type { RgbaImage } from '../image/types.ts';
import type { ImageSource, RuntimeWarning } from '../runtime/types.ts';
import type { Checkpoint, Engine, EngineOutput, EngineParams } from './engine.ts';
import { decodeAb, outputGrid, postprocess, preprocess, type Prepared } from './pipeline.ts';

/** Default scene-cut threshold: mean |dL| (L units) between consecutive frames at the network size. */
export const DEFAULT_SCENE_CUT = 20;

/** The per-stream settings the engine needs, validated. */
export interface VideoParams extends EngineParams {
  /** Weight of the past in exponential ab smoothing, in [0, 1); 0 = off. */
  smoothing: number;
  /** Mean |dL| above which smoothing restarts (scene cut). */
  sceneCut: number;
}

/** One step of a stream: push a frame, flush the rest (ends the stream), or drop the stream. */
export interface VideoRequest {
  stream: number;
  op: 'push' | 'flush' | 'close';
  /** True on a stream's first push: creates its state (a later push without state means the worker restarted). */
  first?: boolean;
  source?: ImageSource;
  params: VideoParams;
  maxPixels: number;
}

/** One colorized frame of a stream. */
export interface VideoFrameReply extends EngineOutput {
  /** Position of the frame in the stream (0-based, in push order). */
  index: number;
  /** True when smoothing restarted at this frame (a scene cut). */
  sceneCut: boolean;
  decodeMs: number;
}

/** The frames a step produced (0 or more, in order) and warnings raised on the way. */
export interface VideoReply {
  frames: VideoFrameReply[];
  warnings: RuntimeWarning[];
}

interface Buffered {
  index: number;
  prep: Prepared;
  decodeMs: number;
  preprocessMs: number;
}

interface StreamState {
  /** Frames at index >= next - r, oldest first. */
  buffer: Buffered[];
  received: number;
  /** Next frame to emit. */
  next: number;
  width: number;
  height: number;
  prevAb: { a: Float32Array; b: Float32Array } | undefined;
  prevNetL: Float32Array | undefined;
}

/** Mean |x - y| of two planes of the same length. */
export function meanAbsDiff(x: Float32Array, y: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += Math.abs(x[i]! - y[i]!);
  return x.length ? s / x.length : 0;
}

/** ab = alpha * prev + (1 - alpha) * cur, in place on `cur`. */
export function smoothAb(prev: { a: Float32Array; b: Float32Array }, cur: { a: Float32Array; b: Float32Array }, alpha: number): void {
  const k = 1 - alpha;
  for (let i = 0; i < cur.a.length; i++) {
    cur.a[i] = alpha * prev.a[i]! + k * cur.a[i]!;
    cur.b[i] = alpha * prev.b[i]! + k * cur.b[i]!;
  }
}

const now = (): number => performance.now();

function streamLost(id: number): TintaError {
  return new TintaError(ErrorCodes.WORKER_CRASHED, `Video stream ${id} lost its frames (the worker restarted or the colorizer was reloaded); start a new stream.`, { details: { stream: id } });
}

/** The video streams of one engine host. */
export class VideoStreams {
  private readonly streams = new Map<number, StreamState>();

  /** Forgets every stream (new session, or disposal). */
  clear(): void {
    this.streams.clear();
  }

  /** Runs one step of a stream on `engine`; `decode` turns the request's source into pixels. */
  async step(engine: Engine, req: VideoRequest, decode: (src: ImageSource) => Promise<RgbaImage>, checkpoint: Checkpoint): Promise<VideoFrameReply[]> {
    if (req.op === 'close') {
      this.streams.delete(req.stream);
      return [];
    }
    let s = this.streams.get(req.stream);
    if (!s) {
      if (!(req.op === 'push' && req.first)) throw streamLost(req.stream);
      s = { buffer: [], received: 0, next: 0, width: 0, height: 0, prevAb: undefined, prevNetL: undefined };
      this.streams.set(req.stream, s);
    }
    const n = engine.info.frames;
    const r = (n - 1) >> 1;
    const out: VideoFrameReply[] = [];
    if (req.op === 'push') {
      if (!req.source) throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'A video push needs a frame.');
      await checkpoint('decode');
      let t = now();
      const image = await decode(req.source);
      const decodeMs = now() - t;
      if (s.received > 0 && (image.width !== s.width || image.height !== s.height)) {
        throw new TintaError(
          ErrorCodes.IMAGE_BAD_PIXELS,
          `Frame ${s.received} of the video is ${image.width}x${image.height}, but the stream's frames are ${s.width}x${s.height}; all frames of a sequence must have one size.`,
          { details: { frame: s.received, width: image.width, height: image.height } },
        );
      }
      await checkpoint('preprocess');
      t = now();
      // One plane per frame: the stacks are assembled from the buffer.
      const prep = preprocess(image, engine.info, req.params.resolution, 1);
      s.buffer.push({ index: s.received, prep, decodeMs, preprocessMs: now() - t });
      if (s.received === 0) { s.width = image.width; s.height = image.height; }
      s.received++;
      while (s.next + r < s.received) out.push(await this.emit(engine, s, req.params, checkpoint));
    } else {
      while (s.next < s.received) out.push(await this.emit(engine, s, req.params, checkpoint));
      this.streams.delete(req.stream);
    }
    // Keep only what later stacks still read.
    while (s.buffer.length && s.buffer[0]!.index < s.next - r) s.buffer.shift();
    return out;
  }

  /** Colorizes frame `s.next` from its stack and advances. */
  private async emit(engine: Engine, s: StreamState, p: VideoParams, checkpoint: Checkpoint): Promise<VideoFrameReply> {
    const info = engine.info;
    const n = info.frames, r = (n - 1) >> 1, t = s.next;
    const at = (i: number): Buffered => {
      const k = Math.min(s.received - 1, Math.max(0, i));
      const b = s.buffer.find((x) => x.index === k);
      if (!b) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `internal: frame ${k} left the video buffer too early.`);
      return b;
    };
    const centre = at(t);
    const prep = centre.prep;
    const hw = prep.netWidth * prep.netHeight;
    const data = new Float32Array(n * hw);
    for (let f = 0; f < n; f++) data.set(at(t - r + f).prep.input.data.subarray(0, hw), f * hw);
    await checkpoint('model');
    let t0 = now();
    const outputs = await engine.session.run({ [info.input.name]: { data, dims: [1, n, prep.netHeight, prep.netWidth] } });
    const modelMs = now() - t0;
    await checkpoint('postprocess');
    t0 = now();
    const raw = outputs[info.output.name];
    const grid = outputGrid(raw, info, prep, engine.label);
    const ab = decodeAb(raw!, grid, info, p);
    const cut = s.prevNetL !== undefined && meanAbsDiff(s.prevNetL, prep.netL) > p.sceneCut;
    if (p.smoothing > 0 && s.prevAb && !cut && s.prevAb.a.length === ab.a.length) smoothAb(s.prevAb, ab, p.smoothing);
    s.prevAb = { a: ab.a.slice(), b: ab.b.slice() };
    s.prevNetL = prep.netL;
    const result = postprocess(prep, ab, grid, p.upsample);
    s.next++;
    return {
      ...result,
      provider: engine.session.provider,
      timings: { preprocess: centre.preprocessMs, model: modelMs, postprocess: now() - t0 },
      index: t,
      sceneCut: cut,
      decodeMs: centre.decodeMs,
    };
  }
}
