import { test, describe, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { buildTestModel, syntheticPhoto } from './sdk-fixtures.ts';
import { colorizeFiles, planOutputs } from '../cli/batch.ts';

const BIN = new URL('../bin/tinta.mjs', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'tinta-colorize-'));
const model = join(dir, 'model.onnx');
const photos = join(dir, 'photos');

/** Mean chroma of an RGBA image (how coloured it is). */
function meanChroma(data: Uint8Array | Buffer, channels: number): number {
  let s = 0, n = 0;
  for (let i = 0; i < data.length; i += channels) {
    const r = data[i]!, g = data[i + 1]!, b = data[i + 2]!;
    s += Math.max(r, g, b) - Math.min(r, g, b);
    n++;
  }
  return s / n;
}

before(async () => {
  writeFileSync(model, buildTestModel());
  mkdirSync(join(photos, 'sub'), { recursive: true });
  for (const [name, w, h] of [['a.jpg', 120, 80], ['b.png', 64, 96], ['sub/c.png', 50, 50]] as const) {
    const rgba = syntheticPhoto(w, h, name.length);
    // Gray inputs: the colorization has to come from the model.
    const gray = Buffer.alloc(w * h);
    for (let i = 0; i < w * h; i++) gray[i] = Math.round((rgba[4 * i]! + rgba[4 * i + 1]! + rgba[4 * i + 2]!) / 3);
    await sharp(gray, { raw: { width: w, height: h, channels: 1 } }).toFile(join(photos, name));
  }
  writeFileSync(join(photos, 'broken.jpg'), 'definitely not a jpeg');
});

describe('tinta colorize', () => {
  test('a folder is colorized recursively into the output folder, keeping sub-folders; a bad file is reported, not fatal', () => {
    const out = join(dir, 'out1');
    const r = spawnSync(process.execPath, [BIN, 'colorize', photos, '-o', out, '--model', model, '--jobs', '2'], { encoding: 'utf8', timeout: 180_000 });
    assert.equal(r.status, 1, r.stdout + r.stderr); // broken.jpg failed
    assert.match(r.stdout, /3 colorized, 0 skipped, 1 failed/);
    assert.match(r.stderr, /broken\.jpg: .*\[IMAGE_(UNSUPPORTED|DECODE_FAILED)\]/);
    for (const f of ['a.png', 'b.png', 'sub/c.png']) assert.ok(existsSync(join(out, f)), f);
  });

  test('outputs are coloured, full size, and a second run skips existing outputs unless --overwrite', async () => {
    const out = join(dir, 'out2');
    const s = await colorizeFiles([join(photos, 'a.jpg')], { outDir: out, model, format: 'png' });
    assert.equal(s.done, 1);
    const { data, info } = await sharp(join(out, 'a.png')).raw().toBuffer({ resolveWithObject: true });
    assert.equal(info.width, 120);
    assert.equal(info.height, 80);
    assert.ok(meanChroma(data, info.channels) > 8, `mean chroma ${meanChroma(data, info.channels)}`);
    const again = await colorizeFiles([join(photos, 'a.jpg')], { outDir: out, model });
    assert.equal(again.skipped, 1);
    const forced = await colorizeFiles([join(photos, 'a.jpg')], { outDir: out, model, overwrite: true });
    assert.equal(forced.done, 1);
  });

  test('globs, side-by-side and jpg output', async () => {
    const out = join(dir, 'out3');
    const s = await colorizeFiles([join(photos, '**/*.png')], { outDir: out, model, format: 'jpg', sideBySide: true });
    assert.equal(s.done, 2);
    const meta = await sharp(join(out, 'b.side-by-side.jpg')).metadata();
    assert.equal(meta.width, 128);
    assert.equal(meta.format, 'jpeg');
    assert.ok(existsSync(join(out, 'sub', 'c.side-by-side.jpg')));
  });

  test('output names never overwrite an input or each other', () => {
    const files = [{ file: '/p/x.png', root: '/p' }, { file: '/p/x.jpg', root: '/p' }, { file: '/p/x.colorized.png', root: '/p' }];
    const plan = planOutputs(files, { format: 'png' });
    const outs = plan.map((p) => p.output);
    assert.equal(new Set(outs).size, 3);
    for (const o of outs) assert.ok(!files.some((f) => f.file === o), o);
    const inPlace = planOutputs([{ file: '/p/x.png', root: '/p' }], { outDir: '/p', format: 'png' });
    assert.notEqual(inPlace[0]!.output, '/p/x.png');
    assert.ok(readFileSync(model).length > 0);
  });
});
