/**
 * ONNX Runtime sessions behind the ModelSession interface, shared by every adapter:
 * onnxruntime-node and onnxruntime-web implement the same onnxruntime-common API, so one
 * wrapper converts tensors and turns ORT's errors into TintaErrors that name the model and
 * the provider. The ORT module itself is passed in (imported lazily by each adapter).
 */
import type { InferenceSession, Tensor } from 'onnxruntime-web';
import { ErrorCodes, TintaError } from '../errors.ts';
import type { ModelSession, Provider, TensorData } from './types.ts';

/** The part of an ORT module the SDK uses (both onnxruntime-node and onnxruntime-web fit). */
export interface OrtModule {
  InferenceSession: { create(bytes: Uint8Array, options?: InferenceSession.SessionOptions): Promise<InferenceSession> };
  Tensor: new (type: 'float32', data: Float32Array, dims: readonly number[]) => Tensor;
}

/** First line of an error's message, for compact details. */
export function reason(e: unknown): string {
  const m = e instanceof Error ? e.message : String(e);
  return m.split('\n')[0]!.slice(0, 500);
}

// onnxruntime-web reports a provider that cannot start (wasm file missing, WebGPU device lost)
// as "no available backend found"; anything else from InferenceSession.create is about the model.
const BACKEND_START_FAILURE = /no available backend|backend not found|failed to (load|fetch|compile|instantiate)|WebAssembly|webgpu|adapter|device/i;

/** Wraps an InferenceSession.create failure: MODEL_INVALID for the model's faults, BACKEND_FAILED otherwise. */
export function sessionCreateError(e: unknown, provider: Provider, label: string): TintaError {
  if (e instanceof TintaError) return e;
  const why = reason(e);
  const details = { model: label, provider, reason: why };
  if (provider === 'webgpu' || BACKEND_START_FAILURE.test(why)) {
    return new TintaError(ErrorCodes.BACKEND_FAILED, `Could not start ONNX Runtime's ${provider} backend for ${label}: ${why}`, { cause: e, details });
  }
  return new TintaError(
    ErrorCodes.MODEL_INVALID,
    `ONNX Runtime (${provider}) cannot load ${label}: ${why}. The file is corrupt or not a model ONNX Runtime can run; download or export it again.`,
    { cause: e, details },
  );
}

// onnxruntime-web wants a plain Uint8Array (a Node Buffer is refused); a view costs nothing.
function plainBytes(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

/** Creates a session on `provider` with `options`, wrapped as a ModelSession. */
export async function createOrtSession(
  ort: OrtModule,
  bytes: Uint8Array,
  provider: Provider,
  options: InferenceSession.SessionOptions,
  label: string,
): Promise<ModelSession> {
  let session: InferenceSession;
  try {
    session = await ort.InferenceSession.create(plainBytes(bytes), { logSeverityLevel: 3, ...options });
  } catch (e) {
    throw sessionCreateError(e, provider, label);
  }
  return wrapSession(ort, session, provider, label);
}

/** A ModelSession over an ORT InferenceSession. */
export function wrapSession(ort: OrtModule, session: InferenceSession, provider: Provider, label: string): ModelSession {
  let released = false;
  return {
    provider,
    inputNames: [...session.inputNames],
    outputNames: [...session.outputNames],
    async run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>> {
      if (released) throw new TintaError(ErrorCodes.DISPOSED, `The session of ${label} was released.`);
      const ortFeeds: Record<string, Tensor> = {};
      for (const [name, t] of Object.entries(feeds)) ortFeeds[name] = new ort.Tensor('float32', t.data, t.dims);
      let results: InferenceSession.ReturnType;
      try {
        results = await session.run(ortFeeds);
      } catch (e) {
        const shapes = Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, [...t.dims]]));
        throw new TintaError(ErrorCodes.BACKEND_FAILED, `ONNX Runtime (${provider}) failed to run ${label}: ${reason(e)}`, {
          cause: e,
          details: { model: label, provider, inputs: shapes, reason: reason(e) },
        });
      }
      const out: Record<string, TensorData> = {};
      for (const [name, t] of Object.entries(results)) {
        if (t.type !== 'float32') {
          throw new TintaError(ErrorCodes.MODEL_INVALID, `${label} returned '${name}' as ${t.type}; tinta models output float32.`, {
            details: { model: label, output: name, type: t.type },
          });
        }
        out[name] = { data: t.data as Float32Array, dims: [...t.dims] };
      }
      return out;
    },
    async release(): Promise<void> {
      if (released) return;
      released = true;
      await session.release();
    },
  };
}
