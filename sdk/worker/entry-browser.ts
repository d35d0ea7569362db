/** The browser Web Worker entry: serves the worker API with the browser runtime adapter. */
import { browserRuntime } from '../runtime/browser.ts';
import type { Endpoint } from './comlink.ts';
import { serveWorker } from './serve.ts';
import type { ExitNotice } from './spawn-web.ts';

const scope = globalThis as unknown as DedicatedWorkerGlobalScope;
serveWorker(scope as unknown as Endpoint, browserRuntime, {
  exit(code) {
    scope.postMessage({ tintaExit: code } satisfies ExitNotice);
    scope.close();
  },
});
