/**
 * The video parts of the CLI: `tinta train --frames n --video-data DIR`, `tinta colorize --video`
 * and `tinta eval --video` dispatch here. Each is a thin front over a library function
 * (trainVideo, colorizeSequence, evaluateVideo) that the tests call directly.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, extname, join, resolve } from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { createColorizer } from '../../sdk/node.ts';
import type { Backend } from '../../sdk/backends.ts';
import { decodeImage, writeImage } from '../../sdk/image/node.ts';
import { ErrorCodes, TintaError, isTintaError } from '../../sdk/errors.ts';
import { listFrames } from '../../trainer/video/frames.ts';
import { trainVideo, VIDEO_TRAIN_DEFAULTS, type VideoTrainEvent, type VideoTrainOptions } from '../../trainer/video/train-video.ts';
import type { OutputFormat } from '../batch.ts';
import { trainProgress } from '../train-progress.ts';
import { evaluateVideo, videoReportMarkdown, writeVideoReport } from '../../eval/video.ts';

/** File extensions read as video files (through ffmpeg). */
export const VIDEO_EXTENSIONS: ReadonlySet<string> = new Set(['.mp4', '.mov', '.mkv', '.avi', '.webm', '.m4v', '.mpg', '.mpeg', '.ogv']);

/** True when `path` names a video file by its extension. */
export function isVideoFileName(path: string): boolean {
  return VIDEO_EXTENSIONS.has(extname(path).toLowerCase());
}

/** The ffmpeg on PATH (or $TINTA_FFMPEG), or null when there is none. */
export function findFfmpeg(): string | null {
  const bin = process.env.TINTA_FFMPEG || 'ffmpeg';
  const r = spawnSync(bin, ['-version'], { stdio: 'ignore' });
  return r.status === 0 ? bin : null;
}

/** Extract the frames of `file` as PNGs into `dir` with ffmpeg; IMAGE_UNSUPPORTED (saying what to do) without it. */
export function extractFrames(file: string, dir: string, ffmpeg: string | null = findFfmpeg()): void {
  if (!ffmpeg) {
    throw new TintaError(
      ErrorCodes.IMAGE_UNSUPPORTED,
      `Reading the video file ${file} needs ffmpeg, which is not installed (not found on PATH; set TINTA_FFMPEG to its path). ` +
        'Install ffmpeg (e.g. `apt-get install ffmpeg`, `brew install ffmpeg`), or extract the frames with any tool and pass the folder of frames with --video.',
      { details: { file } },
    );
  }
  const r = spawnSync(ffmpeg, ['-v', 'error', '-i', file, '-vsync', '0', join(dir, '%06d.png')], { encoding: 'utf8' });
  if (r.status !== 0) throw new TintaError(ErrorCodes.IMAGE_DECODE_FAILED, `ffmpeg could not read ${file}: ${(r.stderr || '').trim().split('\n').pop() ?? `exit ${r.status}`}`, { details: { file } });
}

/** Options of colorizeSequence. */
export interface ColorizeSequenceOptions {
  /** Output folder of frames (default: INPUT.colorized beside the input). */
  outDir?: string;
  model?: string;
  backend?: Backend;
  temperature?: number;
  saturation?: number;
  /** Short side the network sees. */
  size?: number;
  /** Exponential ab smoothing weight of the past, 0..1 (0 = off). */
  smoothing?: number;
  /** Scene-cut threshold: mean |dL| between frames above which smoothing restarts. */
  sceneCut?: number;
  format?: OutputFormat;
  overwrite?: boolean;
  signal?: AbortSignal;
  onFrame?: (done: number, total: number, file: string) => void;
}

/** What colorizeSequence did. */
export interface SequenceSummary {
  outDir: string;
  frames: number;
  failed: { file: string; reason: string; code?: string }[];
  /** Frames where smoothing restarted (scene cuts). */
  sceneCuts: number[];
  /** How many stacked frames the model reads (1 = a per-frame model). */
  modelFrames: number;
  seconds: number;
}

/**
 * Colorize a folder of frames (natural order of file names) or a video file (frames extracted
 * with ffmpeg) as one sequence, into an output folder of frames named like the inputs. An
 * undecodable frame is skipped and reported; the sequence goes on without it.
 */
