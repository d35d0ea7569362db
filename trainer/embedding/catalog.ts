/**
 * The catalog of embedding networks tinta knows by name, where they are downloaded from, and the
 * local models folder `tinta models fetch` fills: --dir, else $TINTA_MODELS, else ~/.cache/tinta/models.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { TintaError, ErrorCodes } from '../../sdk/errors.ts';
import { BUILTIN_DESCRIPTORS, type EmbeddingDescriptor } from './descriptor.ts';

/** One embedding network of the catalog. */
export interface ClassifierEntry {
  readonly name: string;
  /** File name in the models folder (a folder holding model.json for TF.js models). */
  readonly file: string;
  readonly format: 'onnx' | 'tfjs';
  /** The publisher's download address; null when the publisher offers no ONNX or TF.js file. */
  readonly url: string | null;
  /** Lower-case hex SHA-256 and size of the file at `url`; null when there is none to pin. */
  readonly sha256: string | null;
  readonly bytes: number | null;
  readonly licence: string;
  readonly description: string;
  readonly descriptor: EmbeddingDescriptor;
  /** Where `url` is null: how to make the file (docs/embeddings.md has the full route). */
  readonly howToGet?: string;
}

/** The built-in embedding networks. */
export const CLASSIFIERS: Readonly<Record<string, ClassifierEntry>> = Object.freeze({
  mobilenetv2: Object.freeze({
    name: 'mobilenetv2',
    file: 'mobilenetv2-12-int8.onnx',
    format: 'onnx',
    url: 'https://github.com/onnx/models/raw/main/validated/vision/classification/mobilenet/model/mobilenetv2-12-int8.onnx',
    sha256: '83530ad811bc31d2b60a5599a21265a5057608c9b044b4ee758cc22f2309f54f',
    bytes: 3655640,
    licence: 'Apache-2.0 (ONNX model zoo)',
    description: 'MobileNetV2 1.0, ImageNet-1000, int8: 224x224, ImageNet mean/std, logits',
    descriptor: BUILTIN_DESCRIPTORS.mobilenetv2!,
  } as ClassifierEntry),
  'inception-resnet-v2': Object.freeze({
    name: 'inception-resnet-v2',
    file: 'inception-resnet-v2.onnx',
    format: 'onnx',
    url: null,
    sha256: null,
    bytes: null,
    licence: 'Keras Applications (Apache-2.0); ImageNet terms for the weights',
    description: "the seed's network, ImageNet-1000: 299x299, [-1, 1], softmax; convert it yourself",
    descriptor: BUILTIN_DESCRIPTORS['inception-resnet-v2']!,
    howToGet: 'Keras publishes Inception-ResNet-v2 as weights only. Convert it with tf2onnx to MODELS/inception-resnet-v2.onnx ' +
      '(or with tensorflowjs_converter to MODELS/inception-resnet-v2/model.json); docs/embeddings.md gives the exact commands.',
  } as ClassifierEntry),
});

/** True when `name` is in the catalog. */
export function isCatalogName(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(CLASSIFIERS, name);
}

/** The models folder: `dir` if given, else $TINTA_MODELS, else ~/.cache/tinta/models. */
export function modelsDir(dir?: string): string {
  if (dir) return dir;
  const env = process.env.TINTA_MODELS;
  return env !== undefined && env !== '' ? env : join(homedir(), '.cache', 'tinta', 'models');
}

/** Lower-case hex SHA-256 of a file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Where a catalog network lives locally and whether it is there (and verified, when pinned). */
export interface LocalModel {
  path: string;
  format: 'onnx' | 'tfjs';
  present: boolean;
  /** True / false when a pinned hash was checked, null when there is none to check. */
  verified: boolean | null;
  bytes?: number;
}

/**
 * Find a catalog network in the models folder: its pinned file (checked against size and sha256),
 * or, for networks without a download, the converted `<name>.onnx` or `<name>/model.json`.
 */
export async function findLocal(entry: ClassifierEntry, dir: string): Promise<LocalModel> {
  const candidates: { path: string; format: 'onnx' | 'tfjs' }[] = [{ path: join(dir, entry.file), format: entry.format }];
  if (entry.url === null) candidates.push({ path: join(dir, entry.name, 'model.json'), format: 'tfjs' });
  for (const c of candidates) {
    const st = await stat(c.path).catch(() => undefined);
    if (!st?.isFile()) continue;
    if (entry.sha256 === null || c.path !== join(dir, entry.file)) return { ...c, present: true, verified: null, bytes: st.size };
    const ok = st.size === entry.bytes && (await sha256File(c.path)) === entry.sha256;
    return { ...c, present: true, verified: ok, bytes: st.size };
  }
  return { ...candidates[0]!, present: false, verified: null };
}

/** The local file of a catalog network, ready to load; MODEL_NOT_FOUND / MODEL_INTEGRITY say what to run. */
export async function resolveCatalogModel(name: string, dir: string): Promise<{ entry: ClassifierEntry; path: string; format: 'onnx' | 'tfjs' }> {
  const entry = CLASSIFIERS[name];
  if (!entry) throw new TintaError(ErrorCodes.MODEL_NOT_FOUND, `"${name}" is not a built-in embedding network; known: ${Object.keys(CLASSIFIERS).join(', ')}.`);
  const local = await findLocal(entry, dir);
  if (!local.present) {
    const how = entry.url ? `Run \`tinta models fetch ${name}\` (add --dir ${dir} if that is not your models folder).` : entry.howToGet!;
    throw new TintaError(ErrorCodes.MODEL_NOT_FOUND, `The embedding network "${name}" is not in the models folder ${dir}. ${how}`, { details: { name, dir } });
  }
  if (local.verified === false) {
    throw new TintaError(ErrorCodes.MODEL_INTEGRITY, `${local.path} is not the published ${name} file (size or sha256 differ). Run \`tinta models fetch ${name} --force\` to download it again.`, {
      details: { path: local.path, expected: entry.sha256 },
    });
  }
  return { entry, path: local.path, format: local.format };
}
