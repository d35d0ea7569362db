/** Running a test/deno/*.mjs script on the Deno that npm installs, for the Deno tests of the built SDK. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './sdk-dist-build.ts';

/** The Deno of the `deno` devDependency. */
export const DENO = join(ROOT, 'node_modules', '.bin', 'deno');

/** Writes `job` to DIR/job.json, runs test/deno/SCRIPT on it and returns the JSON of its last stdout line; fails when Deno is missing or exits non-zero. */
export function runDenoJob<T>(script: string, dir: string, job: Record<string, unknown>): T {
  assert.ok(existsSync(DENO), `Deno is not installed at ${DENO}; it comes with npm ci (the deno devDependency)`);
  writeFileSync(join(dir, 'job.json'), JSON.stringify(job));
  const r = spawnSync(DENO, ['run', '-A', join(ROOT, 'test', 'deno', script), join(dir, 'job.json')], {
    cwd: ROOT, encoding: 'utf8', timeout: 240_000,
    env: { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1' },
  });
  assert.equal(r.status, 0, `deno exited with ${r.status ?? r.signal}:\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as T;
}