export async function colorizeSequence(input: string, o: ColorizeSequenceOptions = {}): Promise<SequenceSummary> {
  const t0 = Date.now();
  const src = resolve(input);
  if (!existsSync(src)) throw new TintaError(ErrorCodes.IMAGE_NOT_FOUND, `No such folder of frames or video file: ${input}.`, { details: { path: input } });
  const format = o.format ?? 'png';
  let frameDir = src, tmp: string | undefined;
  if (!statSync(src).isDirectory()) {
    if (!isVideoFileName(src)) throw new TintaError(ErrorCodes.IMAGE_UNSUPPORTED, `${input} is neither a folder of frames nor a video file (${[...VIDEO_EXTENSIONS].join(', ')}).`, { details: { path: input } });
    tmp = mkdtempSync(join(tmpdir(), 'tinta-frames-'));
    frameDir = tmp;
  }
  try {
    if (tmp) extractFrames(src, tmp);
    const files = await listFrames(frameDir);
    if (files.length === 0) throw new TintaError(ErrorCodes.IMAGE_NOT_FOUND, `No frames (image files) in ${input}.`, { details: { path: input } });
    const outDir = resolve(o.outDir ?? `${src.replace(/[\\/]+$/, '').replace(/\.[^./\\]+$/, '')}.colorized`);
    mkdirSync(outDir, { recursive: true });
    const outputOf = (f: string) => join(outDir, `${basename(f, extname(f))}.${format}`);
    if (!o.overwrite) {
      const existing = files.map(outputOf).filter((f) => existsSync(f));
      if (existing.length) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `${existing.length} output frame(s) already exist in ${outDir} (e.g. ${basename(existing[0]!)}); pass --overwrite or another --out.`, { details: { outDir } });
    }
    const colorizer = await createColorizer({ model: o.model ?? 'default', backend: o.backend ?? 'auto', worker: true });
    const failed: SequenceSummary['failed'] = [];
    const sceneCuts: number[] = [];
    let done = 0;
    try {
      // Frames that fail to decode are dropped here, so the stream only sees real frames.
      const decoded = async function* () {
        for (const f of files) {
          if (o.signal?.aborted) return;
          try {
            const img = await decodeImage(f);
            yield { file: f, img };
          } catch (e) {
            if (!(isTintaError(e) && e.code.startsWith('IMAGE_'))) throw e;
            failed.push({ file: f, reason: e.message, code: e.code });
          }
        }
      };
      const order: string[] = [];
      const frames = async function* () {
        for await (const { file, img } of decoded()) { order.push(file); yield img; }
      };
      for await (const r of colorizer.colorizeVideo(frames(), {
        temperature: o.temperature, saturation: o.saturation, resolution: o.size, smoothing: o.smoothing ?? 0,
        ...(o.sceneCut !== undefined ? { sceneCut: o.sceneCut } : {}), ...(o.signal ? { signal: o.signal } : {}),
      })) {
        const file = order[r.index]!;
        if (r.sceneCut && r.index > 0) sceneCuts.push(r.index);
        await writeImage(outputOf(file), { data: r.rgba(), width: r.width, height: r.height });
        done++;
        o.onFrame?.(done, files.length, file);
      }
      return { outDir, frames: done, failed, sceneCuts, modelFrames: colorizer.info.frames, seconds: (Date.now() - t0) / 1000 };
    } finally {
      await colorizer.dispose();
    }
  } finally {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  }
}

/** `tinta colorize --video`: the CLI front of colorizeSequence (one input). */
export async function runColorizeVideo(inputs: string[], o: Omit<ColorizeSequenceOptions, 'onFrame' | 'signal'>): Promise<void> {
  if (inputs.length !== 1) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `--video colorizes one sequence: pass one folder of frames or one video file (got ${inputs.length} inputs).`);
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  const bar = new cliProgress.SingleBar({ format: 'colorizing |{bar}| {value}/{total} frames | ETA {eta_formatted}', hideCursor: true }, cliProgress.Presets.shades_classic);
  let started = false;
  try {
    const s = await colorizeSequence(inputs[0]!, {
      ...o, signal: abort.signal,
      onFrame: (done, total) => {
        if (!process.stderr.isTTY) return;
        if (!started) { bar.start(total, 0); started = true; }
        bar.update(done);
      },
    });
    if (started) bar.stop();
    started = false;
    const how = s.modelFrames > 1 ? `${s.modelFrames}-frame stacks` : o.smoothing ? `per frame, smoothed (alpha ${o.smoothing})` : 'per frame';
    console.log(`${s.frames} frames colorized (${how}) in ${s.seconds.toFixed(1)} s -> ${s.outDir}${s.sceneCuts.length ? `; scene cuts at frames ${s.sceneCuts.join(', ')}` : ''}`);
    if (s.failed.length) {
      console.error(`failed:\n${s.failed.map((f) => `  ${f.file}: ${f.reason}${f.code ? ` [${f.code}]` : ''}`).join('\n')}`);
      process.exitCode = 1;
    }
  } finally {
    if (started) bar.stop();
    process.off('SIGINT', onSigint);
  }
}

