/**
 * From what the user typed after --embedding to a loaded source: a catalog name (looked up in the
 * models folder), or a path to an .onnx file / model.json, with a descriptor from --descriptor, from
 * the catalog when the file is a published one, or inferred from the model's fixed input shape.
 */
import { basename, dirname, extname } from 'node:path';
import { TintaError, ErrorCodes } from '../../sdk/errors.ts';
import type { TrainBackend } from '../backend.ts';
import { CLASSIFIERS, isCatalogName, modelsDir, resolveCatalogModel } from './catalog.ts';
import { descriptorToJson, loadDescriptor, parseDescriptor, type EmbeddingDescriptor } from './descriptor.ts';
import { inspectModel, modelFileOf, type ModelSummary } from './inspect.ts';
import { loadOnnxSource } from './onnx-source.ts';
import { loadTfjsSource } from './tfjs-source.ts';
import type { EmbeddingSource } from './source.ts';
import type { EmbeddingIdentity } from './cache.ts';
import { checkNetworkView, DEFAULT_NETWORK_VIEW, type NetworkView } from './preprocess.ts';
import type { GrayMode } from '../../converters/fuse-classifier.ts';

/** Options of openEmbeddingSource. */
export interface OpenSourceOptions {
  /** A built-in descriptor name or a descriptor JSON file. */
  descriptor?: string;
  /** Models folder for catalog names (default: modelsDir()). */
  modelsDir?: string;
  /** onnxruntime threads. */
  threads?: number;
  /** TF.js backend for graph models (default 'auto'). */
  backend?: TrainBackend;
  /** The gray value the classifier sees (default DEFAULT_GRAY). */
  gray?: GrayMode;
  /** The network size the SDK gives photos (default DEFAULT_NETWORK_VIEW). */
  network?: NetworkView;
}

/** An opened source and what identifies its embeddings. */
export interface OpenedSource {
  source: EmbeddingSource;
  identity: EmbeddingIdentity;
  /** Set when a descriptor was inferred rather than given: says what was assumed. */
  notice?: string;
}

/** The descriptor a model gets when none is given: size and layout from its fixed input shape, ImageNet mean/std. */
export function inferDescriptor(summary: ModelSummary, name: string): EmbeddingDescriptor {
  const input = summary.inputs[0];
  const s = input?.shape;
  const fixed = (v: number | string | null | undefined) => typeof v === 'number' && v > 0;
  let layout: 'NCHW' | 'NHWC' | undefined, h: unknown, w: unknown;
  if (s && s.length === 4 && s[1] === 3 && fixed(s[2]) && fixed(s[3])) [layout, h, w] = ['NCHW', s[2], s[3]];
  else if (s && s.length === 4 && s[3] === 3 && fixed(s[1]) && fixed(s[2])) [layout, h, w] = ['NHWC', s[1], s[2]];
  if (!layout) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `${summary.path}: its input [${s?.join(', ') ?? '?'}] does not tell the classifier's input size and layout; pass --descriptor FILE (see docs/embeddings.md).`, { details: { path: summary.path } });
  }
  return parseDescriptor({ name, inputSize: [h, w], layout, normalization: 'imagenet', input: input!.name, outputKind: 'auto' }, summary.path);
}

/** Load the embedding network `spec` (catalog name or path). */
export async function openEmbeddingSource(spec: string, opts: OpenSourceOptions = {}): Promise<OpenedSource> {
  let file: string, format: 'onnx' | 'tfjs', descriptor: EmbeddingDescriptor, notice: string | undefined;
  let summary: ModelSummary;
  if (isCatalogName(spec)) {
    const r = await resolveCatalogModel(spec, modelsDir(opts.modelsDir));
    ({ path: file, format } = r);
    summary = await inspectModel(file);
    descriptor = opts.descriptor ? await loadDescriptor(opts.descriptor, spec) : r.entry.descriptor;
  } else {
    try {
      ({ file, format } = await modelFileOf(spec));
    } catch (e) {
      if (e instanceof TintaError && e.code === ErrorCodes.MODEL_NOT_FOUND) {
        throw new TintaError(ErrorCodes.MODEL_NOT_FOUND, `--embedding "${spec}" is neither a built-in embedding network (${Object.keys(CLASSIFIERS).join(', ')}) nor an existing .onnx file or model.json.`, { cause: e, details: { spec } });
      }
      throw e;
    }
    summary = await inspectModel(file);
    if (summary.tinta) throw new TintaError(ErrorCodes.MODEL_INVALID, `${file} is a tinta colorization model, not an ImageNet classifier.`);
    // A published catalog file keeps its catalog name and descriptor wherever it lies.
    const known = summary.catalogName ? CLASSIFIERS[summary.catalogName]! : undefined;
    const stem = format === 'tfjs' ? basename(dirname(file)) : basename(file, extname(file));
    const defaultName = known?.name ?? stem.replace(/[^\w.+-]/g, '-').slice(0, 64);
    if (opts.descriptor) descriptor = await loadDescriptor(opts.descriptor, defaultName);
    else if (known) descriptor = known.descriptor;
    else {
      descriptor = inferDescriptor(summary, defaultName);
      notice = `no --descriptor for ${basename(file)}: assuming ${descriptor.inputSize.join('x')} ${descriptor.layout} input with ImageNet mean/std, output logits or probabilities as they look, source name "${descriptor.name}"`;
    }
  }
  const network = checkNetworkView(opts.network ?? DEFAULT_NETWORK_VIEW);
  const gray = opts.gray ? { gray: opts.gray } : {};
  const source = format === 'onnx'
    ? await loadOnnxSource(file, descriptor, { ...gray, ...(opts.threads !== undefined ? { threads: opts.threads } : {}) })
    : await loadTfjsSource(file, descriptor, { ...gray, ...(opts.backend ? { backend: opts.backend } : {}) });
  const identity: EmbeddingIdentity = {
    source: descriptor.name, model: { file: basename(format === 'tfjs' ? dirname(file) : file), sha256: summary.sha256, format }, descriptor: descriptorToJson(descriptor),
    preprocessing: { network: { resolution: network.resolution, multiple: network.multiple }, classifier: source.preprocessing, ranBy: format === 'onnx' ? 'onnx-embedding-graph' : 'typescript-preprocessing' },
  };
  return { source, identity, ...(notice ? { notice } : {}) };
}
