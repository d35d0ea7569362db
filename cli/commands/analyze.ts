/** `tinta analyze`: the seed's colour analysis of a photo collection (bucket histograms, k-means, bucket grids). */
import type { Command } from 'commander';
import { Option } from 'commander';
import cliProgress from 'cli-progress';
import { analyze, writeAnalysis, type AnalyzeProgress } from '../../eval/analyze.ts';
import type { BucketScheme } from '../../sdk/color/index.ts';
import { parseNumber, parsePositiveInt } from '../options.ts';

/** Register the command on `program`. */
export function registerAnalyze(program: Command): void {
  program
    .command('analyze')
    .description('cluster photos by their ab bucket histograms (k-means) and draw each cluster and the data set\'s bucket prior')
    .argument('<dirs...>', 'folders of colour photos, searched recursively')
    .requiredOption('-o, --out <dir>', 'output folder: index.html, prior.png, cluster-N.png, thumbs/, clusters.csv, analysis.json')
    .option('--k <n>', 'number of clusters', parsePositiveInt, 8)
    .option('--seed <n>', 'seed of the k-means++ initialisation', parsePositiveInt, 1)
    .addOption(new Option('--buckets <scheme>', 'bucket table').choices(['seed', 'zhang313']).default('seed'))
    .option('--size <px>', 'long side of the copy each histogram is taken over', parsePositiveInt, 64)
    .option('--limit <n>', 'at most n photos, spread evenly over the sorted list', parsePositiveInt)
    .option('--examples <n>', 'example thumbnails per cluster', parsePositiveInt, 6)
    .option('--min-share <p>', 'draw buckets with a smaller share as empty (0 = every non-zero bucket)', parseNumber, 0.001)
    .addHelpText('after', `
Examples:
  tinta analyze photos/ -o analysis                       # 8 clusters over the 112 seed buckets
  tinta analyze photos/ -o analysis-313 --k 12 --buckets zhang313 --seed 7
  tinta analyze photos/ --limit 2000 --min-share 0 -o quick`)
    .action(async (dirs: string[], o: { out: string; k: number; seed: number; buckets: BucketScheme; size: number; limit?: number; examples: number; minShare: number }) => {
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      const bar = new cliProgress.SingleBar({ format: 'histograms |{bar}| {value}/{total} | ETA {eta_formatted}', hideCursor: true, etaBuffer: 20 }, cliProgress.Presets.shades_classic);
      let started = false;
      const onProgress = (p: AnalyzeProgress) => {
        if (!process.stderr.isTTY) return;
        if (p.phase === 'scan' && p.total > 1) { bar.start(p.total, 0); started = true; }
        if (p.phase === 'histograms' && started) bar.update(p.done);
        if (p.phase === 'kmeans' && started) { bar.stop(); started = false; }
      };
      try {
        const a = await analyze({ dirs, k: o.k, seed: o.seed, buckets: o.buckets, size: o.size, limit: o.limit, examples: o.examples, onProgress, signal: abort.signal });
        const files = await writeAnalysis(a, o.out, { minShare: o.minShare });
        console.log(`${a.images.length} photos (${a.skipped.length} skipped), ${a.buckets.count} ${a.buckets.name} buckets, k = ${a.k}:`);
        for (const c of a.clusters) console.log(`  cluster ${c.index}: ${c.size} photos`);
        console.log(`-> ${files.html}`);
      } finally {
        if (started) bar.stop();
        process.off('SIGINT', onSigint);
      }
    });
}
