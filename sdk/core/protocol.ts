/**
 * The messages between a colorizer and whatever runs its engine (the same thread or a worker):
 * plain, structured-clonable data, so the two executors share one shape.
 */
import type { ImageSource, Provider, RuntimeWarning } from '../runtime/types.ts';
import type { EngineOutput, EngineParams } from './engine.ts';

/** Create a session for the model on exactly one provider. */
export interface InitRequest {
  bytes: Uint8Array;
  label: string;
  provider: Provider;
  threads?: number;
  wasmPaths?: string | Record<string, string>;
}

/** The provider that runs, and what was worth a warning on the way. */
export interface InitReply {
  provider: Provider;
  warnings: RuntimeWarning[];
}

/** Colorize one image. */
export interface RunRequest {
  source: ImageSource;
  params: EngineParams;
  maxPixels: number;
}

/** One colorization, with decode time and warnings raised while running (e.g. a provider fallback). */
export interface RunReply extends EngineOutput {
  decodeMs: number;
  warnings: RuntimeWarning[];
}
