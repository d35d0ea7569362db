// Image I/O on sharp: every fixture is generated here (sharp or a hand-built PNG) in a temp dir.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp, { type Sharp } from 'sharp';
import { ErrorCodes, TintaError, type ErrorCode } from '../sdk/errors.ts';
import { decodeImage, decodeImageFloat, encodeImage, resizeImage, writeImage } from '../sdk/image/node.ts';
import { DEFAULT_MAX_PIXELS, checkPixelLimit, validateRgba, type RgbaImage } from '../sdk/image/types.ts';

let dir = '';
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'tinta-image-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
});

// --- helpers ----------------------------------------------------------------------------------

async function rejectsWith(p: Promise<unknown>, code: ErrorCode, message?: RegExp): Promise<TintaError> {
  let caught: unknown;
  await assert.rejects(p, (e: unknown) => {
    caught = e;
    return true;
  });
  assert.ok(caught instanceof TintaError, `expected a TintaError, got ${String(caught)}`);
  assert.equal(caught.code, code, `code: ${caught.message}`);
  if (message) assert.match(caught.message, message);
  return caught;
}

/** An opaque RGBA image with a smooth, position-dependent pattern. */
function pattern(width: number, height: number): RgbaImage {
  const data = new Uint8ClampedArray(width * height * 4);
  for (let y = 0, i = 0; y < height; y++) {
    for (let x = 0; x < width; x++, i += 4) {
      data[i] = Math.round((255 * x) / Math.max(1, width - 1));
      data[i + 1] = Math.round((255 * y) / Math.max(1, height - 1));
      data[i + 2] = (x * 3 + y * 5) & 255;
      data[i + 3] = 255;
    }
  }
  return { data, width, height };
}

function px(img: RgbaImage, x: number, y: number): number[] {
  const i = (y * img.width + x) * 4;
  return Array.from(img.data.subarray(i, i + 4));
}

function meanAbsDiff(a: Uint8ClampedArray, b: Uint8ClampedArray): number {
  assert.equal(a.length, b.length);
  let s = 0;
  for (let i = 0; i < a.length; i++) s += Math.abs(a[i]! - b[i]!);
  return s / a.length;
}

function toRaw(img: RgbaImage): Sharp {
  return sharp(img.data, { raw: { width: img.width, height: img.height, channels: 4 } });
}

const CRC_TABLE = Uint32Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (const x of b) c = CRC_TABLE[(c ^ x) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
function chunk(type: string, data: Uint8Array): Buffer {
  const head = Buffer.alloc(4);
  head.writeUInt32BE(data.length);
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(body));
  return Buffer.concat([head, body, crc]);
}
/** A PNG built by hand, so bit depth, colour type and even invalid sizes are exactly as stated. */
function makePng(width: number, height: number, colorType: number, bitDepth: number, scanlines: Uint8Array | null): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = bitDepth;
  ihdr[9] = colorType;
  const parts = [Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr)];
  if (scanlines) parts.push(chunk('IDAT', deflateSync(scanlines)));
  parts.push(chunk('IEND', new Uint8Array(0)));
  return Buffer.concat(parts);
}

function pseudoRandomBytes(n: number): Buffer {
  const b = Buffer.alloc(n);
  let s = 12345;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    b[i] = s >>> 24;
  }
  return b;
}

// --- decoding ---------------------------------------------------------------------------------

