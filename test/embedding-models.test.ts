// `tinta models fetch | list | info`: downloads from a real HTTP server on 127.0.0.1, verified by size
// and sha256 through a temp file; interrupted or mismatching downloads never count as cached.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { isTintaError } from '../sdk/errors.ts';
import { CLASSIFIERS, findLocal, type ClassifierEntry } from '../trainer/embedding/catalog.ts';
import { fetchModel } from '../trainer/embedding/fetch.ts';
import { listModels } from '../trainer/embedding/list.ts';
import { classifierWeights, inProcess, onnxClassifier, testDescriptor } from './embedding-fixtures.ts';
import { buildTestModel } from './sdk-fixtures.ts';

const root = mkdtempSync(join(tmpdir(), 'tinta-embedding-models-'));
const BIN = new URL('../bin/tinta.mjs', import.meta.url).pathname;
const body = randomBytes(300_000);
const sha256 = createHash('sha256').update(body).digest('hex');
const requests: string[] = [];
let server: Server;
let base = '';

before(async () => {
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    const url = req.url ?? '';
    if (url.startsWith('/good/')) {
      res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
      res.end(body);
    } else if (url.startsWith('/redirect/')) {
      res.writeHead(302, { location: url.replace('/redirect/', '/good/') });
      res.end();
    } else if (url.startsWith('/other/')) {
      // Same size, different bytes.
      const other = Buffer.from(body);
      other[1000] = other[1000]! ^ 1;
      res.writeHead(200, { 'content-length': other.length });
      res.end(other);
    } else if (url.startsWith('/cut/')) {
      // Announces the whole file, sends a third, then drops the connection.
      res.writeHead(200, { 'content-length': body.length });
      res.write(body.subarray(0, 100_000), () => setTimeout(() => res.socket?.destroy(), 20));
    } else if (url.startsWith('/short/')) {
      res.writeHead(200, { 'content-length': 1234 });
      res.end(Buffer.alloc(1234));
    } else {
      res.writeHead(404);
      res.end('not found');
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const addr = server.address() as { port: number };
  base = `http://127.0.0.1:${addr.port}`;
});

after(() => new Promise<void>((r) => server.close(() => r())));

function catalog(path: string): Record<string, ClassifierEntry> {
  return {
    testnet: {
      name: 'testnet', file: 'testnet.onnx', format: 'onnx', url: `${base}${path}`, sha256, bytes: body.length,
      licence: 'test', description: 'test classifier', descriptor: testDescriptor('NCHW'),
    },
  };
}

/** Files in `dir` (temp files included: none may be left behind). */
const filesIn = (dir: string) => (existsSync(dir) ? readdirSync(dir).sort() : []);

describe('fetchModel', () => {
  test('downloads, verifies and renames into place; a second fetch is served from the verified file', async () => {
    const dir = join(root, 'ok');
    const seen: number[] = [];
    const r = await fetchModel('testnet', { dir, catalog: catalog('/redirect/testnet.onnx'), onProgress: (p) => { if (p.status === 'download') seen.push(p.loaded); } });
    assert.equal(r.cached, false);
    assert.equal(r.sha256, sha256);
    assert.deepEqual(filesIn(dir), ['testnet.onnx']);
    assert.ok(readFileSync(join(dir, 'testnet.onnx')).equals(body));
    assert.equal(seen.at(-1), body.length);
    const n = requests.length;
    const again = await fetchModel('testnet', { dir, catalog: catalog('/good/testnet.onnx') });
    assert.equal(again.cached, true);
    assert.equal(requests.length, n, 'no request for a verified file');
  });

  test('a download cut short, a wrong hash, a wrong size or a 404 leave nothing behind', async () => {
    const cases: [string, string, RegExp][] = [
      ['/cut/testnet.onnx', 'DOWNLOAD_FAILED', /interrupted|ended after/],
      ['/other/testnet.onnx', 'MODEL_INTEGRITY', /sha256 [0-9a-f]{64}, not the pinned/],
      ['/short/testnet.onnx', 'MODEL_INTEGRITY', /announces 1\.2 KiB/],
      ['/missing/testnet.onnx', 'DOWNLOAD_FAILED', /HTTP 404/],
    ];
    for (const [path, code, re] of cases) {
      const dir = join(root, `bad-${path.split('/')[1]}`);
      await assert.rejects(fetchModel('testnet', { dir, catalog: catalog(path) }), (e) => isTintaError(e, code as never) && re.test((e as Error).message), path);
      assert.deepEqual(filesIn(dir), [], `${path}: no file and no temp file`);
    }
  });

  test('a damaged file in the models folder is not taken as cached: it is downloaded again', async () => {
    const dir = join(root, 'damaged');
    await fetchModel('testnet', { dir, catalog: catalog('/good/testnet.onnx') });
    const damaged = Buffer.from(body);
    damaged[5] = damaged[5]! ^ 0xff;
    writeFileSync(join(dir, 'testnet.onnx'), damaged);
    assert.equal((await findLocal(catalog('/good/x').testnet!, dir)).verified, false);
    const n = requests.length;
    const r = await fetchModel('testnet', { dir, catalog: catalog('/good/testnet.onnx') });
    assert.equal(r.cached, false);
    assert.equal(requests.length, n + 1);
    assert.ok(readFileSync(join(dir, 'testnet.onnx')).equals(body));
  });

  test('--from installs a local copy only when it is the published file; a mirror base URL keeps the pinned hash', async () => {
    const dir = join(root, 'from');
    const wrong = join(root, 'wrong.bin');
    writeFileSync(wrong, randomBytes(body.length));
    await assert.rejects(fetchModel('testnet', { dir, from: wrong, catalog: catalog('/good/testnet.onnx') }), (e) => isTintaError(e, 'MODEL_INTEGRITY'));
    assert.deepEqual(filesIn(dir), []);
    const right = join(root, 'right.bin');
    writeFileSync(right, body);
    const r = await fetchModel('testnet', { dir, from: right, catalog: catalog('/good/testnet.onnx') });
    assert.equal(r.from, right);
    assert.deepEqual(filesIn(dir), ['testnet.onnx']);
    const m = await fetchModel('testnet', { dir: join(root, 'mirror'), baseUrl: `${base}/good/`, catalog: catalog('/missing/testnet.onnx') });
    assert.equal(m.from, `${base}/good/testnet.onnx`);
    await assert.rejects(fetchModel('nope', { dir }), (e) => isTintaError(e, 'BAD_ARGUMENT') && /mobilenetv2/.test((e as Error).message));
    await assert.rejects(fetchModel('inception-resnet-v2', { dir }), (e) => isTintaError(e, 'MODEL_NOT_FOUND') && /tf2onnx/.test((e as Error).message));
  });
});

describe('tinta models', () => {
  const run = (args: string[], env: Record<string, string> = {}) =>
    promisify(execFile)(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, env: { ...process.env, ...env } })
      .then((r) => ({ code: 0, ...r }), (e: { code: number; stdout: string; stderr: string }) => e);

  test('fetch mobilenetv2 from a mirror that serves the wrong file fails with MODEL_INTEGRITY and keeps nothing', async () => {
    const dir = join(root, 'cli-models');
    const r = await run(['models', 'fetch', 'mobilenetv2', '--dir', dir], { TINTA_MODELS_BASE_URL: `${base}/short` });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /short\/mobilenetv2-12-int8\.onnx announces 1\.2 KiB; the published file has 3\.5 MiB.*\[MODEL_INTEGRITY\]/);
    assert.deepEqual(filesIn(dir), []);
    assert.ok(requests.includes('/short/mobilenetv2-12-int8.onnx'));
  });

  test('list shows the catalog and what is present; info shows a tinta model\'s metadata and a classifier\'s tensors', async () => {
    const dir = join(root, 'cli-list');
    const l = await inProcess(['models', 'list', '--dir', dir, '--json']);
    assert.equal(l.code, 0, l.stderr);
    const listed = JSON.parse(l.stdout) as Awaited<ReturnType<typeof listModels>>;
    assert.equal(listed.dir, dir);
    const mnv2 = listed.models.find((m) => m.name === 'mobilenetv2')!;
    assert.deepEqual([mnv2.kind, mnv2.present, mnv2.url], ['embedding', false, CLASSIFIERS.mobilenetv2!.url]);
    assert.ok(listed.models.some((m) => m.kind === 'colorizer' && m.name === 'default'));
    const text = await run(['models', 'list'], { TINTA_MODELS: dir });
    assert.match(text.stdout, new RegExp(`models folder: ${dir}`));
    assert.match(text.stdout, /mobilenetv2 +not present/);

    const cls = join(root, 'classifier.onnx');
    writeFileSync(cls, onnxClassifier(classifierWeights(3)));
    const a = await inProcess(['models', 'info', cls]);
    assert.equal(a.code, 0, a.stderr);
    assert.match(a.stdout, /input  input float32 \[N, 3, 32, 32\]/);
    assert.match(a.stdout, /output output float32 \[N, 1000\]/);
    assert.match(a.stdout, /no tinta metadata/);
    const col = join(root, 'colorizer.onnx');
    writeFileSync(col, buildTestModel());
    const b = await inProcess(['models', 'info', col]);
    assert.equal(b.code, 0, b.stderr);
    assert.match(b.stdout, /tinta colorizer \(format 1\), fp32: 112 ab buckets \(seed\), temperature 0\.38/);
    const c = await inProcess(['models', 'info', join(root, 'missing.onnx')]);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /MODEL_NOT_FOUND/);
  });
});
