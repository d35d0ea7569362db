// The demo server (demos/serve.ts) over real HTTP on 127.0.0.1: COOP/COEP and CSP on every
// response, MIME types for .wasm/.mjs/.onnx, the built SDK served with its onnxruntime-web import
// mapped to ORT's self-hosted browser build, only model files from models/, sw.js sent with an
// offline list whose every URL answers, typed errors for bad ports, and `npm run demo` printing its
// address. The offline list builder (demos/precache.ts) on a temp URL space: imports followed,
// version changing with any file.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startDemoServer, type DemoServer } from '../demos/serve.ts';
import { importsOf, injectManifest, precacheManifest, PRECACHE_PLACEHOLDER, type UrlSpace } from '../demos/precache.ts';
import { isTintaError } from '../sdk/errors.ts';
import { ensureDist, ROOT } from './sdk-dist-build.ts';

let server: DemoServer;
let tmp: string;

before(async () => {
  await ensureDist();
  server = await startDemoServer({ port: 0 });
  tmp = mkdtempSync(join(tmpdir(), 'tinta-demo-serve-'));
});

after(async () => {
  await server?.close();
  if (tmp) rmSync(tmp, { recursive: true, force: true });
});

const get = (path: string, init?: RequestInit): Promise<Response> => fetch(`${server.origin}${path}`, init);

test('every response is cross-origin isolated with a CSP, and files have the right MIME types', async () => {
  const cases: [string, string][] = [
    ['/', 'text/html'],
    ['/app.js', 'text/javascript'],
    ['/embed/', 'text/html'],
    ['/embed/tinta-colorize.js', 'text/javascript'],
    ['/dist/browser.js', 'text/javascript'],
    ['/ort/ort-wasm-simd-threaded.jsep.mjs', 'text/javascript'],
    ['/ort/ort-wasm-simd-threaded.jsep.wasm', 'application/wasm'],
    ['/models/tinta-default.int8.onnx', 'application/octet-stream'],
    ['/examples/cameraman.jpg', 'image/jpeg'],
    ['/no-such-file', 'text/plain'],
  ];
  for (const [path, type] of cases) {
    const res = await get(path, { method: 'HEAD' });
    assert.equal(res.status, path === '/no-such-file' ? 404 : 200, path);
    assert.ok(res.headers.get('content-type')?.startsWith(type), `${path}: ${res.headers.get('content-type')}`);
    assert.equal(res.headers.get('cross-origin-opener-policy'), 'same-origin', path);
    assert.equal(res.headers.get('cross-origin-embedder-policy'), 'require-corp', path);
    assert.match(res.headers.get('content-security-policy') ?? '', /script-src 'self' 'wasm-unsafe-eval'/, path);
  }
});