/** `tinta train --video-data DIR [--frames n]`: the CLI front of trainVideo. `o` holds train's parsed options. */
export async function runVideoTrain(o: Record<string, unknown>, cmd: Command): Promise<void> {
  const d = VIDEO_TRAIN_DEFAULTS;
  // Options whose photo-training default is wrong for fine-tuning take the video default unless given.
  const given = (k: string) => cmd.getOptionValueSource(k) !== 'default' && o[k] !== undefined;
  if (!o.videoData) cmd.error('error: video training needs --video-data DIR (one sub-folder of frames per clip)', { exitCode: 2 });
  const progress = trainProgress();
  const onEvent = (e: VideoTrainEvent) => {
    switch (e.type) {
      case 'backend': console.log(`backend: ${e.info.name}${e.workers > 1 ? ` x ${e.workers} workers` : ''}`); break;
      case 'clips':
        console.log(`clips: ${e.train.length} training (${e.trainSamples} stacks), ${e.val.length} held out (${e.val.join(', ') || 'none'})`);
        for (const s of e.skipped) console.error(`  skipped clip ${s.clip}: ${s.reason}`);
        break;
      case 'start':
        console.log(`${e.resumed ? 'resuming at' : 'starting at'} step ${e.fromStep} of ${e.totalSteps} (${e.stepsPerEpoch} per epoch), ${e.params.toLocaleString('en')} parameters${e.init ? `, from ${e.init}` : ''}`);
        progress.start(e.totalSteps, e.fromStep);
        break;
      case 'step': progress.step(e); break;
      case 'validation':
        progress.stop();
        console.log(`epoch ${e.epoch + 1}: val loss ${e.valLoss.toFixed(4)}, bucket accuracy ${(100 * e.accuracy).toFixed(1)}%, AuC ${(100 * e.auc).toFixed(2)}%, static-pixel flicker ${e.flicker.toFixed(3)} ab${e.best ? ' (best)' : ''}`);
        break;
      case 'checkpoint': case 'notice': case 'done': progress.log(e); break;
      default: break;
    }
  };
  try {
    const opts: Partial<VideoTrainOptions> & Pick<VideoTrainOptions, 'videoData' | 'out'> = {
      videoData: o.videoData as string, out: o.out as string, frames: (o.frames as number | undefined) ?? d.frames,
      widen: (o.widen as VideoTrainOptions['widen'] | undefined) ?? d.widen, preset: o.preset as 'tiny' | 'seed', buckets: o.buckets as 'seed' | 'zhang313',
      epochs: given('epochs') ? (o.epochs as number) : d.epochs, batchSize: given('batch') ? (o.batch as number) : d.batchSize, lr: given('lr') ? (o.lr as number) : d.lr,
      clipNorm: o.clip as number, temporal: (o.temporal as number | undefined) ?? d.temporal, temporalSigma: (o.temporalSigma as number | undefined) ?? d.temporalSigma,
      valLimit: o.valLimit as number, rebalance: o.rebalance as boolean, lambda: o.lambda as number, workers: o.workers as number,
      backend: o.backend as 'auto', resume: o.resume as boolean, seed: o.seed as number, checkpointMinutes: o.checkpointMinutes as number,
      command: ['tinta', ...process.argv.slice(2)].join(' '), onEvent, signal: progress.signal,
    };
    if (o.init !== undefined) opts.init = o.init as string;
    if (given('size')) opts.size = Number(o.size);
    if (o.warmup !== undefined) opts.warmupSteps = o.warmup as number;
    if (o.maxSteps !== undefined) opts.maxSteps = o.maxSteps as number;
    if (o.cache !== undefined) opts.cacheDir = o.cache as string;
    if (o.valClips !== undefined) opts.valClips = o.valClips as string[];
    if (o.valCount !== undefined) opts.valCount = o.valCount as number;
    await trainVideo(opts);
  } finally {
    progress.close();
  }
}

/** `tinta eval --video`: the CLI front of evaluateVideo. `o` holds eval's parsed options. */
export async function runVideoEval(o: {
  out: string; model?: string[]; size: number; resolution?: number; backend: Backend; clips?: string; clip?: string[];
  smoothing?: number; flickerThreshold?: number; maxFrames?: number;
}, cmd: Command): Promise<void> {
  if (!o.clips) cmd.error('error: --video needs --clips DIR (one sub-folder of frames per clip)', { exitCode: 2 });
  if (!o.model?.length) cmd.error('error: --video needs at least one --model (a single-frame and/or a stacked model)', { exitCode: 2 });
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  try {
    let last = '';
    const r = await evaluateVideo({
      clips: o.clips!, models: o.model!, backend: o.backend, signal: abort.signal,
      // Frames are evaluated as they are unless --size is given (the photo default of 256 would shrink HD clips silently).
      ...(cmd.getOptionValueSource('size') === 'default' ? {} : { size: o.size }),
      ...(o.clip?.length ? { clipNames: o.clip } : {}),
      ...(o.smoothing !== undefined ? { smoothing: o.smoothing } : {}),
      ...(o.flickerThreshold !== undefined ? { flickerThreshold: o.flickerThreshold } : {}),
      ...(o.maxFrames !== undefined ? { maxFrames: o.maxFrames } : {}),
      ...(o.resolution !== undefined ? { resolution: o.resolution } : {}),
      onProgress: (p) => {
        const key = `${p.clip} / ${p.method}`;
        if (key !== last && process.stderr.isTTY) process.stderr.write(`evaluating ${key}\n`);
        last = key;
      },
    });
    const files = await writeVideoReport(r, o.out);
    console.log(videoReportMarkdown(r).split('\n## ')[1]?.replace(/^Overall\n/, 'Overall\n') ?? '');
    for (const s of r.skipped) console.error(`  skipped clip ${s.clip}: ${s.reason}`);
    console.log(`-> ${files.markdown}, ${files.summary}`);
  } finally {
    process.off('SIGINT', onSigint);
  }
}
