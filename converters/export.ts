/**
 * Export of a trained tinta network to ONNX: checkpoint (or live tf.layers model) -> NCHW ONNX graph
 * with batch norms folded where exact, tinta metadata and a content hash, written atomically.
 *
 * Pipeline: layer graph (layer-graph.ts) -> NCHW intermediate form (lower.ts) -> exact folds
 * (fold.ts) -> ONNX nodes (emit-onnx.ts) -> metadata + content hash (content-hash.ts). Exporting a
 * checkpoint reads its weights directly and needs no TensorFlow.js backend.
 */
import type * as tflTypes from '@tensorflow/tfjs-layers';
import { TintaError, ErrorCodes, isTintaError } from '../sdk/errors.ts';
import { DEFAULT_TEMPERATURE } from '../sdk/color/decode.ts';
import { getBuckets, type AbBuckets, type BucketScheme } from '../sdk/color/buckets.ts';
import { buildMetadata, parseModelInfo, type ModelInfo } from '../sdk/model/metadata.ts';
import { readCheckpoint } from '../trainer/checkpoint.ts';
import { writeFileAtomic } from '../sdk/io/atomic-node.ts';
import { DEFAULT_OPSET } from './onnx/model.ts';
import { layerGraphFromModel, layerGraphFromTopology, type LayerGraph, type LayerWeight } from './layer-graph.ts';
import { lowerLayerGraph } from './lower.ts';
import { foldAffines, type FoldReport } from './fold.ts';
import { emitOnnx } from './emit-onnx.ts';
import { encodeWithContentHash } from './content-hash.ts';
import { checkpointBuckets, checkpointEmbeddingSource, checkpointProvenance, tintaVersion } from './checkpoint-info.ts';

/** The producer name written into every exported model. */
export const PRODUCER = 'tinta';
/** The input size the SDK is told to prefer. */
export const DEFAULT_RECOMMENDED_SIZE = 256;

/** What an export did. */
export interface ExportReport {
  /** ONNX nodes by op type. */
  ops: Record<string, number>;
  nodes: number;
  /** Weight values stored in the file. */
  parameters: number;
  bytes: number;
  opset: number;
  /** Batch norms folded away, by how (see fold.ts). */
  folds: FoldReport;
  /** Layers exported as identities (Dropout and friends). */
  identityLayers: string[];
  /** Where the bucket table came from. */
  bucketSource: string;
  /** The file written, if any. */
  output?: string;
}

/** Metadata parts `exportModel` needs beside the network. */
export interface ExportMeta {
  /** The bucket table (or a built-in scheme name); its count must match the output channels. */
  buckets: AbBuckets | BucketScheme;
  /** Annealed-mean temperature; default DEFAULT_TEMPERATURE. */
  temperature?: number;
  /** Provenance record (free-form). */
  provenance?: Record<string, unknown>;
  /** Where the embedding of a fusion model comes from (e.g. 'mobilenetv2'). */
  embeddingSource?: string;
  recommendedSize?: number;
  /** ONNX opset (13..26); default 17. */
  opset?: number;
  /** Fold batch-norm scales through ReLUs (default true; false keeps them as BatchNormalization). */
  foldThroughRelu?: boolean;
}

/** Options of `exportCheckpoint`. */
export interface ExportOptions {
  /** Write the model here (atomically). */
  output?: string;
  opset?: number;
  temperature?: number;
  embeddingSource?: string;
  recommendedSize?: number;
  foldThroughRelu?: boolean;
}

/** The IR version to pair with an opset: the lowest that defines it (ORT 1.30 reads IR <= 13). */
export function irVersionFor(opset: number): number {
  if (opset >= 23) return 11;
  if (opset >= 21) return 10;
  if (opset >= 19) return 9;
  return 8;
}

function wrap(e: unknown, what: string): TintaError {
  if (isTintaError(e)) return e;
  return new TintaError(ErrorCodes.EXPORT_FAILED, `${what}: ${(e as Error)?.message ?? String(e)}`, { cause: e });
}

