/**
 * The built package for the tests that need it (dist, Deno, browsers): `npm run build` is run
 * once, and again only when what it reads changed (sdk/, models/, rollup.config.mjs,
 * package.json: paths, sizes and mtimes, hashed into .cache/dist-build-stamp). Test files run in
 * parallel processes, so the build holds a lock (.cache/dist-build.lock) that the others wait on.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The build output. */
export const DIST = join(ROOT, 'dist');

const STAMP = join(ROOT, '.cache', 'dist-build-stamp');
const LOCK = join(ROOT, '.cache', 'dist-build.lock');
const STALE_LOCK_MS = 10 * 60_000;

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

/** A hash of every input of the build. */
function inputsHash(): string {
  const h = createHash('sha256');
  const files = [...walk(join(ROOT, 'sdk')), ...walk(join(ROOT, 'models')), join(ROOT, 'rollup.config.mjs'), join(ROOT, 'package.json')].sort();
  for (const f of files) {
    const st = statSync(f);
    h.update(`${relative(ROOT, f)}\0${st.size}\0${st.mtimeMs}\n`);
  }
  return h.digest('hex');
}

function upToDate(hash: string): boolean {
  return existsSync(STAMP) && readFileSync(STAMP, 'utf8') === hash && existsSync(join(DIST, 'node.js'));
}

function lockHolderAlive(): boolean {
  try {
    const pid = Number(readFileSync(join(LOCK, 'pid'), 'utf8'));
    if (Date.now() - statSync(LOCK).mtimeMs > STALE_LOCK_MS) return false;
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

let done: Promise<string> | undefined;

/** Builds dist/ unless it is current; returns the dist folder. Throws with the build's output when it fails. */
export function ensureDist(): Promise<string> {
  return (done ??= build());
}

async function build(): Promise<string> {
  mkdirSync(join(ROOT, '.cache'), { recursive: true });
  for (;;) {
    if (upToDate(inputsHash())) return DIST;
    try {
      mkdirSync(LOCK);
    } catch {
      // Someone else is building (or died doing so): wait, or take over a dead lock.
      if (!lockHolderAlive()) rmSync(LOCK, { recursive: true, force: true });
      else await sleep(250);
      continue;
    }
    try {
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      const hash = inputsHash();
      if (upToDate(hash)) return DIST;
      rmSync(STAMP, { force: true });
      const rollup = join(ROOT, 'node_modules', 'rollup', 'dist', 'bin', 'rollup');
      const r = spawnSync(process.execPath, [rollup, '-c', 'rollup.config.mjs'], { cwd: ROOT, encoding: 'utf8', timeout: 10 * 60_000 });
      if (r.status !== 0) throw new Error(`npm run build failed (exit ${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
      writeFileSync(STAMP, hash);
      return DIST;
    } finally {
      rmSync(LOCK, { recursive: true, force: true });
    }
  }
}
