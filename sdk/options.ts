/**
 * The options of createColorizer() and colorize(): one schema each, validated once, with
 * defaults filled in. Unknown keys are refused (a misspelt option should not silently do nothing).
 */
import { ErrorCodes, TintaError } from './errors.ts';
import { DEFAULT_MAX_PIXELS } from './image/types.ts';
import type { ModelInfo } from './model/metadata.ts';
import type { Backend } from './backends.ts';
import type { ProgressCallback } from './progress.ts';
import type { ModelCache } from './loader/cache.ts';
import { isModelCache } from './loader/cache.ts';
import type { ModelSource } from './loader/load.ts';
import { isSha256 } from './loader/sha256.ts';
import type { UpsampleMethod } from './core/guided.ts';
import type { EngineParams } from './core/engine.ts';
import { DEFAULT_MODEL } from './models/manifest.ts';

/** Options of createColorizer(). */
export interface ColorizerOptions {
  /** A shipped model name (default 'default'), a file path (Node, Deno), a URL, or the model's bytes. */
  model?: ModelSource;
  /** 'auto' (default): the fastest provider this runtime has; or force 'native', 'wasm', 'webgpu'. */
  backend?: Backend;
  /** Run sessions in a worker so the calling thread never blocks; 'auto' (default) does where workers exist. */
  worker?: boolean | 'auto';
  /** CPU threads for inference (default: Node native = ORT's choice, wasm = 1 unless cross-origin isolated). */
  threads?: number;
  /** Cache downloaded models: true (default: ~/.cache/tinta or $TINTA_CACHE in Node, Cache API in browsers), false, a directory (Node), or your own { match, put }. */
  cache?: boolean | string | ModelCache;
  /** Expected SHA-256 (hex) of the model file; a mismatch is MODEL_INTEGRITY. */
  sha256?: string;
  /** Loading progress: download, verify, session, ready, warning. */
  onProgress?: ProgressCallback;
  /** Where onnxruntime-web finds its .wasm files (a URL prefix or a file map). Default: next to onnxruntime-web itself, never a CDN. */
  wasmPaths?: string | Record<string, string>;
  /** Refuse images with more pixels than this (default 100 Mpx). */
  maxPixels?: number;
  /** Cancels loading. */
  signal?: AbortSignal;
}

/** Options of colorize(). */
export interface ColorizeOptions {
  /** Annealed-mean temperature: lower is more vivid, higher more muted (default: the model's, usually 0.38). */
  temperature?: number;
  /** Chroma multiplier: 0 gray, 1 as predicted (default), > 1 more saturated. */
  saturation?: number;
  /** Short side of the image the network sees, in pixels (default: the model's recommended size). */
  resolution?: number;
  /** How ab is brought to full resolution: 'guided' by the full-res L (default) or plain 'bilinear'. */
  upsample?: UpsampleMethod;
  /** Refuse images with more pixels than this (default: the colorizer's maxPixels). */
  maxPixels?: number;
  /** Move raw RGBA input to the worker instead of copying it; the caller's array becomes unusable. */
  transfer?: boolean;
  /** Cancels the call: at once while queued, at the next stage boundary while running. */
  signal?: AbortSignal;
}

/** createColorizer() options after validation. */
export interface ResolvedColorizerOptions {
  model: ModelSource;
  backend: unknown;
  worker: boolean | 'auto';
  threads: number | undefined;
  cache: boolean | string | ModelCache;
  sha256: string | undefined;
  onProgress: ProgressCallback | undefined;
  wasmPaths: string | Record<string, string> | undefined;
  maxPixels: number;
  signal: AbortSignal | undefined;
}

const COLORIZER_KEYS = ['model', 'backend', 'worker', 'threads', 'cache', 'sha256', 'onProgress', 'wasmPaths', 'maxPixels', 'signal'] as const;
const COLORIZE_KEYS = ['temperature', 'saturation', 'resolution', 'upsample', 'maxPixels', 'transfer', 'signal'] as const;

function bad(message: string): TintaError {
  return new TintaError(ErrorCodes.BAD_ARGUMENT, message);
}

function checkKeys(o: object, valid: readonly string[], fn: string): void {
  for (const k of Object.keys(o)) {
    if (!valid.includes(k)) throw bad(`${fn}: unknown option '${k}'. Valid options: ${valid.join(', ')}.`);
  }
}

function isSignal(x: unknown): x is AbortSignal {
  return typeof x === 'object' && x !== null && typeof (x as AbortSignal).aborted === 'boolean' && typeof (x as AbortSignal).addEventListener === 'function';
}

function positiveNumber(v: unknown, name: string, fn: string): number {
  if (typeof v !== 'number' || !(v > 0)) throw bad(`${fn}: ${name} must be a positive number (or Infinity); got ${String(v)}.`);
  return v;
}

