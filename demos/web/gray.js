// The grayscale panel: the photo's CIE L with a = b = 0, i.e. exactly the lightness the network
// sees and the colorization keeps. Computed with the SDK's own colour core (one source of truth).
import { labToRgba8, rgba8ToL } from '/dist/color/lab.js';

/** The neutral-gray ImageData with the same L as `image`. */
export function grayscale(image) {
  const { width, height } = image;
  const L = rgba8ToL(image.data, width, height);
  const zero = new Float32Array(L.length);
  return new ImageData(labToRgba8(L, zero, zero), width, height);
}
