/**
 * A tiny static server for the browser tests, on 127.0.0.1 and a random port, sending the
 * COOP/COEP headers that make pages cross-origin isolated (SharedArrayBuffer, wasm threads).
 * Routes map URL prefixes to folders or to bytes held in memory; JavaScript can be rewritten on
 * the way out (the tests map the bare `onnxruntime-web` import, as an import map would: import
 * maps do not reach module workers).
 */
import { createServer, type Server } from 'node:http';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.wasm': 'application/wasm',
  '.onnx': 'application/octet-stream',
  '.css': 'text/css',
};

/** One route: a URL prefix served from a folder, or from a function of the request URL. */
export type Route =
  | { prefix: string; dir: string; rewriteJs?: (code: string) => string }
  | { prefix: string; bytes: (url: URL) => Uint8Array | null };

export interface StaticServer {
  readonly origin: string;
  /** Paths requested so far, with their status. */
  readonly log: { path: string; status: number }[];
  close(): Promise<void>;
}

/** Starts the server; routes are tried in order. `headers` are added to every response (e.g. a CSP). */
export async function startStaticServer(routes: Route[], headers: Record<string, string> = {}): Promise<StaticServer> {
  const log: { path: string; status: number }[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const send = (status: number, body: Uint8Array | string, type = 'text/plain'): void => {
      log.push({ path: url.pathname, status });
      res.writeHead(status, {
        'content-type': type,
        'cross-origin-opener-policy': 'same-origin',
        'cross-origin-embedder-policy': 'require-corp',
        'cross-origin-resource-policy': 'same-origin',
        'cache-control': 'no-store',
        ...headers,
      });
      res.end(body);
    };
    void (async () => {
      for (const r of routes) {
        if (!url.pathname.startsWith(r.prefix)) continue;
        if ('bytes' in r) {
          const b = r.bytes(url);
          if (b) return send(200, b, 'application/octet-stream');
          continue;
        }
        let rel = decodeURIComponent(url.pathname.slice(r.prefix.length));
        if (rel === '' || rel.endsWith('/')) rel += 'index.html';
        const file = normalize(join(r.dir, rel));
        if (!file.startsWith(normalize(r.dir + sep)) && file !== normalize(r.dir)) return send(403, 'outside the served folder');
        const st = await stat(file).catch(() => null);
        if (!st?.isFile()) continue;
        const type = TYPES[extname(file)] ?? 'application/octet-stream';
        const body = await readFile(file);
        return send(200, r.rewriteJs && type.startsWith('text/javascript') ? r.rewriteJs(body.toString('utf8')) : body, type);
      }
      send(404, `not found: ${url.pathname}`);
    })().catch((e: unknown) => send(500, String(e)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const addr = server.address();
  if (addr === null || typeof addr === 'string') throw new Error('the test server has no port');
  return {
    origin: `http://127.0.0.1:${addr.port}`,
    log,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