/** Validates createColorizer() options and fills in defaults (the backend is checked against the runtime later). */
export function resolveColorizerOptions(o: ColorizerOptions | undefined): ResolvedColorizerOptions {
  const fn = 'createColorizer';
  if (o === undefined) o = {};
  if (typeof o !== 'object' || o === null) throw bad(`${fn}: options must be an object; got ${o === null ? 'null' : typeof o}.`);
  checkKeys(o, COLORIZER_KEYS, fn);
  const worker = o.worker ?? 'auto';
  if (worker !== true && worker !== false && worker !== 'auto') throw bad(`${fn}: worker must be true, false or 'auto'; got ${String(worker)}.`);
  if (o.threads !== undefined && !(Number.isInteger(o.threads) && o.threads >= 1 && o.threads <= 256)) {
    throw bad(`${fn}: threads must be an integer from 1 to 256; got ${String(o.threads)}.`);
  }
  const cache = o.cache ?? true;
  if (typeof cache !== 'boolean' && typeof cache !== 'string' && !isModelCache(cache)) {
    throw bad(`${fn}: cache must be true, false, a directory path or an object with match() and put().`);
  }
  if (o.sha256 !== undefined && !isSha256(o.sha256)) throw bad(`${fn}: sha256 must be 64 hex digits; got ${JSON.stringify(o.sha256)}.`);
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw bad(`${fn}: onProgress must be a function.`);
  if (o.wasmPaths !== undefined && typeof o.wasmPaths !== 'string' && (typeof o.wasmPaths !== 'object' || o.wasmPaths === null)) {
    throw bad(`${fn}: wasmPaths must be a URL prefix string or an object mapping file names to URLs.`);
  }
  if (o.signal !== undefined && !isSignal(o.signal)) throw bad(`${fn}: signal must be an AbortSignal.`);
  return {
    model: o.model ?? DEFAULT_MODEL,
    backend: o.backend ?? 'auto',
    worker,
    threads: o.threads,
    cache,
    sha256: o.sha256?.toLowerCase(),
    onProgress: o.onProgress,
    wasmPaths: o.wasmPaths,
    maxPixels: o.maxPixels === undefined ? DEFAULT_MAX_PIXELS : positiveNumber(o.maxPixels, 'maxPixels', fn),
    signal: o.signal,
  };
}

/** The largest short side the network may be asked to see. */
export const MAX_RESOLUTION = 4096;

/** colorize() options after validation, with the model's defaults. */
export interface ResolvedColorizeOptions {
  params: EngineParams;
  maxPixels: number;
  transfer: boolean;
  signal: AbortSignal | undefined;
}

/** Validates colorize() options against the model and fills in defaults. */
export function resolveColorizeOptions(o: ColorizeOptions | undefined, info: ModelInfo, defaultMaxPixels: number): ResolvedColorizeOptions {
  const fn = 'colorize';
  if (o === undefined) o = {};
  if (typeof o !== 'object' || o === null) throw bad(`${fn}: options must be an object; got ${o === null ? 'null' : typeof o}.`);
  checkKeys(o, COLORIZE_KEYS, fn);
  const temperature = o.temperature ?? info.temperature;
  if (typeof temperature !== 'number' || !(temperature >= 0) || !Number.isFinite(temperature)) {
    throw bad(`${fn}: temperature must be a finite number >= 0 (0 = most likely colour, 1 = plain mean); got ${String(o.temperature)}.`);
  }
  const saturation = o.saturation ?? 1;
  if (typeof saturation !== 'number' || !(saturation >= 0) || !Number.isFinite(saturation)) {
    throw bad(`${fn}: saturation must be a finite number >= 0 (1 = as predicted); got ${String(o.saturation)}.`);
  }
  const resolution = o.resolution ?? info.recommendedSize;
  if (typeof resolution !== 'number' || !(resolution >= 1 && resolution <= MAX_RESOLUTION)) {
    throw bad(`${fn}: resolution must be a number from 1 to ${MAX_RESOLUTION} (pixels on the short side the network sees); got ${String(o.resolution)}.`);
  }
  const upsample = o.upsample ?? 'guided';
  if (upsample !== 'guided' && upsample !== 'bilinear') throw bad(`${fn}: upsample must be 'guided' or 'bilinear'; got ${String(o.upsample)}.`);
  if (o.transfer !== undefined && typeof o.transfer !== 'boolean') throw bad(`${fn}: transfer must be a boolean.`);
  if (o.signal !== undefined && !isSignal(o.signal)) throw bad(`${fn}: signal must be an AbortSignal.`);
  return {
    params: { temperature, saturation, resolution, upsample },
    maxPixels: o.maxPixels === undefined ? defaultMaxPixels : positiveNumber(o.maxPixels, 'maxPixels', fn),
    transfer: o.transfer ?? false,
    signal: o.signal,
  };
}
