/**
 * Atomic file writes for Node: the bytes go to a hidden temporary file in the same folder, are
 * fsync'ed, then renamed over the target, so a reader (or a crash at any moment) sees the old file or
 * the new one, never half of one. The one implementation every writer of tinta uses.
 */
import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Write `data` (text, bytes, or byte chunks in order) to `path` atomically; the temp file is removed on failure. */
export async function writeFileAtomic(path: string, data: string | Uint8Array | readonly Uint8Array[]): Promise<void> {
  const dir = dirname(path);
  // Hidden and ending in .tmp, so globs over an output folder never pick it up.
  const tmp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let fh: FileHandle | undefined;
  try {
    fh = await open(tmp, 'wx');
    if (typeof data === 'string' || data instanceof Uint8Array) await fh.writeFile(data);
    else for (const chunk of data) await fh.write(chunk);
    await fh.sync(); // the data must be on disk before the rename makes it visible under the real name
    await fh.close();
    fh = undefined;
    await rename(tmp, path);
  } catch (e) {
    await fh?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw e;
  }
  // Persist the rename itself; some systems refuse to open folders, which is fine.
  const d = await open(dir, 'r').catch(() => undefined);
  if (d) await d.sync().catch(() => undefined).finally(() => d.close());
}
