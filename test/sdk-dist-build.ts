/**
 * The built package for the tests that need it (dist, Deno, browsers): `npm run build` is run
 * once, and again only when what it reads changed (sdk/, models/, rollup.config.mjs,
 * package.json: paths, sizes and mtimes, hashed into .cache/dist-build-stamp). Test files run in
 * parallel processes, so the build goes through demos/dist.ts's locked build, which the others wait on.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { DIST, ROOT, buildDistLocked } from '../demos/dist.ts';

export { DIST, ROOT };

const STAMP = join(ROOT, '.cache', 'dist-build-stamp');

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

let done: Promise<string> | undefined;

/** Builds dist/ unless it is current; returns the dist folder. Throws with the build's output when it fails. */
export function ensureDist(): Promise<string> {
  return (done ??= build());
}

async function build(): Promise<string> {
  // The hash of the last check, which inside the lock is the one the build is stamped with.
  let hash = '';
  await buildDistLocked({
    staleReason: () => {
      hash = inputsHash();
      return upToDate(hash) ? null : 'the build inputs changed';
    },
    beforeBuild: () => rmSync(STAMP, { force: true }),
    afterBuild: () => writeFileSync(STAMP, hash),
  });
  return DIST;
}
