/**
 * A model cache in a directory (Node): default $TINTA_CACHE, else ~/.cache/tinta. Entries are
 * files named by a hash of their key, written to a temporary file and renamed into place, so an
 * interrupted download never leaves a file that looks complete.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { ModelCache } from './cache.ts';
import { writeFileAtomic } from '../io/atomic-node.ts';

/** The default cache directory: $TINTA_CACHE, else ~/.cache/tinta. */
export function defaultCacheDir(): string {
  const fromEnv = process.env.TINTA_CACHE;
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : join(homedir(), '.cache', 'tinta');
}

/** The file an entry lives in: keys are URLs, so they are hashed into safe, fixed-length names. */
export function cacheFileName(key: string): string {
  return `${createHash('sha256').update(key).digest('hex').slice(0, 40)}.onnx`;
}

/** A ModelCache over `<dir>/models/`. */
export function fileCache(dir: string = defaultCacheDir()): ModelCache & { readonly dir: string } {
  const modelsDir = join(dir, 'models');
  return {
    dir: modelsDir,
    async match(key: string): Promise<Uint8Array | undefined> {
      try {
        const b = await readFile(join(modelsDir, cacheFileName(key)));
        return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw e;
      }
    },
    async put(key: string, bytes: Uint8Array): Promise<void> {
      await mkdir(modelsDir, { recursive: true });
      await writeFileAtomic(join(modelsDir, cacheFileName(key)), bytes);
    },
  };
}
