/**
 * Runtime detection: the only module that probes globals (`window`, `process`, `Deno`,
 * `navigator.gpu`...). Facts are gathered once, on first use, into a frozen object; user
 * configuration lives elsewhere (the colorizer's options), never here.
 */
import type { RuntimeName } from './runtime/types.ts';

/** What the current JavaScript runtime offers. */
export interface RuntimeFacts {
  /** The adapter family: 'node', 'deno' or 'browser' (window or worker scope). */
  readonly runtime: RuntimeName | 'unknown';
  /** Running inside a worker (Web Worker, Deno Worker or Node worker_threads). */
  readonly inWorker: boolean;
  /** `navigator.gpu` exists (an adapter may still be refused: see webgpuAdapterAvailable). */
  readonly hasWebGPUApi: boolean;
  /** SharedArrayBuffer usable, so wasm threads can work (browsers: cross-origin isolated). */
  readonly crossOriginIsolated: boolean;
  /** Logical cores, or 1 when unknown. */
  readonly hardwareConcurrency: number;
  /** The Cache API (`caches`) exists. */
  readonly hasCacheApi: boolean;
  /** A DOM-style `Worker` constructor exists (browsers, Deno). */
  readonly hasWebWorker: boolean;
  /** `ImageData` exists (browsers, Deno with canvas polyfills). */
  readonly hasImageData: boolean;
  /** `OffscreenCanvas` and `createImageBitmap` exist, so images can be decoded off the DOM (also in workers). */
  readonly canDecodeImages: boolean;
}

type Globals = typeof globalThis & {
  Deno?: { version?: { deno?: string } };
  process?: { versions?: { node?: string } };
  WorkerGlobalScope?: unknown;
  document?: unknown;
  crossOriginIsolated?: boolean;
};

let facts: RuntimeFacts | undefined;

function detect(): RuntimeFacts {
  const g = globalThis as Globals;
  const isDeno = typeof g.Deno?.version?.deno === 'string';
  // Deno also defines `process`, so it is tested first.
  const isNode = !isDeno && typeof g.process?.versions?.node === 'string';
  const scope = g.WorkerGlobalScope;
  const isWorkerScope = typeof scope === 'function' && g instanceof (scope as abstract new () => object);
  const isBrowser = !isDeno && !isNode && (typeof g.document !== 'undefined' || isWorkerScope);
  const inWorker = isNode ? nodeIsWorkerThread() : isWorkerScope;
  const nav = typeof navigator !== 'undefined' ? (navigator as Navigator & { gpu?: unknown }) : undefined;
  let cores = nav?.hardwareConcurrency ?? 0;
  if (!(cores > 0) && isNode) cores = nodeCores();
  return Object.freeze({
    runtime: isDeno ? 'deno' : isNode ? 'node' : isBrowser ? 'browser' : 'unknown',
    inWorker,
    hasWebGPUApi: nav?.gpu != null,
    // Node has SharedArrayBuffer without isolation; browsers need COOP/COEP.
    crossOriginIsolated: isNode || isDeno ? typeof SharedArrayBuffer !== 'undefined' : g.crossOriginIsolated === true,
    hardwareConcurrency: cores > 0 ? cores : 1,
    hasCacheApi: typeof caches !== 'undefined',
    hasWebWorker: typeof Worker !== 'undefined',
    hasImageData: typeof ImageData !== 'undefined',
    canDecodeImages: typeof OffscreenCanvas !== 'undefined' && typeof createImageBitmap === 'function',
  } satisfies RuntimeFacts);
}

// Node facts without importing node: modules (this file is shared with browser builds):
// worker_threads sets no global, but `process.threadId` is non-zero inside a worker thread.
function nodeIsWorkerThread(): boolean {
  const p = (globalThis as { process?: { threadId?: number } }).process;
  return typeof p?.threadId === 'number' && p.threadId !== 0;
}

function nodeCores(): number {
  const p = (globalThis as { process?: { availableParallelism?: () => number } }).process;
  return typeof p?.availableParallelism === 'function' ? p.availableParallelism() : 1;
}

/** The runtime facts, detected on first call and frozen. */
export function runtimeFacts(): RuntimeFacts {
  return (facts ??= detect());
}

let adapterProbe: Promise<boolean> | undefined;

/**
 * True when `navigator.gpu.requestAdapter()` really returns an adapter (a GPU API can exist
 * with no usable adapter, e.g. blocklisted drivers or headless machines). Asked once.
 */
export function webgpuAdapterAvailable(): Promise<boolean> {
  if (!adapterProbe) {
    const gpu = (typeof navigator !== 'undefined' ? (navigator as { gpu?: { requestAdapter(): Promise<unknown> } }).gpu : undefined);
    adapterProbe = gpu
      ? gpu.requestAdapter().then((a) => a != null, () => false)
      : Promise.resolve(false);
  }
  return adapterProbe;
}
