/** Yielding to the event loop between pipeline stages, so queued messages (cancel) get handled. */

type Immediate = (cb: () => void) => unknown;

/** Resolves after pending macrotasks (messages, timers due) had a chance to run. */
export function yieldToEventLoop(): Promise<void> {
  const si = (globalThis as { setImmediate?: Immediate }).setImmediate;
  if (typeof si === 'function') return new Promise((r) => void si(r));
  return new Promise((r) => setTimeout(r, 0));
}
