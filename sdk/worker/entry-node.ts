/** The Node worker_threads entry: serves the worker API with the Node runtime adapter. */
import { parentPort } from 'node:worker_threads';
import { nodeRuntime } from '../runtime/node.ts';
import { nodeEndpoint } from './comlink.ts';
import { serveWorker } from './serve.ts';

if (!parentPort) throw new Error('sdk/worker/entry-node is a worker_threads entry; start it with new Worker().');
serveWorker(nodeEndpoint(parentPort), nodeRuntime, { exit: (code) => process.exit(code) });
