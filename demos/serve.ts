/**
 * The demo server (`npm run demo`): static files on 127.0.0.1 through sirv, with the COOP/COEP
 * headers that make the pages cross-origin isolated (wasm threads) and a strict CSP. It serves
 * the web demo at /, the embed demo at /embed/, the built SDK at /dist/ (built first when stale),
 * onnxruntime-web's own files at /ort/ (self-hosted, never a CDN), the shipped models at /models/
 * and the example photos at /examples/.
 *
 * The SDK's one bare import, `onnxruntime-web`, is rewritten in /dist/ to ORT's browser build as
 * the files are sent (an ESM CDN does the same): an import map would not reach the SDK's module
 * worker. /sw.js is sent with its offline list filled in (demos/precache.ts).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { extname, join, normalize, sep } from 'node:path';
import { parseArgs } from 'node:util';
import { pathToFileURL } from 'node:url';
import sirv from 'sirv';
import { ErrorCodes, TintaError, isTintaError } from '../sdk/errors.ts';
import { SHIPPED_MODELS, DEFAULT_MODEL } from '../sdk/models/manifest.ts';
import { DIST, ROOT, ensureSdkBuilt } from './dist.ts';
import { injectManifest, precacheManifest, type PrecacheManifest, type UrlSpace } from './precache.ts';

const DEMOS = join(ROOT, 'demos');
const ORT_DIST = join(ROOT, 'node_modules', 'onnxruntime-web', 'dist');

/** Where the pages find onnxruntime-web's browser build (what `onnxruntime-web` is rewritten to). */
export const ORT_BROWSER_BUILD = '/ort/ort.bundle.min.mjs';
/** ORT's runtime files for the wasm and WebGPU backends, loaded from `wasmPaths: '/ort/'` by URLs ORT computes. */
export const ORT_RUNTIME_FILES = ['/ort/ort-wasm-simd-threaded.jsep.mjs', '/ort/ort-wasm-simd-threaded.jsep.wasm'];
/** The model the web demo loads first, and stores for offline use. */
export const DEFAULT_MODEL_URL = `/models/${SHIPPED_MODELS[DEFAULT_MODEL]!.file}`;

/** The headers on every response: cross-origin isolation, and the CSP the SDK documents (plus what the pages need). */
export const DEMO_HEADERS: Readonly<Record<string, string>> = Object.freeze({
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Embedder-Policy': 'require-corp',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Content-Security-Policy':
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; connect-src 'self'; img-src 'self' blob: data:; media-src 'self' blob: mediastream:; style-src 'self' 'unsafe-inline'",
});

// mrmime (sirv's MIME table) has no entry for .onnx; the others are stated so nothing depends on its table.
const TYPES: Record<string, string> = {
  '.wasm': 'application/wasm',
  '.mjs': 'text/javascript; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.onnx': 'application/octet-stream',
};

/** Options of startDemoServer. */
export interface DemoServerOptions {
  /** Port on 127.0.0.1 (default 5173; 0 picks a free one). */
  port?: number;
  /** Build dist/ first when it is missing or stale (default true). */
  build?: boolean;
  /** Where progress lines go (default: nowhere). */
  log?: (line: string) => void;
}

/** A running demo server. */
export interface DemoServer {
  /** e.g. http://127.0.0.1:5173 */
  readonly origin: string;
  /** Every request answered so far (path and status), oldest first. */
  readonly requests: readonly { path: string; status: number }[];
  close(): Promise<void>;
}

interface Mount {
  prefix: string;
  dir: string;
  /** Only these file extensions are served (default: all). */
  only?: string[];
}

const MOUNTS: Mount[] = [
  { prefix: '/dist/', dir: DIST },
  { prefix: '/ort/', dir: ORT_DIST, only: ['.mjs', '.wasm'] },
  // models/ also holds training runs; only model files leave the machine.
  { prefix: '/models/', dir: join(ROOT, 'models'), only: ['.onnx'] },
  { prefix: '/examples/', dir: join(ROOT, 'examples'), only: ['.jpg', '.jpeg', '.png', '.webp'] },
  { prefix: '/embed/', dir: join(DEMOS, 'embed') },
  { prefix: '/', dir: join(DEMOS, 'web') },
];

