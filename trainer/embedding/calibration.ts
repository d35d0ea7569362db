/**
 * Calibration photos for quantizing a fusion colorizer, each paired with its real embedding from a
 * `tinta embed` cache: the activation ranges after the fusion layer then come from the embeddings
 * the model will meet, not from stand-ins. Photos without an embedding are skipped and listed.
 */
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { TintaError, ErrorCodes, isTintaError } from '../../sdk/errors.ts';
import { decodeImage, resizeImage } from '../../sdk/image/node.ts';
import { CALIBRATION_EXTENSIONS, normalisedL, type CalibrationImage } from '../../converters/calibration.ts';
import { readEmbeddingCache } from './cache.ts';

/** Calibration images and their embeddings, index for index. */
export interface EmbeddedCalibration {
  calibration: CalibrationImage[];
  embeddings: Float32Array[];
  /** Photos of the folder passed over: no embedding in the cache, or unreadable. */
  skipped: { file: string; reason: 'no-embedding' | 'unreadable' }[];
  cacheDir: string;
}

/**
 * Up to `limit` photos of `dir` (recursive, sorted by path like calibrationInputs) that have an
 * embedding in `cacheDir`, centre-cropped and resized to `size` x `size` as L / 100, with their
 * vectors. QUANTIZE_FAILED when none has one.
 */
export async function calibrationWithEmbeddings(dir: string, cacheDir: string, opts: { size?: number; limit?: number } = {}): Promise<EmbeddedCalibration> {
  const size = opts.size ?? 256;
  const limit = opts.limit ?? 32;
  if (!Number.isSafeInteger(size) || size < 8) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Calibration size must be an integer >= 8; got ${size}.`);
  if (!(limit >= 1)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Calibration limit must be >= 1; got ${limit}.`);
  const cache = await readEmbeddingCache(cacheDir);
  let names: string[];
  try {
    names = (await readdir(dir, { recursive: true })).filter((n) => CALIBRATION_EXTENSIONS.has(extname(n).toLowerCase())).sort();
  } catch (e) {
    throw new TintaError(ErrorCodes.QUANTIZE_FAILED, `Cannot read the calibration folder ${dir}: ${(e as Error).message}`, { cause: e, details: { dir } });
  }
  const out: EmbeddedCalibration = { calibration: [], embeddings: [], skipped: [], cacheDir: cache.dir };
  for (const name of names) {
    if (out.calibration.length >= limit) break;
    const file = join(dir, name);
    const bytes = await readFile(file).catch(() => undefined);
    if (!bytes) { out.skipped.push({ file, reason: 'unreadable' }); continue; }
    const vector = cache.get(createHash('sha256').update(bytes).digest('hex'));
    if (!vector) { out.skipped.push({ file, reason: 'no-embedding' }); continue; }
    try {
      out.calibration.push(normalisedL(await resizeImage(await decodeImage(bytes), size, size, { fit: 'cover' })));
      out.embeddings.push(vector);
    } catch (e) {
      if (!isTintaError(e)) throw e;
      out.skipped.push({ file, reason: 'unreadable' });
    }
  }
  if (out.calibration.length === 0) {
    throw new TintaError(ErrorCodes.QUANTIZE_FAILED, `No photo in ${dir} has an embedding in ${cacheDir} (${names.length} image files). Run \`tinta embed --data ${dir} --out ${cacheDir}\` with the colorizer's classifier first.`, { details: { dir, cacheDir } });
  }
  return out;
}
