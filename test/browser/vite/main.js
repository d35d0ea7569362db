// An app that uses the package by its name, built by Vite (copied with harness.js into a temp dir).
import { createColorizer } from 'tinta';
import { run } from './harness.js';

globalThis.tintaRun = (options) => run(createColorizer, options);
globalThis.tintaReady = true;