describe('decodeImage: formats', () => {
  test('PNG round trip is exact, from bytes and from a path', async () => {
    const img = pattern(37, 23);
    const png = await encodeImage(img, 'png');
    const back = await decodeImage(png);
    assert.equal(back.width, 37);
    assert.equal(back.height, 23);
    assert.ok(back.data instanceof Uint8ClampedArray);
    assert.deepEqual(back.data, img.data);
    const file = join(dir, 'roundtrip.png');
    writeFileSync(file, png);
    assert.deepEqual((await decodeImage(file)).data, img.data);
  });

  test('JPEG decodes close to the original', async () => {
    const img = pattern(64, 48);
    const jpg = await toRaw(img).jpeg({ quality: 95 }).toBuffer();
    const back = await decodeImage(jpg);
    assert.equal(back.width, 64);
    assert.equal(back.height, 48);
    assert.ok(meanAbsDiff(back.data, img.data) < 3, `mean diff ${meanAbsDiff(back.data, img.data)}`);
  });

  test('EXIF orientation 6 turns 40x20 into 20x40 with pixels where they belong', async () => {
    const src = new Uint8ClampedArray(40 * 20 * 4).fill(255); // white, opaque
    const mark = (x: number, y: number, r: number, g: number, b: number) => src.set([r, g, b, 255], (y * 40 + x) * 4);
    mark(0, 0, 255, 0, 0); // red at top-left
    mark(39, 19, 0, 0, 255); // blue at bottom-right
    const png = await toRaw({ data: src, width: 40, height: 20 }).png().withMetadata({ orientation: 6 }).toBuffer();
    assert.equal((await sharp(png).metadata()).orientation, 6);
    const img = await decodeImage(png);
    assert.equal(img.width, 20);
    assert.equal(img.height, 40);
    // Orientation 6 means "rotate 90° clockwise to view": (x, y) -> (H-1-y, x).
    assert.deepEqual(px(img, 19, 0), [255, 0, 0, 255]);
    assert.deepEqual(px(img, 0, 39), [0, 0, 255, 255]);
    assert.deepEqual(px(img, 0, 0), [255, 255, 255, 255]);

    // The same through JPEG, where EXIF orientation is most common: a red 8x8 block at the top-left.
    const big = new Uint8ClampedArray(40 * 24 * 4).fill(255);
    for (let y = 0; y < 8; y++) for (let x = 0; x < 8; x++) big.set([255, 0, 0, 255], (y * 40 + x) * 4);
    const jpg = await toRaw({ data: big, width: 40, height: 24 }).jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    const j = await decodeImage(jpg);
    assert.equal(j.width, 24);
    assert.equal(j.height, 40);
    const [r, g, b] = px(j, 20, 3);
    assert.ok(r! > 200 && g! < 60 && b! < 60, `expected red top-right, got ${px(j, 20, 3)}`);
  });

  test('alpha is flattened onto white and the output is opaque', async () => {
    const data = new Uint8ClampedArray([200, 40, 80, 0, 200, 40, 80, 128, 200, 40, 80, 255]);
    const png = await toRaw({ data, width: 3, height: 1 }).png().toBuffer();
    const img = await decodeImage(png);
    const blend = (c: number, a: number) => (c * a + 255 * (255 - a)) / 255;
    assert.deepEqual(px(img, 0, 0), [255, 255, 255, 255]);
    const mid = px(img, 1, 0);
    [200, 40, 80].forEach((c, k) => assert.ok(Math.abs(mid[k]! - blend(c, 128)) <= 1, `channel ${k}: ${mid[k]}`));
    assert.equal(mid[3], 255);
    assert.deepEqual(px(img, 2, 0), [200, 40, 80, 255]);
  });

  test('16-bit PNG becomes RGBA8 by value/257; decodeImageFloat keeps 16-bit precision', async () => {
    const values = [65535, 32768, 2570, 25700, 0, 65535];
    const row = Buffer.alloc(1 + 12); // filter byte 0, then 2 RGB16 pixels, big-endian
    values.forEach((v, i) => row.writeUInt16BE(v, 1 + 2 * i));
    const png = makePng(2, 1, 2, 16, row);
    assert.equal((await sharp(png).metadata()).depth, 'ushort');
    const img = await decodeImage(png);
    assert.deepEqual(Array.from(img.data), [255, 128, 10, 255, 100, 0, 255, 255]);
    const f = await decodeImageFloat(png);
    // planar: R plane, G plane, B plane
    const expected = [65535, 25700, 32768, 0, 2570, 65535].map((v) => v / 65535);
    expected.forEach((v, i) => assert.ok(Math.abs(f.data[i]! - v) < 1e-6, `sample ${i}: ${f.data[i]} vs ${v}`));

    // 16-bit with alpha: red at half opacity lands halfway to true white (1.0), in both paths.
    const rgba = Buffer.alloc(1 + 8);
    [65535, 0, 0, 32768].forEach((v, i) => rgba.writeUInt16BE(v, 1 + 2 * i));
    const half = makePng(1, 1, 6, 16, rgba);
    const hf = await decodeImageFloat(half);
    const a = 32768 / 65535;
    [1, 1 - a, 1 - a].forEach((v, i) => assert.ok(Math.abs(hf.data[i]! - v) < 1e-6, `RGBA16 sample ${i}: ${hf.data[i]} vs ${v}`));
    const h8 = Array.from((await decodeImage(half)).data);
    assert.equal(h8[0], 255);
    assert.ok(Math.abs(h8[1]! - 127.5) <= 1 && h8[1] === h8[2] && h8[3] === 255, `RGBA16 -> 8: ${h8}`);
  });

  test('grayscale PNG gives R = G = B', async () => {
    const png = makePng(4, 1, 0, 8, Uint8Array.from([0, 0, 100, 200, 255]));
    assert.equal((await sharp(png).metadata()).channels, 1);
    const img = await decodeImage(png);
    assert.deepEqual(Array.from(img.data), [0, 0, 0, 255, 100, 100, 100, 255, 200, 200, 200, 255, 255, 255, 255, 255]);
  });

  test('CMYK JPEG is converted to sRGB', async () => {
    const jpg = await sharp({ create: { width: 16, height: 16, channels: 3, background: { r: 220, g: 40, b: 40 } } })
      .toColourspace('cmyk')
      .jpeg({ quality: 95 })
      .toBuffer();
    assert.equal((await sharp(jpg).metadata()).space, 'cmyk');
    const [r, g, b, a] = px(await decodeImage(jpg), 8, 8);
    assert.ok(r! > 190 && g! < 80 && b! < 80 && a === 255, `expected a red, got ${[r, g, b, a]}`);
  });

  test('animated GIF decodes its first frame only', async () => {
    const frame = (background: string) => sharp({ create: { width: 6, height: 4, channels: 3, background } }).png().toBuffer();
    const gif = await sharp([await frame('#ff0000'), await frame('#0000ff')], { join: { animated: true } }).gif().toBuffer();
    assert.equal((await sharp(gif).metadata()).pages, 2);
    const img = await decodeImage(gif);
    assert.equal(img.width, 6);
    assert.equal(img.height, 4);
    for (let i = 0; i < img.data.length; i += 4) assert.deepEqual(Array.from(img.data.subarray(i, i + 4)), [255, 0, 0, 255]);
  });

  test('WebP (lossless) and TIFF decode exactly; AVIF decodes close', async () => {
    const img = pattern(32, 24);
    const webp = await toRaw(img).webp({ lossless: true }).toBuffer();
    assert.deepEqual((await decodeImage(webp)).data, img.data);
    // sharp's TIFF default is JPEG compression, so ask for a lossless one.
    const tiff = await toRaw(img).removeAlpha().tiff({ compression: 'lzw' }).toBuffer();
    assert.deepEqual((await decodeImage(tiff)).data, img.data);
    // The prebuilt sharp 0.35 encodes AVIF (libaom), so the fixture is made here.
    const avif = await toRaw(img).removeAlpha().avif({ quality: 90 }).toBuffer();
    const a = await decodeImage(avif);
    assert.equal(a.width, 32);
    assert.equal(a.height, 24);
    assert.ok(meanAbsDiff(a.data, img.data) < 6, `AVIF mean diff ${meanAbsDiff(a.data, img.data)}`);
  });

  test('decodeImageFloat is planar RGB in [0,1]', async () => {
    const img = pattern(5, 3);
    const f = await decodeImageFloat(await encodeImage(img, 'png'));
    const n = 15;
    assert.equal(f.width, 5);
    assert.equal(f.height, 3);
    assert.equal(f.data.length, 3 * n);
    for (let i = 0; i < n; i++) {
      for (let c = 0; c < 3; c++) assert.equal(f.data[c * n + i], Math.fround(img.data[i * 4 + c]! / 255));
    }
  });
});

