/** The terminal side of a training run (photo or video): Ctrl-C to checkpoint, and the step progress bar. */
import cliProgress from 'cli-progress';
import type { RunEvent } from '../trainer/run-dir.ts';

/** `sec` as `1h05m` or `4m09s` ('?' before a rate is known). */
export function formatEta(sec: number): string {
  if (!Number.isFinite(sec)) return '?';
  const h = Math.floor(sec / 3600), m = Math.floor((sec % 3600) / 60), s = Math.floor(sec % 60);
  return h ? `${h}h${String(m).padStart(2, '0')}m` : `${m}m${String(s).padStart(2, '0')}s`;
}

/** What a command holds while a training run goes on. */
export interface TrainProgress {
  /** Aborted by the first Ctrl-C (the trainer then saves a checkpoint); a second one exits at once. */
  signal: AbortSignal;
  /** Show the bar from step `from` of `total`. */
  start(total: number, from: number): void;
  /** Move the bar to a step event's numbers. */
  step(e: { step: number; epoch: number; loss: number; imagesPerSec: number; etaSec: number }): void;
  /** Take the bar down, so a line can be printed. */
  stop(): void;
  /** Print a checkpoint, notice or done event (the same for photo and video runs). */
  log(e: Extract<RunEvent, { type: 'checkpoint' | 'notice' | 'done' }>): void;
  /** Take the bar down and the Ctrl-C handler off (call in `finally`). */
  close(): void;
}

/** Install the Ctrl-C handler and make the (not yet shown) bar. */
export function trainProgress(): TrainProgress {
  const abort = new AbortController();
  let sigints = 0;
  const onSigint = () => {
    if (++sigints > 1) process.exit(130);
    process.stderr.write('\ninterrupted: saving a checkpoint (Ctrl-C again to quit at once)\n');
    abort.abort();
  };
  process.on('SIGINT', onSigint);
  const bar = new cliProgress.SingleBar({
    format: 'epoch {epoch} |{bar}| {value}/{total} steps | loss {loss} | {ips} img/s | ETA {etaText}',
    hideCursor: true, noTTYOutput: !process.stderr.isTTY, notTTYSchedule: 30_000, etaBuffer: 50,
  }, cliProgress.Presets.shades_classic);
  let barStarted = false;
  const stop = () => {
    if (barStarted) bar.stop();
    barStarted = false;
  };
  return {
    signal: abort.signal,
    start(total, from) {
      bar.start(total, from, { epoch: 0, loss: '-', ips: '-', etaText: '?' });
      barStarted = true;
    },
    step(e) {
      bar.update(e.step, { epoch: e.epoch + 1, loss: e.loss.toFixed(3), ips: e.imagesPerSec.toFixed(1), etaText: formatEta(e.etaSec) });
    },
    stop,
    log(e) {
      switch (e.type) {
        case 'checkpoint': if (e.reason !== 'timer') console.log(`checkpoint: ${e.path} (${e.reason}, step ${e.step})`); break;
        case 'notice': console.log(e.message); break;
        case 'done': stop(); console.log(`${e.interrupted ? 'stopped' : 'finished'} at step ${e.step} after ${(e.seconds / 60).toFixed(1)} min`); break;
      }
    },
    close() {
      stop();
      process.off('SIGINT', onSigint);
    },
  };
}
