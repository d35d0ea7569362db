// The direct test page: the built SDK from /dist, no bundler.
import { createColorizer } from '/dist/browser.js';
import { run } from './harness.js';

globalThis.tintaRun = (options) => run(createColorizer, options);
globalThis.tintaReady = true;
