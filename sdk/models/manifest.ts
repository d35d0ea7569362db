/**
 * The models shipped in the package's `models/` folder, by name. The sha256 of each file is
 * checked before use; `null` means the file has not been published yet (filled in by the
 * release step that produces it).
 */

/** One shipped model. */
export interface ShippedModel {
  /** File name inside the package's models/ folder. */
  readonly file: string;
  /** Lower-case hex SHA-256 of the file, or null until the file is published. */
  readonly sha256: string | null;
  readonly description: string;
}

/** The name `createColorizer()` loads when no model is given. */
export const DEFAULT_MODEL = 'default';

/** Shipped models by name. */
export const SHIPPED_MODELS: Readonly<Record<string, ShippedModel>> = Object.freeze({
  // The final checkpoint of the project's training run (tiny preset, 128 px, 60 epochs on the
  // project's photos); docs/models.md tells how it was made and how it scores.
  default: Object.freeze({
    file: 'tinta-default.int8.onnx',
    sha256: '822f8a889282577df74c9c5f4a94c45721abda0470d1b7c6c3797f8cbe6912c5',
    description: 'The default colorizer, int8: L in, 112 ab buckets out, 256 px short side.',
  }),
  'default-fp32': Object.freeze({
    file: 'tinta-default.fp32.onnx',
    sha256: '418206eea79dbe6f9d4be610dc45320aabbd84b984b5e2c53de636f812e85fe6',
    description: 'The fp32 original of the default colorizer.',
  }),
});

/** True when `name` names a shipped model. */
export function isShippedModel(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(SHIPPED_MODELS, name);
}

// From the sources (sdk/models/) the files are in the repository's models/ folder; the build
// copies them next to the built manifest (dist/models/), so the package resolves inside dist.
const MODELS_DIR = import.meta.url.endsWith('.ts') ? '../../models/' : './';
// Kept out of a literal URL-constructor call on import.meta.url: bundlers would try to bundle the folder.
const HERE = import.meta.url;

/**
 * Where a shipped model's file lives: the repository's models/ folder from the sources,
 * dist/models/ in the built package. An app that bundles the SDK moves this module, so it should
 * serve the model itself and pass its URL as `model`.
 */
export function shippedModelUrl(model: ShippedModel): URL {
  return new URL(MODELS_DIR + model.file, HERE);
}
