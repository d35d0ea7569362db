/**
 * Embedding descriptors: what tinta must know about an ImageNet classifier to feed it a grayscale
 * photo and read its class scores — input size, normalisation, layout, tensor names, whether the
 * output is logits or probabilities. Built-in networks have one here; any other model gets one as
 * a small JSON file (docs/embeddings.md).
 */
import { readFile } from 'node:fs/promises';
import { TintaError, ErrorCodes } from '../../sdk/errors.ts';

/** Memory layout of the classifier's image input. */
export type InputLayout = 'NCHW' | 'NHWC';

/** What the classifier's output holds: pre-softmax scores, probabilities, or 'auto' (probabilities when they look like them). */
export type ScoresKind = 'logits' | 'probs' | 'auto';

/** A validated descriptor. */
export interface EmbeddingDescriptor {
  /** The source name recorded in embedding caches, checkpoints and ONNX metadata. */
  readonly name: string;
  /** Input height and width in pixels. */
  readonly inputSize: readonly [number, number];
  readonly layout: InputLayout;
  /** Per-channel mean subtracted from the gray value in [0, 1]. */
  readonly mean: readonly [number, number, number];
  /** Per-channel standard deviation the gray value is divided by. */
  readonly std: readonly [number, number, number];
  /** Graph input name (default: the model's first input). */
  readonly input?: string;
  /** Graph output name (default: the model's first output). */
  readonly output?: string;
  readonly outputKind: ScoresKind;
  /** Number of classes the output must have (default: whatever the model gives). */
  readonly classes?: number;
}

/** Named normalisations: x in [0, 1] becomes (x - mean) / std. */
export const NORMALIZATIONS: Readonly<Record<string, { mean: [number, number, number]; std: [number, number, number] }>> = Object.freeze({
  // torchvision's ImageNet statistics (the ONNX model zoo's MobileNetV2 was trained with them).
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  // Keras' "tf" mode (Inception, Inception-ResNet, MobileNet in Keras): [-1, 1].
  inception: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  // [0, 1] as is.
  unit: { mean: [0, 0, 0], std: [1, 1, 1] },
});

/** Descriptors of the built-in embedding networks. */
export const BUILTIN_DESCRIPTORS: Readonly<Record<string, EmbeddingDescriptor>> = Object.freeze({
  mobilenetv2: Object.freeze({
    name: 'mobilenetv2', inputSize: [224, 224], layout: 'NCHW', ...NORMALIZATIONS.imagenet!,
    input: 'input', output: 'output', outputKind: 'logits', classes: 1000,
  } as EmbeddingDescriptor),
  // The seed's network. Keras ships it as weights only; converted with tensorflowjs_converter or
  // tf2onnx it keeps Keras' NHWC input and its softmax output (docs/embeddings.md).
  'inception-resnet-v2': Object.freeze({
    name: 'inception-resnet-v2', inputSize: [299, 299], layout: 'NHWC', ...NORMALIZATIONS.inception!,
    outputKind: 'probs', classes: 1000,
  } as EmbeddingDescriptor),
});

/** True when `name` names a built-in descriptor. */
export function isBuiltinDescriptor(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(BUILTIN_DESCRIPTORS, name);
}

function bad(source: string, what: string): never {
  throw new TintaError(ErrorCodes.BAD_ARGUMENT, `${source}: ${what}. See docs/embeddings.md for the descriptor format.`, { details: { source } });
}

function triple(v: unknown, source: string, key: string, positive: boolean): [number, number, number] {
  const arr = typeof v === 'number' ? [v, v, v] : v;
  if (!Array.isArray(arr) || arr.length !== 3 || !arr.every((x) => typeof x === 'number' && Number.isFinite(x) && (!positive || x > 0))) {
    bad(source, `"${key}" must be a number or 3 ${positive ? 'positive ' : ''}numbers; got ${JSON.stringify(v)}`);
  }
  return arr as [number, number, number];
}

/**
 * Validate a descriptor object (the JSON form): `name`, `inputSize` (n or [h, w]), `layout`,
 * `normalization` (a NORMALIZATIONS name or { mean, std }), optional `input`, `output`,
 * `outputKind`, `classes`. `defaultName` is used when `name` is absent.
 */