test("the built SDK is served with its bare 'onnxruntime-web' import mapped to the self-hosted ORT build", async () => {
  const ortWeb = await (await get('/dist/runtime/ort-web.js')).text();
  assert.match(ortWeb, /import\('\/ort\/ort\.bundle\.min\.mjs'\)/);
  assert.doesNotMatch(ortWeb, /['"]onnxruntime-web['"]/);
  assert.equal((await get('/ort/ort.bundle.min.mjs', { method: 'HEAD' })).status, 200);
});

test('only model files, example photos and demo files are served; odd requests are refused', async () => {
  assert.equal((await get('/models/training/default-metrics.jsonl')).status, 404, 'training runs under models/ stay private');
  assert.equal((await get('/ort/ort.node.min.js')).status, 404, 'only the .mjs/.wasm files of ORT');
  assert.equal((await get('/%2e%2e/package.json')).status, 404);
  assert.equal((await get('/embed/..%2f..%2fpackage.json')).status, 404);
  assert.equal((await get('/', { method: 'POST', body: 'x' })).status, 405);
  const r = await get('/embed', { redirect: 'manual' });
  assert.deepEqual([r.status, r.headers.get('location')], [301, '/embed/']);
});

test('sw.js is sent with its offline list filled in; every listed URL answers 200', async () => {
  const res = await get('/sw.js');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const sw = await res.text();
  assert.ok(!sw.includes(PRECACHE_PLACEHOLDER), 'the placeholder is replaced');
  const m = /const PRECACHE = (\{.*\});/.exec(sw);
  assert.ok(m, 'the list is in sw.js');
  const { version, urls } = JSON.parse(m[1]!) as { version: string; urls: string[] };
  assert.match(version, /^[0-9a-f]{16}$/);
  for (const u of ['/', '/app.js', '/style.css', '/gray.js', '/dist/browser.js', '/dist/worker/entry-browser.js', '/dist/color/lab.js', '/ort/ort.bundle.min.mjs', '/ort/ort-wasm-simd-threaded.jsep.wasm', '/models/tinta-default.int8.onnx']) {
    assert.ok(urls.includes(u), `${u} is precached`);
  }
  for (const u of ['/dist/node.js', '/dist/deno.js', '/dist/runtime/node.js', '/dist/image/node.js', '/dist/worker/entry-node.js', '/models/tinta-default.fp32.onnx']) {
    assert.ok(!urls.includes(u), `${u} is not precached: the page never loads it`);
  }
  for (const u of urls) assert.equal((await get(u, { method: 'HEAD' })).status, 200, u);
  assert.equal((await (await get('/sw.js')).text()), sw, 'the same files give the same sw.js (no spurious updates)');
});

test('bad ports are typed errors: out of range, and in use', async () => {
  await assert.rejects(startDemoServer({ port: 70000, build: false }), (e) => isTintaError(e, 'BAD_ARGUMENT') && /0 to 65535/.test(e.message));
  const port = Number(new URL(server.origin).port);
  await assert.rejects(startDemoServer({ port, build: false }), (e) => isTintaError(e, 'BAD_ARGUMENT') && /in use/.test(e.message));
});

test('`npm run demo` prints its address and serves; a bad --port exits with code 2', { timeout: 120_000 }, async () => {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'demos', 'serve.ts'), '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    const origin = await new Promise<string>((resolve, reject) => {
      let out = '';
      const timer = setTimeout(() => reject(new Error(`no address printed: ${out}`)), 100_000);
      child.stdout.on('data', (d: Buffer) => {
        out += d.toString();
        const m = /serving at (http:\/\/127\.0\.0\.1:\d+)\//.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      });
      child.on('exit', (code) => reject(new Error(`exited with ${code}: ${out}`)));
    });
    const page = await (await fetch(`${origin}/`)).text();
    assert.match(page, /<title>tinta: colorize a black-and-white photo<\/title>/);
  } finally {
    child.kill('SIGTERM');
  }
  const bad = spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'demos', 'serve.ts'), '--port', 'abc'], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  assert.equal(bad.status, 2, bad.stderr);
  assert.match(bad.stderr, /--port must be a number from 0 to 65535; got "abc"\. \[BAD_ARGUMENT\]/);
});

test('precacheManifest follows static, dynamic and new URL() imports, and its version follows the files', () => {
  const root = join(tmp, 'space');
  mkdirSync(join(root, 'lib'), { recursive: true });
  const files: Record<string, string> = {
    'index.html': '<script type="module" src="/main.js"></script>',
    'main.js': "import { a } from './lib/a.js';\nimport './lib/side.js';\nconst w = new URL('./lib/worker.js', import.meta.url);\nimport x from 'bare-package';",
    'lib/a.js': "export * from './b.js';\nexport const later = () => import('../lazy.js');",
    'lib/b.js': "// import('./not-a-file.js') only matches text\nexport const b = 1;",
    'lib/side.js': '',
    'lib/worker.js': "import '../shared.js';",
    'shared.js': '',
    'lazy.js': '',
    'data.bin': 'x',
    'unused.js': '',
  };
  for (const [f, text] of Object.entries(files)) writeFileSync(join(root, f), text);
  const space: UrlSpace = { fileFor: (p) => join(root, p === '/' ? 'index.html' : p.slice(1)), rewriteJs: (_p, code) => code };
  const m = precacheManifest(space, { entries: ['/', '/main.js'], extras: ['/data.bin'] });
  assert.deepEqual(m.urls, ['/', '/data.bin', '/lazy.js', '/lib/a.js', '/lib/b.js', '/lib/side.js', '/lib/worker.js', '/main.js', '/shared.js']);
  assert.deepEqual(importsOf('/lib/a.js', files['lib/a.js']!).sort(), ['/lazy.js', '/lib/b.js']);

  assert.equal(precacheManifest(space, { entries: ['/', '/main.js'], extras: ['/data.bin'] }).version, m.version, 'same files, same version');
  utimesSync(join(root, 'shared.js'), new Date(), new Date(Date.now() + 5000));
  assert.notEqual(precacheManifest(space, { entries: ['/', '/main.js'], extras: ['/data.bin'] }).version, m.version, 'a changed file changes the version');
  assert.throws(() => precacheManifest(space, { entries: ['/'], extras: ['/missing.wasm'] }), (e) => isTintaError(e, 'BAD_ARGUMENT') && /missing\.wasm/.test(e.message));
  assert.throws(() => injectManifest('// no placeholder', m), (e) => isTintaError(e, 'BAD_ARGUMENT'));
  assert.match(injectManifest(`${PRECACHE_PLACEHOLDER}\nrest`, m), /^const PRECACHE = \{"version":"[0-9a-f]{16}","urls":\["\/",/);
});
