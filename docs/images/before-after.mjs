// Remakes docs/images/before-after.jpg with the shipped default model:
//   node --import tsx docs/images/before-after.mjs
// Each row: the example photo in grayscale | tinta's colorization of that grayscale.
import sharp from 'sharp';
import { createColorizer } from '../../sdk/node.ts';

const PHOTOS = ['examples/cameraman.jpg', 'examples/astronaut.jpg'];
const HEIGHT = 300;
const colorizer = await createColorizer({ worker: false, ...(process.env.MODEL ? { model: process.env.MODEL } : {}) });
const tiles = [];
for (const file of PHOTOS) {
  const gray = await sharp(file).resize({ height: HEIGHT }).grayscale().toColourspace('srgb').png().toBuffer();
  const r = await colorizer.colorize(new Uint8Array(gray));
  const colour = await sharp(Buffer.from(r.rgba().buffer, r.rgba().byteOffset, r.rgba().byteLength), { raw: { width: r.width, height: r.height, channels: 4 } }).removeAlpha().png().toBuffer();
  tiles.push(gray, colour);
}
await colorizer.dispose();
const metas = await Promise.all(tiles.map((t) => sharp(t).metadata()));
const gap = 8;
const width = metas.reduce((a, m) => a + m.width, 0) + gap * (tiles.length - 1);
let left = 0;
const composite = tiles.map((input, i) => {
  const at = { input, left, top: 0 };
  left += metas[i].width + gap;
  return at;
});
await sharp({ create: { width, height: HEIGHT, channels: 3, background: '#ffffff' } }).composite(composite).jpeg({ quality: 85 }).toFile('docs/images/before-after.jpg');
console.log(`docs/images/before-after.jpg: ${width}x${HEIGHT}`);
