/**
 * The tinta metadata an ONNX model carries in `metadata_props`: the contract between the
 * converters (which write it) and the SDK (which reads it). Everything the SDK needs to run a
 * model travels here, so no side file is ever needed.
 */
import { TintaError, ErrorCodes } from '../errors.ts';
import { parseBuckets, serializeBuckets, type AbBuckets } from '../color/buckets.ts';

/** Version of the metadata format written by this tinta. */
export const TINTA_FORMAT_VERSION = 1;

/** The metadata keys (all values are strings; structured ones are JSON). */
export const MetaKeys = {
  format: 'tinta.format',
  kind: 'tinta.kind',
  buckets: 'tinta.buckets',
  temperature: 'tinta.temperature',
  input: 'tinta.input',
  output: 'tinta.output',
  spatialMultiple: 'tinta.spatial_multiple',
  embedding: 'tinta.embedding',
  frames: 'tinta.frames',
  precision: 'tinta.precision',
  provenance: 'tinta.provenance',
  contentHash: 'tinta.content_hash',
  recommendedSize: 'tinta.recommended_size',
} as const;

/** What kind of graph a model file holds. */
export type ModelKind = 'colorizer' | 'fused';

/** How the network's input is made from L (0-100): value = L * scale + offset. */
export interface InputSpec {
  name: string;
  scale: number;
  offset: number;
}

/** The network's output tensor. */
export interface OutputSpec {
  name: string;
  /** 'logits' (pre-softmax) or 'probs'. */
  kind: 'logits' | 'probs';
  /** Output resolution divisor: the output is H/stride x W/stride. */
  stride: number;
}

/** Embedding input of a fusion model (absent when the model takes L alone). */
export interface EmbeddingSpec {
  /** Graph input name of the embedding ('' in a fused model, where it is computed inside). */
  input: string;
  dim: number;
  /** Where it comes from, e.g. 'mobilenetv2'. */
  source?: string;
  /** The classifier that computes it inside a fused model (absent otherwise). */
  classifier?: EmbeddedClassifier;
}

/** The classifier a fused model runs inside to compute its embedding (written by `tinta fuse`). */
export interface EmbeddedClassifier {
  /** Its name, e.g. 'mobilenetv2'. */
  name: string;
  /** SHA-256 (hex) of the classifier file that was fused in. */
  sha256: string;
  /** How L became its input and what its output held (see converters/fuse-classifier.ts). */
  descriptor: Record<string, unknown>;
}

/** Everything the SDK reads from a model's metadata. */
export interface ModelInfo {
  formatVersion: number;
  kind: ModelKind;
  buckets: AbBuckets;
  temperature: number;
  input: InputSpec;
  output: OutputSpec;
  spatialMultiple: number;
  /** Set when the graph has an embedding input the caller must feed. */
  embedding: EmbeddingSpec | null;
  /** Consecutive frames stacked as input channels (1 for photo models). */
  frames: number;
  precision: 'fp32' | 'fp16' | 'int8';
  recommendedSize: number;
  provenance: Record<string, unknown>;
  contentHash: string;
}

/** Metadata entries for `info` (what the exporter writes). */
export function buildMetadata(info: Omit<ModelInfo, 'formatVersion'>): Record<string, string> {
  return {
    [MetaKeys.format]: String(TINTA_FORMAT_VERSION),
    [MetaKeys.kind]: info.kind,
    [MetaKeys.buckets]: serializeBuckets(info.buckets),
    [MetaKeys.temperature]: String(info.temperature),
    [MetaKeys.input]: JSON.stringify(info.input),
    [MetaKeys.output]: JSON.stringify(info.output),
    [MetaKeys.spatialMultiple]: String(info.spatialMultiple),
    [MetaKeys.embedding]: info.embedding ? JSON.stringify(info.embedding) : 'none',
    [MetaKeys.frames]: String(info.frames),
    [MetaKeys.precision]: info.precision,
    [MetaKeys.recommendedSize]: String(info.recommendedSize),
    [MetaKeys.provenance]: JSON.stringify(info.provenance),
    [MetaKeys.contentHash]: info.contentHash,
  };
}

function invalid(what: string, source: string): TintaError {
  return new TintaError(ErrorCodes.MODEL_INVALID, `${source}: its tinta metadata is malformed (${what}). Re-export the model with \`tinta export\`.`);
}

function json<T>(meta: Record<string, string>, key: string, source: string): T {
  const v = meta[key];
  if (v === undefined) throw invalid(`missing ${key}`, source);
  try {
    return JSON.parse(v) as T;
  } catch {
    throw invalid(`${key} is not JSON`, source);
  }
}

