/**
 * The built SDK the demo pages load: dist/ is built with `npm run build` (Rollup) when it is
 * missing or older than what it is built from (sdk/, rollup.config.mjs, package.json, the shipped
 * models). The locked build below is also the tests' (test/sdk-dist-build.ts, which decides
 * staleness by a hash of the inputs), so a demo server and a test run never build into dist/ at once.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SHIPPED_MODELS } from '../sdk/models/manifest.ts';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The build output the pages load. */
export const DIST = join(ROOT, 'dist');

const LOCK = join(ROOT, '.cache', 'dist-build.lock');
const STALE_LOCK_MS = 10 * 60_000;
// What the pages need from dist/; the oldest of them must be newer than every input.
const OUTPUTS = ['browser.js', 'worker/entry-browser.js', 'models/manifest.js'];

function walk(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? walk(join(dir, e.name)) : [join(dir, e.name)]));
}

/** Why dist/ must be (re)built, or null when it is current. */
export function distStaleReason(): string | null {
  let oldest = Infinity;
  for (const f of OUTPUTS) {
    const p = join(DIST, f);
    if (!existsSync(p)) return `dist/${f} is missing`;
    oldest = Math.min(oldest, statSync(p).mtimeMs);
  }
  for (const m of Object.values(SHIPPED_MODELS)) {
    if (existsSync(join(ROOT, 'models', m.file)) && !existsSync(join(DIST, 'models', m.file))) return `dist/models/${m.file} is missing`;
  }
  const inputs = [...walk(join(ROOT, 'sdk')), join(ROOT, 'rollup.config.mjs'), join(ROOT, 'package.json'), ...Object.values(SHIPPED_MODELS).map((m) => join(ROOT, 'models', m.file))];
  for (const f of inputs) {
    if (existsSync(f) && statSync(f).mtimeMs > oldest) return `${relative(ROOT, f)} changed after the last build`;
  }
  return null;
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

/** Builds dist/ unless it is current, saying why on `log`; throws with Rollup's output when the build fails. */
export function ensureSdkBuilt(log: (line: string) => void = () => undefined): Promise<void> {
  return buildDistLocked({ staleReason: distStaleReason, log });
}

/** How buildDistLocked decides and records a build. */
export interface LockedBuildOptions {
  /** Why dist/ must be (re)built, or null when it is current; asked again inside the lock. */
  staleReason: () => string | null;
  log?: (line: string) => void;
  /** Runs inside the lock just before Rollup, and just after it succeeded. */
  beforeBuild?: () => void;
  afterBuild?: () => void;
}

/** Runs Rollup into dist/ while `staleReason` says so, holding .cache/dist-build.lock so parallel processes build once. */
export async function buildDistLocked(o: LockedBuildOptions): Promise<void> {
  const log = o.log ?? (() => undefined);
  mkdirSync(join(ROOT, '.cache'), { recursive: true });
  let waited = false;
  for (;;) {
    const why = o.staleReason();
    if (why === null) return;
    try {
      mkdirSync(LOCK);
    } catch {
      // Another process (a test run, another demo server) is building: wait for it, or take over a dead lock.
      if (!lockHolderAlive()) rmSync(LOCK, { recursive: true, force: true });
      else {
        if (!waited) log('waiting for another build of dist/ to finish');
        waited = true;
        await sleep(250);
      }
      continue;
    }
    try {
      writeFileSync(join(LOCK, 'pid'), String(process.pid));
      const again = o.staleReason();
      if (again === null) return;
      o.beforeBuild?.();
      log(`building the SDK into dist/ (npm run build): ${again}`);
      const t0 = Date.now();
      const rollup = join(ROOT, 'node_modules', 'rollup', 'dist', 'bin', 'rollup');
      const r = spawnSync(process.execPath, [rollup, '-c', 'rollup.config.mjs'], { cwd: ROOT, encoding: 'utf8', timeout: 10 * 60_000 });
      if (r.status !== 0) throw new Error(`npm run build failed (exit ${r.status ?? r.signal}):\n${r.stdout}\n${r.stderr}`);
      o.afterBuild?.();
      log(`built dist/ in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
      return;
    } finally {
      rmSync(LOCK, { recursive: true, force: true });
    }
  }
}