describe('decodeImage: bad input', () => {
  test('empty bytes and empty files: IMAGE_EMPTY', async () => {
    await rejectsWith(decodeImage(new Uint8Array(0)), ErrorCodes.IMAGE_EMPTY);
    const file = join(dir, 'empty.jpg');
    writeFileSync(file, '');
    await rejectsWith(decodeImage(file), ErrorCodes.IMAGE_EMPTY, /empty\.jpg/);
  });

  test('bytes that are not an image: IMAGE_UNSUPPORTED', async () => {
    await rejectsWith(decodeImage(pseudoRandomBytes(4096)), ErrorCodes.IMAGE_UNSUPPORTED, /JPEG, PNG/);
    await rejectsWith(decodeImage(Buffer.from('<html><body>404</body></html>')), ErrorCodes.IMAGE_UNSUPPORTED);
  });

  test('formats libvips could load but tinta refuses (SVG): IMAGE_UNSUPPORTED', async () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><rect width="10" height="10"/></svg>');
    await rejectsWith(decodeImage(svg), ErrorCodes.IMAGE_UNSUPPORTED, /SVG/);
  });

  test('truncated files of every format: IMAGE_TRUNCATED', async () => {
    // Noise, so every format's payload is large and a cut lands in the pixel data.
    const noise = { data: new Uint8ClampedArray(pseudoRandomBytes(96 * 64 * 4)), width: 96, height: 64 };
    for (let i = 3; i < noise.data.length; i += 4) noise.data[i] = 255;
    const files: Record<string, Buffer> = {
      jpeg: await toRaw(noise).jpeg().toBuffer(),
      png: await toRaw(noise).png().toBuffer(),
      webp: await toRaw(noise).webp().toBuffer(),
      gif: await toRaw(noise).gif().toBuffer(),
      tiffJpeg: await toRaw(noise).tiff().toBuffer(), // sharp's default TIFF compression is JPEG
      tiffLzw: await toRaw(noise).tiff({ compression: 'lzw' }).toBuffer(),
      avif: await toRaw(noise).avif({ quality: 50 }).toBuffer(),
    };
    for (const [name, bytes] of Object.entries(files)) {
      for (const frac of [0.5, 0.9]) {
        const cut = bytes.subarray(0, Math.floor(bytes.length * frac));
        const e = await rejectsWith(decodeImage(cut), ErrorCodes.IMAGE_TRUNCATED, /truncated/).catch((err: Error) => {
          throw new Error(`${name} cut to ${frac}: ${err.message}`);
        });
        assert.ok(e.cause !== undefined, name);
      }
    }
    // With a path, the message names the file.
    const file = join(dir, 'half.jpg');
    writeFileSync(file, files.jpeg!.subarray(0, files.jpeg!.length >> 1));
    const e = await rejectsWith(decodeImage(file), ErrorCodes.IMAGE_TRUNCATED, /half\.jpg/);
    assert.equal(e.details.path, file);
  });

  test('a complete PNG with corrupt data: IMAGE_DECODE_FAILED with the cause', async () => {
    const scan = new Uint8Array(10 * 11); // 10 rows of filter byte + 10 grey pixels
    const png = makePng(10, 10, 0, 8, scan);
    const idatData = png.indexOf('IDAT', 0, 'latin1') + 4;
    png[idatData + 2] ^= 0xff; // break the zlib stream and the chunk CRC
    const e = await rejectsWith(decodeImage(png), ErrorCodes.IMAGE_DECODE_FAILED, /could not be decoded/);
    assert.ok(e.cause instanceof Error);
  });

  test('0x0 images: IMAGE_ZERO_SIZE', async () => {
    await rejectsWith(decodeImage(makePng(0, 0, 2, 8, new Uint8Array(0))), ErrorCodes.IMAGE_ZERO_SIZE, /0x0/);
    await rejectsWith(decodeImage(makePng(0, 10, 2, 8, new Uint8Array(0))), ErrorCodes.IMAGE_ZERO_SIZE, /0x10/);
    // A JPEG whose frame header says width 0.
    const jpg = await sharp({ create: { width: 16, height: 8, channels: 3, background: '#808080' } }).jpeg().toBuffer();
    let sof = 2;
    while (!(jpg[sof] === 0xff && (jpg[sof + 1] === 0xc0 || jpg[sof + 1] === 0xc2))) sof++;
    jpg.writeUInt16BE(0, sof + 7);
    await rejectsWith(decodeImage(jpg), ErrorCodes.IMAGE_ZERO_SIZE, /0x8/);
  });

  test('over maxPixels: IMAGE_TOO_LARGE with limit and size, checked from the header', async () => {
    const png = await encodeImage(pattern(100, 100), 'png');
    const e = await rejectsWith(decodeImage(png, { maxPixels: 5000 }), ErrorCodes.IMAGE_TOO_LARGE, /100x100.*5000/);
    assert.deepEqual({ ...e.details }, { width: 100, height: 100, pixels: 10000, maxPixels: 5000, bytes: png.length, format: 'PNG' });
    const file = join(dir, 'big.png');
    writeFileSync(file, png);
    const named = await rejectsWith(decodeImage(file, { maxPixels: 5000 }), ErrorCodes.IMAGE_TOO_LARGE, /big\.png.*100x100/);
    assert.equal(named.details.path, file);
    await rejectsWith(decodeImageFloat(png, { maxPixels: 9999 }), ErrorCodes.IMAGE_TOO_LARGE);
    assert.equal((await decodeImage(png, { maxPixels: 10000 })).width, 100);

    // A 30000x30000 header (2.7 GB of pixels) followed by one row of data. Decoding would need
    // gigabytes and then fail as truncated; refusing quickly with the real size proves that only
    // the header was read.
    const bomb = makePng(30000, 30000, 2, 8, new Uint8Array(1 + 30000 * 3));
    const t0 = performance.now();
    const big = await rejectsWith(decodeImage(bomb), ErrorCodes.IMAGE_TOO_LARGE, /30000x30000/);
    assert.ok(performance.now() - t0 < 1000);
    assert.equal(big.details.pixels, 900_000_000);
    assert.equal(big.details.maxPixels, DEFAULT_MAX_PIXELS);
  });

  test('missing files and directories: IMAGE_NOT_FOUND naming the path', async () => {
    const missing = join(dir, 'nope', 'missing.png');
    const e = await rejectsWith(decodeImage(missing), ErrorCodes.IMAGE_NOT_FOUND, /missing\.png/);
    assert.equal(e.details.path, missing);
    await rejectsWith(decodeImage(dir), ErrorCodes.IMAGE_NOT_FOUND, /directory/);
  });

  test('bad arguments', async () => {
    await rejectsWith(decodeImage(42 as unknown as string), ErrorCodes.BAD_ARGUMENT);
    await rejectsWith(decodeImage(new Uint8Array(4), { maxPixels: 0 }), ErrorCodes.BAD_ARGUMENT);
  });
});

