// Colorizes every photo in a folder with tinta in Deno (onnxruntime-web on wasm, in a Deno
// worker), from the repository's built dist/ (run `npm run build` first; an app would import
// 'npm:tinta'). Photos are decoded and the PNGs written with sharp through Deno's npm support.
//
//   deno run -A demos/deno/colorize-folder.mjs [input folder] [output folder]
//
// Defaults: the repository's examples/ and out/demo-deno/. Each photo becomes NAME.png in the
// output folder; a photo that cannot be colorized is skipped and reported (exit code 1).
import sharp from 'sharp';
import { createColorizer } from '../../dist/deno.js';

const ROOT = new URL('../..', import.meta.url);
const PHOTO = /\.(jpe?g|png|webp|tiff?|gif|avif)$/i;
const join = (dir, name) => `${dir.replace(/\/+$/, '')}/${name}`;

const fromRoot = (p) => decodeURIComponent(new URL(p, ROOT).pathname);
const [input = fromRoot('examples'), output = fromRoot('out/demo-deno')] = Deno.args;
const names = [];
try {
  for await (const e of Deno.readDir(input)) if (e.isFile && PHOTO.test(e.name)) names.push(e.name);
} catch (e) {
  console.error(`Cannot read the input folder ${input}: ${e.message}`);
  Deno.exit(2);
}
names.sort();
await Deno.mkdir(output, { recursive: true });

const colorizer = await createColorizer(); // the shipped default model (dist/models/), wasm, in a worker
console.log(`tinta ${colorizer.provider}: ${names.length} photo(s) from ${input} to ${output}`);
let skipped = 0;
for (const name of names) {
  try {
    const r = await colorizer.colorize(join(input, name));
    const png = await sharp(r.rgba(), { raw: { width: r.width, height: r.height, channels: 4 } }).png().toBuffer();
    const to = join(output, `${name.replace(/\.[^.]+$/, '')}.png`);
    // Written beside the target, then renamed: a reader never sees half a file.
    await Deno.writeFile(`${to}.tmp`, png);
    await Deno.rename(`${to}.tmp`, to);
    console.log(`  ${name} -> ${to} (${r.width}x${r.height}, ${r.timings.total.toFixed(0)} ms)`);
  } catch (e) {
    skipped++;
    console.error(`  skipped ${name}: ${e.message}${e.code ? ` [${e.code}]` : ''}`);
  }
}
await colorizer.dispose();
console.log(`done: ${names.length - skipped} colorized, ${skipped} skipped`);
Deno.exit(skipped > 0 ? 1 : 0);
