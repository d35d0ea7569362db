// Builds the SDK into dist/: ESM for the browser, Node and Deno entries and their worker entries,
// one file per source module (dist/ mirrors sdk/, so every `new URL('./…', import.meta.url)` keeps
// pointing at the same neighbour), plus rolled-up type declarations per entry.
//
// - TypeScript is transpiled per file (ts.transpileModule: the sources are isolatedModules-safe;
//   type checking is `npm run typecheck`). Imports keep their `.ts` paths, which Rollup resolves as
//   files; `new URL('./x.ts', import.meta.url)` literals are rewritten to `./x.js`, so the built
//   code has the literal `new Worker(new URL('./worker/entry-browser.js', import.meta.url))` that
//   bundlers (Vite, webpack) recognise and bundle as a worker.
// - comlink is bundled in (dist/vendor/); onnxruntime-web, onnxruntime-node, sharp and node:
//   built-ins stay imports, resolved by the app's bundler or runtime.
// - Shipped models (models/<file> of sdk/models/manifest.ts) are copied to dist/models/, next to
//   the built manifest; any .wasm under sdk/ is copied to the same relative place in dist/.
import { cpSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { nodeResolve } from '@rollup/plugin-node-resolve';
import { dts } from 'rollup-plugin-dts';

const root = dirname(fileURLToPath(import.meta.url));
const sdk = join(root, 'sdk');
const out = join(root, 'dist');

const ENTRIES = {
  browser: 'sdk/browser.ts',
  node: 'sdk/node.ts',
  deno: 'sdk/deno.ts',
  'worker/entry-browser': 'sdk/worker/entry-browser.ts',
  'worker/entry-node': 'sdk/worker/entry-node.ts',
  'worker/entry-deno': 'sdk/worker/entry-deno.ts',
};
const TYPED_ENTRIES = { browser: 'sdk/browser.ts', node: 'sdk/node.ts', deno: 'sdk/deno.ts' };

// Left to the app's bundler / runtime: big, native, or platform built-ins.
const EXTERNAL = (id) => id.startsWith('node:') || /^(onnxruntime-web|onnxruntime-node|sharp)(\/|$)/.test(id);

const COMPILER_OPTIONS = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  verbatimModuleSyntax: true,
  sourceMap: true,
  inlineSources: false,
};

/** Strips types file by file (fast; the sources compile under isolatedModules). */
function transpileTs() {
  return {
    name: 'tinta-transpile-ts',
    transform(code, id) {
      if (!id.endsWith('.ts') || id.endsWith('.d.ts')) return null;
      const r = ts.transpileModule(code, { compilerOptions: COMPILER_OPTIONS, fileName: id, reportDiagnostics: true });
      const errors = (r.diagnostics ?? []).filter((d) => d.category === ts.DiagnosticCategory.Error);
      if (errors.length) this.error(ts.flattenDiagnosticMessageText(errors[0].messageText, '\n'));
      return { code: r.outputText, map: r.sourceMapText ? JSON.parse(r.sourceMapText) : null };
    },
  };
}

/** `new URL('./x.ts', import.meta.url)` -> `new URL('./x.js', import.meta.url)`: worker entries and assets by their built names. */
function rewriteUrlExtensions() {
  const re = /new URL\((['"])(\.{1,2}\/[^'"]+)\.ts\1,\s*import\.meta\.url\)/g;
  return {
    name: 'tinta-url-extensions',
    renderChunk(code) {
      if (!re.test(code)) return null;
      re.lastIndex = 0;
      return { code: code.replace(re, (_m, q, path) => `new URL(${q}${path}.js${q}, import.meta.url)`), map: null };
    },
  };
}

function listFiles(dir, keep) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? listFiles(p, keep) : keep(p) ? [p] : [];
  });
}

/** Cleans dist/ first; copies shipped models and sdk/**\/*.wasm after writing. */
function assets() {
  return {
    name: 'tinta-assets',
    buildStart() {
      rmSync(out, { recursive: true, force: true });
    },
    async writeBundle() {
      for (const f of listFiles(sdk, (p) => p.endsWith('.wasm'))) {
        const to = join(out, relative(sdk, f));
        mkdirSync(dirname(to), { recursive: true });
        cpSync(f, to);
      }
      // Only the files the manifest names; a model not published yet is simply absent.
      const { SHIPPED_MODELS } = await import(new URL('./dist/models/manifest.js', import.meta.url).href + `?t=${Date.now()}`);
      for (const m of Object.values(SHIPPED_MODELS)) {
        const from = join(root, 'models', m.file);
        if (existsSync(from)) cpSync(from, join(out, 'models', m.file));
      }
    },
  };
}

/** Vendored modules (node_modules/x/…/y.mjs) land in dist/vendor/x/y.js: npm never packs a nested node_modules. */
function fileName(chunk) {
  const id = chunk.facadeModuleId ?? '';
  const at = id.lastIndexOf(`${sep}node_modules${sep}`);
  if (at === -1) return '[name].js';
  const [pkg, ...rest] = id.slice(at + 14).split(sep);
  return `vendor/${pkg}/${rest.at(-1).replace(/\.(m|c)?js$/, '')}.js`;
}

export default [
  {
    input: ENTRIES,
    external: EXTERNAL,
    plugins: [assets(), nodeResolve({ extensions: ['.ts', '.mjs', '.js'] }), transpileTs(), rewriteUrlExtensions()],
    output: {
      dir: out,
      format: 'es',
      preserveModules: true,
      preserveModulesRoot: 'sdk',
      entryFileNames: fileName,
      sourcemap: true,
    },
  },
  {
    input: TYPED_ENTRIES,
    external: EXTERNAL,
    plugins: [
      dts({
        tsconfig: join(root, 'tsconfig.json'),
        compilerOptions: { noEmit: false, emitDeclarationOnly: true, declaration: true, allowImportingTsExtensions: true },
      }),
    ],
    output: { dir: out, format: 'es', entryFileNames: '[name].d.ts', chunkFileNames: 'types/[name]-[hash].d.ts' },
  },
];
