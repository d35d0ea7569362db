/**
 * Checkpoints: one self-describing file per checkpoint, written atomically.
 *
 * Layout: the 8-byte magic "TINTACK1", a little-endian uint32 header length, the header as UTF-8
 * JSON (format version, the full training config, the training state, data statistics, the model
 * topology and weight specs, the optimizer's weight specs), a little-endian uint32 CRC-32 of the
 * payload, then the payload: model weights followed by optimizer weights, as tfjs stores them.
 * Written to a temp file in the same folder, fsync'ed, then renamed over the target, so a crash at
 * any moment leaves either the old checkpoint or the new one, never a torn file; the CRC catches
 * files damaged afterwards.
 */
import { readFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import type * as tfTypes from '@tensorflow/tfjs-core';
import type * as tflTypes from '@tensorflow/tfjs-layers';
import { TintaError, ErrorCodes } from '../sdk/errors.ts';
import { writeFileAtomic } from '../sdk/io/atomic-node.ts';

const MAGIC = 'TINTACK1';
/** Version of the checkpoint format (bumped on incompatible changes). */
export const CHECKPOINT_FORMAT_VERSION = 1;

/** A weight as tfjs describes it. */
export interface WeightSpec {
  name: string;
  shape: number[];
  dtype: 'float32' | 'int32';
}

/** Everything in a checkpoint but the raw bytes. */
export interface CheckpointHeader {
  format: 'tinta-checkpoint';
  version: number;
  /** The full training config (trainer-defined; export and resume need nothing else). */
  config: Record<string, unknown>;
  /** Where training stands (step, epoch, best loss, timings...). */
  state: Record<string, unknown>;
  /** Data statistics (bucket prior, sample counts...). */
  data: Record<string, unknown>;
  /** Keras-format model topology (tfjs `modelTopology`). */
  modelTopology: unknown;
  weightSpecs: WeightSpec[];
  optimizerSpecs: WeightSpec[];
  createdAt: string;
}

/** A parsed checkpoint: the header and the weights as Float32/Int32 arrays by name. */
export interface Checkpoint {
  header: CheckpointHeader;
  weights: Map<string, { spec: WeightSpec; data: Float32Array | Int32Array }>;
  optimizer: Map<string, { spec: WeightSpec; data: Float32Array | Int32Array }>;
}

let crcTable: Uint32Array | undefined;
/** CRC-32 (IEEE) of `bytes`. */
export function crc32(bytes: Uint8Array): number {
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = crcTable[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function specBytes(s: WeightSpec): number {
  return s.shape.reduce((a, b) => a * b, 1) * 4;
}

/** Serialise a checkpoint to its file bytes. */
export function encodeCheckpoint(
  header: Omit<CheckpointHeader, 'format' | 'version' | 'createdAt'>,
  weightData: Uint8Array,
  optimizerData: Uint8Array,
): Uint8Array[] {
  const full: CheckpointHeader = { format: 'tinta-checkpoint', version: CHECKPOINT_FORMAT_VERSION, createdAt: new Date().toISOString(), ...header };
  const expectW = full.weightSpecs.reduce((a, s) => a + specBytes(s), 0);
  const expectO = full.optimizerSpecs.reduce((a, s) => a + specBytes(s), 0);
  if (expectW !== weightData.length || expectO !== optimizerData.length) {
    throw new TintaError(ErrorCodes.CHECKPOINT_INVALID, `Checkpoint payload sizes (${weightData.length}, ${optimizerData.length}) do not match the specs (${expectW}, ${expectO}).`);
  }
  const json = new TextEncoder().encode(JSON.stringify(full));
  const head = new Uint8Array(8 + 4);
  head.set(new TextEncoder().encode(MAGIC), 0);
  new DataView(head.buffer).setUint32(8, json.length, true);
  const crcBuf = new Uint8Array(4);
  const payload = new Uint8Array(weightData.length + optimizerData.length);
  payload.set(weightData, 0);
  payload.set(optimizerData, weightData.length);
  new DataView(crcBuf.buffer).setUint32(0, crc32(payload), true);
  return [head, json, crcBuf, payload];
}

function bad(path: string, why: string): TintaError {
  return new TintaError(ErrorCodes.CHECKPOINT_INVALID, `${path} is not a usable tinta checkpoint: ${why}.`, { details: { path } });
}

/** Parse checkpoint bytes (no TensorFlow.js needed: the exporter reads weights directly). */
export function decodeCheckpoint(bytes: Uint8Array, path = 'checkpoint'): Checkpoint {
  if (bytes.length < 16 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) throw bad(path, 'it does not start with the tinta checkpoint signature');
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const jsonLen = dv.getUint32(8, true);
  if (12 + jsonLen + 4 > bytes.length) throw bad(path, 'the file is truncated (header)');
  let header: CheckpointHeader;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + jsonLen))) as CheckpointHeader;
  } catch (e) {
    throw bad(path, `its header is not valid JSON (${(e as Error).message})`);
  }
  if (header.format !== 'tinta-checkpoint') throw bad(path, 'its header has no tinta-checkpoint format tag');
  if (header.version !== CHECKPOINT_FORMAT_VERSION) throw bad(path, `format version ${header.version} is not supported (this tinta reads ${CHECKPOINT_FORMAT_VERSION})`);
  if (!Array.isArray(header.weightSpecs) || !Array.isArray(header.optimizerSpecs) || !header.modelTopology) throw bad(path, 'its header lacks the model topology or weight specs');
  const crc = dv.getUint32(12 + jsonLen, true);
  const payload = bytes.subarray(12 + jsonLen + 4);
  const need = [...header.weightSpecs, ...header.optimizerSpecs].reduce((a, s) => a + specBytes(s), 0);
  if (payload.length !== need) throw bad(path, `the weights are ${payload.length} bytes where ${need} are needed (truncated file?)`);
  if (crc32(payload) !== crc) throw bad(path, 'the weights fail their CRC check (the file is damaged)');
  // Copy into an aligned buffer so typed-array views are legal.
  const aligned = new Uint8Array(payload.length);
  aligned.set(payload);
  const read = (specs: WeightSpec[], start: number) => {
    const m = new Map<string, { spec: WeightSpec; data: Float32Array | Int32Array }>();
    let off = start;
    for (const s of specs) {
      const n = specBytes(s) / 4;
      const data = s.dtype === 'int32' ? new Int32Array(aligned.buffer, off, n) : new Float32Array(aligned.buffer, off, n);
      m.set(s.name, { spec: s, data });
      off += n * 4;
    }
    return { m, off };
  };
  const w = read(header.weightSpecs, 0);
  const o = read(header.optimizerSpecs, w.off);
  return { header, weights: w.m, optimizer: o.m };
}

