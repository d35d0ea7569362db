/**
 * The "semantic interpretability" test of Zhang et al. (2016): does an ImageNet classifier recognise
 * the colorized photo as well as the original? An ONNX classifier ([N,3,S,S] float input, [N,C]
 * scores) runs on onnxruntime-node; labels map file names to class indices.
 */
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname } from 'node:path';
import type * as Ort from 'onnxruntime-node';
import { TintaError, ErrorCodes } from '../sdk/errors.ts';
import { resizeImage } from '../sdk/image/node.ts';
import type { Rgba8 } from './metrics.ts';

/** How images are turned into the classifier's input tensor. */
export interface ClassifierInputOptions {
  /** Side of the square input; default 224. */
  size?: number;
  /** Per-channel mean subtracted from RGB in [0, 1]; default ImageNet's [0.485, 0.456, 0.406]. */
  mean?: readonly [number, number, number];
  /** Per-channel standard deviation RGB is divided by; default ImageNet's [0.229, 0.224, 0.225]. */
  std?: readonly [number, number, number];
}

export const IMAGENET_MEAN: readonly [number, number, number] = Object.freeze([0.485, 0.456, 0.406]) as readonly [number, number, number];
export const IMAGENET_STD: readonly [number, number, number] = Object.freeze([0.229, 0.224, 0.225]) as readonly [number, number, number];

/** A loaded classifier. */
export interface Classifier {
  /** Index of the highest score for each image (centre square crop, resized to the input size). */
  top1(images: readonly Rgba8[]): Promise<number[]>;
  /** Releases the session. */
  dispose(): Promise<void>;
}

/** The [1,3,S,S] planar input of one image: centre square crop, Lanczos resize, (x/255 - mean) / std. */
export async function classifierInput(img: Rgba8, opts: ClassifierInputOptions = {}): Promise<Float32Array> {
  const size = opts.size ?? 224;
  const mean = opts.mean ?? IMAGENET_MEAN, std = opts.std ?? IMAGENET_STD;
  const data = img.data instanceof Uint8ClampedArray ? img.data : new Uint8ClampedArray(img.data.buffer, img.data.byteOffset, img.data.byteLength);
  const r = await resizeImage({ data, width: img.width, height: img.height }, size, size, { fit: 'cover' });
  const n = size * size;
  const out = new Float32Array(3 * n);
  for (let c = 0; c < 3; c++) {
    const m = mean[c]!, s = 1 / std[c]!;
    for (let i = 0; i < n; i++) out[c * n + i] = (r.data[4 * i + c]! / 255 - m) * s;
  }
  return out;
}

/** Loads an ONNX classifier (file path or bytes) on onnxruntime-node's CPU provider. */
export async function loadClassifier(model: string | Uint8Array, opts: ClassifierInputOptions & { threads?: number } = {}): Promise<Classifier> {
  const size = opts.size ?? 224;
  if (!(Number.isInteger(size) && size >= 1)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Classifier input size must be a positive integer; got ${size}.`);
  let ort: typeof Ort;
  try {
    ort = await import('onnxruntime-node');
  } catch (e) {
    throw new TintaError(ErrorCodes.BACKEND_FAILED, `onnxruntime-node could not be loaded for the classifier: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  let bytes: Uint8Array;
  if (typeof model === 'string') {
    try {
      bytes = await readFile(model);
    } catch (e) {
      throw new TintaError(ErrorCodes.MODEL_NOT_FOUND, `The classifier "${model}" could not be read: ${e instanceof Error ? e.message : String(e)}`, { cause: e, details: { path: model } });
    }
  } else bytes = model;
  let session: Ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, {
      logSeverityLevel: 3,
      executionProviders: ['cpu'],
      ...(opts.threads !== undefined ? { intraOpNumThreads: opts.threads } : {}),
    });
  } catch (e) {
    throw new TintaError(ErrorCodes.MODEL_INVALID, `The classifier is not a model onnxruntime can load: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
  }
  const inputName = session.inputNames[0]!, outputName = session.outputNames[0]!;
  return {
    async top1(images) {
      const out: number[] = [];
      // One image per run: classifiers exported with a fixed batch of 1 are common.
      for (const img of images) {
        const x = await classifierInput(img, opts);
        let scores: Ort.Tensor;
        try {
          const r = await session.run({ [inputName]: new ort.Tensor('float32', x, [1, 3, size, size]) });
          scores = r[outputName]!;
        } catch (e) {
          throw new TintaError(ErrorCodes.BACKEND_FAILED, `The classifier failed on a [1,3,${size},${size}] input: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
        }
        const s = scores.data as Float32Array;
        if (s.length === 0) throw new TintaError(ErrorCodes.MODEL_INVALID, 'The classifier returned no scores.');
        let best = 0;
        for (let i = 1; i < s.length; i++) if (s[i]! > s[best]!) best = i;
        out.push(best);
      }
      return out;
    },
    async dispose() {
      await session.release();
    },
  };
}

/** Class labels by key: file name, file name without extension, synset (e.g. n01440764) or folder name. */
export type Labels = ReadonlyMap<string, number>;

/** Reads labels from a JSON object {key: classIndex} (a path to such a file, or the object itself). */
export async function loadLabels(source: string | Readonly<Record<string, number>>): Promise<Labels> {
  let o: unknown = source;
  if (typeof source === 'string') {
    let text: string;
    try {
      text = await readFile(source, 'utf8');
    } catch (e) {
      throw new TintaError(ErrorCodes.BAD_ARGUMENT, `The labels file "${source}" could not be read.`, { cause: e, details: { path: source } });
    }
    try {
      o = JSON.parse(text);
    } catch (e) {
      throw new TintaError(ErrorCodes.BAD_ARGUMENT, `The labels file "${source}" is not valid JSON.`, { cause: e, details: { path: source } });
    }
  }
  if (!o || typeof o !== 'object' || Array.isArray(o)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'Labels must be a JSON object mapping file names (or synsets) to class indices, e.g. {"n01440764": 0}.');
  }
  const m = new Map<string, number>();
  for (const [k, v] of Object.entries(o as Record<string, unknown>)) {
    if (!(typeof v === 'number' && Number.isInteger(v) && v >= 0)) {
      throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Label "${k}" is ${JSON.stringify(v)}; class indices are integers >= 0.`);
    }
    m.set(k, v);
  }
  return m;
}

const SYNSET = /^(n\d{8})(?:_|$|\.)/;

/**
 * The class of `file`, looked up in order by its name ("n01440764_tench.JPEG"), its name without
 * extension, its synset prefix ("n01440764") and its folder's name (ImageNet's val/n01440764/...);
 * undefined when none is labelled.
 */
export function labelOf(labels: Labels, file: string): number | undefined {
  const name = basename(file);
  const stem = name.slice(0, name.length - extname(name).length);
  const keys = [name, stem];
  const syn = SYNSET.exec(name);
  if (syn) keys.push(syn[1]!);
  keys.push(basename(dirname(file)));
  for (const k of keys) {
    const v = labels.get(k);
    if (v !== undefined) return v;
  }
  return undefined;
}
