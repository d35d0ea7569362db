/**
 * Finding the training photos: every image file under a set of folders, recursively, in a stable
 * order. Only the extension is looked at here; whether a file really decodes is the cache's job,
 * which records unreadable files instead of failing the run.
 */
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { ErrorCodes, TintaError } from '../../sdk/errors.ts';

/** File extensions (lower case, with the dot) that the scan treats as photos. */
export const IMAGE_EXTENSIONS: ReadonlySet<string> = new Set(['.jpg', '.jpeg', '.png', '.webp', '.tif', '.tiff', '.avif', '.gif']);

/** True when the file name has one of IMAGE_EXTENSIONS (case-insensitive). */
export function isImageFileName(name: string): boolean {
  const dot = name.lastIndexOf('.');
  return dot > 0 && IMAGE_EXTENSIONS.has(name.slice(dot).toLowerCase());
}

async function walk(dir: string, seenDirs: Set<string>, out: Set<string>): Promise<void> {
  // Symlinked folders are followed, but each real folder is visited once, so a link loop ends.
  const real = await realpath(dir);
  if (seenDirs.has(real)) return;
  seenDirs.add(real);
  const entries = await readdir(dir, { withFileTypes: true });
  for (const e of entries) {
    const p = join(dir, e.name);
    let isDir = e.isDirectory();
    let isFile = e.isFile();
    if (e.isSymbolicLink()) {
      const s = await stat(p).catch(() => undefined); // a dangling link is simply not a photo
      isDir = s?.isDirectory() ?? false;
      isFile = s?.isFile() ?? false;
    }
    if (isDir) await walk(p, seenDirs, out);
    else if (isFile && isImageFileName(e.name)) out.add(p);
  }
}

/**
 * Absolute paths of all image files under `dirs` (recursive), deduplicated and sorted by code
 * unit (not locale), so every machine sees the same order. A missing folder, or a path that is
 * not a folder, is a NO_TRAINING_DATA TintaError naming it.
 */
export async function scanImages(dirs: string[]): Promise<string[]> {
  if (dirs.length === 0) throw new TintaError(ErrorCodes.NO_TRAINING_DATA, 'No training data folders were given.');
  const out = new Set<string>();
  const seenDirs = new Set<string>();
  for (const d of dirs) {
    const dir = resolve(d);
    let s;
    try {
      s = await stat(dir);
    } catch (e) {
      throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `The training data folder "${d}" does not exist (resolved to ${dir}).`, {
        cause: e,
        details: { path: d, resolved: dir },
      });
    }
    if (!s.isDirectory()) {
      throw new TintaError(ErrorCodes.NO_TRAINING_DATA, `The training data path "${d}" is not a folder. Pass the folder that holds the photos.`, {
        details: { path: d, resolved: dir },
      });
    }
    await walk(dir, seenDirs, out);
  }
  return [...out].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
}
