/**
 * Image file I/O for Node, on sharp (libvips): decode any common photo format to
 * RGBA8 or planar float sRGB, encode PNG/JPEG/WebP, write files atomically, and
 * resize for the trainer. Every failure is a TintaError with an IMAGE_* code.
 *
 * Decoding always yields an opaque sRGB image: EXIF orientation applied, ICC
 * profiles (and CMYK) converted to sRGB, grey widened to RGB, 16-bit narrowed to
 * 8-bit (decodeImageFloat keeps it), and alpha flattened onto white. White rather than
 * black because transparent regions are almost always "background" (logos,
 * cut-outs, scans with masks) and are shown on white by viewers and paper;
 * on black they would reach the model as deep shadows and get coloured.
 */

import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../io/atomic-node.ts';
import { extname } from 'node:path';
import sharp, { type Metadata, type OutputInfo, type Sharp } from 'sharp';
import { ErrorCodes, TintaError, check, formatBytes, isTintaError, type ErrorCode } from '../errors.ts';
import { DEFAULT_MAX_PIXELS, checkPixelLimit, validateRgba, type RgbPlanarF32, type RgbaImage } from './types.ts';

/** Bytes of an encoded image, or a path to a file holding them. */
export type ImageInput = Uint8Array | string;

export interface DecodeOptions {
  /** Refuse images with more pixels than this (checked from the header, before decoding). Default 100 Mpx. */
  maxPixels?: number;
}

export type EncodeFormat = 'png' | 'jpg' | 'jpeg' | 'webp';

export interface EncodeOptions {
  /** JPEG/WebP quality, integer 1..100 (default 90); ignored for PNG, which is lossless. */
  quality?: number;
}

export interface ResizeOptions {
  /** 'fill' stretches to exactly width x height; 'cover' keeps the aspect ratio and crops the centre. Default 'fill'. */
  fit?: 'fill' | 'cover';
}

const WHITE = { r: 255, g: 255, b: 255 };
const DEFAULT_QUALITY = 90;
const READABLE = 'JPEG, PNG, WebP, TIFF, AVIF or GIF';
const WRITABLE = '.png, .jpg, .jpeg or .webp';

// sharp's metadata().format -> the name people know; anything else is refused even if libvips could
// load it (SVG, PDF, raw vips files...), so untrusted input only reaches the photo decoders.
const DECODABLE: Readonly<Record<string, string>> = {
  jpeg: 'JPEG', png: 'PNG', webp: 'WebP', tiff: 'TIFF', gif: 'GIF', heif: 'AVIF', avif: 'AVIF',
};

let sharpConfigured = false;

// libvips' operation cache (default 50 MB, 100 operations, 20 open files) only pays off when the
// same operation on the same input repeats; in a batch every image is new, so it never hits, yet
// it pins decoded pixels and file handles, which looks like a leak over a long run. It is
// process-wide, hence set once here. Concurrency is left as sharp chooses: on glibc without
// jemalloc sharp already uses one libvips thread per image to limit malloc fragmentation, images
// run in parallel on at most UV_THREADPOOL_SIZE (default 4) libuv threads, and an application
// that tuned either knows its machine better than we do.
function sharpReady(): void {
  if (!sharpConfigured) {
    sharp.cache(false);
    sharpConfigured = true;
  }
}

// ---------------------------------------------------------------------------------------------
// Input

interface Source {
  bytes: Buffer;
  path?: string;
  /** Sentence subject for messages: 'Image file "a.jpg"' or 'The image data (12.0 KiB)'. */
  label: string;
}

function baseDetails(src: Source): Record<string, unknown> {
  return src.path !== undefined ? { path: src.path, bytes: src.bytes.length } : { bytes: src.bytes.length };
}

