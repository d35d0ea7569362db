/**
 * Colorizing many files: input expansion (files, folders, globs), output naming that never
 * overwrites an input or another output, a pool of colorizers (one worker thread each) and a
 * per-file outcome. `tinta colorize` is a thin front over `colorizeFiles`.
 */
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { basename, dirname, extname, join, relative, resolve } from 'node:path';
import { glob } from 'tinyglobby';
import { createColorizer, type Colorizer, type NodeImageInput } from '../sdk/node.ts';
import type { Backend } from '../sdk/backends.ts';
import { decodeImage, writeImage } from '../sdk/image/node.ts';
import { isTintaError, TintaError, ErrorCodes } from '../sdk/errors.ts';
import { isImageFileName, scanImages } from '../trainer/data/scan.ts';

/** Output formats. */
export type OutputFormat = 'png' | 'jpg' | 'webp';

/** Options of colorizeFiles. */
export interface ColorizeFilesOptions {
  /** Output folder (default: beside each input, as NAME.colorized.EXT). */
  outDir?: string;
  model?: string;
  backend?: Backend;
  temperature?: number;
  saturation?: number;
  /** Short side the network sees. */
  size?: number;
  format?: OutputFormat;
  /** Write the input and the colorization side by side. */
  sideBySide?: boolean;
  /** Colorizers working at once (default 1). */
  jobs?: number;
  /** Replace existing output files (inputs are never overwritten). */
  overwrite?: boolean;
  signal?: AbortSignal;
  onEvent?: (e: BatchEvent) => void;
}

/** One planned file. */
export interface BatchItem {
  input: string;
  output: string;
}

/** What happened to one file. */
export type BatchOutcome =
  | { status: 'done'; input: string; output: string; ms: number }
  | { status: 'skipped'; input: string; output: string; reason: string }
  | { status: 'failed'; input: string; reason: string; code?: string };

/** Progress events. */
export type BatchEvent =
  | { type: 'planned'; total: number }
  | { type: 'ready'; provider: string }
  | { type: 'file'; outcome: BatchOutcome; done: number; total: number };

/** The summary of a batch. */
export interface BatchSummary {
  outcomes: BatchOutcome[];
  done: number;
  skipped: number;
  failed: number;
  seconds: number;
}

const GLOB_CHARS = /[*?[\]{}]/;

/** Expand files, folders (recursive) and glob patterns to image files, each with the root its output path is relative to. */
export async function expandInputs(inputs: string[]): Promise<{ files: { file: string; root: string }[]; missing: string[] }> {
  const files: { file: string; root: string }[] = [];
  const missing: string[] = [];
  const seen = new Set<string>();
  const add = (file: string, root: string) => {
    const f = resolve(file);
    if (!seen.has(f)) { seen.add(f); files.push({ file: f, root: resolve(root) }); }
  };
  for (const inp of inputs) {
    if (existsSync(inp) && statSync(inp).isDirectory()) {
      for (const f of await scanImages([inp])) add(f, inp);
    } else if (existsSync(inp)) {
      add(inp, dirname(inp));
    } else if (GLOB_CHARS.test(inp)) {
      const hits = (await glob(inp, { absolute: true, onlyFiles: true })).filter((f) => isImageFileName(f)).sort();
      if (hits.length === 0) missing.push(inp);
      // The part before the first glob character is the root, so folder structure below it is kept.
      const staticPart = inp.split('/').filter((_, i, parts) => !parts.slice(0, i + 1).some((p) => GLOB_CHARS.test(p))).join('/');
      for (const f of hits) add(f, staticPart || '.');
    } else {
      missing.push(inp);
    }
  }
  return { files, missing };
}

/** Output paths: unique among themselves, never an input. */
export function planOutputs(files: { file: string; root: string }[], o: { outDir?: string; format: OutputFormat; sideBySide?: boolean }): BatchItem[] {
  const inputs = new Set(files.map((f) => f.file));
  const taken = new Set<string>();
  const suffix = o.sideBySide ? '.side-by-side' : o.outDir ? '' : '.colorized';
  return files.map(({ file, root }) => {
    const stem = basename(file, extname(file));
    const dir = o.outDir ? join(resolve(o.outDir), dirname(relative(root, file))) : dirname(file);
    let out = join(dir, `${stem}${suffix}.${o.format}`);
    for (let k = 1; inputs.has(out) || taken.has(out); k++) out = join(dir, `${stem}${suffix}-${k}.${o.format}`);
    taken.add(out);
    return { input: file, output: out };
  });
}

