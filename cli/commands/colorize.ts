/** `tinta colorize`: colorize files, folders and globs with a progress bar and a summary. */
import type { Command } from 'commander';
import { Option } from 'commander';
import { cpus } from 'node:os';
import cliProgress from 'cli-progress';
import { colorizeFiles, type BatchEvent, type OutputFormat } from '../batch.ts';
import type { Backend } from '../../sdk/backends.ts';
import { parseNumber, parsePositiveInt } from '../options.ts';
import { isVideoFileName, runColorizeVideo } from './video.ts';

/** Register the command on `program`. */
export function registerColorize(program: Command): void {
  program
    .command('colorize')
    .description('colorize black-and-white photos (files, folders searched recursively, or quoted globs)')
    .argument('<inputs...>', 'image files, folders or globs such as "scans/**/*.tif"')
    .option('-o, --out <dir>', 'output folder (default: beside each input, as NAME.colorized.EXT)')
    .option('--model <model>', 'model file, URL or shipped model name', 'default')
    .addOption(new Option('--backend <name>', 'inference backend').choices(['auto', 'native', 'wasm']).default('auto'))
    .option('--temperature <T>', 'annealed-mean temperature (lower = more vivid; default: the model\'s)', parseNumber)
    .option('--saturation <s>', 'scale the chroma (1 = as predicted)', parseNumber)
    .option('--size <px>', 'short side the network sees (default: the model\'s, 256)', parsePositiveInt)
    .addOption(new Option('--format <f>', 'output format').choices(['png', 'jpg', 'webp']).default('png'))
    .option('--side-by-side', 'write the input and the colorization next to each other', false)
    .option('--jobs <n>', 'images colorized at once', parsePositiveInt, Math.max(1, Math.min(4, cpus().length)))
    .option('--overwrite', 'replace existing output files (inputs are never overwritten)', false)
    .option('--video', 'the input is one sequence (a folder of frames, natural file-name order, or a video file with ffmpeg): colorize it as video into a folder of frames', false)
    .option('--smoothing <alpha>', 'with --video: exponential ab smoothing, weight of the previous frame in [0, 1) (0 = off)', parseNumber)
    .addHelpText('after', `
Examples:
  tinta colorize old-photo.jpg                       # writes old-photo.colorized.png
  tinta colorize scans/ -o colorized/ --format jpg   # a folder, recursively, keeping sub-folders
  tinta colorize "film/**/*.png" -o out/ --side-by-side --temperature 0.3
  tinta colorize --video clip-frames/ -o clip-colorized/ --smoothing 0.6   # a sequence (stacked models read neighbours)

Exit status: 0 when every file was colorized (or already had an output), 1 when any failed.`)
    .action(async (inputs: string[], o: { out?: string; model: string; backend: Backend; temperature?: number; saturation?: number; size?: number; format: OutputFormat; sideBySide: boolean; jobs: number; overwrite: boolean; video: boolean; smoothing?: number }) => {
      if (o.video || (inputs.length === 1 && isVideoFileName(inputs[0]!))) {
        return runColorizeVideo(inputs, { outDir: o.out, model: o.model, backend: o.backend, temperature: o.temperature, saturation: o.saturation, size: o.size, smoothing: o.smoothing, format: o.format, overwrite: o.overwrite });
      }
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      const bar = new cliProgress.SingleBar({
        format: 'colorizing |{bar}| {value}/{total} | {speed} img/s | ETA {eta_formatted}',
        hideCursor: true, noTTYOutput: false, etaBuffer: 20,
      }, cliProgress.Presets.shades_classic);
      const t0 = Date.now();
      let started = false;
      const onEvent = (e: BatchEvent) => {
        if (e.type === 'planned' && e.total > 1 && process.stderr.isTTY) { bar.start(e.total, 0, { speed: '-' }); started = true; }
        if (e.type === 'file') {
          if (started) bar.update(e.done, { speed: (e.done / Math.max(0.001, (Date.now() - t0) / 1000)).toFixed(2) });
          else if (e.outcome.status === 'done') console.log(`${e.outcome.input} -> ${e.outcome.output}`);
        }
      };
      try {
        const s = await colorizeFiles(inputs, { outDir: o.out, model: o.model, backend: o.backend, temperature: o.temperature, saturation: o.saturation, size: o.size, format: o.format, sideBySide: o.sideBySide, jobs: o.jobs, overwrite: o.overwrite, signal: abort.signal, onEvent });
        if (started) bar.stop();
        console.log(`${s.done} colorized, ${s.skipped} skipped, ${s.failed} failed in ${s.seconds.toFixed(1)} s${o.out ? ` -> ${o.out}` : ''}`);
        for (const x of s.outcomes) if (x.status === 'skipped') console.log(`  skipped ${x.input}: ${x.reason}`);
        const failures = s.outcomes.flatMap((x) => (x.status === 'failed' ? [`  ${x.input}: ${x.reason}${x.code ? ` [${x.code}]` : ''}`] : []));
        if (failures.length) console.error(`failed:\n${failures.join('\n')}`);
        if (s.failed > 0) process.exitCode = 1;
      } finally {
        if (started) bar.stop();
        process.off('SIGINT', onSigint);
      }
    });
}
