/**
 * The browser adapter (window or worker): onnxruntime-web with 'webgpu' when
 * navigator.gpu.requestAdapter() really returns an adapter, else 'wasm'. A WebGPU session that
 * fails while running falls back to wasm once, with a warning. The .wasm files load from
 * `wasmPaths` when given, else from next to onnxruntime-web itself (never a CDN); threads are 1
 * unless the page is cross-origin isolated and `wasmPaths` serves ORT's files. ORT is imported on first use.
 */
import { ErrorCodes, TintaError } from '../errors.ts';
import { WarningCodes } from '../progress.ts';
import { runtimeFacts, webgpuAdapterAvailable } from '../env.ts';
import { createOrtSession, reason, type OrtModule } from './ort.ts';
import { applyWasmSettings, createWasmSession, loadOrtWeb, type OrtWeb } from './ort-web.ts';
import { decodeInBrowser } from './browser-image.ts';
import type { ModelSession, Provider, RuntimeAdapter, RuntimeWarning, SessionOptions, TensorData } from './types.ts';

/** Applies thread and .wasm path settings before ORT's first session; warns when they can no longer change. */
function configureWasm(ort: OrtWeb, opts: SessionOptions, onWarning: (w: RuntimeWarning) => void): void {
  const facts = runtimeFacts();
  // Threads by default only when ORT's .mjs comes from wasmPaths: a bundled onnxruntime-web
  // starts its thread workers from the app's chunk, which is no worker script, and hangs.
  const w = opts.wasmPaths;
  const selfHostedMjs = typeof w === 'string' || (w !== undefined && typeof w.mjs === 'string');
  let threads = opts.threads ?? (facts.crossOriginIsolated && selfHostedMjs ? Math.min(4, facts.hardwareConcurrency) : 1);
  if (threads > 1 && !facts.crossOriginIsolated) {
    onWarning({ code: WarningCodes.THREADS_NEED_ISOLATION, message: `threads: ${threads} needs a cross-origin isolated page (COOP/COEP headers); running on 1 thread.` });
    threads = 1;
  }
  applyWasmSettings(ort, threads, opts.wasmPaths, onWarning);
}

// A WebGPU session that turns into a wasm one the first time a run fails.
function withWasmFallback(gpu: ModelSession, ort: OrtWeb, bytes: Uint8Array, label: string, onWarning: (w: RuntimeWarning) => void): ModelSession {
  let current = gpu;
  let fellBack = false;
  return {
    get provider(): Provider {
      return current.provider;
    },
    inputNames: gpu.inputNames,
    outputNames: gpu.outputNames,
    async run(feeds: Record<string, TensorData>) {
      try {
        return await current.run(feeds);
      } catch (e) {
        if (fellBack) throw e;
        fellBack = true;
        onWarning({ code: WarningCodes.WEBGPU_FALLBACK, message: `WebGPU failed while running ${label} (${reason(e)}); switching to wasm for this colorizer.` });
        const wasm = await createWasmSession(ort, bytes, label);
        await current.release().catch(() => undefined);
        current = wasm;
        return current.run(feeds);
      }
    },
    release: () => current.release(),
  };
}

async function createSession(bytes: Uint8Array, provider: Provider, opts: SessionOptions, onWarning: (w: RuntimeWarning) => void): Promise<ModelSession> {
  if (provider !== 'webgpu' && provider !== 'wasm') {
    throw new TintaError(ErrorCodes.BACKEND_UNAVAILABLE, `Provider '${provider}' is not available in browsers; use 'webgpu' or 'wasm'.`, { details: { provider } });
  }
  const ort = await loadOrtWeb();
  configureWasm(ort, opts, onWarning); // the WebGPU build runs its CPU kernels on wasm too
  if (provider === 'wasm') return createWasmSession(ort, bytes, opts.label);
  if (!(await webgpuAdapterAvailable())) {
    throw new TintaError(ErrorCodes.BACKEND_UNAVAILABLE, 'No WebGPU adapter is available (navigator.gpu.requestAdapter() returned none).', { details: { provider } });
  }
  const gpu = await createOrtSession(ort as unknown as OrtModule, bytes, 'webgpu', { executionProviders: ['webgpu'], graphOptimizationLevel: 'all' }, opts.label);
  // Kept for the fallback: the caller's copy may be transferred away.
  return withWasmFallback(gpu, ort, bytes.slice(), opts.label, onWarning);
}

/** The browser adapter. */
export const browserRuntime: RuntimeAdapter = Object.freeze({
  name: 'browser' as const,
  async isAvailable(provider: Provider): Promise<boolean> {
    if (provider === 'wasm') return true;
    if (provider === 'webgpu') return webgpuAdapterAvailable();
    return false;
  },
  createSession,
  decodeImage: decodeInBrowser,
});
