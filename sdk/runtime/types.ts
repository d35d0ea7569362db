/**
 * The one interface every runtime adapter (browser, node, deno) implements. The SDK core and the
 * worker layer talk to ONNX Runtime, image decoding and the file system only through it, so they
 * never branch on the platform.
 */
import type { RgbaImage } from '../image/types.ts';
import type { WarningCode } from '../progress.ts';

/** An execution provider the SDK can run a model on. */
export type Provider = 'webgpu' | 'wasm' | 'native';

/** The runtimes tinta ships an adapter for. */
export type RuntimeName = 'node' | 'browser' | 'deno';

/** A float32 tensor as plain data (no ORT object), so the core stays runtime-agnostic. */
export interface TensorData {
  data: Float32Array;
  dims: readonly number[];
}

/** Settings for one inference session; everything is optional and has a per-runtime default. */
export interface SessionOptions {
  /** CPU threads for the provider (Node native: intra-op threads; wasm: ORT's global numThreads). */
  threads?: number;
  /** Where onnxruntime-web finds its .wasm files (prefix or file map); never a CDN by default. */
  wasmPaths?: string | Record<string, string>;
  /** Names the model in error messages (file name, URL or 'model bytes'). */
  label: string;
}

/** A loaded model, ready to run. */
export interface ModelSession {
  /** The execution provider that really runs this session. */
  readonly provider: Provider;
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  /** Runs the model; errors are TintaError BACKEND_FAILED with the model and provider named. */
  run(feeds: Record<string, TensorData>): Promise<Record<string, TensorData>>;
  /** Frees the session's native or wasm memory; safe to call twice. */
  release(): Promise<void>;
}

/** Something worth telling the user that did not stop the work (a fallback, an ignored setting). */
export interface RuntimeWarning {
  code: WarningCode;
  message: string;
}

/**
 * An image ready to cross a worker boundary: raw pixels, encoded bytes, a file path (Node, Deno)
 * or an ImageBitmap (browsers). Decoding happens where the colorizer runs (in the worker).
 */
export type ImageSource =
  | { kind: 'rgba'; image: RgbaImage }
  | { kind: 'encoded'; bytes: Uint8Array }
  | { kind: 'path'; path: string }
  | { kind: 'bitmap'; bitmap: ImageBitmap };

/** What a runtime adapter provides. */
export interface RuntimeAdapter {
  readonly name: RuntimeName;
  /** True when `provider` can run here now (e.g. WebGPU: an adapter was really returned). */
  isAvailable(provider: Provider): Promise<boolean>;
  /**
   * Creates an ONNX Runtime session on exactly `provider` (no silent fallback here; the caller
   * tries providers in order). Failures: MODEL_INVALID when ORT rejects the model, BACKEND_FAILED
   * when the provider itself cannot start. `onWarning` reports non-fatal adjustments.
   */
  createSession(bytes: Uint8Array, provider: Provider, opts: SessionOptions, onWarning: (w: RuntimeWarning) => void): Promise<ModelSession>;
  /** Decodes an ImageSource to opaque RGBA8 sRGB, refusing images over `maxPixels` (IMAGE_* codes). */
  decodeImage(src: ImageSource, maxPixels: number): Promise<RgbaImage>;
  /** Reads a local file (Node, Deno); MODEL_NOT_FOUND when it does not exist. */
  readFile?(path: string | URL): Promise<Uint8Array>;
}
