/**
 * An ONNX embedding network on onnxruntime-node's CPU provider, run as the embedding half of a
 * fused model (converters/fuse.ts buildEmbeddingModel): the same preprocessing nodes, the same
 * classifier, the same softmax, one photo per run at its network size, as the SDK runs a fused
 * model. The cache then holds what the fused model computes, to float precision.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { TintaError, ErrorCodes, isTintaError } from '../../sdk/errors.ts';
import { buildEmbeddingModel } from '../../converters/fuse.ts';
import { decodeModel } from '../../converters/onnx/model.ts';
import type { EmbeddingDescriptor } from './descriptor.ts';
import { looksLikeProbabilities } from './preprocess.ts';
import { checkInputShape, pickName, type EmbeddingSource, type SourceOptions } from './source.ts';

/** The classifier's declared input shape and tensor names, checked against the descriptor (MODEL_INVALID says what differs). */
function checkClassifier(bytes: Uint8Array, d: EmbeddingDescriptor, label: string): void {
  let g;
  try {
    g = decodeModel(bytes).graph;
  } catch (e) {
    throw new TintaError(ErrorCodes.MODEL_INVALID, `${label} is not an ONNX model tinta can read: ${(e as Error).message}`, { cause: e });
  }
  const inits = new Set(g.initializers.map((t) => t.name));
  const inputs = g.inputs.filter((v) => !inits.has(v.name));
  const input = pickName(inputs.map((v) => v.name), d.input, 'input', label);
  pickName(g.outputs.map((v) => v.name), d.output, 'output', label);
  const { fixedBatch } = checkInputShape(inputs.find((v) => v.name === input)?.shape, d, label);
  if (fixedBatch !== undefined && fixedBatch !== 1) {
    throw new TintaError(ErrorCodes.MODEL_INVALID, `${label} takes a fixed batch of ${fixedBatch}; export it with a free or size-1 batch dimension.`);
  }
}

/** Load an ONNX classifier (file path or bytes) described by `d`. */
export async function loadOnnxSource(model: string | Uint8Array, d: EmbeddingDescriptor, opts: SourceOptions = {}): Promise<EmbeddingSource> {
  const label = typeof model === 'string' ? `The embedding network "${basename(model)}"` : 'The embedding network';
  let ort: typeof Ort;
  try {
    ort = await import('onnxruntime-node');
  } catch (e) {
    throw new TintaError(ErrorCodes.BACKEND_FAILED, `onnxruntime-node could not be loaded for the embedding network: ${(e as Error).message}`, { cause: e });
  }
  let bytes: Uint8Array;
  if (typeof model === 'string') {
    try {
      bytes = new Uint8Array(await readFile(model));
    } catch (e) {
      throw new TintaError(ErrorCodes.MODEL_NOT_FOUND, `${label} could not be read: ${(e as Error).message}`, { cause: e, details: { path: model } });
    }
  } else bytes = model;
  checkClassifier(bytes, d, label);
  let built: ReturnType<typeof buildEmbeddingModel>;
  try {
    built = buildEmbeddingModel(bytes, { descriptor: d, ...(opts.gray ? { gray: opts.gray } : {}) });
  } catch (e) {
    // The fuse code speaks of fusing; here the same mismatch means the file does not fit its descriptor.
    if (isTintaError(e, 'FUSE_FAILED')) throw new TintaError(ErrorCodes.MODEL_INVALID, `${label}: ${e.message}`, { cause: e });
    throw e;
  }
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(built.bytes, {
      logSeverityLevel: 3, executionProviders: ['cpu'], ...(opts.threads !== undefined ? { intraOpNumThreads: opts.threads } : {}),
    });
  } catch (e) {
    throw new TintaError(ErrorCodes.MODEL_INVALID, `${label} is not a model onnxruntime can load: ${(e as Error).message}`, { cause: e });
  }
  const classes = d.classes ?? built.dim;
  return {
    name: d.name, format: 'onnx', descriptor: d, preprocessing: built.descriptor,
    async embed(inputs) {
      const out: Float32Array[] = [];
      // One photo per run: a fused model runs one photo at its own network size.
      for (const p of inputs) {
        if (p.x.length !== p.width * p.height) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `A network input has ${p.x.length} values for ${p.width}x${p.height}.`);
        let y: Ort.Tensor;
        try {
          y = (await session.run({ L: new ort.Tensor('float32', p.x, [1, 1, p.height, p.width]) })).embedding!;
        } catch (e) {
          throw new TintaError(ErrorCodes.BACKEND_FAILED, `${label} failed on a ${p.width}x${p.height} photo: ${(e as Error).message}`, { cause: e });
        }
        const v = y.data as Float32Array;
        if (classes !== null && v.length !== classes) {
          throw new TintaError(ErrorCodes.MODEL_INVALID, `${label} gives ${v.length} classes per image; its descriptor expects ${classes}.`, { details: { classes: v.length } });
        }
        for (let i = 0; i < v.length; i++) {
          if (!Number.isFinite(v[i]!)) throw new TintaError(ErrorCodes.MODEL_INVALID, `${label} returned a non-finite probability (${v[i]}) at class ${i}.`);
        }
        // Taken as probabilities (no softmax in the graph): they must be some.
        if (built.descriptor.output === 'probabilities' && !looksLikeProbabilities(v)) {
          throw new TintaError(ErrorCodes.MODEL_INVALID, `${label} is taken to give probabilities (${built.descriptor.outputFrom === 'descriptor' ? '"outputKind": "probs"' : 'its output comes out of a Softmax'}), but its output is not a probability vector; set "outputKind": "logits" in the descriptor.`);
        }
        out.push(Float32Array.from(v));
      }
      return out;
    },
    async dispose() {
      await session.release();
    },
  };
}
