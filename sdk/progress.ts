/**
 * Progress of loading a model, as one discriminated union keyed on `status`. Events arrive in
 * order: 'download' (URLs only, repeatedly), 'verify' (when a sha256 is known), 'session' (once
 * per provider tried), then 'ready'; 'warning' may come at any point and never stops the work.
 */
import type { Provider } from './runtime/types.ts';

/** Stable codes of 'warning' events (what degraded, never an error). */
export const WarningCodes = {
  /** A provider failed to start; the next one in the backend's list is tried. */
  BACKEND_FALLBACK: 'BACKEND_FALLBACK',
  /** A WebGPU session failed while running; the colorizer switched to wasm. */
  WEBGPU_FALLBACK: 'WEBGPU_FALLBACK',
  /** onnxruntime-web's thread count is fixed at first use; a later request was ignored. */
  WASM_THREADS_FIXED: 'WASM_THREADS_FIXED',
  /** More than one wasm thread needs a cross-origin isolated page. */
  THREADS_NEED_ISOLATION: 'THREADS_NEED_ISOLATION',
  /** An int8 model: 'auto' skips WebGPU, whose int8 (QDQ) results differ from the CPU providers' (measured with onnxruntime-web 1.30). */
  INT8_NOT_ON_WEBGPU: 'INT8_NOT_ON_WEBGPU',
  /** A cached model failed its SHA-256 check and is downloaded again. */
  CACHE_STALE: 'CACHE_STALE',
  CACHE_READ_FAILED: 'CACHE_READ_FAILED',
  CACHE_WRITE_FAILED: 'CACHE_WRITE_FAILED',
} as const;

/** A warning code. */
export type WarningCode = (typeof WarningCodes)[keyof typeof WarningCodes];

/** One progress event. */
export type Progress =
  | { status: 'download'; url: string; loaded: number; /** null when the server sent no length */ total: number | null; cached: boolean }
  | { status: 'verify'; sha256: string }
  | { status: 'session'; provider: Provider }
  | { status: 'ready'; provider: Provider; /** ms from createColorizer to ready */ elapsed: number }
  | { status: 'warning'; code: WarningCode; message: string };

/** The callback type of the `onProgress` option. */
export type ProgressCallback = (event: Progress) => void;

/** Calls `cb` without letting a throwing callback break loading. */
export function emit(cb: ProgressCallback | undefined, event: Progress): void {
  if (!cb) return;
  try {
    cb(event);
  } catch {
    // A progress callback is a view; its bugs must not fail the model load.
  }
}
