/**
 * The model's content hash: SHA-256 (hex) of the model encoded with the `tinta.content_hash`
 * metadata value set to the empty string, everything else (graph, weights, the other metadata,
 * key order) as in the file. It covers the metadata (buckets, normalisation) as well as the
 * weights, and anyone with an ONNX codec can check it: decode, blank the value, re-encode, hash.
 */
import { createHash } from 'node:crypto';
import { MetaKeys } from '../sdk/model/metadata.ts';
import { decodeModel, encodeModel, type EncodeModelInput } from './onnx/model.ts';

/** SHA-256 hex of `bytes`. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Encode `model` with its content hash filled in; its `metadata` must already hold the tinta keys. */
export function encodeWithContentHash(model: EncodeModelInput & { metadata: Record<string, string> }): { bytes: Uint8Array; hash: string } {
  // Blanking the value in place (not deleting the key) keeps the key order, hence the bytes, stable.
  model.metadata[MetaKeys.contentHash] = '';
  const hash = sha256Hex(encodeModel(model));
  model.metadata[MetaKeys.contentHash] = hash;
  return { bytes: encodeModel(model), hash };
}

/** True when the file's content hash matches its content (false also when it has none). */
export function verifyContentHash(bytes: Uint8Array): boolean {
  const model = decodeModel(bytes);
  const claimed = model.metadata[MetaKeys.contentHash];
  if (!claimed) return false;
  model.metadata[MetaKeys.contentHash] = '';
  return sha256Hex(encodeModel(model)) === claimed;
}
