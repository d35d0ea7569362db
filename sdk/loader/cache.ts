/**
 * Model caching behind one small interface, so a Node directory, the browser Cache API or a
 * caller's own store are interchangeable. Only verified bytes are ever put.
 */

/** A store of model bytes by key (the model's URL). */
export interface ModelCache {
  /** The bytes stored under `key`, or undefined. */
  match(key: string): Promise<Uint8Array | undefined>;
  /** Stores `bytes` under `key`; a reader never sees a partial entry. */
  put(key: string, bytes: Uint8Array): Promise<void>;
}

/** True when `x` looks like a ModelCache. */
export function isModelCache(x: unknown): x is ModelCache {
  return typeof x === 'object' && x !== null && typeof (x as ModelCache).match === 'function' && typeof (x as ModelCache).put === 'function';
}