async function readSource(input: ImageInput): Promise<Source> {
  let bytes: Buffer;
  let path: string | undefined;
  if (typeof input === 'string') {
    check(input.length > 0, 'decodeImage: the path is an empty string');
    path = input;
    try {
      // The whole file is read once (encoded files are small next to their pixels): the header
      // check and the decode then see the same bytes, and failures can be diagnosed from them.
      bytes = await readFile(input);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') {
        throw new TintaError(ErrorCodes.IMAGE_NOT_FOUND, `Image file "${input}" does not exist. Check the path (relative paths start at ${process.cwd()}).`, {
          cause: e,
          details: { path: input },
        });
      }
      if (code === 'EISDIR') {
        throw new TintaError(ErrorCodes.IMAGE_NOT_FOUND, `"${input}" is a directory, not an image file. Pass the path of a file inside it.`, {
          cause: e,
          details: { path: input },
        });
      }
      throw new TintaError(ErrorCodes.IMAGE_DECODE_FAILED, `Could not read image file "${input}" (${code ?? String(e)}). Check its permissions.`, {
        cause: e,
        details: { path: input },
      });
    }
  } else {
    check(input instanceof Uint8Array, `decodeImage: expected a Uint8Array, Buffer or file path, got ${input === null ? 'null' : typeof input}`);
    // A view, not a copy: sharp only reads it.
    bytes = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  }
  const src: Source = { bytes, label: path !== undefined ? `Image file "${path}"` : `The image data (${formatBytes(bytes.length)})` };
  if (path !== undefined) src.path = path;
  if (bytes.length === 0) {
    throw new TintaError(
      ErrorCodes.IMAGE_EMPTY,
      path !== undefined
        ? `${src.label} is empty (0 bytes). It was probably not fully downloaded or copied; fetch it again.`
        : 'The image data is empty (0 bytes). Pass the bytes of an image file, e.g. from fs.readFile() or fetch().arrayBuffer().',
      { details: baseDetails(src) },
    );
  }
  return src;
}

// ---------------------------------------------------------------------------------------------
// Container sniffing, used only to explain a failed decode: libvips reports truncation in many
// ways (or as "unsupported format" when a TIFF's directory is cut off), so the bytes are checked
// against each container's own length bookkeeping instead of trusting message wording alone.

type Container = 'jpeg' | 'png' | 'gif' | 'webp' | 'tiff' | 'isobmff';

const CONTAINER_NAMES: Readonly<Record<Container, string>> = {
  jpeg: 'JPEG', png: 'PNG', gif: 'GIF', webp: 'WebP', tiff: 'TIFF', isobmff: 'AVIF/HEIF',
};

