// Colorizes every photo in a folder with tinta in Node, as an app that depends on the package
// would (`import … from 'tinta'`, here the repository's own built dist/: run `npm run build` first).
//
//   node demos/node/colorize-folder.mjs [input folder] [output folder]
//
// Defaults: the repository's examples/ and out/demo-node/. Each photo becomes NAME.png in the
// output folder; a photo that cannot be colorized is skipped and reported (exit code 1).
import { mkdir, readdir, rename, writeFile } from 'node:fs/promises';
import { extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PHOTO = /\.(jpe?g|png|webp|tiff?|gif|avif)$/i;

let tinta;
try {
  tinta = await import('tinta'); // the package resolves to dist/node.js
} catch (e) {
  console.error(`The built SDK could not be loaded (${e.message}); run \`npm run build\` first.`);
  process.exit(2);
}

const [input = join(ROOT, 'examples'), output = join(ROOT, 'out', 'demo-node')] = process.argv.slice(2);
const names = (await readdir(input).catch((e) => {
  console.error(`Cannot read the input folder ${resolve(input)}: ${e.message}`);
  process.exit(2);
})).filter((n) => PHOTO.test(n)).sort();
await mkdir(output, { recursive: true });

const colorizer = await tinta.createColorizer(); // the shipped default model, native ONNX Runtime, in a worker thread
console.log(`tinta ${colorizer.provider}: ${names.length} photo(s) from ${resolve(input)} to ${resolve(output)}`);
let skipped = 0;
for (const name of names) {
  try {
    const r = await colorizer.colorize(join(input, name));
    const png = await sharp(r.rgba(), { raw: { width: r.width, height: r.height, channels: 4 } }).png().toBuffer();
    const to = join(output, `${name.slice(0, -extname(name).length)}.png`);
    // Written beside the target, then renamed: a reader never sees half a file.
    await writeFile(`${to}.tmp`, png);
    await rename(`${to}.tmp`, to);
    console.log(`  ${name} -> ${to} (${r.width}x${r.height}, ${r.timings.total.toFixed(0)} ms)`);
  } catch (e) {
    skipped++;
    console.error(`  skipped ${name}: ${e.message}${e.code ? ` [${e.code}]` : ''}`);
  }
}
await colorizer.dispose();
console.log(`done: ${names.length - skipped} colorized, ${skipped} skipped`);
process.exitCode = skipped > 0 ? 1 : 0;
