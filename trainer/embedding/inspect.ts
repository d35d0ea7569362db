/**
 * What a model file is: its format, inputs and outputs, hash, and tinta metadata when it has some.
 * `tinta models info` prints it; `tinta embed` uses it to recognise catalog files and to infer a
 * descriptor from a model's input shape.
 */
import { createHash } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { TintaError, ErrorCodes } from '../../sdk/errors.ts';
import { MetaKeys, parseModelInfo, type ModelInfo } from '../../sdk/model/metadata.ts';
import { readOnnxMetadata } from '../../sdk/model/onnx-metadata.ts';
import { initBackend } from '../backend.ts';
import { CLASSIFIERS } from './catalog.ts';
import { graphModelFileHandler } from './tfjs-source.ts';

/** A graph input or output. */
export interface TensorSummary {
  name: string;
  /** Dimensions: numbers when fixed, a symbolic name or null when free; null when unknown. */
  shape: (number | string | null)[] | null;
  type: string;
}

/** What inspectModel finds. */
export interface ModelSummary {
  /** The model file (model.json for TF.js). */
  path: string;
  format: 'onnx' | 'tfjs';
  /** Bytes of the model file (TF.js: model.json plus its weight files). */
  bytes: number;
  /** sha256 of the model file (TF.js: of model.json and its weight files, in manifest order). */
  sha256: string;
  inputs: TensorSummary[];
  outputs: TensorSummary[];
  /** The tinta metadata of a tinta model; null for anything else (e.g. a classifier). */
  tinta: ModelInfo | null;
  /** The catalog network whose published file this is, if any. */
  catalogName: string | null;
}

/** The model file and format of a path: a .onnx file, a model.json, or a folder holding model.json. */
export async function modelFileOf(path: string): Promise<{ file: string; format: 'onnx' | 'tfjs' }> {
  const st = await stat(path).catch(() => undefined);
  if (!st) throw new TintaError(ErrorCodes.MODEL_NOT_FOUND, `"${path}" does not exist.`, { details: { path } });
  if (st.isDirectory()) {
    const mj = join(path, 'model.json');
    if (await stat(mj).then((s) => s.isFile(), () => false)) return { file: mj, format: 'tfjs' };
    throw new TintaError(ErrorCodes.MODEL_INVALID, `The folder "${path}" holds no model.json (a TensorFlow.js graph model).`, { details: { path } });
  }
  const ext = extname(path).toLowerCase();
  if (ext === '.onnx') return { file: path, format: 'onnx' };
  if (ext === '.json') return { file: path, format: 'tfjs' };
  throw new TintaError(ErrorCodes.MODEL_INVALID, `"${path}" is neither an .onnx file nor a TensorFlow.js model.json.`, { details: { path } });
}

/** sha256 and size of a TF.js graph model: model.json, then its weight files in manifest order. */
async function hashTfjs(file: string): Promise<{ sha256: string; bytes: number }> {
  const text = await readFile(file);
  const h = createHash('sha256').update(text);
  let bytes = text.length;
  let manifest: { paths?: string[] }[] = [];
  try {
    manifest = (JSON.parse(text.toString('utf8')) as { weightsManifest?: { paths?: string[] }[] }).weightsManifest ?? [];
  } catch (e) {
    throw new TintaError(ErrorCodes.MODEL_INVALID, `"${file}" is not valid JSON: ${(e as Error).message}`, { cause: e, details: { path: file } });
  }
  for (const g of manifest) {
    for (const p of g.paths ?? []) {
      const w = await readFile(join(dirname(file), p)).catch((e: Error) => {
        throw new TintaError(ErrorCodes.MODEL_NOT_FOUND, `The weight file "${p}" of ${basename(file)} is missing: ${e.message}`, { cause: e });
      });
      h.update(w);
      bytes += w.length;
    }
  }
  return { sha256: h.digest('hex'), bytes };
}

/** Inspect a model file (ONNX via onnxruntime-node, TF.js via tfjs-converter). */
export async function inspectModel(path: string): Promise<ModelSummary> {
  const { file, format } = await modelFileOf(path);
  if (format === 'tfjs') {
    const { sha256, bytes } = await hashTfjs(file);
    await initBackend('auto');
    const { loadGraphModel } = await import('@tensorflow/tfjs-converter');
    let model: Awaited<ReturnType<typeof loadGraphModel>>;
    try {
      model = await loadGraphModel(graphModelFileHandler(file));
    } catch (e) {
      if (e instanceof TintaError) throw e;
      throw new TintaError(ErrorCodes.MODEL_INVALID, `"${file}" could not be loaded by tfjs-converter: ${(e as Error).message}`, { cause: e });
    }
    const sum = (t: { name: string; shape?: number[]; dtype: string }): TensorSummary => ({ name: t.name, shape: t.shape ? t.shape.map((d) => (d < 0 ? null : d)) : null, type: t.dtype });
    const r: ModelSummary = { path: file, format, bytes, sha256, inputs: model.inputs.map(sum), outputs: model.outputs.map(sum), tinta: null, catalogName: null };
    model.dispose();
    return r;
  }
  let bytes: Uint8Array;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw new TintaError(ErrorCodes.MODEL_NOT_FOUND, `Cannot read ${file}: ${(e as Error).message}`, { cause: e, details: { path: file } });
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const meta = readOnnxMetadata(bytes).metadata;
  const tinta = meta[MetaKeys.format] !== undefined ? parseModelInfo(meta, file) : null;
  const ort: typeof Ort = await import('onnxruntime-node');
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3, executionProviders: ['cpu'] });
  } catch (e) {
    throw new TintaError(ErrorCodes.MODEL_INVALID, `${file} is not a model onnxruntime can load: ${(e as Error).message}`, { cause: e, details: { path: file } });
  }
  const sum = (m: Ort.InferenceSession.ValueMetadata): TensorSummary => (m.isTensor
    ? { name: m.name, shape: m.shape.length ? m.shape.map((d) => (typeof d === 'number' && d < 0 ? null : d)) : null, type: m.type }
    : { name: m.name, shape: null, type: 'non-tensor' });
  const r: ModelSummary = {
    path: file, format, bytes: bytes.length, sha256, inputs: session.inputMetadata.map(sum), outputs: session.outputMetadata.map(sum), tinta,
    catalogName: Object.values(CLASSIFIERS).find((c) => c.sha256 === sha256)?.name ?? null,
  };
  await session.release();
  return r;
}