// --- encoding, writing, resizing --------------------------------------------------------------

describe('encodeImage / writeImage', () => {
  test('png, jpg, jpeg and webp encode and decode back', async () => {
    const img = pattern(48, 32);
    const magic: Record<string, number[]> = { png: [0x89, 0x50], jpg: [0xff, 0xd8], jpeg: [0xff, 0xd8], webp: [0x52, 0x49] };
    for (const format of ['png', 'jpg', 'jpeg', 'webp'] as const) {
      const bytes = await encodeImage(img, format, { quality: 95 });
      assert.ok(bytes instanceof Uint8Array && !Buffer.isBuffer(bytes), format);
      assert.deepEqual(Array.from(bytes.subarray(0, 2)), magic[format]);
      const back = await decodeImage(bytes);
      assert.equal(back.width, 48);
      assert.equal(back.height, 32);
      const diff = meanAbsDiff(back.data, img.data);
      assert.ok(format === 'png' ? diff === 0 : diff < 4, `${format} mean diff ${diff}`);
    }
  });

  test('PNG keeps alpha; JPEG flattens it onto white', async () => {
    const img: RgbaImage = { data: new Uint8ClampedArray([10, 20, 30, 0, 10, 20, 30, 255]), width: 2, height: 1 };
    const meta = await sharp(await encodeImage(img, 'png')).raw().toBuffer();
    assert.deepEqual(Array.from(meta), [10, 20, 30, 0, 10, 20, 30, 255]);
    const jpg = await decodeImage(await encodeImage(img, 'jpg', { quality: 100 }));
    assert.ok(px(jpg, 0, 0).slice(0, 3).every((v) => v > 240), `got ${px(jpg, 0, 0)}`);
  });

  test('invalid images, formats and qualities are refused', async () => {
    const bad = { data: new Uint8ClampedArray(10), width: 2, height: 2 };
    await rejectsWith(encodeImage(bad, 'png'), ErrorCodes.IMAGE_BAD_PIXELS, /width\*height\*4 = 16/);
    await rejectsWith(encodeImage(pattern(2, 2), 'bmp' as 'png'), ErrorCodes.IMAGE_UNSUPPORTED, /\.png/);
    await rejectsWith(encodeImage(pattern(2, 2), 'jpg', { quality: 0 }), ErrorCodes.BAD_ARGUMENT);
  });

  test('writeImage infers the format from the extension and leaves no temp files', async () => {
    const out = join(dir, 'write-ok');
    mkdirSync(out);
    const img = pattern(20, 10);
    await writeImage(join(out, 'a.png'), img);
    await writeImage(join(out, 'b.JPG'), img);
    await writeImage(join(out, 'c.webp'), img, { quality: 80 });
    await writeImage(join(out, 'a.png'), pattern(20, 10)); // overwrite in place
    assert.deepEqual(readdirSync(out).sort(), ['a.png', 'b.JPG', 'c.webp']);
    assert.equal((await sharp(join(out, 'a.png')).metadata()).format, 'png');
    assert.equal((await sharp(join(out, 'b.JPG')).metadata()).format, 'jpeg');
    assert.equal((await sharp(join(out, 'c.webp')).metadata()).format, 'webp');
    assert.deepEqual((await decodeImage(join(out, 'a.png'))).data, img.data);
  });

  test('a failing encode never touches the target, and leaves no temp file', async () => {
    const out = join(dir, 'write-fail');
    mkdirSync(out);
    const target = join(out, 'keep.webp');
    writeFileSync(target, 'previous contents');
    // WebP cannot be wider than 16383 px, so libwebp refuses this one.
    const wide = { data: new Uint8ClampedArray(16384 * 4).fill(255), width: 16384, height: 1 };
    const e = await rejectsWith(writeImage(target, wide), ErrorCodes.IMAGE_ENCODE_FAILED, /keep\.webp/);
    assert.ok(e.cause instanceof Error);
    assert.equal(readFileSync(target, 'utf8'), 'previous contents');
    assert.deepEqual(readdirSync(out), ['keep.webp']);

    await rejectsWith(writeImage(join(out, 'x.bmp'), pattern(2, 2)), ErrorCodes.IMAGE_UNSUPPORTED, /x\.bmp/);
    await rejectsWith(writeImage(join(out, 'no-dir', 'x.png'), pattern(2, 2)), ErrorCodes.IMAGE_ENCODE_FAILED, /ENOENT/);
    assert.deepEqual(readdirSync(out), ['keep.webp']);
  });
});

