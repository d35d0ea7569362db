/**
 * Backend resolution: one frozen table from what the caller asks for ('auto' or a provider) to
 * the execution providers tried, in order, on each runtime. The colorizer records which one
 * really ran (`colorizer.provider`).
 */
import { ErrorCodes, TintaError } from './errors.ts';
import type { Provider, RuntimeName } from './runtime/types.ts';

/** What `createColorizer({ backend })` accepts. */
export type Backend = 'auto' | Provider;

/**
 * Per runtime: backend -> providers in the order they are tried. Node prefers the native
 * onnxruntime-node build (about 4x faster than wasm on CPU); browsers prefer WebGPU when an
 * adapter is really returned; Deno runs onnxruntime-web on wasm.
 */
export const BACKEND_TABLE: Readonly<Record<RuntimeName, Readonly<Partial<Record<Backend, readonly Provider[]>>>>> = Object.freeze({
  node: Object.freeze({ auto: Object.freeze(['native', 'wasm'] as const), native: Object.freeze(['native'] as const), wasm: Object.freeze(['wasm'] as const) }),
  browser: Object.freeze({ auto: Object.freeze(['webgpu', 'wasm'] as const), webgpu: Object.freeze(['webgpu'] as const), wasm: Object.freeze(['wasm'] as const) }),
  deno: Object.freeze({ auto: Object.freeze(['wasm'] as const), wasm: Object.freeze(['wasm'] as const) }),
});

/** The backends valid on `runtime`, for messages and option checks. */
export function backendsFor(runtime: RuntimeName): Backend[] {
  return Object.keys(BACKEND_TABLE[runtime]) as Backend[];
}

/** The providers to try for `backend` on `runtime`; BACKEND_UNAVAILABLE (listing the valid ones) otherwise. */
export function resolveBackend(backend: unknown, runtime: RuntimeName): readonly Provider[] {
  const table = BACKEND_TABLE[runtime];
  const providers = typeof backend === 'string' && Object.prototype.hasOwnProperty.call(table, backend) ? table[backend as Backend] : undefined;
  if (!providers) {
    const valid = backendsFor(runtime).map((b) => `'${b}'`).join(', ');
    throw new TintaError(
      ErrorCodes.BACKEND_UNAVAILABLE,
      `Backend ${typeof backend === 'string' ? `'${backend}'` : String(backend)} is not available in ${runtime}. Use one of: ${valid}.`,
      { details: { backend, runtime, valid: backendsFor(runtime) } },
    );
  }
  return providers;
}

/**
 * The providers to try for a model of `precision`: with backend 'auto', an int8 model skips WebGPU
 * when another provider remains — onnxruntime-web's WebGPU provider computed visibly different
 * colours from the CPU providers on our int8 (QDQ) models while fp32 agreed — so 'auto' stays
 * correct; asking for 'webgpu' by name still gets it (with a warning from the caller).
 */
export function providersForPrecision(providers: readonly Provider[], precision: string, backend: unknown): { providers: Provider[]; skippedWebgpu: boolean } {
  const skip = backend === 'auto' && precision === 'int8' && providers.includes('webgpu') && providers.some((p) => p !== 'webgpu');
  return { providers: skip ? providers.filter((p) => p !== 'webgpu') : [...providers], skippedWebgpu: skip };
}
