/**
 * The trainer's side of fusion: which samples of a photo cache have an embedding, and the
 * embeddings of a batch, looked up by the content hash the photo cache names samples by.
 */
import { TintaError, ErrorCodes } from '../../sdk/errors.ts';
import type { Dataset } from '../data/dataset.ts';
import type { EmbeddingCache } from './cache.ts';

/** The samples among `indices` that have an embedding, and how many do not. */
export function withEmbeddings(cache: EmbeddingCache, ds: Dataset, indices: Uint32Array): { indices: Uint32Array; missing: number } {
  const keep: number[] = [];
  for (const i of indices) if (cache.getBySha1(ds.info(i).sha1)) keep.push(i);
  return { indices: Uint32Array.from(keep), missing: indices.length - keep.length };
}

/** The [n, dim] embeddings of samples `indices` (every one must have an embedding: filter with withEmbeddings). */
export function batchEmbeddings(cache: EmbeddingCache, ds: Dataset, indices: ArrayLike<number>): Float32Array {
  const out = new Float32Array(indices.length * cache.dim);
  for (let j = 0; j < indices.length; j++) {
    const info = ds.info(indices[j]!);
    const v = cache.getBySha1(info.sha1);
    if (!v) throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `No embedding for ${info.file} in ${cache.dir}; run \`tinta embed\` on its folder.`, { details: { file: info.file } });
    out.set(v, j * cache.dim);
  }
  return out;
}
