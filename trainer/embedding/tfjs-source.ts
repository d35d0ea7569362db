/**
 * A TensorFlow.js graph model (model.json + weight shards, as tensorflowjs_converter writes them)
 * as an embedding network, run by @tensorflow/tfjs-converter on the trainer's backend. Its input is
 * made from the network-size L by `classifierInputFromL` (converters/fuse-classifier.ts), the
 * TypeScript twin of a fused model's preprocessing nodes (equal within 1e-5, tested).
 */
import { readFile } from 'node:fs/promises';
import { dirname, join, basename } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { TintaError, ErrorCodes, isTintaError } from '../../sdk/errors.ts';
import { classifierInputFromL, resolveDescriptor, type GrayMode } from '../../converters/fuse-classifier.ts';
import { initBackend, type TrainBackend } from '../backend.ts';
import type { EmbeddingDescriptor } from './descriptor.ts';
import { toProbabilities, type NetworkInput } from './preprocess.ts';
import { checkInputShape, pickName, splitScores, type EmbeddingSource } from './source.ts';

/** Images per run: graph models run in the tfjs backend's memory, so batches stay modest. */
const TFJS_BATCH = 8;

/** An IOHandler that loads a graph model's model.json and weight files from disk (tfjs-core has none for Node without tfjs-node). */
export function graphModelFileHandler(modelJsonPath: string): tf.io.IOHandler {
  return {
    async load() {
      let json: tf.io.ModelJSON;
      try {
        json = JSON.parse(await readFile(modelJsonPath, 'utf8')) as tf.io.ModelJSON;
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code === 'ENOENT' ? ErrorCodes.MODEL_NOT_FOUND : ErrorCodes.MODEL_INVALID;
        throw new TintaError(code, `"${modelJsonPath}" could not be read as a TensorFlow.js model.json: ${(e as Error).message}`, { cause: e, details: { path: modelJsonPath } });
      }
      if (!json || typeof json !== 'object' || !json.modelTopology || !Array.isArray(json.weightsManifest)) {
        throw new TintaError(ErrorCodes.MODEL_INVALID, `"${modelJsonPath}" is not a TensorFlow.js model.json (it needs modelTopology and weightsManifest).`, { details: { path: modelJsonPath } });
      }
      return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
        const specs: tf.io.WeightsManifestEntry[] = [];
        const parts: Uint8Array[] = [];
        for (const group of manifest) {
          for (const p of group.paths) {
            const file = join(dirname(modelJsonPath), p);
            try {
              parts.push(await readFile(file));
            } catch (e) {
              throw new TintaError(ErrorCodes.MODEL_NOT_FOUND, `The weight file "${p}" of ${basename(modelJsonPath)} is missing: ${(e as Error).message}`, { cause: e, details: { path: file } });
            }
          }
          specs.push(...group.weights);
        }
        const total = parts.reduce((a, b) => a + b.length, 0);
        const data = new Uint8Array(total);
        let o = 0;
        for (const p of parts) { data.set(p, o); o += p.length; }
        return [specs, data.buffer];
      });
    },
  };
}

/** Load a TF.js graph model from its model.json path, described by `d`. */
export async function loadTfjsSource(modelJsonPath: string, d: EmbeddingDescriptor, opts: { backend?: TrainBackend; gray?: GrayMode } = {}): Promise<EmbeddingSource> {
  const label = `The embedding network "${modelJsonPath}"`;
  await initBackend(opts.backend ?? 'auto');
  const { loadGraphModel } = await import('@tensorflow/tfjs-converter');
  // Loaded once, kept: the topology tells whether the output comes out of a Softmax.
  const artifacts = await graphModelFileHandler(modelJsonPath).load!();
  let model: Awaited<ReturnType<typeof loadGraphModel>>;
  try {
    model = await loadGraphModel({ load: async () => artifacts });
  } catch (e) {
    if (e instanceof TintaError) throw e;
    throw new TintaError(ErrorCodes.MODEL_INVALID, `${label} could not be loaded by tfjs-converter: ${(e as Error).message}`, { cause: e });
  }
  try {
    const input = pickName(model.inputs.map((t) => t.name), d.input, 'input', label);
    const output = pickName(model.outputs.map((t) => t.name), d.output, 'output', label);
    const shape = model.inputs.find((t) => t.name === input)?.shape?.map((v) => (v < 0 ? null : v));
    const { fixedBatch } = checkInputShape(shape, d, label);
    if (fixedBatch !== undefined && fixedBatch !== 1) {
      throw new TintaError(ErrorCodes.MODEL_INVALID, `${label} takes a fixed batch of ${fixedBatch}; convert it with a free or size-1 batch dimension.`);
    }
    const topology = (artifacts.modelTopology ?? {}) as { node?: { name: string; op: string }[] };
    const nodes = (topology.node ?? []).map((n) => ({ opType: n.op, outputs: [n.name, `${n.name}:0`] }));
    const pre = resolveDescriptor(d, { inputs: [{ name: input, ...(shape ? { shape } : {}) }], outputs: [{ name: output }], nodes }, opts.gray ? { gray: opts.gray } : {});
    const maxBatch = fixedBatch ?? TFJS_BATCH;
    const [h, w] = d.inputSize;
    const run = async (chunk: readonly NetworkInput[]): Promise<Float32Array[]> => {
      const per = 3 * h * w;
      const x = new Float32Array(chunk.length * per);
      chunk.forEach((p, i) => x.set(classifierInputFromL(p.L, p.width, p.height, pre), i * per));
      const dims: [number, number, number, number] = d.layout === 'NCHW' ? [chunk.length, 3, h, w] : [chunk.length, h, w, 3];
      const xt = tf.tensor4d(x, dims);
      let y: tf.Tensor | undefined;
      try {
        // execute() is the fast path; graphs with control flow or dynamic shapes need executeAsync().
        try {
          y = model.execute({ [input]: xt }, output) as tf.Tensor;
        } catch {
          y = (await model.executeAsync({ [input]: xt }, output)) as tf.Tensor;
        }
        const scores = (await y.data()) as Float32Array;
        return splitScores(scores, chunk.length, d, label).map((s) => toProbabilities(s, pre.output === 'logits' ? 'logits' : 'probs', label));
      } catch (e) {
        if (e instanceof TintaError) throw e;
        throw new TintaError(ErrorCodes.BACKEND_FAILED, `${label} failed on a [${dims.join(',')}] input: ${(e as Error).message}`, { cause: e });
      } finally {
        xt.dispose();
        y?.dispose();
      }
    };
    return {
      name: d.name, format: 'tfjs', descriptor: d, preprocessing: pre,
      async embed(inputs) {
        const out: Float32Array[] = [];
        for (let i = 0; i < inputs.length; i += maxBatch) out.push(...(await run(inputs.slice(i, i + maxBatch))));
        return out;
      },
      async dispose() {
        model.dispose();
      },
    };
  } catch (e) {
    model.dispose();
    if (isTintaError(e, 'FUSE_FAILED')) throw new TintaError(ErrorCodes.MODEL_INVALID, `${label}: ${e.message}`, { cause: e });
    throw e;
  }
}
