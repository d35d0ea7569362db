/** A lock file holding its owner's pid, for the caches that one process at a time may append to. */
import { open, readFile, unlink } from 'node:fs/promises';
import type { TintaError } from '../sdk/errors.ts';

/** How acquirePidLock reports a lock it cannot take. */
export interface PidLockErrors {
  /** A live process (`pid`, possibly this one) holds the lock. */
  held(pid: number): TintaError;
  /** The lock could not be taken even after clearing a stale one. */
  failed(): TintaError;
}

/** Create `path` with this process's pid; a lock left by a dead process is taken over. Returns the release. */
export async function acquirePidLock(path: string, errors: PidLockErrors): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fh = await open(path, 'wx');
      await fh.writeFile(String(process.pid));
      await fh.close();
      return () => unlink(path).catch(() => undefined);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const pid = Number.parseInt(await readFile(path, 'utf8').catch(() => ''), 10);
      // Our own pid: another build in this very process.
      let alive = pid === process.pid;
      if (!alive && Number.isSafeInteger(pid) && pid > 0) {
        try {
          process.kill(pid, 0);
          alive = true;
        } catch (k) {
          alive = (k as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by someone else
        }
      }
      if (alive) throw errors.held(pid);
      await unlink(path).catch(() => undefined); // left by a run that crashed
    }
  }
  throw errors.failed();
}