describe('resizeImage', () => {
  test('fill stretches; cover keeps the centre', async () => {
    // 40x20: left quarter red, middle half green, right quarter blue.
    const data = new Uint8ClampedArray(40 * 20 * 4);
    for (let y = 0; y < 20; y++) {
      for (let x = 0; x < 40; x++) data.set(x < 10 ? [255, 0, 0, 255] : x < 30 ? [0, 255, 0, 255] : [0, 0, 255, 255], (y * 40 + x) * 4);
    }
    const img = { data, width: 40, height: 20 };
    const filled = await resizeImage(img, 20, 20, { fit: 'fill' });
    assert.equal(filled.width, 20);
    assert.equal(filled.height, 20);
    assert.deepEqual(px(filled, 1, 10), [255, 0, 0, 255]);
    assert.deepEqual(px(filled, 18, 10), [0, 0, 255, 255]);
    const covered = await resizeImage(img, 10, 10, { fit: 'cover' });
    assert.equal(covered.width, 10);
    assert.equal(covered.height, 10);
    // The red and blue quarters were cropped away; only a little Lanczos bleed remains at the edges.
    for (const x of [0, 5, 9]) {
      const [r, g, b] = px(covered, x, 5);
      assert.ok(r! < 40 && g! > 215 && b! < 40, `x=${x}: ${px(covered, x, 5)}`);
    }
    const same = await resizeImage(img, 40, 20);
    assert.deepEqual(same.data, img.data);
    assert.notEqual(same.data, img.data);
    await rejectsWith(resizeImage(img, 0, 5), ErrorCodes.BAD_ARGUMENT);
  });
});