function exportGraph(lg: LayerGraph, meta: ExportMeta & { bucketsFor?: (q: number) => { buckets: AbBuckets; source: string } }): { bytes: Uint8Array; info: ModelInfo; report: ExportReport } {
  const opset = meta.opset ?? DEFAULT_OPSET[0]!.version;
  if (!Number.isInteger(opset) || opset < 13 || opset > 26) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `opset must be an integer from 13 to 26; got ${opset}.`);
  const temperature = meta.temperature ?? DEFAULT_TEMPERATURE;
  if (!(temperature >= 0) || !Number.isFinite(temperature)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `temperature must be a finite number >= 0; got ${temperature}.`);
  const { graph: ir, identityLayers } = lowerLayerGraph(lg);
  const folds = foldAffines(ir, { throughRelu: meta.foldThroughRelu ?? true });
  const emitted = emitOnnx(ir, opset);
  const q = emitted.output.channels;
  let buckets: AbBuckets, bucketSource: string;
  if (meta.bucketsFor) ({ buckets, source: bucketSource } = meta.bucketsFor(q));
  else {
    buckets = typeof meta.buckets === 'string' ? getBuckets(meta.buckets) : meta.buckets;
    bucketSource = typeof meta.buckets === 'string' ? meta.buckets : buckets.name;
    if (buckets.count !== q) throw new TintaError(ErrorCodes.EXPORT_FAILED, `The bucket table has ${buckets.count} buckets but the network predicts ${q}.`);
  }
  const info: Omit<ModelInfo, 'formatVersion'> = {
    kind: 'colorizer',
    buckets,
    temperature,
    input: { name: emitted.imageInput.name, scale: 1 / 100, offset: 0 },
    output: { name: emitted.output.name, kind: emitted.output.kind, stride: emitted.output.stride },
    spatialMultiple: emitted.spatialMultiple,
    embedding: emitted.embeddingInput
      ? { input: emitted.embeddingInput.name, dim: emitted.embeddingInput.dim, ...(meta.embeddingSource ? { source: meta.embeddingSource } : {}) }
      : null,
    frames: emitted.imageInput.channels,
    precision: 'fp32',
    recommendedSize: meta.recommendedSize ?? DEFAULT_RECOMMENDED_SIZE,
    provenance: meta.provenance ?? {},
    contentHash: '',
  };
  const metadata = buildMetadata(info);
  const graph = emitted.builder.build();
  const { bytes } = encodeWithContentHash({
    irVersion: irVersionFor(opset),
    opset: [{ domain: '', version: opset }],
    producerName: PRODUCER,
    producerVersion: tintaVersion(),
    graph,
    metadata,
  });
  const ops: Record<string, number> = {};
  for (const n of graph.nodes) ops[n.opType] = (ops[n.opType] ?? 0) + 1;
  const parameters = graph.initializers.reduce((a, t) => a + (t.dataType === 1 ? t.dims.reduce((x, y) => x * y, 1) : 0), 0);
  return {
    bytes,
    info: parseModelInfo(metadata),
    report: { ops, nodes: graph.nodes.length, parameters, bytes: bytes.length, opset, folds, identityLayers, bucketSource },
  };
}

/** ONNX bytes of a live tf.layers model (weights read from its backend). */
export function exportModel(model: tflTypes.LayersModel, meta: ExportMeta): Uint8Array {
  try {
    return exportGraph(layerGraphFromModel(model), meta).bytes;
  } catch (e) {
    throw wrap(e, `Could not export model "${model.name}"`);
  }
}

/** Write `bytes` to `path` atomically (temp file + rename): nothing half-written on failure. */
export async function writeModelFile(path: string, bytes: Uint8Array, code: typeof ErrorCodes.EXPORT_FAILED | typeof ErrorCodes.QUANTIZE_FAILED = ErrorCodes.EXPORT_FAILED): Promise<void> {
  try {
    await writeFileAtomic(path, bytes);
  } catch (e) {
    throw new TintaError(code, `Could not write ${path}: ${(e as Error).message}`, { cause: e, details: { path } });
  }
}

/**
 * Export a checkpoint to ONNX; with `output`, also write the file atomically. The bucket table,
 * provenance and embedding source come from the checkpoint header.
 */
export async function exportCheckpoint(checkpointPath: string, opts: ExportOptions = {}): Promise<{ bytes: Uint8Array; info: ModelInfo; report: ExportReport }> {
  const ck = readCheckpoint(checkpointPath);
  let result: { bytes: Uint8Array; info: ModelInfo; report: ExportReport };
  try {
    const weights: [string, LayerWeight][] = [...ck.weights].map(([name, { spec, data }]) => [name, { shape: spec.shape, data: Float32Array.from(data) }]);
    const lg = layerGraphFromTopology(ck.header.modelTopology, weights);
    const embeddingSource = opts.embeddingSource ?? checkpointEmbeddingSource(ck.header);
    result = exportGraph(lg, {
      buckets: 'seed',
      bucketsFor: (q) => checkpointBuckets(ck.header, q),
      provenance: checkpointProvenance(ck.header),
      ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
      ...(embeddingSource !== undefined ? { embeddingSource } : {}),
      ...(opts.recommendedSize !== undefined ? { recommendedSize: opts.recommendedSize } : {}),
      ...(opts.opset !== undefined ? { opset: opts.opset } : {}),
      ...(opts.foldThroughRelu !== undefined ? { foldThroughRelu: opts.foldThroughRelu } : {}),
    });
  } catch (e) {
    throw wrap(e, `Could not export ${checkpointPath}`);
  }
  if (opts.output) {
    await writeModelFile(opts.output, result.bytes);
    result.report.output = opts.output;
  }
  return result;
}