export function parseDescriptor(raw: unknown, source = 'The embedding descriptor', defaultName?: string): EmbeddingDescriptor {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) bad(source, 'it must be a JSON object');
  const o = raw as Record<string, unknown>;
  const name = o.name ?? defaultName;
  if (typeof name !== 'string' || !/^[\w.+-]{1,64}$/.test(name)) bad(source, `"name" must be 1-64 letters, digits or . _ + -; got ${JSON.stringify(name)}`);
  const sz = typeof o.inputSize === 'number' ? [o.inputSize, o.inputSize] : o.inputSize;
  if (!Array.isArray(sz) || sz.length !== 2 || !sz.every((x) => Number.isInteger(x) && x >= 1 && x <= 4096)) {
    bad(source, `"inputSize" must be a side or [height, width] in pixels; got ${JSON.stringify(o.inputSize)}`);
  }
  const layout = o.layout ?? 'NCHW';
  if (layout !== 'NCHW' && layout !== 'NHWC') bad(source, `"layout" must be "NCHW" or "NHWC"; got ${JSON.stringify(layout)}`);
  let mean: [number, number, number], std: [number, number, number];
  const norm = o.normalization;
  if (typeof norm === 'string') {
    const n = NORMALIZATIONS[norm];
    if (!n) bad(source, `unknown "normalization" ${JSON.stringify(norm)}; use ${Object.keys(NORMALIZATIONS).join(', ')} or { "mean": [...], "std": [...] }`);
    ({ mean, std } = n);
  } else if (norm && typeof norm === 'object') {
    const n = norm as Record<string, unknown>;
    mean = triple(n.mean, source, 'normalization.mean', false);
    std = triple(n.std, source, 'normalization.std', true);
  } else bad(source, `"normalization" is required: ${Object.keys(NORMALIZATIONS).join(', ')} or { "mean": [...], "std": [...] }`);
  const outputKind = o.outputKind ?? 'auto';
  if (outputKind !== 'logits' && outputKind !== 'probs' && outputKind !== 'auto') bad(source, `"outputKind" must be "logits", "probs" or "auto"; got ${JSON.stringify(outputKind)}`);
  for (const k of ['input', 'output'] as const) if (o[k] !== undefined && (typeof o[k] !== 'string' || o[k] === '')) bad(source, `"${k}" must be a tensor name`);
  if (o.classes !== undefined && !(Number.isInteger(o.classes) && (o.classes as number) >= 2)) bad(source, `"classes" must be an integer >= 2; got ${JSON.stringify(o.classes)}`);
  return Object.freeze({
    name, inputSize: Object.freeze([sz[0], sz[1]]) as [number, number], layout, mean, std, outputKind,
    ...(o.input !== undefined ? { input: o.input as string } : {}),
    ...(o.output !== undefined ? { output: o.output as string } : {}),
    ...(o.classes !== undefined ? { classes: o.classes as number } : {}),
  });
}

/** A descriptor from a built-in name or a JSON file. */
export async function loadDescriptor(nameOrPath: string, defaultName?: string): Promise<EmbeddingDescriptor> {
  if (isBuiltinDescriptor(nameOrPath)) return BUILTIN_DESCRIPTORS[nameOrPath]!;
  let text: string;
  try {
    text = await readFile(nameOrPath, 'utf8');
  } catch (e) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `The descriptor "${nameOrPath}" is neither a built-in (${Object.keys(BUILTIN_DESCRIPTORS).join(', ')}) nor a readable JSON file.`, { cause: e, details: { path: nameOrPath } });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `The descriptor "${nameOrPath}" is not valid JSON: ${(e as Error).message}`, { cause: e, details: { path: nameOrPath } });
  }
  return parseDescriptor(raw, `The descriptor "${nameOrPath}"`, defaultName);
}

/** The JSON form of a descriptor (what parseDescriptor reads back). */
export function descriptorToJson(d: EmbeddingDescriptor): Record<string, unknown> {
  return {
    name: d.name, inputSize: [...d.inputSize], layout: d.layout, normalization: { mean: [...d.mean], std: [...d.std] },
    outputKind: d.outputKind, ...(d.input ? { input: d.input } : {}), ...(d.output ? { output: d.output } : {}), ...(d.classes ? { classes: d.classes } : {}),
  };
}
