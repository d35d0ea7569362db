// The built package (dist/, made by `npm run build` through sdk-dist-build.ts): every entry,
// worker entry and declaration file is there; package exports pick the browser, Node and Deno
// builds by condition; the browser build reaches no Node built-in, sharp or onnxruntime-node and
// names its worker with a literal URL bundlers can follow; the Node build runs its worker without
// tsx and gives the sources' colours; the shipped-model path stays inside dist; a consumer
// type-checks against the declarations; unused parts tree-shake away.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { rollup } from 'rollup';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import { createColorizer } from '../sdk/node.ts';
import { ensureDist, DIST, ROOT } from './sdk-dist-build.ts';
import { buildTestModel, syntheticPhoto } from './sdk-fixtures.ts';
import { countOff } from './sdk-dist-compare.ts';

before(async () => {
  await ensureDist();
});

const ENTRIES = ['browser', 'node', 'deno'] as const;

/** Every module specifier a built file imports (static, re-export, dynamic with a literal). */
function importsOf(code: string): string[] {
  const out: string[] = [];
  const re = /\b(?:import|export)\s*(?:[\w*{}\s,$]+\s*from\s*)?(['"])([^'"]+)\1|\bimport\s*\(\s*(['"])([^'"]+)\3\s*\)/g;
  for (const m of code.matchAll(re)) out.push(m[2] ?? m[4]!);
  return out;
}

/** The files reachable from `entries` through relative imports, and the bare specifiers they use. */
function closure(entries: string[]): { files: string[]; bare: Set<string> } {
  const seen = new Set<string>();
  const bare = new Set<string>();
  const todo = [...entries];
  while (todo.length) {
    const f = todo.pop()!;
    if (seen.has(f)) continue;
    seen.add(f);
    for (const spec of importsOf(readFileSync(f, 'utf8'))) {
      if (spec.startsWith('.')) {
        const next = resolve(dirname(f), spec);
        assert.ok(existsSync(next), `${relative(ROOT, f)} imports ${spec}, which is not in dist`);
        todo.push(next);
      } else bare.add(spec);
    }
  }
  return { files: [...seen], bare };
}

test('npm run build emits ESM entries, worker entries and declarations for browsers, Node and Deno', () => {
  for (const e of ENTRIES) {
    for (const f of [`${e}.js`, `${e}.d.ts`, `worker/entry-${e}.js`]) assert.ok(existsSync(join(DIST, f)), `dist/${f}`);
    const dts = readFileSync(join(DIST, `${e}.d.ts`), 'utf8');
    assert.match(dts, /export \{[^}]*\bcreateColorizer\b/, `dist/${e}.d.ts exports createColorizer`);
    // Worker entries are served as they are: all their imports must resolve inside dist.
    closure([join(DIST, `${e}.js`), join(DIST, `worker/entry-${e}.js`)]);
  }
  assert.ok(!existsSync(join(DIST, 'node_modules')), 'npm never packs a nested node_modules: vendored code goes to dist/vendor');
});

test('package exports pick dist/browser.js, dist/node.js or dist/deno.js by condition', () => {
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { sideEffects: unknown; files: string[] };
  assert.ok(pkg.files.includes('dist'), 'package.json files ships dist (it is git-ignored, so npm would leave it out)');
  assert.ok(Array.isArray(pkg.sideEffects), 'package.json declares sideEffects (only the worker entries have any)');
  const cases: [string[], string, string][] = [
    [[], 'tinta', 'dist/node.js'],
    [['--conditions=browser'], 'tinta', 'dist/browser.js'],
    [['--conditions=deno'], 'tinta', 'dist/deno.js'],
    [[], 'tinta/browser', 'dist/browser.js'],
    [[], 'tinta/deno', 'dist/deno.js'],
    [[], 'tinta/node', 'dist/node.js'],
  ];
  for (const [flags, spec, want] of cases) {
    // Self-reference: from inside the package, its own name resolves through its exports.
    const r = spawnSync(process.execPath, [...flags, '--input-type=module', '-e', `console.log(import.meta.resolve(${JSON.stringify(spec)}))`], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(relative(ROOT, fileURLToPath(r.stdout.trim())), want, `${flags.join(' ')} ${spec}`);
  }
});

test('the browser build reaches no node: built-in, sharp or onnxruntime-node, and names its worker with a literal URL', () => {
  const { files, bare } = closure([join(DIST, 'browser.js'), join(DIST, 'worker/entry-browser.js')]);
  assert.deepEqual([...bare].sort(), ['onnxruntime-web'], `bare imports of the browser build: ${[...bare].join(', ')}`);
  for (const f of files) {
    const code = readFileSync(f, 'utf8');
    for (const bad of [/['"]node:/, /['"]sharp['"]/, /['"]onnxruntime-node['"]/, /\brequire\(/]) assert.doesNotMatch(code, bad, relative(ROOT, f));
  }
  assert.ok(!files.some((f) => /image[\\/]node\.js$|cache-node\.js$|spawn-node\.js$/.test(f)), 'Node-only modules are not reachable');
  // The form Vite and webpack recognise: new Worker(new URL('<literal>', import.meta.url), { type: 'module' ... }).
  const browser = readFileSync(join(DIST, 'browser.js'), 'utf8');
  assert.match(browser, /new Worker\(new URL\('\.\/worker\/entry-browser\.js', import\.meta\.url\), \{ type: 'module'/);
  assert.match(readFileSync(join(DIST, 'deno.js'), 'utf8'), /new URL\('\.\/worker\/entry-deno\.js', import\.meta\.url\)/);
  assert.match(readFileSync(join(DIST, 'worker/spawn-node.js'), 'utf8'), /new Worker\(new URL\('\.\/entry-node\.js', import\.meta\.url\), \{/);
  for (const f of closure(ENTRIES.map((e) => join(DIST, `${e}.js`))).files) {
    assert.doesNotMatch(readFileSync(f, 'utf8'), /https?:\/\/(cdn|unpkg|esm\.sh)|jsdelivr/i, `${relative(ROOT, f)} points at a CDN`);
  }
});

test('the shipped-model manifest of the build resolves inside dist/models/', async () => {
  const m = (await import(pathToFileURL(join(DIST, 'models/manifest.js')).href)) as typeof import('../sdk/models/manifest.ts');
  for (const entry of Object.values(m.SHIPPED_MODELS)) {
    const file = fileURLToPath(m.shippedModelUrl(entry));
    assert.equal(relative(DIST, file), join('models', entry.file));
    if (existsSync(join(ROOT, 'models', entry.file))) assert.ok(existsSync(file), `the build copies models/${entry.file}`);
  }
});

test('the Node build, run by plain node (no tsx), colorizes in its built worker like the sources', async () => {
  const W = 97, H = 61;
  const dir = mkdtempSync(join(tmpdir(), 'tinta-dist-'));
  try {
    const model = buildTestModel();
    const photo = syntheticPhoto(W, H);
    writeFileSync(join(dir, 'model.onnx'), model);
    const script = `
      import { createColorizer } from 'tinta';
      import { readFileSync, writeFileSync } from 'node:fs';
      const dir = ${JSON.stringify(dir)};
      const model = readFileSync(dir + '/model.onnx');
      const data = new Uint8ClampedArray(readFileSync(dir + '/photo.rgba'));
      const out = {};
      for (const backend of ['native', 'wasm']) {
        const c = await createColorizer({ model, backend, worker: true, threads: 1, cache: false });
        const r = await c.colorize({ data, width: ${W}, height: ${H} });
        writeFileSync(dir + '/' + backend + '.rgba', r.rgba());
        out[backend] = { provider: r.provider, inWorker: c.inWorker };
        await c.dispose();
      }
      console.log(JSON.stringify({ out, execArgv: process.execArgv }));
    `;
    writeFileSync(join(dir, 'photo.rgba'), photo);
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: ROOT, encoding: 'utf8', timeout: 180_000 });
    assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
    const res = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { out: Record<string, { provider: string; inWorker: boolean }>; execArgv: string[] };
    assert.ok(!res.execArgv.some((a) => /tsx/.test(a)), `no TypeScript loader: ${res.execArgv.join(' ')}`);
    const ref = await createColorizer({ model, backend: 'native', worker: false, threads: 1, cache: false });
    try {
      const want = (await ref.colorize({ data: photo, width: W, height: H })).rgba();
      for (const backend of ['native', 'wasm']) {
        assert.deepEqual(res.out[backend], { provider: backend, inWorker: true });
        const got = new Uint8Array(readFileSync(join(dir, `${backend}.rgba`)));
        assert.ok(countOff(want, got) <= W * H * 0.001, `${backend}: ${countOff(want, got)} pixels differ by more than 1/255`);
      }
    } finally {
      await ref.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a TypeScript consumer type-checks against the declarations, per export condition', () => {
  // Inside the package, so its own name resolves (self-reference) through package.json exports.
  const dir = join(ROOT, '.cache', `dist-types-${process.pid}`);
  mkdirSync(dir, { recursive: true });
  try {
    writeFileSync(join(dir, 'consumer.ts'), `
      import { createColorizer, TintaError, ErrorCodes, type Colorizer, type NodeImageInput, type Progress } from 'tinta';
      import { createColorizer as forBrowser, type BrowserImageInput } from 'tinta/browser';
      import { createColorizer as forDeno, type DenoImageInput } from 'tinta/deno';
      export async function use(): Promise<number> {
        const events: Progress[] = [];
        const c: Colorizer<NodeImageInput> = await createColorizer({ model: 'm.onnx', backend: 'auto', onProgress: (e) => events.push(e) });
        const r = await c.colorize({ data: new Uint8ClampedArray(4), width: 1, height: 1 }, { saturation: 1.1 });
        const b = await forBrowser({ wasmPaths: '/ort/' });
        const img: BrowserImageInput = new URL('https://example.invalid/a.png');
        await b.colorize(img);
        const d = await forDeno({ worker: false });
        const di: DenoImageInput = 'photo.png';
        await d.colorize(di);
        const e = new TintaError(ErrorCodes.BAD_ARGUMENT, 'x');
        return r.rgba().length + r.timings.total + e.code.length + c.info.buckets.count;
      }
    `);
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, noEmit: true, lib: ['ES2022', 'DOM'], types: [], skipLibCheck: false },
      files: ['consumer.ts'],
    }));
    const tsc = join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = spawnSync(process.execPath, [tsc, '-p', join(dir, 'tsconfig.json')], { cwd: dir, encoding: 'utf8', timeout: 180_000 });
    assert.equal(r.status, 0, `tsc:\n${r.stdout}\n${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('importing one helper from the browser build tree-shakes the colorizer, ORT and the worker away', async () => {
  const bundle = await rollup({
    input: 'entry',
    plugins: [
      { name: 'entry', resolveId: (id) => (id === 'entry' ? id : null), load: (id) => (id === 'entry' ? `import { isTintaError } from 'tinta'; console.log(isTintaError(null));` : null) },
      // A bundler's view: the package by name, browser condition, package.json sideEffects honoured.
      nodeResolve({ browser: true, exportConditions: ['browser'], rootDir: ROOT }),
    ],
    onwarn: () => undefined,
  });
  const { output } = await bundle.generate({ format: 'es' });
  await bundle.close();
  const code = output.map((o) => ('code' in o ? o.code : '')).join('\n');
  assert.match(code, /function isTintaError/, 'tinta resolved to the browser build and bundled');
  assert.equal(output.length, 1, 'one chunk: no dynamic import of ORT survives');
  assert.doesNotMatch(code, /onnxruntime-web|new Worker|InferenceSession/);
  assert.ok(code.length < 8000, `bundle of isTintaError is ${code.length} chars`);
});
