// Model loading: downloads with progress, the file cache (temp file + rename, hit on the second
// load, stale entries replaced), sha256 verification, HTTP failures, cancellation, file: URLs
// and a caller's own { match, put } cache. A local HTTP server stands in for the network.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { AddressInfo } from 'node:net';
import { createColorizer, ErrorCodes, TintaError, type ModelCache, type Progress } from '../sdk/node.ts';
import { cacheFileName } from '../sdk/loader/cache-node.ts';
import { buildTestModel } from './sdk-fixtures.ts';

const MODEL = buildTestModel();
const SHA = createHash('sha256').update(MODEL).digest('hex');
let server: Server;
let base = '';
const hits = new Map<string, number>();
let dir = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'tinta-loader-'));
  server = createServer((req, res) => {
    const url = req.url ?? '';
    hits.set(url, (hits.get(url) ?? 0) + 1);
    if (url.startsWith('/model')) {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(MODEL.length) });
      // Two chunks, so progress has something to report (far enough apart not to be read as one).
      res.write(MODEL.subarray(0, 1000));
      setTimeout(() => res.end(MODEL.subarray(1000)), 100);
    } else if (url === '/cut') {
      res.writeHead(200, { 'content-length': String(MODEL.length) });
      res.write(MODEL.subarray(0, 500));
      setTimeout(() => res.destroy(), 5);
    } else if (url === '/stall') {
      res.writeHead(200, { 'content-length': String(MODEL.length) });
      res.write(MODEL.subarray(0, 500)); // and never more
    } else {
      res.writeHead(404).end('not here');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

after(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (e) {
    assert.ok(e instanceof TintaError, String(e));
    return e.code;
  }
}

const opts = { worker: false, threads: 1 } as const;

test('a URL model is downloaded with progress, cached by temp file + rename, and read from the cache next time', async () => {
  const cacheDir = join(dir, 'c1');
  const url = `${base}/model-a.onnx`;
  const events: Progress[] = [];
  const c = await createColorizer({ ...opts, model: url, cache: cacheDir, onProgress: (p) => events.push(p) });
  await c.dispose();
  const downloads = events.filter((e) => e.status === 'download');
  // At least the start and the end; on a loaded machine the two chunks may still arrive as one read.
  assert.ok(downloads.length >= 2, 'start and end');
  for (let i = 1; i < downloads.length; i++) {
    assert.ok((downloads[i] as { loaded: number }).loaded >= (downloads[i - 1] as { loaded: number }).loaded, 'loaded never goes back');
  }
  assert.deepEqual(downloads.at(-1), { status: 'download', url, loaded: MODEL.length, total: MODEL.length, cached: false });
  assert.deepEqual(events.slice(downloads.length).map((e) => e.status), ['session', 'ready']);
  assert.deepEqual(readdirSync(join(cacheDir, 'models')), [cacheFileName(url)], 'one file, no temporary left');
  const again: Progress[] = [];
  const c2 = await createColorizer({ ...opts, model: url, cache: cacheDir, sha256: SHA, onProgress: (p) => again.push(p) });
  await c2.dispose();
  assert.equal(hits.get('/model-a.onnx'), 1, 'the second load did not download');
  assert.deepEqual(again.map((e) => e.status), ['download', 'verify', 'session', 'ready']);
  assert.deepEqual(again[0], { status: 'download', url, loaded: MODEL.length, total: MODEL.length, cached: true });
});

test('a wrong sha256 is MODEL_INTEGRITY and nothing is cached; a stale cache entry is replaced', async () => {
  const cacheDir = join(dir, 'c2');
  const url = `${base}/model-b.onnx`;
  assert.equal(await codeOf(createColorizer({ ...opts, model: url, cache: cacheDir, sha256: 'ab'.repeat(32) })), ErrorCodes.MODEL_INTEGRITY);
  assert.ok(!existsSync(cacheDir) || readdirSync(join(cacheDir, 'models')).length === 0, 'nothing written');
  // Plant a corrupt cache entry: with a sha256 it is detected, re-downloaded and replaced.
  const c = await createColorizer({ ...opts, model: url, cache: cacheDir });
  await c.dispose();
  writeFileSync(join(cacheDir, 'models', cacheFileName(url)), 'garbage');
  const events: Progress[] = [];
  const c2 = await createColorizer({ ...opts, model: url, cache: cacheDir, sha256: SHA, onProgress: (p) => events.push(p) });
  await c2.dispose();
  assert.ok(events.some((e) => e.status === 'warning' && e.code === 'CACHE_STALE'));
  assert.equal(hits.get('/model-b.onnx'), 3);
  const c3 = await createColorizer({ ...opts, model: url, cache: cacheDir, sha256: SHA });
  await c3.dispose();
  assert.equal(hits.get('/model-b.onnx'), 3, 'the replaced entry is good');
});

test('HTTP 404 is MODEL_NOT_FOUND, a cut-off download DOWNLOAD_FAILED, an aborted one ABORTED', async () => {
  assert.equal(await codeOf(createColorizer({ ...opts, model: `${base}/nothing.onnx`, cache: false })), ErrorCodes.MODEL_NOT_FOUND);
  assert.equal(await codeOf(createColorizer({ ...opts, model: `${base}/cut`, cache: false })), ErrorCodes.DOWNLOAD_FAILED);
  const ctrl = new AbortController();
  const p = createColorizer({
    ...opts,
    model: `${base}/stall`,
    cache: false,
    signal: ctrl.signal,
    onProgress: (e) => { if (e.status === 'download' && e.loaded > 0) ctrl.abort(); },
  });
  assert.equal(await codeOf(p), ErrorCodes.ABORTED);
  assert.equal(await codeOf(createColorizer({ ...opts, model: MODEL, signal: AbortSignal.abort() })), ErrorCodes.ABORTED);
});

test('cache: true uses $TINTA_CACHE; file: URLs and a custom { match, put } cache work', async () => {
  const envDir = join(dir, 'env');
  const old = process.env.TINTA_CACHE;
  process.env.TINTA_CACHE = envDir;
  try {
    const c = await createColorizer({ ...opts, model: `${base}/model-c.onnx` });
    await c.dispose();
    assert.deepEqual(readdirSync(join(envDir, 'models')), [cacheFileName(`${base}/model-c.onnx`)]);
  } finally {
    if (old === undefined) delete process.env.TINTA_CACHE;
    else process.env.TINTA_CACHE = old;
  }
  const file = join(dir, 'm.onnx');
  writeFileSync(file, MODEL);
  const fromUrl = await createColorizer({ ...opts, model: pathToFileURL(file), sha256: SHA });
  assert.equal(fromUrl.info.buckets.count, 112);
  await fromUrl.dispose();
  const store = new Map<string, Uint8Array>();
  const mine: ModelCache = { match: async (k) => store.get(k), put: async (k, b) => void store.set(k, b) };
  const c1 = await createColorizer({ ...opts, model: `${base}/model-d.onnx`, cache: mine });
  await c1.dispose();
  const c2 = await createColorizer({ ...opts, model: `${base}/model-d.onnx`, cache: mine });
  await c2.dispose();
  assert.equal(store.size, 1);
  assert.equal(hits.get('/model-d.onnx'), 1);
});
