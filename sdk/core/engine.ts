/**
 * The engine: one model session plus the pipeline, run stage by stage. It knows nothing of
 * workers or runtimes; the in-process executor and the worker both drive it, passing a
 * checkpoint that is awaited between stages (where cancellation and test hooks act).
 */
import { ErrorCodes, TintaError } from '../errors.ts';
import type { ModelInfo } from '../model/metadata.ts';
import type { RgbaImage } from '../image/types.ts';
import type { ModelSession, Provider } from '../runtime/types.ts';
import { decodeAb, outputGrid, postprocess, preprocess } from './pipeline.ts';
import type { UpsampleMethod } from './guided.ts';

/** The per-call settings the engine needs, already validated and defaulted. */
export interface EngineParams {
  temperature: number;
  saturation: number;
  resolution: number;
  upsample: UpsampleMethod;
}

/** Time spent in each stage, in milliseconds. */
export interface StageTimings {
  preprocess: number;
  model: number;
  postprocess: number;
}

/** What one colorization produces. */
export interface EngineOutput {
  width: number;
  height: number;
  rgba: Uint8ClampedArray;
  /** Planar full-res ab in one buffer: a = ab[0, n), b = ab[n, 2n). */
  ab: Float32Array;
  provider: Provider;
  timings: StageTimings;
}

/** The pipeline stages, in order; a checkpoint runs before each. */
export type Stage = 'decode' | 'preprocess' | 'model' | 'postprocess';

/** Awaited before each stage: throws to stop (ABORTED), or yields so messages get through. */
export type Checkpoint = (next: Stage) => void | Promise<void>;

const now = (): number => performance.now();

/** Runs the colorization pipeline on one session. */
export class Engine {
  constructor(
    readonly session: ModelSession,
    readonly info: ModelInfo,
    readonly label: string,
  ) {}

  /** Colorizes one decoded image. */
  async colorize(image: RgbaImage, p: EngineParams, checkpoint: Checkpoint): Promise<EngineOutput> {
    await checkpoint('preprocess');
    let t = now();
    const prep = preprocess(image, this.info, p.resolution);
    const timings: StageTimings = { preprocess: now() - t, model: 0, postprocess: 0 };
    await checkpoint('model');
    t = now();
    const outputs = await this.session.run({ [this.info.input.name]: prep.input });
    timings.model = now() - t;
    await checkpoint('postprocess');
    t = now();
    const out = outputs[this.info.output.name];
    const grid = outputGrid(out, this.info, prep, this.label);
    const abLow = decodeAb(out!, grid, this.info, p);
    const result = postprocess(prep, abLow, grid, p.upsample);
    timings.postprocess = now() - t;
    return { ...result, provider: this.session.provider, timings };
  }

  /** Frees the session. */
  release(): Promise<void> {
    return this.session.release();
  }
}

/** The ABORTED error every cancelled call rejects with. */
export function abortedError(stage?: string): TintaError {
  return new TintaError(ErrorCodes.ABORTED, `The colorization was cancelled${stage ? ` before ${stage}` : ''} (its AbortSignal fired).`, {
    details: stage ? { stage } : {},
  });
}