function ascii(b: Uint8Array, start: number, end: number): string {
  return end <= b.length ? String.fromCharCode(...b.subarray(start, end)) : '';
}
function u16be(b: Uint8Array, p: number): number {
  return (b[p]! << 8) | b[p + 1]!;
}
function u32be(b: Uint8Array, p: number): number {
  return ((b[p]! << 24) >>> 0) + ((b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!);
}
function u32le(b: Uint8Array, p: number): number {
  return ((b[p + 3]! << 24) >>> 0) + ((b[p + 2]! << 16) | (b[p + 1]! << 8) | b[p]!);
}

function sniffContainer(b: Uint8Array): Container | undefined {
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'jpeg';
  if (ascii(b, 0, 8) === '\x89PNG\r\n\x1a\n') return 'png';
  const gif = ascii(b, 0, 6);
  if (gif === 'GIF87a' || gif === 'GIF89a') return 'gif';
  if (ascii(b, 0, 4) === 'RIFF' && ascii(b, 8, 12) === 'WEBP') return 'webp';
  const tif = ascii(b, 0, 4);
  if (tif === 'II*\0' || tif === 'MM\0*') return 'tiff';
  if (ascii(b, 4, 8) === 'ftyp') return 'isobmff';
  return undefined;
}

/** True when the bytes stop before the container says they should. */
function looksTruncated(b: Uint8Array, kind: Container): boolean {
  switch (kind) {
    case 'png': {
      // Walk the chunks: every one declares its length, and IEND closes the file.
      let p = 8;
      for (;;) {
        if (p + 8 > b.length) return true;
        const len = u32be(b, p);
        const type = ascii(b, p + 4, p + 8);
        p += 12 + len;
        if (p > b.length) return true;
        if (type === 'IEND') return false;
      }
    }
    case 'jpeg': {
      // A complete JPEG ends with EOI (FF D9); zero padding after it is common and harmless.
      let end = b.length;
      while (end > 2 && b[end - 1] === 0) end--;
      return !(b[end - 2] === 0xff && b[end - 1] === 0xd9);
    }
    case 'gif':
      return b[b.length - 1] !== 0x3b; // the trailer byte
    case 'webp':
      return b.length < 12 || u32le(b, 4) + 8 > b.length; // RIFF size counts from byte 8
    case 'tiff':
      return tiffTruncated(b);
    case 'isobmff': {
      // Walk the top-level boxes (ftyp, meta, mdat...): each declares its size.
      let p = 0;
      while (p < b.length) {
        if (p + 8 > b.length) return true;
        let size = u32be(b, p);
        if (size === 1) {
          if (p + 16 > b.length) return true;
          size = u32be(b, p + 8) * 2 ** 32 + u32be(b, p + 12);
        } else if (size === 0) {
          return false; // "runs to the end of the file"
        }
        if (size < 8) return false; // malformed rather than short
        p += size;
      }
      return p > b.length;
    }
  }
}

// Bytes per value of each TIFF field type (1 BYTE ... 13 IFD); 0 for unknown types.
const TIFF_TYPE_SIZE = [0, 1, 1, 2, 4, 8, 1, 1, 2, 4, 8, 4, 8, 4];

/**
 * A TIFF is cut short when its first directory, any out-of-line field value (e.g. the JPEG
 * tables), or any strip or tile lies past the end. Writers put the directory first or last, and
 * a cut loses different parts either way, so all of them are checked.
 */
function tiffTruncated(b: Uint8Array): boolean {
  if (b.length < 8) return true;
  const le = b[0] === 0x49;
  const r16 = (p: number): number => (le ? b[p]! | (b[p + 1]! << 8) : u16be(b, p));
  const r32 = (p: number): number => (le ? u32le(b, p) : u32be(b, p));
  const ifd = r32(4);
  if (ifd + 2 > b.length) return true;
  const entries = r16(ifd);
  if (ifd + 2 + entries * 12 > b.length) return true;
  let offsets: number[] = [];
  let counts: number[] = [];
  for (let e = ifd + 2, k = 0; k < entries; k++, e += 12) {
    const tag = r16(e);
    const size = TIFF_TYPE_SIZE[r16(e + 2)] ?? 0;
    const n = r32(e + 4);
    if (size === 0) continue;
    const at = n * size <= 4 ? e + 8 : r32(e + 8);
    if (at + n * size > b.length) return true;
    // StripOffsets/TileOffsets (273/324) and StripByteCounts/TileByteCounts (279/325), SHORT or LONG
    if ((tag === 273 || tag === 324 || tag === 279 || tag === 325) && (size === 2 || size === 4)) {
      const values = Array.from({ length: n }, (_, i) => (size === 2 ? r16(at + 2 * i) : r32(at + 4 * i)));
      if (tag === 273 || tag === 324) offsets = values;
      else counts = values;
    }
  }
  return offsets.some((o, i) => o + (counts[i] ?? 0) > b.length);
}

// JPEG start-of-frame markers: C0..CF except DHT (C4), JPG (C8) and DAC (CC).
function isSof(m: number): boolean {
  return m >= 0xc0 && m <= 0xcf && m !== 0xc4 && m !== 0xc8 && m !== 0xcc;
}

/** Width and height from a PNG or JPEG header, if present: lets a 0-pixel image be named as such. */
function headerSize(b: Uint8Array, kind: Container): { width: number; height: number } | undefined {
  if (kind === 'png') {
    return ascii(b, 12, 16) === 'IHDR' && b.length >= 24 ? { width: u32be(b, 16), height: u32be(b, 20) } : undefined;
  }
  if (kind === 'jpeg') {
    let p = 2;
    while (p + 4 <= b.length) {
      if (b[p] !== 0xff) return undefined;
      const m = b[p + 1]!;
      if (m === 0xff) {
        p += 1; // fill byte
      } else if (m === 0x01 || (m >= 0xd0 && m <= 0xd8)) {
        p += 2; // markers without a length
      } else if (isSof(m)) {
        return p + 9 <= b.length ? { height: u16be(b, p + 5), width: u16be(b, p + 7) } : undefined;
      } else if (m === 0xda) {
        return undefined; // scan data before any frame header
      } else {
        p += 2 + u16be(b, p + 2);
      }
    }
  }
  return undefined;
}

const TRUNCATION_WORDING = /premature end|unexpected end|end of (file|data|stream)|truncat/i;
const UNSUPPORTED_WORDING = /unsupported image format|unsupported codec|no decoder|not a known/i;

function firstLine(msg: string): string {
  const line = msg.split('\n').find((l) => l.trim().length > 0) ?? msg;
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

function hexStart(b: Uint8Array): string {
  return Array.from(b.subarray(0, 8), (x) => x.toString(16).padStart(2, '0')).join(' ');
}

/** Turn a sharp/libvips decode failure into the TintaError that says what went wrong. */
function decodeFailure(err: unknown, src: Source): TintaError {
  if (isTintaError(err)) return err;
  const raw = err instanceof Error ? err.message : String(err);
  const kind = sniffContainer(src.bytes);
  const fmt = kind !== undefined ? CONTAINER_NAMES[kind] : undefined;
  const details = { ...baseDetails(src), ...(fmt !== undefined ? { format: fmt } : {}), reason: firstLine(raw) };
  const fail = (code: ErrorCode, message: string): TintaError => new TintaError(code, message, { cause: err, details });

  if (/exceeds pixel limit/i.test(raw)) {
    return fail(ErrorCodes.IMAGE_TOO_LARGE, `${src.label} has more pixels than allowed. Downscale it first, or pass a larger maxPixels.`);
  }
  const size = kind !== undefined ? headerSize(src.bytes, kind) : undefined;
  if (size !== undefined && (size.width === 0 || size.height === 0)) {
    return new TintaError(
      ErrorCodes.IMAGE_ZERO_SIZE,
      `${src.label} declares a size of ${size.width}x${size.height}: it has no pixels. The file is broken; re-export it.`,
      { cause: err, details: { ...details, ...size } },
    );
  }
  if ((kind !== undefined && looksTruncated(src.bytes, kind)) || TRUNCATION_WORDING.test(raw)) {
    return fail(
      ErrorCodes.IMAGE_TRUNCATED,
      `${src.label} is truncated: the ${fmt ?? 'image'} data stops before the image is complete. Download or copy it again, or re-export it.`,
    );
  }
  if (UNSUPPORTED_WORDING.test(raw)) {
    return fail(
      ErrorCodes.IMAGE_UNSUPPORTED,
      kind !== undefined
        ? `${src.label} is a ${fmt} variant that cannot be decoded here (${firstLine(raw)}). Convert it to ${READABLE}.`
        : `${src.label} is not an image tinta can read (it starts with ${hexStart(src.bytes)}). Use ${READABLE}.`,
    );
  }
  return fail(
    ErrorCodes.IMAGE_DECODE_FAILED,
    `${src.label}${fmt !== undefined ? ` (${fmt})` : ''} could not be decoded: ${firstLine(raw)}. The file is probably damaged; re-export it or open and re-save it in an image editor.`,
  );
}

// ---------------------------------------------------------------------------------------------
// Decoding

interface RawPixels {
  data: Buffer;
  width: number;
  height: number;
  /** 4: RGBA (8-bit: alpha 255; 16-bit: alpha still to be flattened), 3: RGB. */
  channels: 3 | 4;
  /** True when `data` holds native-endian uint16 samples. */
  sixteen: boolean;
}

// sharp's limitInputPixels: 0/false means "no limit", so a fractional limit must not floor to 0.
function sharpPixelLimit(maxPixels: number): number | false {
  return Number.isFinite(maxPixels) ? Math.max(1, Math.floor(maxPixels)) : false;
}

async function readHeader(src: Source, maxPixels: number): Promise<Metadata> {
  let meta: Metadata;
  try {
    // No pixel limit here, so an oversized image is reported with its real size by checkPixelLimit.
    meta = await sharp(src.bytes, { limitInputPixels: false, pages: 1, page: 0 }).metadata();
  } catch (e) {
    throw decodeFailure(e, src);
  }
  const name = DECODABLE[meta.format];
  if (name === undefined || (meta.format === 'heif' && meta.compression !== 'av1')) {
    const what = meta.format === 'heif' ? 'HEIC (HEVC-compressed HEIF)' : String(meta.format).toUpperCase();
    throw new TintaError(ErrorCodes.IMAGE_UNSUPPORTED, `${src.label} is ${what}, which tinta does not read. Convert it to ${READABLE}.`, {
      details: { ...baseDetails(src), format: meta.format },
    });
  }
  if (!(meta.width > 0) || !(meta.height > 0)) {
    throw new TintaError(ErrorCodes.IMAGE_ZERO_SIZE, `${src.label} is ${meta.width}x${meta.height}: it has no pixels. The file is broken; re-export it.`, {
      details: { ...baseDetails(src), format: name, width: meta.width, height: meta.height },
    });
  }
  try {
    checkPixelLimit(meta.width, meta.height, maxPixels, src.label);
  } catch (e) {
    // Same error, plus the file name and size for batch logs.
    const t = e as TintaError;
    throw new TintaError(t.code, t.message, { details: { ...baseDetails(src), format: name, ...t.details } });
  }
  return meta;
}

/**
 * Decode to interleaved sRGB: RGBA8 with alpha 255 for 'rgba8'; for 'rgb-auto', RGB8 (flattened)
 * or, when the source has more than 8 bits, RGBA16 with alpha still to be flattened by the caller.
 */
async function decodeRaw(input: ImageInput, opts: DecodeOptions, layout: 'rgba8' | 'rgb-auto'): Promise<RawPixels> {
  sharpReady();
  const maxPixels = opts.maxPixels ?? DEFAULT_MAX_PIXELS;
  check(typeof maxPixels === 'number' && maxPixels > 0, `maxPixels must be a positive number (or Infinity), got ${String(maxPixels)}`);
  const src = await readSource(input);
  const meta = await readHeader(src, maxPixels);
  // Keep 16-bit precision for float output: a 16-bit scan squeezed through 8 bits would band.
  const sixteen = layout === 'rgb-auto' && meta.depth !== 'uchar' && meta.depth !== 'char';
  const channels = layout === 'rgba8' || sixteen ? 4 : 3;
  let pipeline: Sharp = sharp(src.bytes, {
    // 'error' aborts on truncation and decoder errors (with 'none' a cut JPEG comes out grey
    // below the cut) but lets mere decoder warnings through, which sharp's default 'warning'
    // would turn into failures for photos that every viewer opens.
    failOn: 'error',
    limitInputPixels: sharpPixelLimit(maxPixels),
    autoOrient: true,
    pages: 1, // the first frame of a GIF / page of a TIFF
    page: 0,
  });
  // sharp's flatten paints a 16-bit image onto 255 * 256 = 65280, not 65535, so 16-bit output
  // keeps its alpha and decodeImageFloat blends onto true white itself.
  if (!sixteen) pipeline = pipeline.flatten({ background: WHITE });
  pipeline = pipeline.toColourspace(sixteen ? 'rgb16' : 'srgb');
  if (channels === 4) pipeline = pipeline.ensureAlpha(1);
  let out: { data: Buffer; info: OutputInfo };
  try {
    out = await pipeline.raw({ depth: sixteen ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (e) {
    throw decodeFailure(e, src);
  }
  const { width, height } = out.info;
  const expected = width * height * channels * (sixteen ? 2 : 1);
  if (out.info.channels !== channels || out.data.length !== expected) {
    throw new TintaError(
      ErrorCodes.IMAGE_DECODE_FAILED,
      `${src.label} decoded to an unexpected layout (${out.info.channels} channels, ${out.data.length} bytes for ${width}x${height}). Please report this with the file.`,
      { details: { ...baseDetails(src), channels: out.info.channels, bytesOut: out.data.length } },
    );
  }
  return { data: out.data, width, height, channels, sixteen };
}

// A view when sharp's buffer is exactly ours, so no copy; otherwise copy so that `.buffer` never
// exposes unrelated memory (it may be transferred to a worker).
function ownedBytes(b: Buffer): Uint8Array {
  if (b.byteOffset === 0 && b.byteLength === b.buffer.byteLength) return new Uint8Array(b.buffer, 0, b.byteLength);
  const copy = new Uint8Array(b.byteLength);
  copy.set(b);
  return copy;
}

function toRgba(raw: { data: Buffer; width: number; height: number }): RgbaImage {
  const bytes = ownedBytes(raw.data);
  return { data: new Uint8ClampedArray(bytes.buffer, bytes.byteOffset, bytes.byteLength), width: raw.width, height: raw.height };
}

/** Decode JPEG/PNG/WebP/TIFF/AVIF/GIF bytes or a file to opaque RGBA8 sRGB, upright per EXIF. */
export async function decodeImage(input: ImageInput, opts: DecodeOptions = {}): Promise<RgbaImage> {
  return toRgba(await decodeRaw(input, opts, 'rgba8'));
}

const U8_TO_UNIT = Float32Array.from({ length: 256 }, (_, i) => i / 255);

/** Decode like decodeImage, to planar float sRGB in [0,1] (see RgbPlanarF32); 16-bit sources keep their precision. */
export async function decodeImageFloat(input: ImageInput, opts: DecodeOptions = {}): Promise<RgbPlanarF32> {
  const raw = await decodeRaw(input, opts, 'rgb-auto');
  const { width, height } = raw;
  const n = width * height;
  const out = new Float32Array(3 * n);
  if (raw.sixteen) {
    // Uint16Array needs an even offset; sharp's buffers start at 0, but copy rather than assume.
    const bytes = raw.data.byteOffset % 2 === 0 ? raw.data : Buffer.from(raw.data);
    const s = new Uint16Array(bytes.buffer, bytes.byteOffset, 4 * n);
    for (let i = 0, j = 0; i < n; i++, j += 4) {
      // Flatten onto white: c * a + 1 * (1 - a), with c and a in [0, 1].
      const a = s[j + 3]! / 65535;
      const w = 1 - a;
      out[i] = (s[j]! / 65535) * a + w;
      out[n + i] = (s[j + 1]! / 65535) * a + w;
      out[2 * n + i] = (s[j + 2]! / 65535) * a + w;
    }
  } else {
    const s = raw.data;
    for (let i = 0, j = 0; i < n; i++, j += 3) {
      out[i] = U8_TO_UNIT[s[j]!]!;
      out[n + i] = U8_TO_UNIT[s[j + 1]!]!;
      out[2 * n + i] = U8_TO_UNIT[s[j + 2]!]!;
    }
  }
  return { data: out, width, height };
}

// ---------------------------------------------------------------------------------------------
// Encoding and writing

type Codec = 'png' | 'jpeg' | 'webp';

function codecOf(format: string, where: string): Codec {
  const f = format.toLowerCase();
  if (f === 'png' || f === 'webp') return f;
  if (f === 'jpg' || f === 'jpeg') return 'jpeg';
  throw new TintaError(ErrorCodes.IMAGE_UNSUPPORTED, `${where}: cannot write "${format}" images. Use ${WRITABLE}.`, { details: { format } });
}

function isOpaque(data: Uint8ClampedArray): boolean {
  for (let i = 3; i < data.length; i += 4) if (data[i] !== 255) return false;
  return true;
}

async function encodeTo(img: RgbaImage, codec: Codec, opts: EncodeOptions, target: string | undefined): Promise<Uint8Array> {
  sharpReady();
  validateRgba(img, 'image to encode');
  const quality = opts.quality ?? DEFAULT_QUALITY;
  check(Number.isInteger(quality) && quality >= 1 && quality <= 100, `quality must be an integer from 1 to 100, got ${String(quality)}`);
  const { width, height } = img;
  // The pixels are already in memory, so sharp's input pixel limit would only get in the way.
  let p: Sharp = sharp(img.data, { raw: { width, height, channels: 4 }, limitInputPixels: false });
  if (codec === 'jpeg') {
    // JPEG has no alpha: flatten onto white, as decoding does. 4:4:4 keeps full-resolution
    // chroma, which is the very thing a colorizer produces.
    p = p.flatten({ background: WHITE }).jpeg({ quality, chromaSubsampling: '4:4:4' });
  } else {
    // An all-opaque alpha channel carries nothing; dropping it makes files about a quarter smaller.
    if (isOpaque(img.data)) p = p.removeAlpha();
    p = codec === 'png' ? p.png() : p.webp({ quality });
  }
  try {
    return ownedBytes(await p.toBuffer());
  } catch (e) {
    const reason = firstLine(e instanceof Error ? e.message : String(e));
    const name = codec === 'jpeg' ? 'JPEG' : codec === 'png' ? 'PNG' : 'WebP';
    throw new TintaError(
      ErrorCodes.IMAGE_ENCODE_FAILED,
      `Could not encode the ${width}x${height} image as ${name}${target !== undefined ? ` for "${target}"` : ''}: ${reason}. ` +
        'Check the format\'s size limits (WebP: 16383 px per side, JPEG: 65535) or write PNG instead.',
      { cause: e, details: { width, height, format: name, reason, ...(target !== undefined ? { path: target } : {}) } },
    );
  }
}

/** Encode an RGBA image as PNG (lossless, keeps alpha), JPEG (alpha flattened onto white) or WebP. */
export async function encodeImage(img: RgbaImage, format: EncodeFormat, opts: EncodeOptions = {}): Promise<Uint8Array> {
  return encodeTo(img, codecOf(String(format), 'encodeImage'), opts, undefined);
}

/** Write `bytes` to `path` atomically, as IMAGE_ENCODE_FAILED when the file system refuses. */
async function writeAtomically(path: string, bytes: Uint8Array): Promise<void> {
  try {
    await writeFileAtomic(path, bytes);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new TintaError(
      ErrorCodes.IMAGE_ENCODE_FAILED,
      `Could not write image file "${path}" (${code ?? firstLine(String(e))}). Check that its directory exists and is writable and that the disk has space.`,
      { cause: e, details: { path, bytes: bytes.length } },
    );
  }
}

/** Encode `img` in the format named by the path's extension and write it atomically (no partial file on failure). */
export async function writeImage(path: string, img: RgbaImage, opts: EncodeOptions = {}): Promise<void> {
  check(typeof path === 'string' && path.length > 0, 'writeImage: the path must be a non-empty string');
  const ext = extname(path).slice(1);
  const codec = codecOf(ext, `writeImage("${path}")`);
  // Encode fully in memory first: a failing encoder never touches the disk.
  const bytes = await encodeTo(img, codec, opts, path);
  await writeAtomically(path, bytes);
}

// ---------------------------------------------------------------------------------------------
// Resizing

/** Resize with Lanczos3 to exactly width x height: 'fill' stretches, 'cover' crops the centre to keep the aspect ratio. */
export async function resizeImage(img: RgbaImage, width: number, height: number, opts: ResizeOptions = {}): Promise<RgbaImage> {
  sharpReady();
  validateRgba(img, 'image to resize');
  check(Number.isSafeInteger(width) && width > 0 && Number.isSafeInteger(height) && height > 0, `resizeImage: width and height must be positive integers, got ${width}x${height}`);
  const fit = opts.fit ?? 'fill';
  check(fit === 'fill' || fit === 'cover', `resizeImage: fit must be 'fill' or 'cover', got ${String(fit)}`);
  if (width === img.width && height === img.height) {
    // Nothing to resample; still a new image, so callers may mutate the result freely.
    return { data: img.data.slice(), width, height };
  }
  try {
    // sharp premultiplies alpha around the resampling, so transparent pixels do not bleed colour.
    const { data, info } = await sharp(img.data, { raw: { width: img.width, height: img.height, channels: 4 }, limitInputPixels: false })
      .resize(width, height, { fit, kernel: 'lanczos3', position: 'centre' })
      .ensureAlpha()
      .raw()
      .toBuffer({ resolveWithObject: true });
    if (info.width !== width || info.height !== height || info.channels !== 4) {
      throw new Error(`sharp returned ${info.width}x${info.height}x${info.channels}`);
    }
    return toRgba({ data, width, height });
  } catch (e) {
    throw new TintaError(
      ErrorCodes.IMAGE_ENCODE_FAILED,
      `Could not resize the ${img.width}x${img.height} image to ${width}x${height}: ${firstLine(e instanceof Error ? e.message : String(e))}.`,
      { cause: e, details: { from: [img.width, img.height], to: [width, height], fit } },
    );
  }
}