function sideBySide(left: { data: Uint8ClampedArray; width: number; height: number }, right: Uint8ClampedArray): { data: Uint8ClampedArray; width: number; height: number } {
  const w = left.width, h = left.height;
  const data = new Uint8ClampedArray(w * 2 * h * 4);
  for (let y = 0; y < h; y++) {
    data.set(left.data.subarray(y * w * 4, (y + 1) * w * 4), y * w * 8);
    data.set(right.subarray(y * w * 4, (y + 1) * w * 4), y * w * 8 + w * 4);
  }
  return { data, width: w * 2, height: h };
}

/** Colorize files, folders and globs; a bad file is reported and skipped, never stops the batch. */
export async function colorizeFiles(inputs: string[], o: ColorizeFilesOptions = {}): Promise<BatchSummary> {
  const t0 = Date.now();
  const emit = o.onEvent ?? (() => {});
  const format = o.format ?? 'png';
  const { files, missing } = await expandInputs(inputs);
  const outcomes: BatchOutcome[] = missing.map((m) => ({ status: 'failed', input: m, reason: 'no such file, folder or matching image', code: ErrorCodes.IMAGE_NOT_FOUND }));
  const plan = planOutputs(files, { outDir: o.outDir, format, sideBySide: o.sideBySide });
  const total = plan.length + missing.length;
  emit({ type: 'planned', total });
  let done = outcomes.length;
  const finish = (outcome: BatchOutcome) => { outcomes.push(outcome); done++; emit({ type: 'file', outcome, done, total }); };

  const todo = plan.filter((it) => {
    if (!o.overwrite && existsSync(it.output)) { finish({ status: 'skipped', input: it.input, output: it.output, reason: 'output exists (use --overwrite)' }); return false; }
    return true;
  });
  if (todo.length > 0) {
    const jobs = Math.max(1, Math.min(o.jobs ?? 1, todo.length));
    const colorizers: Colorizer<NodeImageInput>[] = [];
    try {
      for (let j = 0; j < jobs; j++) colorizers.push(await createColorizer({ model: o.model, backend: o.backend ?? 'auto', worker: true }));
      emit({ type: 'ready', provider: colorizers[0]!.provider });
      let next = 0;
      await Promise.all(colorizers.map(async (c) => {
        while (next < todo.length && !o.signal?.aborted) {
          const it = todo[next++]!;
          const ts = Date.now();
          try {
            // Decoded here (sharp runs off the main thread) so a side-by-side can reuse the pixels.
            const img = await decodeImage(it.input);
            const r = await c.colorize({ data: img.data, width: img.width, height: img.height }, {
              temperature: o.temperature, saturation: o.saturation, resolution: o.size, signal: o.signal,
              // The decoded pixels move to the worker unless the side-by-side still needs them.
              transfer: !o.sideBySide,
            });
            const rgba = r.rgba();
            mkdirSync(dirname(it.output), { recursive: true });
            await writeImage(it.output, o.sideBySide ? sideBySide(img, rgba) : { data: rgba, width: r.width, height: r.height });
            finish({ status: 'done', input: it.input, output: it.output, ms: Date.now() - ts });
          } catch (e) {
            if (isTintaError(e, 'ABORTED')) throw e;
            finish({ status: 'failed', input: it.input, reason: (e as Error).message, code: isTintaError(e) ? e.code : undefined });
          }
        }
      }));
    } finally {
      await Promise.all(colorizers.map((c) => c.dispose()));
    }
  }
  if (o.signal?.aborted) throw new TintaError(ErrorCodes.ABORTED, `Interrupted after ${done} of ${total} files.`);
  return {
    outcomes,
    done: outcomes.filter((x) => x.status === 'done').length,
    skipped: outcomes.filter((x) => x.status === 'skipped').length,
    failed: outcomes.filter((x) => x.status === 'failed').length,
    seconds: (Date.now() - t0) / 1000,
  };
}
