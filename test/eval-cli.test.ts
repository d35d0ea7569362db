import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTestModel, syntheticPhoto } from './sdk-fixtures.ts';
import { writeImage } from '../sdk/image/node.ts';

const BIN = new URL('../bin/tinta.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'tinta-eval-cli-'));
const photos = join(dir, 'photos');
const model = join(dir, 'model.onnx');
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });

before(async () => {
  writeFileSync(model, buildTestModel());
  mkdirSync(photos, { recursive: true });
  for (const [i, [w, h]] of ([[60, 40], [40, 40], [36, 52]] as const).entries()) {
    await writeImage(join(photos, `p${i}.png`), { data: syntheticPhoto(w, h, i + 1), width: w, height: h });
  }
});

describe('tinta eval / tinta analyze command line', () => {
  test('both commands are listed and have --help with examples', () => {
    const r = run('--help');
    assert.equal(r.status, 0);
    assert.match(r.stdout, /\beval\b/);
    assert.match(r.stdout, /\banalyze\b/);
    for (const c of ['eval', 'analyze']) {
      const h = run(c, '--help');
      assert.equal(h.status, 0, c);
      assert.match(h.stdout, /Examples:\n {2}tinta /, c);
      if (c === 'eval') assert.match(h.stdout, /long side is\n<= --size \(default 256\)/);
    }
  });

  test('usage errors exit 2: no output folder, --classifier without --labels', () => {
    assert.equal(run('eval', photos, '--model', model).status, 2);
    const r = run('eval', photos, '--model', model, '-o', join(dir, 'x'), '--classifier', 'c.onnx');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--classifier and --labels go together/);
    assert.equal(run('analyze', photos, '-o', join(dir, 'y'), '--k', '0').status, 2);
  });

  test('tinta eval writes the report and prints the metric table', () => {
    const out = join(dir, 'eval-out');
    const r = run('eval', photos, '--model', model, '-o', out, '--size', '48', '--limit', '2');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^method\s+PSNR dB/m);
    assert.match(r.stdout, /^mean-colour\s/m);
    assert.match(r.stdout, /2 images \(0 skipped\) at own resolution, downscaled \(Lanczos\) so the long side is <= 48 px/);
    for (const f of ['summary.json', 'per-image.csv', 'report.html']) assert.ok(existsSync(join(out, f)), f);
    // --limit 2 of 3 spreads over the list: p0 and p1 (indices 0 and 1 of 3).
    assert.equal(readFileSync(join(out, 'per-image.csv'), 'utf8').trim().split('\n').length, 3);
  });

  test('tinta analyze writes index.html and reports the clusters; a library error exits 1 with its code', () => {
    const out = join(dir, 'analyze-out');
    const r = run('analyze', photos, '-o', out, '--k', '2', '--examples', '1');
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /3 photos \(0 skipped\), 112 seed buckets, k = 2:/);
    assert.ok(existsSync(join(out, 'index.html')));
    const bad = run('analyze', photos, '-o', join(dir, 'z'), '--k', '5');
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /\[BAD_ARGUMENT\]/);
    const missing = run('analyze', join(dir, 'nope'), '-o', join(dir, 'z'));
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /\[NO_TRAINING_DATA\]/);
  });
});
