/**
 * A serial queue: one job runs at a time, in call order. An AbortSignal removes a queued job
 * at once; for the running job it rejects the caller at once while the queue still waits for the
 * job to really stop (the job sees the same signal and stops at its next checkpoint), so two
 * jobs never overlap on one session.
 */
import { ErrorCodes, TintaError } from '../errors.ts';

interface Job {
  task: () => Promise<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  signal: AbortSignal | undefined;
  onAbort: (() => void) | undefined;
  state: 'queued' | 'running';
}

function abortedWhile(state: 'queued' | 'running'): TintaError {
  return new TintaError(
    ErrorCodes.ABORTED,
    state === 'queued' ? 'The colorization was cancelled before it started (its AbortSignal fired while it was queued).' : 'The colorization was cancelled while running (its AbortSignal fired).',
    { details: { state } },
  );
}

/** Runs jobs one at a time. */
export class SerialQueue {
  private readonly jobs: Job[] = [];
  private running: Job | undefined;

  /** Jobs waiting (not counting the running one). */
  get waiting(): number {
    return this.jobs.length;
  }

  /** True while a job runs. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Queues `task`; it starts when every earlier job has settled. */
  run<T>(task: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      if (signal?.aborted) {
        reject(abortedWhile('queued'));
        return;
      }
      const job: Job = { task, resolve: resolve as (v: unknown) => void, reject, signal, onAbort: undefined, state: 'queued' };
      if (signal) {
        job.onAbort = () => {
          if (job.state === 'queued') {
            const i = this.jobs.indexOf(job);
            if (i >= 0) this.jobs.splice(i, 1);
          }
          reject(abortedWhile(job.state));
        };
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.jobs.push(job);
      this.pump();
    });
  }

  /** Rejects every queued job with `error` (the running one finishes on its own). */
  rejectQueued(error: unknown): void {
    for (const job of this.jobs.splice(0)) {
      if (job.onAbort) job.signal!.removeEventListener('abort', job.onAbort);
      job.reject(error);
    }
  }

  private pump(): void {
    if (this.running) return;
    const job = this.jobs.shift();
    if (!job) return;
    job.state = 'running';
    this.running = job;
    const done = (): void => {
      if (job.onAbort) job.signal!.removeEventListener('abort', job.onAbort);
      this.running = undefined;
      this.pump();
    };
    let p: Promise<unknown>;
    try {
      p = job.task();
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (v) => { job.resolve(v); done(); },
      (e: unknown) => { job.reject(e); done(); },
    );
  }
}
