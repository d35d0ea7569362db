/** `tinta eval`: colorize the grayscale version of every photo and score it against the original. */
import type { Command } from 'commander';
import { InvalidArgumentError, Option } from 'commander';
import cliProgress from 'cli-progress';
import { evaluate, DEFAULT_EVAL_SIZE, type EvalProgress } from '../../eval/evaluate.ts';
import { formatSummaryTable, writeEvalReport } from '../../eval/report.ts';
import type { Backend } from '../../sdk/backends.ts';
import type { BucketScheme } from '../../sdk/color/index.ts';
import { parseNumber, parsePositiveInt } from '../options.ts';
import { runVideoEval } from './video.ts';

/** Samples shown in report.html. */
const REPORT_SAMPLES = 24;

function parseSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`"${value}" is not an integer >= 0 (0 = full resolution).`);
  return n;
}

/** Register the command on `program`. */
export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('evaluate a model (and the grayscale and mean-colour baselines) on photos: PSNR, AuC, colourfulness, classifier top-1')
    .argument('[dirs...]', 'folders of colour photos, searched recursively (not with --video)')
    .requiredOption('-o, --out <dir>', 'output folder: summary.json, per-image.csv, report.html, images/')
    .option('--model <model>', 'model file, URL or shipped model name (with --video: repeat to compare models)', (v: string, prev: string[] | undefined) => [...(prev ?? []), v])
    .option('--classifier <onnx>', 'ImageNet classifier ([N,3,224,224] input, ImageNet mean/std, [N,1000] output) for the top-1 test')
    .option('--labels <json>', 'JSON {file name, name without extension, synset (n01440764) or folder: class index}, or "original" (the classifier\'s top-1 on each colour original); needs --classifier')
    .option('--limit <n>', 'evaluate at most n photos, spread evenly over the sorted list', parsePositiveInt)
    .option('--size <px>', `downscale so the long side is at most px (0 = full resolution)`, parseSize, DEFAULT_EVAL_SIZE)
    .option('--temperature <T>', 'annealed-mean temperature (default: the model\'s)', parseNumber)
    .option('--resolution <px>', 'short side the network sees (default: the model\'s recommended size)', parsePositiveInt)
    .addOption(new Option('--rebalance-buckets <scheme>', 'bucket table of the rebalanced AuC').choices(['zhang313', 'seed']).default('zhang313'))
    .addOption(new Option('--backend <name>', 'inference backend').choices(['auto', 'native', 'wasm']).default('auto'))
    .option('--video', 'temporal evaluation of clips: CDC, flicker, AuC for per-frame, smoothed and stacked models (docs/video.md)', false)
    .option('--clips <dir>', 'with --video: folder with one sub-folder of frames per clip')
    .option('--clip <names...>', 'with --video: only these clips (e.g. the held-out ones)')
    .option('--smoothing <alpha>', 'with --video: alpha of the smoothed methods (0 = none; default 0.6)', parseNumber)
    .option('--flicker-threshold <dL>', 'with --video: L change under which a pixel counts as static (default 2)', parseNumber)
    .option('--max-frames <n>', 'with --video: at most n frames per clip', parsePositiveInt)
    .addHelpText('after', `
Each photo is evaluated at its own resolution, downscaled so its long side is
<= --size (default ${DEFAULT_EVAL_SIZE}); its grayscale version (L only, ab = 0) is colorized
and compared with it. The baselines "grayscale" (ab = 0) and "mean-colour" (the
data set's mean ab everywhere) are scored in the same run.

Examples:
  tinta eval --model models/tinta.onnx photos/val -o eval-out
  tinta eval --model default photos/ --limit 500 --size 0 -o eval-full   # 500 photos at full resolution
  tinta eval --model m.onnx imagenet/val -o out --classifier resnet50.onnx --labels val-labels.json
  tinta eval --video --clips clips/ --clip cows goat --model per-frame.onnx --model stacked3.onnx -o eval-video`)
    .action(async (dirs: string[], opts: {
      out: string; model?: string[]; classifier?: string; labels?: string; limit?: number; size: number; temperature?: number;
      resolution?: number; rebalanceBuckets: BucketScheme; backend: Backend; video: boolean; clips?: string; clip?: string[];
      smoothing?: number; flickerThreshold?: number; maxFrames?: number;
    }, cmd: Command) => {
      if (opts.video) return runVideoEval(opts, cmd);
      if (!dirs.length) cmd.error('error: missing required argument \'dirs\' (or --video --clips DIR)', { exitCode: 2 });
      if ((opts.model?.length ?? 0) > 1) cmd.error('error: one --model for a photo evaluation (several are for --video)', { exitCode: 2 });
      const o = { ...opts, model: opts.model?.[0] ?? 'default' };
      if ((o.classifier === undefined) !== (o.labels === undefined)) cmd.error('error: --classifier and --labels go together', { exitCode: 2 });
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      const bar = new cliProgress.SingleBar({ format: '{phase} |{bar}| {value}/{total} | ETA {eta_formatted}', hideCursor: true, etaBuffer: 20 }, cliProgress.Presets.shades_classic);
      let phase: EvalProgress['phase'] | undefined;
      const onProgress = (p: EvalProgress) => {
        if (!process.stderr.isTTY || p.phase === 'scan') return;
        if (p.phase !== phase) {
          if (phase) bar.stop();
          phase = p.phase;
          bar.start(p.total, 0, { phase: p.phase === 'statistics' ? 'reading   ' : 'evaluating' });
        }
        bar.update(p.done);
      };
      try {
        const r = await evaluate({
          model: o.model, dirs, limit: o.limit, size: o.size, temperature: o.temperature, resolution: o.resolution,
          rebalanceBuckets: o.rebalanceBuckets, backend: o.backend, samples: REPORT_SAMPLES, onProgress, signal: abort.signal,
          ...(o.classifier !== undefined && o.labels !== undefined ? { classifier: o.classifier, labels: o.labels } : {}),
        });
        if (phase) bar.stop();
        phase = undefined;
        const files = await writeEvalReport(r, o.out);
        console.log(formatSummaryTable(r.summary));
        if (o.classifier && r.summary.images.labelled === 0) console.error('warning: no photo matched a label, so there is no top-1 accuracy; check --labels keys.');
        for (const s of r.skipped.slice(0, 20)) console.error(`  skipped ${s.file}: ${s.reason}`);
        console.log(`\n-> ${files.html}, ${files.summary}, ${files.csv}`);
      } finally {
        if (phase) bar.stop();
        process.off('SIGINT', onSigint);
      }
    });
}
