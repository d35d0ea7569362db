/**
 * What the web demo's service worker stores for offline use, found by following the page's
 * imports through the server's URL space (so a new SDK module is never forgotten), plus the
 * files loaded by computed URLs that no import names: ONNX Runtime's .mjs/.wasm and the model.
 * The list and a version derived from the files' sizes and dates are written into sw.js as it is
 * served, so any change to a precached file changes sw.js and the browser installs a new cache.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname } from 'node:path';
import { ErrorCodes, TintaError } from '../sdk/errors.ts';

/** Maps a URL path to the file the server sends for it (null: none), and rewrites JavaScript as the server does. */
export interface UrlSpace {
  fileFor(path: string): string | null;
  rewriteJs(path: string, code: string): string;
}

/** The files precached besides the page's import graph: loaded by URLs that are computed at run time. */
export interface PrecacheExtras {
  /** Entry pages and scripts of the app (e.g. '/', '/app.js'). */
  entries: string[];
  /** URLs no import names (ORT's runtime files, the model). */
  extras: string[];
}

/** The service worker's list: URL paths and a version naming the cache. */
export interface PrecacheManifest {
  version: string;
  urls: string[];
}

// Static and dynamic import specifiers, and `new URL('…', import.meta.url)` (workers, assets).
const SPECIFIERS = [
  /\b(?:import|export)\s[^;'"]*?\bfrom\s*(['"])([^'"\n]+)\1/g,
  /\bimport\s*(['"])([^'"\n]+)\1/g,
  /\bimport\(\s*(['"])([^'"\n]+)\1\s*\)/g,
  /\bnew URL\(\s*(['"])([^'"\n]+)\1\s*,\s*import\.meta\.url\s*\)/g,
];

/** Relative and absolute specifiers in `code`, resolved against `path` (bare ones are left out). */
export function importsOf(path: string, code: string): string[] {
  const out = new Set<string>();
  const base = new URL(path, 'http://demo.invalid');
  for (const re of SPECIFIERS) {
    for (const m of code.matchAll(re)) {
      const spec = m[2]!;
      // ORT's minified bundle names its runtime files without './'; those count as relative.
      const relative = spec.startsWith('./') || spec.startsWith('../') || spec.startsWith('/') || /^[\w.-]+\.(m?js|wasm)$/.test(spec);
      if (!relative) continue;
      const u = new URL(spec, base);
      if (u.origin === base.origin) out.add(u.pathname);
    }
  }
  return [...out];
}

/** The precache list: everything reachable from `entries` by imports, plus `extras`; every URL must exist. */
export function precacheManifest(space: UrlSpace, { entries, extras }: PrecacheExtras, salt = ''): PrecacheManifest {
  const seen = new Set<string>();
  const queue = [...entries, ...extras];
  const h = createHash('sha256').update(salt);
  for (let path = queue.shift(); path !== undefined; path = queue.shift()) {
    if (seen.has(path)) continue;
    const file = space.fileFor(path);
    if (file === null || !existsSync(file)) {
      // A named file must exist; one found by scanning code may be a false match (e.g. inside a string).
      if (entries.includes(path) || extras.includes(path)) {
        throw new TintaError(ErrorCodes.BAD_ARGUMENT, `The offline list names ${path}, but the demo server has no file for it.`, { details: { path } });
      }
      continue;
    }
    seen.add(path);
    const st = statSync(file);
    h.update(`${path}\0${st.size}\0${st.mtimeMs}\n`);
    const ext = extname(file);
    if (ext === '.js' || ext === '.mjs') queue.push(...importsOf(path, space.rewriteJs(path, readFileSync(file, 'utf8'))));
  }
  return { version: h.digest('hex').slice(0, 16), urls: [...seen].sort() };
}

/** The line of sw.js the server replaces with the manifest. */
export const PRECACHE_PLACEHOLDER = "const PRECACHE = { version: 'unbuilt', urls: [] };";

/** sw.js with its placeholder replaced by `manifest`. */
export function injectManifest(swSource: string, manifest: PrecacheManifest): string {
  if (!swSource.includes(PRECACHE_PLACEHOLDER)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `sw.js no longer contains the line the demo server fills in: ${PRECACHE_PLACEHOLDER}`);
  }
  return swSource.replace(PRECACHE_PLACEHOLDER, () => `const PRECACHE = ${JSON.stringify(manifest)};`);
}
