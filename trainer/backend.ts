/**
 * Choosing the TensorFlow.js backend for training.
 *
 * Order for 'auto': tfjs-node-gpu (CUDA), tfjs-node (native CPU), WASM (with tinta's training
 * kernels), plain CPU. The native packages are optional peer dependencies: their install downloads
 * libtensorflow, which is impossible on some machines, so they are loaded dynamically when present.
 */
import * as tf from '@tensorflow/tfjs-core';
import { TintaError, ErrorCodes } from '../sdk/errors.ts';

/** Backends the trainer knows. */
export type TrainBackend = 'auto' | 'node-gpu' | 'node' | 'wasm' | 'cpu';

/** What `initBackend` settled on. */
export interface BackendInfo {
  /** The tinta name of the backend that runs. */
  name: Exclude<TrainBackend, 'auto'>;
  /** The tfjs backend name ('tensorflow', 'wasm', 'cpu'). */
  tfName: string;
  /** Backends tried before it and why they were passed over. */
  skipped: { name: string; reason: string }[];
}

const ORDER: Exclude<TrainBackend, 'auto'>[] = ['node-gpu', 'node', 'wasm', 'cpu'];

async function tryNative(pkg: string): Promise<void> {
  // A variable specifier keeps bundlers and type-checkers from requiring the optional package.
  const spec: string = pkg;
  await import(spec);
}

async function activate(name: Exclude<TrainBackend, 'auto'>): Promise<string> {
  switch (name) {
    case 'node-gpu':
      await tryNative('@tensorflow/tfjs-node-gpu');
      return 'tensorflow';
    case 'node':
      await tryNative('@tensorflow/tfjs-node');
      return 'tensorflow';
    case 'wasm': {
      await import('@tensorflow/tfjs-backend-wasm');
      return 'wasm';
    }
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      return 'cpu';
  }
}

let current: BackendInfo | undefined;

/**
 * Load and select a training backend (idempotent for the same request). With 'auto', the first of
 * node-gpu, node, wasm, cpu that loads wins; naming one backend makes its failure an error.
 */
export async function initBackend(requested: TrainBackend = 'auto'): Promise<BackendInfo> {
  if (current && (requested === 'auto' || requested === current.name)) return current;
  const candidates = requested === 'auto' ? ORDER : [requested];
  if (!ORDER.includes(requested as never) && requested !== 'auto') {
    throw new TintaError(ErrorCodes.BACKEND_UNAVAILABLE, `Unknown training backend "${requested}"; use one of auto, ${ORDER.join(', ')}.`);
  }
  const skipped: { name: string; reason: string }[] = [];
  for (const name of candidates) {
    try {
      const tfName = await activate(name);
      if (!(await tf.setBackend(tfName))) throw new Error(`tf.setBackend('${tfName}') returned false`);
      await tf.ready();
      if (tfName === 'wasm') {
        const { registerWasmTrainingKernels } = await import('./kernels/wasm-training.ts');
        registerWasmTrainingKernels();
      }
      current = { name, tfName, skipped };
      return current;
    } catch (e) {
      const reason = e instanceof Error ? e.message.split('\n')[0]! : String(e);
      if (requested !== 'auto') {
        throw new TintaError(ErrorCodes.BACKEND_UNAVAILABLE, `The training backend "${name}" could not be loaded: ${reason}. ` +
          (name.startsWith('node') ? 'Install @tensorflow/tfjs-node (or -node-gpu) where its native library can be downloaded, or use --backend wasm.' : ''), { cause: e });
      }
      skipped.push({ name, reason });
    }
  }
  throw new TintaError(ErrorCodes.BACKEND_UNAVAILABLE, `No training backend could be loaded: ${skipped.map((s) => `${s.name} (${s.reason})`).join('; ')}`);
}
