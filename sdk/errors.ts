/**
 * Every error tinta raises on purpose is a `TintaError` with a stable `code`.
 * All codes and their default messages live here, so callers can switch on
 * `err.code` and people read one consistent voice.
 */

/** Stable error codes: part of the public API, never renamed. */
export const ErrorCodes = {
  // image input
  IMAGE_EMPTY: 'IMAGE_EMPTY',
  IMAGE_UNSUPPORTED: 'IMAGE_UNSUPPORTED',
  IMAGE_TRUNCATED: 'IMAGE_TRUNCATED',
  IMAGE_ZERO_SIZE: 'IMAGE_ZERO_SIZE',
  IMAGE_TOO_LARGE: 'IMAGE_TOO_LARGE',
  IMAGE_DECODE_FAILED: 'IMAGE_DECODE_FAILED',
  IMAGE_ENCODE_FAILED: 'IMAGE_ENCODE_FAILED',
  IMAGE_NOT_FOUND: 'IMAGE_NOT_FOUND',
  IMAGE_BAD_PIXELS: 'IMAGE_BAD_PIXELS',
  // colour core
  BAD_ARGUMENT: 'BAD_ARGUMENT',
  // models
  MODEL_NOT_FOUND: 'MODEL_NOT_FOUND',
  MODEL_INVALID: 'MODEL_INVALID',
  MODEL_NO_METADATA: 'MODEL_NO_METADATA',
  MODEL_UNSUPPORTED_VERSION: 'MODEL_UNSUPPORTED_VERSION',
  MODEL_INTEGRITY: 'MODEL_INTEGRITY',
  MODEL_NEEDS_EMBEDDING: 'MODEL_NEEDS_EMBEDDING',
  // runtime
  BACKEND_UNAVAILABLE: 'BACKEND_UNAVAILABLE',
  BACKEND_FAILED: 'BACKEND_FAILED',
  WORKER_CRASHED: 'WORKER_CRASHED',
  DISPOSED: 'DISPOSED',
  ABORTED: 'ABORTED',
  DOWNLOAD_FAILED: 'DOWNLOAD_FAILED',
  // training and conversion
  CHECKPOINT_INVALID: 'CHECKPOINT_INVALID',
  CONFIG_CONFLICT: 'CONFIG_CONFLICT',
  TRAINING_DIVERGED: 'TRAINING_DIVERGED',
  NO_TRAINING_DATA: 'NO_TRAINING_DATA',
  UNSUPPORTED_LAYER: 'UNSUPPORTED_LAYER',
  EXPORT_FAILED: 'EXPORT_FAILED',
  QUANTIZE_FAILED: 'QUANTIZE_FAILED',
  FUSE_FAILED: 'FUSE_FAILED',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

/** The one error class of tinta: `code` is stable, `message` is for people. */
export class TintaError extends Error {
  readonly code: ErrorCode;
  /** Extra facts (file name, sizes, limits) for logs and programmatic handling. */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = 'TintaError';
    this.code = code;
    this.details = Object.freeze({ ...(options.details ?? {}) });
  }

  /** A plain object that survives structured cloning (worker boundaries). */
  toJSON(): { name: string; code: ErrorCode; message: string; details: Record<string, unknown> } {
    return { name: this.name, code: this.code, message: this.message, details: { ...this.details } };
  }

  /** Rebuild a TintaError from its `toJSON()` form (e.g. after a worker hop). */
  static fromJSON(o: { code: ErrorCode; message: string; details?: Record<string, unknown> }): TintaError {
    return new TintaError(o.code, o.message, { details: o.details ?? {} });
  }
}

/** True when `e` is a TintaError, optionally with the given code. */
export function isTintaError(e: unknown, code?: ErrorCode): e is TintaError {
  return e instanceof TintaError && (code === undefined || e.code === code);
}

/** Throw a BAD_ARGUMENT error unless `cond` holds. */
export function check(cond: unknown, message: string): asserts cond {
  if (!cond) throw new TintaError(ErrorCodes.BAD_ARGUMENT, message);
}

/** Human-readable byte count, for messages. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}
