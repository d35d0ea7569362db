/** `tinta train`: the front of trainer/train.ts with a progress bar and Ctrl-C checkpointing. */
import type { Command } from 'commander';
import { Option } from 'commander';
import { train, TRAIN_DEFAULTS, type TrainEvent } from '../../trainer/train.ts';
import { parseNumber, parsePositiveInt } from '../options.ts';
import { trainProgress } from '../train-progress.ts';
import { runVideoTrain } from './video.ts';

/** Register the command on `program`. */
export function registerTrain(program: Command): void {
  const d = TRAIN_DEFAULTS;
  program
    .command('train')
    .description('train a colorization model on folders of colour photos')
    .option('--data <dir...>', 'folders of colour photos (recursive; required unless --video-data)')
    .requiredOption('--out <dir>', 'run directory: checkpoints, metrics.jsonl, loss.svg, samples/')
    .option('--val <dir...>', 'validation folders (default: a split of --data)')
    .option('--cache <dir>', 'where decoded photos are cached (default: RUN/cache)')
    .addOption(new Option('--preset <name>', 'architecture').choices(['tiny', 'seed']).default(d.preset))
    .addOption(new Option('--size <px>', 'training size').choices(['64', '128', '176', '224']).default(String(d.size)))
    .option('--epochs <n>', 'epochs', parsePositiveInt, d.epochs)
    .option('--batch <n>', 'batch size', parsePositiveInt, d.batchSize)
    .option('--lr <rate>', 'peak learning rate (Adam)', parseNumber, d.lr)
    .option('--warmup <steps>', 'linear warm-up steps (default 5% of the run, at most 500)', parsePositiveInt)
    .option('--clip <norm>', 'clip the global gradient norm (0 = off)', parseNumber, d.clipNorm)
    .option('--width <multiplier>', 'channel width multiplier', parseNumber, 1)
    .addOption(new Option('--upsampling <mode>', 'decoder upsampling').choices(['nearest', 'bilinear', 'transpose']))
    .addOption(new Option('--buckets <scheme>', 'ab quantization').choices(['seed', 'zhang313']).default(d.buckets))
    .option('--fusion', 'fuse a global image embedding (needs --embeddings)', false)
    .option('--embeddings <cache>', 'with --fusion: the embedding cache made by `tinta embed` (photos without one are skipped)')
    .option('--no-rebalance', 'plain cross-entropy, without class rebalancing')
    .option('--lambda <l>', 'rebalancing: mix of prior and uniform', parseNumber, d.lambda)
    .option('--workers <n>', 'data-parallel replicas, one thread each (WASM backend; default: one per core)', parsePositiveInt, d.workers)
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend').choices(['auto', 'node-gpu', 'node', 'wasm', 'cpu']).default(d.backend))
    .option('--resume', 'continue from RUN/checkpoints/last.tinta', false)
    .option('--seed <n>', 'random seed (data order, crops, split)', parsePositiveInt, d.seed)
    .option('--val-fraction <f>', 'validation share when --val is not given', parseNumber, d.valFraction)
    .option('--val-limit <n>', 'validation images per evaluation', parsePositiveInt, d.valLimit)
    .option('--checkpoint-minutes <m>', 'save last.tinta at least this often', parseNumber, d.checkpointMinutes)
    .option('--max-steps <n>', 'stop (with a checkpoint) after this many steps in this invocation', parsePositiveInt)
    .option('--video-data <dir>', 'video: train on clips (one sub-folder of ordered frames per clip; see docs/video.md)')
    .option('--frames <n>', 'video: frames stacked as input channels (odd; default 3)', parsePositiveInt)
    .option('--init <checkpoint>', 'video: start from this single-frame checkpoint (its first kernel widened)')
    .addOption(new Option('--widen <mode>', 'video: first kernel for the new frames').choices(['centre', 'even']))
    .option('--temporal <weight>', 'video: weight of the temporal-consistency term (0 = off)', parseNumber)
    .option('--temporal-sigma <dL>', 'video: L change (L units) under which a pixel counts as static', parseNumber)
    .option('--val-clips <names...>', 'video: held-out clips by name (default: a seeded quarter of the clips)')
    .option('--val-count <n>', 'video: number of held-out clips (instead of --val-clips)', parsePositiveInt)
    .addHelpText('after', `
Examples:
  tinta train --data photos/ --out runs/tiny128 --preset tiny --size 128 --epochs 30
  tinta train --data photos/ --out runs/tiny128 --resume          # continue after Ctrl-C or a crash
  tinta train --data a/ b/ --val val/ --out runs/seed --preset seed --size 224 --backend node-gpu
  tinta train --data photos/ --fusion --embeddings emb/mobilenetv2 --out runs/fusion   # after \`tinta embed\`
  tinta train --video-data clips/ --frames 3 --init runs/tiny128/checkpoints/best.tinta --out runs/video3

Ctrl-C saves a checkpoint and exits; --resume continues from the exact step.`)
    .action(async (o: Record<string, unknown>, cmd: Command) => {
      if (o.videoData !== undefined || o.frames !== undefined) return runVideoTrain(o, cmd);
      if (!o.data) cmd.error('error: required option \'--data <dir...>\' not specified (or --video-data for a video model)', { exitCode: 2 });
      const progress = trainProgress();
      const onEvent = (e: TrainEvent) => {
        switch (e.type) {
          case 'backend': console.log(`backend: ${e.info.name}${e.workers > 1 ? ` x ${e.workers} workers` : ''}${e.info.skipped.length ? ` (skipped: ${e.info.skipped.map((s) => s.name).join(', ')})` : ''}`); break;
          case 'data': console.log(`data: ${e.train} training, ${e.val} validation photos; skipped ${e.report.skipped.grayscale.length} grayscale, ${e.report.skipped.unreadable.length} unreadable, ${e.report.skipped.duplicates.length} duplicates`); break;
          case 'start':
            console.log(`${e.resumed ? 'resuming at' : 'starting at'} step ${e.fromStep} of ${e.totalSteps} (${e.stepsPerEpoch} per epoch), ${e.params.toLocaleString('en')} parameters`);
            progress.start(e.totalSteps, e.fromStep);
            break;
          case 'step': progress.step(e); break;
          case 'validation':
            progress.stop();
            console.log(`epoch ${e.epoch + 1}: val loss ${e.valLoss.toFixed(4)} (rebalanced ${e.valLossWeighted.toFixed(4)}), bucket accuracy ${(100 * e.accuracy).toFixed(1)}%, AuC ${(100 * e.auc).toFixed(2)}%${e.best ? ' (best)' : ''}`);
            break;
          case 'checkpoint': case 'notice': case 'done': progress.log(e); break;
          default: break;
        }
      };
      try {
        await train({
          data: o.data as string[], out: o.out as string, val: o.val as string[] | undefined, cacheDir: o.cache as string | undefined,
          preset: o.preset as 'tiny' | 'seed', size: Number(o.size), epochs: o.epochs as number, batchSize: o.batch as number, lr: o.lr as number,
          warmupSteps: o.warmup as number | undefined, clipNorm: o.clip as number, widthMultiplier: o.width as number,
          upsampling: o.upsampling as 'nearest' | 'bilinear' | 'transpose' | undefined, buckets: o.buckets as 'seed' | 'zhang313',
          fusion: o.fusion as boolean, embeddings: o.embeddings as string | undefined, rebalance: o.rebalance as boolean, lambda: o.lambda as number, workers: o.workers as number,
          backend: o.backend as 'auto', resume: o.resume as boolean, seed: o.seed as number, valFraction: o.valFraction as number,
          valLimit: o.valLimit as number, checkpointMinutes: o.checkpointMinutes as number, maxSteps: o.maxSteps as number | undefined,
          command: ['tinta', ...process.argv.slice(2)].join(' '), onEvent, signal: progress.signal,
        });
      } finally {
        progress.close();
      }
    });
}
