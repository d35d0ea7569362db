/** `tinta palette`: draw the ab bucket table (the seed's bucket figure) to a PNG. */
import type { Command } from 'commander';
import { getBuckets, renderPalette, type BucketScheme } from '../../sdk/color/index.ts';
import { writeImage } from '../../sdk/image/node.ts';
import { parseNumber } from '../options.ts';

/** Register the command on `program`. */
export function registerPalette(program: Command): void {
  program
    .command('palette')
    .description('draw the ab buckets, each at its (a, b) in its own colour, to a PNG')
    .option('-o, --out <file>', 'output image (.png, .jpg, .webp)', 'palette.png')
    .option('--scheme <name>', 'bucket scheme: seed (112) or zhang313', 'seed')
    .option('--lightness <L>', 'lightness to draw the buckets at, 0-100', parseNumber, 65)
    .option('--cell <px>', 'side of one bucket square in pixels', parseNumber, 16)
    .addHelpText('after', '\nExamples:\n  tinta palette -o buckets.png\n  tinta palette --scheme zhang313 --lightness 50 -o zhang.png')
    .action(async (o: { out: string; scheme: string; lightness: number; cell: number }) => {
      const buckets = getBuckets(o.scheme as BucketScheme);
      const img = renderPalette(buckets, { L: o.lightness, cell: o.cell });
      await writeImage(o.out, img);
      console.log(`${buckets.count} buckets (${buckets.name}) drawn to ${o.out} (${img.width}x${img.height})`);
    });
}
