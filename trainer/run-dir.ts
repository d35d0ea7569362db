/**
 * What the photo trainer (train.ts) and the video trainer (video/train-video.ts) share about a run:
 * the run directory's layout, the resumable step counters, the metrics log and its loss plot,
 * the throughput/ETA bookkeeping and the events and result both report the same way.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../sdk/io/atomic-node.ts';
import type { BackendInfo } from './backend.ts';
import { lineChartSvg } from './report/plot.ts';

/** What a finished (or interrupted) run reports. */
export interface TrainResult {
  runDir: string;
  step: number;
  epoch: number;
  interrupted: boolean;
  bestValLoss: number;
  lastCheckpoint: string;
  bestCheckpoint: string;
}

/** The events both trainers emit alike (each adds its own data, start, step and validation events). */
export type RunEvent =
  | { type: 'backend'; info: BackendInfo; workers: number }
  | { type: 'checkpoint'; path: string; step: number; reason: string }
  | { type: 'notice'; message: string }
  | { type: 'done'; step: number; epochs: number; interrupted: boolean; bestValLoss: number; seconds: number };

/** The step counters a checkpoint stores; with the seed they fix the data order, so a resume continues exactly. */
export interface RunState {
  step: number;
  epoch: number;
  stepInEpoch: number;
  bestValLoss: number;
  trainSeconds: number;
  imagesSeen: number;
}

/** The state of a run that has not taken a step yet. */
export function freshRunState(): RunState {
  return { step: 0, epoch: 0, stepInEpoch: 0, bestValLoss: Infinity, trainSeconds: 0, imagesSeen: 0 };
}

/** The files of a run directory (the same layout for photo and video runs, so `tinta export` reads both). */
export function runPaths(out: string) {
  return {
    last: join(out, 'checkpoints', 'last.tinta'),
    best: join(out, 'checkpoints', 'best.tinta'),
    metrics: join(out, 'metrics.jsonl'),
    plot: join(out, 'loss.svg'),
    grid: (epoch: number) => join(out, 'samples', `epoch-${String(epoch).padStart(3, '0')}.png`),
    command: join(out, 'command.txt'),
    data: join(out, 'data-report.json'),
  };
}

/** The paths runPaths returns. */
export type RunPaths = ReturnType<typeof runPaths>;

/** Keep only metric lines at or before `step` (a resumed run rewrites what came after its checkpoint). */
export async function truncateMetrics(file: string, step: number): Promise<void> {
  if (!existsSync(file)) return;
  const keep = readFileSync(file, 'utf8').split('\n').filter((l) => {
    if (!l.trim()) return false;
    try { return (JSON.parse(l) as { step: number }).step <= step; } catch { return false; }
  });
  await writeFileAtomic(file, keep.map((l) => l + '\n').join(''));
}

/** Draw the metrics log as loss.svg: training loss (EMA) and validation loss over steps; `thinTo` caps the training points drawn. */
export async function writeLossPlot(p: Pick<RunPaths, 'metrics' | 'plot'>, o: { title: string; thinTo?: number }): Promise<void> {
  if (!existsSync(p.metrics)) return;
  const rows = readFileSync(p.metrics, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number | string>);
  const train: [number, number][] = [];
  let ema: number | undefined;
  for (const r of rows) if (r.kind === 'train') { ema = ema === undefined ? (r.loss as number) : 0.95 * ema + 0.05 * (r.loss as number); train.push([r.step as number, ema]); }
  const val = rows.filter((r) => r.kind === 'val').map((r) => [r.step as number, r.valLoss as number] as [number, number]);
  const every = o.thinTo ? Math.max(1, Math.floor(train.length / o.thinTo)) : 1;
  await writeFileAtomic(p.plot, lineChartSvg(
    [{ name: 'train loss (EMA)', color: '#1f77b4', points: train.filter((_, i) => i % every === 0) }, { name: 'validation loss', color: '#d62728', points: val }],
    { title: o.title, xLabel: 'step', yLabel: 'loss' },
  ));
}

/** Before each step: let signal handlers (Ctrl-C) and timers run, which an in-process step never does on its own; true when the run must stop (aborted, or `maxSteps` taken in this invocation). */
export async function stopBeforeStep(o: { signal?: AbortSignal; maxSteps?: number }, stepsThisRun: number): Promise<boolean> {
  await new Promise((r) => setImmediate(r));
  return Boolean(o.signal?.aborted || (o.maxSteps && stepsThisRun >= o.maxSteps));
}

/** Count a finished step of `images` images that took `seconds` into the state. */
export function countStep(state: RunState, seconds: number, images: number): void {
  state.step++; state.stepInEpoch++;
  state.trainSeconds += seconds; state.imagesSeen += images;
}

/** Images per second over the last 20 steps (a short window, so the ETA follows changes of speed). */
export class Throughput {
  private readonly rates: number[] = [];

  /** Record a step of `images` in `seconds`; returns the windowed mean rate. */
  add(images: number, seconds: number): number {
    this.rates.push(images / seconds);
    if (this.rates.length > 20) this.rates.shift();
    return this.rates.reduce((a, b) => a + b, 0) / this.rates.length;
  }
}
