/**
 * onnxruntime-web, shared by the browser, Deno and Node (wasm) adapters: imported on first use,
 * its global wasm settings (threads, .wasm paths) applied once before the first session, and
 * wasm sessions created the same way everywhere.
 */
import { ErrorCodes, TintaError } from '../errors.ts';
import { WarningCodes } from '../progress.ts';
import { createOrtSession, reason, type OrtModule } from './ort.ts';
import type { ModelSession, RuntimeWarning, SessionOptions } from './types.ts';

/** The onnxruntime-web module. */
export type OrtWeb = typeof import('onnxruntime-web');

let ortWeb: Promise<OrtWeb> | undefined;
// onnxruntime-web's env.wasm is global and frozen once its backend starts: remember what was applied
// so a later colorizer asking for something else gets a warning, not silence.
let wasmThreadsApplied: number | undefined;

/** Import onnxruntime-web once (a failed import is retried on the next call). */
export function loadOrtWeb(): Promise<OrtWeb> {
  ortWeb ??= import('onnxruntime-web').catch((e: unknown) => {
    ortWeb = undefined;
    throw new TintaError(ErrorCodes.BACKEND_FAILED, `onnxruntime-web could not be loaded: ${reason(e)}`, { cause: e, details: { provider: 'wasm' } });
  });
  return ortWeb;
}

/** Apply thread and .wasm path settings before the first session; warn when they can no longer change. */
export function applyWasmSettings(ort: OrtWeb, threads: number, wasmPaths: SessionOptions['wasmPaths'], onWarning: (w: RuntimeWarning) => void): void {
  if (wasmThreadsApplied === undefined) {
    ort.env.wasm.numThreads = threads;
    if (wasmPaths !== undefined) ort.env.wasm.wasmPaths = wasmPaths;
    wasmThreadsApplied = threads;
  } else if (wasmThreadsApplied !== threads) {
    onWarning({
      code: WarningCodes.WASM_THREADS_FIXED,
      message: `onnxruntime-web already runs with ${wasmThreadsApplied} thread(s); threads: ${threads} is ignored (its wasm settings are global and fixed at first use).`,
    });
  }
}

/** The thread count onnxruntime-web runs with, once applied. */
export function appliedWasmThreads(): number | undefined {
  return wasmThreadsApplied;
}

/** A wasm session on onnxruntime-web. */
export function createWasmSession(ort: OrtWeb, bytes: Uint8Array, label: string): Promise<ModelSession> {
  return createOrtSession(ort as unknown as OrtModule, bytes, 'wasm', { executionProviders: ['wasm'], graphOptimizationLevel: 'all' }, label);
}
