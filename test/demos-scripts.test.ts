// The folder scripts demos/node/colorize-folder.mjs (Node, the package by its name -> dist/node.js)
// and demos/deno/colorize-folder.mjs (Deno from node_modules/.bin, dist/deno.js), run as child
// processes on a temp folder: two generated grayscale photos come out as coloured PNGs of the same
// size and lightness, a broken photo is skipped and reported (exit code 1), other files are ignored,
// no temp file is left behind; a missing input folder is exit code 2 with a message.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDist, ROOT } from './sdk-dist-build.ts';
import { decodeRgba, grayPhoto, MAX_GRAY_CHROMA, meanChroma, meanLightnessDiff, MIN_CHROMA } from './demos/helpers.ts';

const DENO = join(ROOT, 'node_modules', '.bin', 'deno');
const NODE_SCRIPT = join(ROOT, 'demos', 'node', 'colorize-folder.mjs');
const DENO_SCRIPT = join(ROOT, 'demos', 'deno', 'colorize-folder.mjs');

let dir: string;
let input: string;
const photos: Record<string, Buffer> = {};

before(async () => {
  await ensureDist();
  dir = mkdtempSync(join(tmpdir(), 'tinta-demo-scripts-'));
  input = join(dir, 'in');
  mkdirSync(input);
  photos['street.jpg'] = await grayPhoto(96, 64, 'astronaut.jpg');
  photos['cat.png'] = await (await import('sharp')).default(await grayPhoto(80, 72, 'chelsea.jpg')).png().toBuffer();
  for (const [name, bytes] of Object.entries(photos)) writeFileSync(join(input, name), bytes);
  writeFileSync(join(input, 'broken.jpg'), photos['street.jpg']!.subarray(0, 300)); // a truncated JPEG
  writeFileSync(join(input, 'notes.txt'), 'not a photo');
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const runEnv = { ...process.env, NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1', DENO_NO_PROMPT: '1' };

/** Checks one script's output folder and report. */
async function assertColorized(out: string, r: ReturnType<typeof spawnSync>, what: string): Promise<void> {
  const stdout = String(r.stdout), stderr = String(r.stderr);
  assert.equal(r.status, 1, `${what}: one photo skipped means exit code 1 (got ${r.status ?? r.signal}):\n${stdout}\n${stderr}`);
  assert.match(stderr, /skipped broken\.jpg: .*\[IMAGE_[A-Z_]+\]/, `${what}: the broken photo is reported with its code:\n${stderr}`);
  assert.match(stdout, /done: 2 colorized, 1 skipped/, `${what}: ${stdout}`);
  assert.deepEqual(readdirSync(out).sort(), ['cat.png', 'street.png'], `${what}: only the two photos are written, no temp files`);
  for (const [name, bytes] of Object.entries(photos)) {
    const src = await decodeRgba(bytes);
    const got = await decodeRgba(readFileSync(join(out, name.replace(/\.\w+$/, '.png'))));
    assert.deepEqual([got.width, got.height], [src.width, src.height], `${what} ${name}: size kept`);
    assert.ok(meanChroma(src.data, src.width, src.height) < MAX_GRAY_CHROMA);
    const chroma = meanChroma(got.data, got.width, got.height);
    assert.ok(chroma > MIN_CHROMA, `${what} ${name}: coloured (mean chroma ${chroma.toFixed(2)})`);
    const dL = meanLightnessDiff(src.data, got.data, src.width, src.height);
    assert.ok(dL < 2, `${what} ${name}: lightness kept (mean |dL| ${dL.toFixed(2)})`);
  }
}

test('demos/node colorizes a folder: coloured PNGs, a broken photo skipped and reported', { timeout: 180_000 }, async () => {
  const out = join(dir, 'out-node');
  const r = spawnSync(process.execPath, [NODE_SCRIPT, input, out], { cwd: dir, encoding: 'utf8', timeout: 150_000, env: runEnv });
  await assertColorized(out, r, 'node');
  assert.match(r.stdout, /^tinta native: 3 photo\(s\)/m, 'the photos are counted and native ONNX Runtime runs them');
});

test('demos/node: a missing input folder is exit code 2 with a message', { timeout: 60_000 }, () => {
  const r = spawnSync(process.execPath, [NODE_SCRIPT, join(dir, 'nope'), join(dir, 'out-x')], { encoding: 'utf8', timeout: 50_000, env: runEnv });
  assert.equal(r.status, 2, r.stderr);
  assert.match(r.stderr, /Cannot read the input folder .*nope/);
  assert.equal(existsSync(join(dir, 'out-x')), false, 'no output folder is made');
});

test('demos/deno colorizes a folder with the Deno build: coloured PNGs, a broken photo skipped and reported', { timeout: 240_000 }, async () => {
  assert.ok(existsSync(DENO), `Deno is not installed at ${DENO}; it comes with npm ci (the deno devDependency)`);
  const out = join(dir, 'out-deno');
  // cwd is the repository: Deno finds sharp (and onnxruntime-web) through its package.json and node_modules.
  const r = spawnSync(DENO, ['run', '-A', DENO_SCRIPT, input, out], { cwd: ROOT, encoding: 'utf8', timeout: 200_000, env: runEnv });
  await assertColorized(out, r, 'deno');
  assert.match(r.stdout, /^tinta wasm: 3 photo\(s\)/m);
});
