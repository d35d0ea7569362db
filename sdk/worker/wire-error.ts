/**
 * Errors across a worker boundary. Comlink turns a thrown Error into a bare { message, name },
 * losing the TintaError code, so the worker throws a plain object instead (structured-cloned
 * as is) and the caller's side rebuilds the TintaError from it.
 */
import { ErrorCodes, TintaError, type ErrorCode } from '../errors.ts';

/** A TintaError as plain data. */
export interface WireError {
  tintaError: true;
  code: ErrorCode;
  message: string;
  details: Record<string, unknown>;
}

function cloneable(details: Readonly<Record<string, unknown>>): Record<string, unknown> {
  try {
    return JSON.parse(JSON.stringify(details)) as Record<string, unknown>;
  } catch {
    return {};
  }
}

/** Any error -> WireError (non-Tinta errors become BACKEND_FAILED with their message). */
export function toWire(e: unknown): WireError {
  if (e instanceof TintaError) return { tintaError: true, code: e.code, message: e.message, details: cloneable(e.details) };
  const message = e instanceof Error ? e.message : String(e);
  return { tintaError: true, code: ErrorCodes.BACKEND_FAILED, message: `The colorizer failed unexpectedly: ${message}`, details: { reason: message } };
}

/** A value thrown by the worker -> a TintaError (or the value itself when it is not one of ours). */
export function fromWire(e: unknown): unknown {
  if (typeof e === 'object' && e !== null && (e as WireError).tintaError === true) {
    const w = e as WireError;
    return TintaError.fromJSON({ code: w.code, message: w.message, details: w.details });
  }
  return e;
}
