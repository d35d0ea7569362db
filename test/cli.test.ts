import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, existsSync, writeFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';

const BIN = new URL('../bin/tinta.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'tinta-cli-'));
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });

describe('tinta command line', () => {
  test('--help lists the commands and each command has help with examples', () => {
    const r = run('--help');
    assert.equal(r.status, 0);
    for (const c of ['train', 'export', 'quantize', 'palette']) assert.match(r.stdout, new RegExp(`\\b${c}\\b`));
    for (const c of ['train', 'export', 'quantize', 'palette']) {
      const h = run(c, '--help');
      assert.equal(h.status, 0, c);
      assert.match(h.stdout, /Examples:/, c);
    }
  });

  test('unknown flags and missing arguments are usage errors (exit 2)', () => {
    const a = run('palette', '--colour', 'red');
    assert.equal(a.status, 2);
    assert.match(a.stderr, /unknown option '--colour'/);
    const b = run('export');
    assert.equal(b.status, 2);
    assert.match(b.stderr, /missing required argument|required option/);
    const c = run('frobnicate');
    assert.equal(c.status, 2);
  });

  test('palette draws the 112 buckets to a PNG', async () => {
    const out = join(dir, 'palette.png');
    const r = run('palette', '-o', out, '--cell', '8');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /112 buckets/);
    const meta = await sharp(out).metadata();
    assert.equal(meta.format, 'png');
    assert.ok(meta.width! > 100 && meta.height! > 100);
  });

  test('library errors are reported with their code (exit 1) and leave no output behind', () => {
    const bad = join(dir, 'bad.tinta');
    writeFileSync(bad, 'not a checkpoint');
    const out = join(dir, 'never.onnx');
    const r = run('export', bad, '-o', out);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /CHECKPOINT_INVALID/);
    assert.equal(existsSync(out), false);
    assert.deepEqual(readdirSync(dir).filter((f) => f.includes('never')), []);
    const q = run('quantize', join(dir, 'missing.onnx'), '--fp16');
    assert.equal(q.status, 1);
    assert.match(q.stderr, /MODEL_NOT_FOUND/);
    const s = run('palette', '--scheme', 'nope', '-o', join(dir, 'x.png'));
    assert.equal(s.status, 1);
    assert.match(s.stderr, /BAD_ARGUMENT/);
  });

  test('quantize --int8 honours --target-agreement, --keep-float and reports which convs stayed float', async () => {
    const photos = join(dir, 'calib');
    mkdirSync(photos, { recursive: true });
    for (let i = 0; i < 2; i++) {
      const data = Buffer.alloc(48 * 48 * 3);
      for (let p = 0; p < data.length; p++) data[p] = (p * (7 + i) + (p >> 5) * 13) & 255;
      await sharp(data, { raw: { width: 48, height: 48, channels: 3 } }).png().toFile(join(photos, `c${i}.png`));
    }
    const model = new URL('../models/tinta-default.fp32.onnx', import.meta.url).pathname;
    const out = join(dir, 'q.int8.onnx');
    const bad = run('quantize', model, '--int8', '--calibrate', photos, '--size', '32', '--keep-float', 'no_such_conv', '-o', out);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /no Conv of this model: no_such_conv\. Its convs are: enc1_conv1.*\[BAD_ARGUMENT\]/);
    assert.equal(existsSync(out), false);
    const all = run('quantize', model, '--int8', '--calibrate', photos, '--size', '32', '--target-agreement', '0', '-o', out);
    assert.equal(all.status, 0, all.stderr);
    // The first conv (one input channel) and the logits conv stay float by design; nothing else does.
    assert.match(all.stdout, /18 convs int8, 2 float \([0-9.]+% of conv multiply-adds\): enc1_conv1, head_logits\n/);
    assert.doesNotMatch(all.stdout, /kept float to reach/);
    const keep = run('quantize', model, '--int8', '--calibrate', photos, '--size', '32', '--target-agreement', '0', '--keep-float', 'dec3_conv1', '-o', out);
    assert.equal(keep.status, 0, keep.stderr);
    assert.match(keep.stdout, /17 convs int8, 3 float \([0-9.]+% of conv multiply-adds\): .*dec3_conv1/);
  });

  test('bench lists the benchmarks and rejects an unknown one with the list', () => {
    const l = run('bench', '--list');
    assert.equal(l.status, 0, l.stderr);
    for (const b of ['color', 'kernels', 'models', 'sdk', 'train']) assert.match(l.stdout, new RegExp(`^${b}\\s+\\S`, 'm'));
    const u = run('bench', 'nope');
    assert.equal(u.status, 1);
    assert.match(u.stderr, /No benchmark named 'nope'; there are: color, kernels, models, sdk, train\. \[BAD_ARGUMENT\]/);
    const e = run('bench', 'color', '--env', 'RUNS');
    assert.equal(e.status, 1);
    assert.match(e.stderr, /--env takes KEY=VALUE/);
  });
});
