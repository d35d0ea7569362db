/** The Deno Worker entry: serves the worker API with the Deno runtime adapter. */
import { denoRuntime } from '../runtime/deno.ts';
import type { Endpoint } from './comlink.ts';
import { serveWorker } from './serve.ts';
import type { ExitNotice } from './spawn-web.ts';

const scope = globalThis as unknown as DedicatedWorkerGlobalScope;
serveWorker(scope as unknown as Endpoint, denoRuntime, {
  exit(code) {
    scope.postMessage({ tintaExit: code } satisfies ExitNotice);
    scope.close();
  },
});
