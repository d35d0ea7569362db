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
  default: Object.freeze({
    file: 'tinta-default.onnx',
    sha256: null,
    description: 'The seed colorizer: L in, 112 ab buckets out, 256 px short side.',
  }),
});

/** True when `name` names a shipped model. */
export function isShippedModel(name: string): boolean {
  return Object.prototype.hasOwnProperty.call(SHIPPED_MODELS, name);
}

/**
 * Where a shipped model's file lives: the package's models/ folder, two levels above this module
 * (sdk/models/ in the sources). A bundled build must keep that relative layout or rewrite this URL.
 */
export function shippedModelUrl(model: ShippedModel): URL {
  return new URL(`../../models/${model.file}`, import.meta.url);
}