function num(meta: Record<string, string>, key: string, source: string, ok: (n: number) => boolean): number {
  const n = Number(meta[key]);
  if (meta[key] === undefined || !Number.isFinite(n) || !ok(n)) throw invalid(`${key} = ${String(meta[key])}`, source);
  return n;
}

/**
 * Validate and parse a model's metadata. A model without tinta metadata is MODEL_NO_METADATA;
 * a newer format is MODEL_UNSUPPORTED_VERSION; anything malformed is MODEL_INVALID.
 */
export function parseModelInfo(meta: Record<string, string>, source = 'The model'): ModelInfo {
  if (meta[MetaKeys.format] === undefined) {
    throw new TintaError(
      ErrorCodes.MODEL_NO_METADATA,
      `${source} has no tinta metadata, so its buckets and input normalisation are unknown. Only models made by \`tinta export\` (or quantized/fused from one) can be used.`,
    );
  }
  const formatVersion = num(meta, MetaKeys.format, source, (n) => Number.isInteger(n) && n >= 1);
  if (formatVersion > TINTA_FORMAT_VERSION) {
    throw new TintaError(ErrorCodes.MODEL_UNSUPPORTED_VERSION, `${source} uses tinta model format ${formatVersion}; this tinta reads up to ${TINTA_FORMAT_VERSION}. Update tinta.`);
  }
  const kind = meta[MetaKeys.kind];
  if (kind !== 'colorizer' && kind !== 'fused') throw invalid(`${MetaKeys.kind} = ${String(kind)}`, source);
  let buckets: AbBuckets;
  try {
    buckets = parseBuckets(meta[MetaKeys.buckets] ?? '');
  } catch {
    throw invalid(`${MetaKeys.buckets} is not a bucket table`, source);
  }
  const input = json<InputSpec>(meta, MetaKeys.input, source);
  if (typeof input?.name !== 'string' || !Number.isFinite(input.scale) || !Number.isFinite(input.offset)) throw invalid(MetaKeys.input, source);
  const output = json<OutputSpec>(meta, MetaKeys.output, source);
  if (typeof output?.name !== 'string' || (output.kind !== 'logits' && output.kind !== 'probs') || !(output.stride >= 1)) throw invalid(MetaKeys.output, source);
  const embRaw = meta[MetaKeys.embedding];
  let embedding: EmbeddingSpec | null = null;
  if (embRaw !== undefined && embRaw !== 'none') {
    embedding = json<EmbeddingSpec>(meta, MetaKeys.embedding, source);
    if (typeof embedding?.input !== 'string' || !(embedding.dim >= 1)) throw invalid(MetaKeys.embedding, source);
  }
  // A fused model computes its embedding inside (no input, a classifier record); a colorizer takes it as an input.
  const c = embedding?.classifier;
  const fusedOk = embedding !== null && embedding.input === '' && typeof c?.name === 'string' && typeof c.sha256 === 'string' && typeof c.descriptor === 'object' && c.descriptor !== null;
  if (kind === 'fused' ? !fusedOk : embedding?.input === '' || c !== undefined) throw invalid(`${MetaKeys.embedding} does not fit ${MetaKeys.kind} = ${kind}`, source);
  const precision = meta[MetaKeys.precision] ?? 'fp32';
  if (precision !== 'fp32' && precision !== 'fp16' && precision !== 'int8') throw invalid(`${MetaKeys.precision} = ${precision}`, source);
  let provenance: Record<string, unknown> = {};
  if (meta[MetaKeys.provenance] !== undefined) provenance = json<Record<string, unknown>>(meta, MetaKeys.provenance, source);
  return {
    formatVersion,
    kind,
    buckets,
    temperature: num(meta, MetaKeys.temperature, source, (n) => n >= 0),
    input,
    output,
    spatialMultiple: num(meta, MetaKeys.spatialMultiple, source, (n) => Number.isInteger(n) && n >= 1),
    embedding,
    frames: meta[MetaKeys.frames] === undefined ? 1 : num(meta, MetaKeys.frames, source, (n) => Number.isInteger(n) && n >= 1),
    precision,
    recommendedSize: meta[MetaKeys.recommendedSize] === undefined ? 256 : num(meta, MetaKeys.recommendedSize, source, (n) => n >= 8),
    provenance,
    contentHash: meta[MetaKeys.contentHash] ?? '',
  };
}
