// Every SDK entry point imports cleanly in Node with no side effects: no ONNX Runtime, no sharp
// (no native module loaded), no globals touched, until a colorizer is created. Also: the frozen
// backend table and runtime facts, and tiny/odd image sizes through the pipeline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { BACKEND_TABLE, providersForPrecision, resolveBackend } from '../sdk/backends.ts';
import { runtimeFacts } from '../sdk/env.ts';
import { ErrorCodes, TintaError } from '../sdk/errors.ts';
import { createColorizer } from '../sdk/node.ts';
import { buildTestModel, syntheticPhoto } from './sdk-fixtures.ts';

test('importing sdk/node.ts, sdk/browser.ts and sdk/deno.ts loads no native module and sets no globals', () => {
  const code = `
    const loaded = [];
    const dlopen = process.dlopen;
    process.dlopen = function (m, file, ...rest) { loaded.push(String(file)); return dlopen.call(this, m, file, ...rest); };
    const before = new Set(Object.getOwnPropertyNames(globalThis));
    const entries = {};
    for (const e of ['node', 'browser', 'deno']) entries[e] = Object.keys(await import('./sdk/' + e + '.ts')).sort();
    const added = Object.getOwnPropertyNames(globalThis).filter((k) => !before.has(k));
    console.log(JSON.stringify({ loaded, added, entries }));
  `;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { loaded: string[]; added: string[]; entries: Record<string, string[]> };
  assert.deepEqual(out.loaded, [], 'native modules loaded at import');
  assert.deepEqual(out.added, [], 'globals added at import');
  for (const e of ['node', 'browser', 'deno']) {
    for (const name of ['createColorizer', 'TintaError', 'ErrorCodes', 'SHIPPED_MODELS', 'DEFAULT_MODEL']) {
      assert.ok(out.entries[e]!.includes(name), `sdk/${e}.ts exports ${name}`);
    }
  }
});

test('the backend table is frozen; unknown backends list the valid ones', () => {
  assert.ok(Object.isFrozen(BACKEND_TABLE) && Object.isFrozen(BACKEND_TABLE.node) && Object.isFrozen(BACKEND_TABLE.node.auto));
  assert.deepEqual(resolveBackend('auto', 'node'), ['native', 'wasm']);
  assert.deepEqual(resolveBackend('auto', 'browser'), ['webgpu', 'wasm']);
  assert.deepEqual(resolveBackend('auto', 'deno'), ['wasm']);
  assert.throws(() => resolveBackend('native', 'browser'), (e: unknown) => e instanceof TintaError && e.code === ErrorCodes.BACKEND_UNAVAILABLE && /'auto', 'webgpu', 'wasm'/.test(e.message));
  assert.throws(() => resolveBackend('toString', 'node'), (e: unknown) => e instanceof TintaError && e.code === ErrorCodes.BACKEND_UNAVAILABLE);
  const facts = runtimeFacts();
  assert.ok(Object.isFrozen(facts));
  assert.equal(facts.runtime, 'node');
  assert.equal(facts.inWorker, false);
  assert.equal(facts.hasWebGPUApi, false);
});

test("'auto' runs int8 models on wasm, not WebGPU; a named 'webgpu' or another precision is kept", () => {
  assert.deepEqual(providersForPrecision(['webgpu', 'wasm'], 'int8', 'auto'), { providers: ['wasm'], skippedWebgpu: true });
  assert.deepEqual(providersForPrecision(['webgpu', 'wasm'], 'fp32', 'auto'), { providers: ['webgpu', 'wasm'], skippedWebgpu: false });
  assert.deepEqual(providersForPrecision(['webgpu', 'wasm'], 'fp16', 'auto'), { providers: ['webgpu', 'wasm'], skippedWebgpu: false });
  assert.deepEqual(providersForPrecision(['webgpu'], 'int8', 'webgpu'), { providers: ['webgpu'], skippedWebgpu: false });
  // Nothing else left: WebGPU is not dropped.
  assert.deepEqual(providersForPrecision(['webgpu'], 'int8', 'auto'), { providers: ['webgpu'], skippedWebgpu: false });
  assert.deepEqual(providersForPrecision(['native', 'wasm'], 'int8', 'auto'), { providers: ['native', 'wasm'], skippedWebgpu: false });
});

test('tiny and extreme-aspect images come back at their exact size', async () => {
  const c = await createColorizer({ model: buildTestModel(), worker: false, threads: 1 });
  try {
    for (const [w, h] of [[1, 1], [1, 7], [7, 1], [2, 3], [1000, 3], [17, 9]] as const) {
      const r = await c.colorize({ data: syntheticPhoto(w, h), width: w, height: h });
      assert.deepEqual([r.width, r.height, r.rgba().length, r.ab().b.length], [w, h, w * h * 4, w * h]);
      assert.ok(r.ab().a.every(Number.isFinite));
    }
  } finally {
    await c.dispose();
  }
});