/** The `onnxruntime-web` import of the built SDK, pointed at ORT's browser build. */
export function mapOrtImport(code: string): string {
  return code.replace(/(['"])onnxruntime-web\1/g, `'${ORT_BROWSER_BUILD}'`);
}

function mountFor(path: string): Mount | undefined {
  return MOUNTS.find((m) => path.startsWith(m.prefix));
}

/** The file the server sends for a URL path (null: none; folders give their index.html). */
export function fileForPath(path: string): string | null {
  const m = mountFor(path);
  if (!m) return null;
  let rel = path.slice(m.prefix.length);
  if (rel === '' || rel.endsWith('/')) rel += 'index.html';
  const file = normalize(join(m.dir, rel));
  if (!file.startsWith(m.dir + sep)) return null;
  if (m.only && !m.only.includes(extname(file))) return null;
  return existsSync(file) && statSync(file).isFile() ? file : null;
}

const urlSpace: UrlSpace = {
  fileFor: fileForPath,
  rewriteJs: (path, code) => (path.startsWith('/dist/') ? mapOrtImport(code) : code),
};

/** What the web demo's service worker precaches (see demos/precache.ts). */
export function webPrecache(): PrecacheManifest {
  const webDir = join(DEMOS, 'web');
  const pageFiles = ['index.html', 'style.css', 'app.js'].map((f) => (f === 'index.html' ? '/' : `/${f}`));
  return precacheManifest(urlSpace, { entries: pageFiles, extras: [...ORT_RUNTIME_FILES, DEFAULT_MODEL_URL] }, readFileSync(join(webDir, 'sw.js'), 'utf8'));
}

function sendText(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8', extra: Record<string, string> = {}): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body), 'Cache-Control': 'no-cache', ...extra });
  res.end(body);
}

function handler(): (req: IncomingMessage, res: ServerResponse) => void {
  const serve = new Map(MOUNTS.map((m) => [m.prefix, sirv(m.dir, { dev: true, etag: true, dotfiles: false, setHeaders: (res, p) => {
    const type = TYPES[extname(p)];
    if (type) res.setHeader('Content-Type', type);
  } })]));
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const path = url.pathname;
    for (const [k, v] of Object.entries(DEMO_HEADERS)) res.setHeader(k, v);
    const notFound = (): void => sendText(res, 404, `Not found: ${path}`);
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') return sendText(res, 405, 'Only GET and HEAD.', undefined, { Allow: 'GET, HEAD' });
      if (path.includes('\0') || path.split('/').includes('..')) return sendText(res, 400, 'Bad path.');
      if (path === '/embed') return sendText(res, 301, '', undefined, { Location: '/embed/' });
      if (path === '/sw.js') {
        const sw = injectManifest(readFileSync(join(DEMOS, 'web', 'sw.js'), 'utf8'), webPrecache());
        // Never stored by the HTTP cache: the browser compares it byte for byte to find updates.
        return sendText(res, 200, sw, TYPES['.js'], { 'Cache-Control': 'no-store' });
      }
      const m = mountFor(path);
      if (!m) return notFound();
      if (m.only && !m.only.includes(extname(path)) && !path.endsWith('/')) return notFound();
      if (m.prefix === '/dist/' && path.endsWith('.js')) {
        const file = fileForPath(path);
        if (!file) return notFound();
        return sendText(res, 200, mapOrtImport(readFileSync(file, 'utf8')), TYPES['.js']);
      }
      req.url = '/' + path.slice(m.prefix.length) + url.search;
      serve.get(m.prefix)!(req, res, notFound);
    } catch (e) {
      sendText(res, 500, isTintaError(e) ? `${e.message} [${e.code}]` : String(e));
    }
  };
}

/** Starts the demo server on 127.0.0.1 (building dist/ first when needed); resolves once it listens. */
export async function startDemoServer(options: DemoServerOptions = {}): Promise<DemoServer> {
  const port = options.port ?? 5173;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `The port must be an integer from 0 to 65535 (0 picks a free one); got ${String(port)}.`);
  }
  const log = options.log ?? (() => undefined);
  if (options.build !== false) await ensureSdkBuilt(log);
  if (!existsSync(join(ORT_DIST, 'ort.bundle.min.mjs'))) {
    throw new TintaError(ErrorCodes.BACKEND_UNAVAILABLE, `onnxruntime-web is not installed (no ${ORT_DIST}); run npm ci.`);
  }
  const requests: { path: string; status: number }[] = [];
  const handle = handler();
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    res.on('finish', () => requests.push({ path, status: res.statusCode }));
    handle(req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) => {
      reject(e.code === 'EADDRINUSE'
        ? new TintaError(ErrorCodes.BAD_ARGUMENT, `Port ${port} on 127.0.0.1 is in use; pass another with --port (0 picks a free one).`, { cause: e, details: { port } })
        : e);
    });
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('the demo server has no port');
  return {
    origin: `http://127.0.0.1:${addr.port}`,
    requests,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}

const USAGE = `Usage: npm run demo [-- --port N]

Serves the tinta demos on 127.0.0.1 (port: --port, else $PORT, else 5173; 0 picks a free one).
Builds the SDK into dist/ first when it is missing or stale.`;

/** The `npm run demo` command: parses argv, starts the server and prints its address. */
export async function main(argv: string[]): Promise<DemoServer | null> {
  const { values } = parseArgs({ args: argv, options: { port: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  if (values.help) {
    console.log(USAGE);
    return null;
  }
  const raw = values.port ?? process.env.PORT ?? '5173';
  if (!/^\d+$/.test(raw)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `--port must be a number from 0 to 65535; got ${JSON.stringify(raw)}.`);
  const server = await startDemoServer({ port: Number(raw), log: (line) => console.log(`tinta demo: ${line}`) });
  console.log(`tinta demo: serving at ${server.origin}/`);
  console.log(`  web demo:   ${server.origin}/`);
  console.log(`  embed demo: ${server.origin}/embed/`);
  console.log('Ctrl-C stops it.');
  return server;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (server) => {
      if (!server) return;
      const stop = (): void => void server.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    },
    (e: unknown) => {
      console.error(isTintaError(e) ? `tinta demo: ${e.message} [${e.code}]` : `tinta demo: ${e instanceof Error ? e.message : String(e)}`);
      process.exit(isTintaError(e, ErrorCodes.BAD_ARGUMENT) ? 2 : 1);
    },
  );
}
