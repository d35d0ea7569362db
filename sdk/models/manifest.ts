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
  // A checkpoint of the project's long training run (tiny preset, 128 px, 40 of 60 epochs on the
  // project's photos); docs/models.md tells how it was made and how it scores. Replaced as training goes on.
  default: Object.freeze({
    file: 'tinta-default.int8.onnx',
    sha256: 'd9ff0ccc9c65456df1ef7581d5b9aab50a9844d7cb660e9e2de3078e260d1f73',
    description: 'The default colorizer, int8: L in, 112 ab buckets out, 256 px short side.',
  }),
  'default-fp32': Object.freeze({
    file: 'tinta-default.fp32.onnx',
    sha256: '10030f04af6ceb702fb47304791411665e60ddcec7a0e5fc7ea74fa91f864175',
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