/** Read and parse a checkpoint file. */
export function readCheckpoint(path: string): Checkpoint {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (e) {
    throw new TintaError(ErrorCodes.CHECKPOINT_INVALID, `Cannot read checkpoint ${path}: ${(e as Error).message}`, { cause: e, details: { path } });
  }
  return decodeCheckpoint(bytes, path);
}

/** Flatten named tensors into specs + one little-endian payload. */
async function packTensors(named: { name: string; tensor: tfTypes.Tensor }[]): Promise<{ specs: WeightSpec[]; data: Uint8Array }> {
  const specs: WeightSpec[] = [];
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (const { name, tensor } of named) {
    const dtype = tensor.dtype === 'int32' ? 'int32' : 'float32';
    const vals = (await tensor.data()) as Float32Array | Int32Array;
    const typed = dtype === 'int32' ? Int32Array.from(vals) : Float32Array.from(vals);
    specs.push({ name, shape: tensor.shape.slice(), dtype });
    const b = new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
    chunks.push(b);
    total += b.length;
  }
  const data = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) { data.set(c, off); off += c.length; }
  return { specs, data };
}

/** Save a model (and optionally its optimizer) with config/state/data to `path`, atomically. */
export async function saveCheckpoint(
  path: string,
  parts: {
    model: tflTypes.LayersModel;
    optimizer?: tfTypes.Optimizer;
    config: Record<string, unknown>;
    state: Record<string, unknown>;
    data: Record<string, unknown>;
  },
): Promise<void> {
  const topology = parts.model.toJSON(null, false);
  const modelWeights = parts.model.weights.map((w) => ({ name: w.originalName, tensor: w.read() }));
  const packedW = await packTensors(modelWeights);
  const optWeights = parts.optimizer ? await parts.optimizer.getWeights() : [];
  const packedO = await packTensors(optWeights.map((w) => ({ name: w.name, tensor: w.tensor })));
  const file = encodeCheckpoint(
    { config: parts.config, state: parts.state, data: parts.data, modelTopology: topology, weightSpecs: packedW.specs, optimizerSpecs: packedO.specs },
    packedW.data,
    packedO.data,
  );
  mkdirSync(dirname(path), { recursive: true });
  await writeFileAtomic(path, file);
}

/** Rebuild the tfjs model of a checkpoint with its weights (custom layers must be registered). */
export async function restoreModel(ck: Checkpoint): Promise<tflTypes.LayersModel> {
  const tf = await import('@tensorflow/tfjs-core');
  const tfl = await import('@tensorflow/tfjs-layers');
  await import('./model.ts'); // registers tinta's custom layers
  let model: tflTypes.LayersModel;
  try {
    model = (await tfl.models.modelFromJSON({ modelTopology: ck.header.modelTopology } as never)) as tflTypes.LayersModel;
  } catch (e) {
    throw new TintaError(ErrorCodes.CHECKPOINT_INVALID, `The checkpoint's model topology cannot be rebuilt: ${(e as Error).message}`, { cause: e });
  }
  const values: tfTypes.Tensor[] = [];
  for (const w of model.weights) {
    const saved = ck.weights.get(w.originalName);
    if (!saved) throw new TintaError(ErrorCodes.CHECKPOINT_INVALID, `The checkpoint has no weight "${w.originalName}".`);
    if (saved.spec.shape.join('x') !== w.shape.join('x')) {
      throw new TintaError(ErrorCodes.CHECKPOINT_INVALID, `Weight "${w.originalName}" has shape [${saved.spec.shape}] in the checkpoint but [${w.shape}] in the model.`);
    }
    values.push(tf.tensor(saved.data, saved.spec.shape, saved.spec.dtype));
  }
  model.setWeights(values);
  tf.dispose(values);
  return model;
}

/** Restore optimizer slots (Adam moments, iteration count) saved with the checkpoint. */
export async function restoreOptimizer(ck: Checkpoint, optimizer: tfTypes.Optimizer): Promise<void> {
  if (ck.optimizer.size === 0) return;
  const tf = await import('@tensorflow/tfjs-core');
  const named = [...ck.optimizer.values()].map(({ spec, data }) => ({ name: spec.name, tensor: tf.tensor(data, spec.shape, spec.dtype) }));
  await optimizer.setWeights(named);
}
