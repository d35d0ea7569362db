/** What every entry point (node, browser, deno) exports besides its own createColorizer and input type. */
export type { Colorizer, ColorizeResult, Timings } from './colorizer.ts';
export type { ColorizerOptions, ColorizeOptions } from './options.ts';
export type { VideoOptions, VideoFrameResult, VideoStream } from './video.ts';
export type { Progress, ProgressCallback, WarningCode } from './progress.ts';
export { WarningCodes } from './progress.ts';
export type { Backend } from './backends.ts';
export type { Provider } from './runtime/types.ts';
export type { ModelCache } from './loader/cache.ts';
export type { ModelInfo } from './model/metadata.ts';
export { TintaError, ErrorCodes, isTintaError } from './errors.ts';
export { SHIPPED_MODELS, DEFAULT_MODEL } from './models/manifest.ts';
