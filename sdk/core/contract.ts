/**
 * What the SDK checks in a model's bytes before running it: a readable ONNX file, tinta
 * metadata, and graph inputs/outputs matching what the metadata names. Cheap (the bytes are
 * walked, never copied), so it runs on the main thread for `colorizer.info` and again in the
 * worker that owns the session.
 */
import { ErrorCodes, TintaError } from '../errors.ts';
import { readOnnxMetadata } from '../model/onnx-metadata.ts';
import { parseModelInfo, type ModelInfo } from '../model/metadata.ts';

/** Parses and checks the tinta contract of ONNX model bytes; MODEL_INVALID / MODEL_NO_METADATA / MODEL_NEEDS_EMBEDDING. */
export function inspectModel(bytes: Uint8Array, label: string): ModelInfo {
  let onnx;
  try {
    onnx = readOnnxMetadata(bytes);
  } catch (e) {
    if (e instanceof TintaError) throw new TintaError(e.code, `${label}: ${e.message}`, { cause: e, details: { ...e.details, model: label } });
    throw e;
  }
  const info = parseModelInfo(onnx.metadata, label);
  if (!onnx.inputs.includes(info.input.name)) {
    throw new TintaError(
      ErrorCodes.MODEL_INVALID,
      `${label}: its metadata names the input '${info.input.name}', but the graph's inputs are ${onnx.inputs.map((s) => `'${s}'`).join(', ') || 'none'}. Re-export the model.`,
      { details: { model: label, input: info.input.name, inputs: onnx.inputs } },
    );
  }
  if (!onnx.outputs.includes(info.output.name)) {
    throw new TintaError(
      ErrorCodes.MODEL_INVALID,
      `${label}: its metadata names the output '${info.output.name}', but the graph's outputs are ${onnx.outputs.map((s) => `'${s}'`).join(', ') || 'none'}. Re-export the model.`,
      { details: { model: label, output: info.output.name, outputs: onnx.outputs } },
    );
  }
  if (info.embedding && info.embedding.input !== '') {
    throw new TintaError(
      ErrorCodes.MODEL_NEEDS_EMBEDDING,
      `${label} needs a ${info.embedding.dim}-d embedding input ('${info.embedding.input}') that the SDK does not compute. Use the fused variant of this model (\`tinta fuse\`), which computes it inside.`,
      { details: { model: label, embedding: info.embedding } },
    );
  }
  return info;
}