describe('types', () => {
  test('validateRgba and checkPixelLimit', () => {
    assert.doesNotThrow(() => validateRgba(pattern(2, 2)));
    const code = (f: () => void) => {
      try {
        f();
      } catch (e) {
        return (e as TintaError).code;
      }
      return 'none';
    };
    assert.equal(code(() => validateRgba({ data: new Uint8ClampedArray(0), width: 0, height: 3 })), ErrorCodes.IMAGE_ZERO_SIZE);
    assert.equal(code(() => validateRgba({ data: new Uint8ClampedArray(12), width: 1.5, height: 2 })), ErrorCodes.IMAGE_BAD_PIXELS);
    assert.equal(code(() => validateRgba({ data: new Uint8Array(16), width: 2, height: 2 })), ErrorCodes.IMAGE_BAD_PIXELS);
    assert.equal(code(() => validateRgba(null)), ErrorCodes.IMAGE_BAD_PIXELS);
    assert.equal(code(() => checkPixelLimit(100, 100, 10_000)), 'none');
    assert.equal(code(() => checkPixelLimit(100, 101, 10_000)), ErrorCodes.IMAGE_TOO_LARGE);
  });

  test('libvips operation cache is off once the module has been used', () => {
    const c = sharp.cache();
    assert.equal(c.items.max, 0);
    assert.equal(c.memory.max, 0);
  });
});
