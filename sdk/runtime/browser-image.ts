/**
 * Decoding images in browsers (window or worker): createImageBitmap decodes, an OffscreenCanvas
 * painted white first flattens alpha onto white (as the Node decoder does), getImageData reads
 * sRGB RGBA8. EXIF orientation is applied ('from-image').
 */
import { ErrorCodes, TintaError, formatBytes } from '../errors.ts';
import { checkPixelLimit, type RgbaImage } from '../image/types.ts';
import { runtimeFacts } from '../env.ts';
import type { ImageSource } from './types.ts';

async function bitmapFromBytes(bytes: Uint8Array): Promise<ImageBitmap> {
  if (bytes.length === 0) {
    throw new TintaError(ErrorCodes.IMAGE_EMPTY, 'The image data is empty (0 bytes). Pass the bytes of an image file, e.g. from fetch().arrayBuffer().');
  }
  try {
    return await createImageBitmap(new Blob([bytes as Uint8Array<ArrayBuffer>]), { imageOrientation: 'from-image', premultiplyAlpha: 'none', colorSpaceConversion: 'default' });
  } catch (e) {
    throw new TintaError(
      ErrorCodes.IMAGE_UNSUPPORTED,
      `The image data (${formatBytes(bytes.length)}) could not be decoded by this browser: ${e instanceof Error ? e.message : String(e)}. Use JPEG, PNG or WebP; a truncated file fails the same way.`,
      { cause: e, details: { bytes: bytes.length } },
    );
  }
}

/** An ImageSource -> opaque sRGB RGBA8, refusing images over `maxPixels`. */
export async function decodeInBrowser(src: ImageSource, maxPixels: number): Promise<RgbaImage> {
  if (src.kind === 'rgba') {
    checkPixelLimit(src.image.width, src.image.height, maxPixels);
    return src.image;
  }
  if (src.kind === 'path') {
    throw new TintaError(ErrorCodes.IMAGE_NOT_FOUND, `"${src.path}" is a file path, but browsers have no file system; pass a URL, a Blob, bytes or an image element.`);
  }
  if (!runtimeFacts().canDecodeImages) {
    throw new TintaError(ErrorCodes.IMAGE_UNSUPPORTED, 'This browser has no OffscreenCanvas/createImageBitmap to decode images with; pass raw RGBA ({ data, width, height }) or an ImageData.');
  }
  const bitmap = src.kind === 'bitmap' ? src.bitmap : await bitmapFromBytes(src.bytes);
  try {
    const { width, height } = bitmap;
    if (!(width > 0 && height > 0)) throw new TintaError(ErrorCodes.IMAGE_ZERO_SIZE, `The image is ${width}x${height}: it has no pixels.`, { details: { width, height } });
    checkPixelLimit(width, height, maxPixels);
    const canvas = new OffscreenCanvas(width, height);
    const ctx = canvas.getContext('2d', { willReadFrequently: true });
    if (!ctx) throw new TintaError(ErrorCodes.IMAGE_DECODE_FAILED, 'Could not get a 2D canvas context to read the image pixels.');
    ctx.fillStyle = '#ffffff';
    ctx.fillRect(0, 0, width, height);
    ctx.drawImage(bitmap, 0, 0);
    const data = ctx.getImageData(0, 0, width, height, { colorSpace: 'srgb' }).data;
    return { data, width, height };
  } finally {
    bitmap.close();
  }
}
