// Builds the colour WebAssembly kernels: compiles sdk/color/wasm/kernels.ts (AssemblyScript) and writes
// the .wasm bytes as base64 into sdk/color/wasm/kernels.wasm.ts, so that every runtime (browser bundles,
// Node, Deno) gets the module without loading a file or URL. Run: npm run build:wasm
// `node sdk/color/wasm/build.mjs --check` only verifies that the generated module is up to date.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const source = join(root, 'sdk/color/wasm/kernels.ts');
const target = join(root, 'sdk/color/wasm/kernels.wasm.ts');
const FLAGS = ['-O3', '--noAssert', '--enable', 'simd', '--runtime', 'stub', '--use', 'abort=', '--initialMemory', '0'];
// Chrome refuses synchronous compilation of larger modules on the main thread; lab.ts relies on it
// to switch to the kernels on first use without an awaited initColorKernels().
const SYNC_COMPILE_LIMIT = 4096;

const require = createRequire(import.meta.url);
const ascPkg = require.resolve('assemblyscript/package.json', { paths: [root] });
const ascVersion = JSON.parse(readFileSync(ascPkg, 'utf8')).version;
const ascBin = join(ascPkg, '..', 'bin', 'asc.js');

const srcText = readFileSync(source, 'utf8');
const srcHash = createHash('sha256').update(srcText).digest('hex');

const dir = mkdtempSync(join(tmpdir(), 'tinta-wasm-'));
let bytes;
try {
  const outFile = join(dir, 'kernels.wasm');
  const r = spawnSync(process.execPath, [ascBin, relative(root, source), '-o', outFile, ...FLAGS], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`asc failed (exit ${r.status})`);
    process.exit(1);
  }
  bytes = readFileSync(outFile);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

const b64 = bytes.toString('base64');
const wasmHash = createHash('sha256').update(bytes).digest('hex');
const lines = [];
for (let i = 0; i < b64.length; i += 100) lines.push(`  '${b64.slice(i, i + 100)}'`);
const text = `// GENERATED FILE, DO NOT EDIT. Regenerate with: npm run build:wasm (sdk/color/wasm/build.mjs)
// From: sdk/color/wasm/kernels.ts (sha256 ${srcHash})
// Compiler: AssemblyScript ${ascVersion}, asc ${FLAGS.join(' ')}
// Module: ${bytes.length} bytes (sha256 ${wasmHash})

/** sha256 of the AssemblyScript source this module was compiled from (tests check it is current). */
export const KERNELS_SOURCE_SHA256 = '${srcHash}';

/** The WebAssembly module (SIMD), base64. */
export const KERNELS_WASM_BASE64 =
${lines.join(' +\n')};
`;

if (process.argv.includes('--check')) {
  let current = '';
  try { current = readFileSync(target, 'utf8'); } catch { /* missing */ }
  if (current !== text) {
    console.error(`${relative(root, target)} is out of date: run npm run build:wasm`);
    process.exit(1);
  }
  console.log(`${relative(root, target)} is up to date (${bytes.length} bytes)`);
} else {
  writeFileSync(target, text);
  console.log(`wrote ${relative(root, target)}: ${bytes.length} bytes of wasm, ${text.length} characters`);
}
if (bytes.length > SYNC_COMPILE_LIMIT) {
  console.warn(`warning: the module is ${bytes.length} bytes, over ${SYNC_COMPILE_LIMIT}: browsers' main threads will only use it after await initColorKernels()`);
}
