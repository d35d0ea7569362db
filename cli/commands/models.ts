/** `tinta models list | fetch | info`: fronts of trainer/embedding/{list,fetch,inspect}.ts. */
import type { Command } from 'commander';
import { formatBytes } from '../../sdk/errors.ts';
import { listModels } from '../../trainer/embedding/list.ts';
import { fetchModel, type FetchProgress } from '../../trainer/embedding/fetch.ts';
import { inspectModel, type TensorSummary } from '../../trainer/embedding/inspect.ts';

const DIR_HELP = 'models folder (default $TINTA_MODELS, else ~/.cache/tinta/models)';

function shape(t: TensorSummary): string {
  return `${t.name} ${t.type} [${t.shape ? t.shape.map((d) => d ?? '?').join(', ') : '?'}]`;
}

/** Register the command on `program`. */
export function registerModels(program: Command): void {
  const models = program
    .command('models')
    .description('list, download and inspect models: embedding networks for fusion and the shipped colorizers')
    .addHelpText('after', `
Examples:
  tinta models list
  tinta models fetch mobilenetv2
  tinta models fetch mobilenetv2 --from ./mobilenetv2-12-int8.onnx   # install a copy you already have (verified)
  tinta models info models/tinta-default.int8.onnx`);

  models
    .command('list')
    .description('the catalog and what is present locally')
    .option('--dir <dir>', DIR_HELP)
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  tinta models list\n  tinta models list --dir ./models-cache --json')
    .action(async (o: { dir?: string; json?: boolean }) => {
      const r = await listModels(o.dir);
      if (o.json) { console.log(JSON.stringify(r, null, 2)); return; }
      console.log(`models folder: ${r.dir}`);
      for (const kind of ['embedding', 'colorizer'] as const) {
        console.log(kind === 'embedding' ? '\nembedding networks (ImageNet classifiers, for train --fusion):' : '\ntinta colorizers (shipped with the package):');
        for (const m of r.models.filter((x) => x.kind === kind)) {
          const state = !m.present ? (m.url || kind === 'colorizer' ? 'not present' : 'not present (convert)') : m.verified === false ? 'PRESENT BUT MODIFIED' : m.verified ? 'present, verified' : 'present';
          console.log(`  ${m.name.padEnd(22)} ${state.padEnd(22)} ${m.bytes !== null ? formatBytes(m.bytes).padStart(9) : ''.padStart(9)}  ${m.description}`);
          if (m.present) console.log(`  ${''.padEnd(22)} ${m.path}`);
        }
      }
    });

  models
    .command('fetch')
    .description('download an embedding network from its publisher into the models folder, verified by sha256')
    .argument('<name>', 'catalog name (see `tinta models list`)')
    .option('--dir <dir>', DIR_HELP)
    .option('--from <file>', 'install from a local copy instead of downloading (checked the same way)')
    .option('--base-url <url>', 'download <url>/<file> from a mirror instead of the publisher (default $TINTA_MODELS_BASE_URL)')
    .option('--force', 'download again even when a verified file is present')
    .addHelpText('after', '\nExamples:\n  tinta models fetch mobilenetv2\n  tinta models fetch mobilenetv2 --dir ./models-cache')
    .action(async (name: string, o: { dir?: string; from?: string; baseUrl?: string; force?: boolean }) => {
      let last = -1;
      const onProgress = (p: FetchProgress) => {
        if (p.status !== 'download' || !process.stderr.isTTY) return;
        const pct = p.total ? Math.floor((100 * p.loaded) / p.total) : -1;
        if (pct !== last) { last = pct; process.stderr.write(`\r${p.url}: ${formatBytes(p.loaded)}${p.total ? ` (${pct}%)` : ''}   `); }
      };
      // Ctrl-C aborts the download, which removes its temporary file.
      const abort = new AbortController();
      const onSigint = () => abort.abort();
      process.once('SIGINT', onSigint);
      let r;
      try {
        r = await fetchModel(name, { ...o, onProgress, signal: abort.signal });
      } finally {
        process.off('SIGINT', onSigint);
        if (last !== -1) process.stderr.write('\n');
      }
      console.log(r.cached ? `${name}: already present and verified at ${r.path}` : `${name}: ${formatBytes(r.bytes)} from ${r.from}, sha256 verified -> ${r.path}`);
    });

  models
    .command('info')
    .description('what a model file is: tinta metadata, or a classifier\'s inputs and outputs')
    .argument('<model>', 'an .onnx file, a TF.js model.json, or a folder holding one')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  tinta models info models/tinta-default.int8.onnx\n  tinta models info ~/.cache/tinta/models/mobilenetv2-12-int8.onnx')
    .action(async (path: string, o: { json?: boolean }) => {
      const s = await inspectModel(path);
      if (o.json) {
        const tinta = s.tinta ? { ...s.tinta, buckets: { name: s.tinta.buckets.name, count: s.tinta.buckets.count } } : null;
        console.log(JSON.stringify({ ...s, tinta }, null, 2));
        return;
      }
      console.log(`${s.path}: ${s.format === 'onnx' ? 'ONNX' : 'TensorFlow.js graph model'}, ${formatBytes(s.bytes)}, sha256 ${s.sha256}`);
      for (const t of s.inputs) console.log(`  input  ${shape(t)}`);
      for (const t of s.outputs) console.log(`  output ${shape(t)}`);
      const i = s.tinta;
      if (i) {
        console.log(`tinta ${i.kind} (format ${i.formatVersion}), ${i.precision}: ${i.buckets.count} ab buckets (${i.buckets.name}), temperature ${i.temperature}, output ${i.output.kind} at 1/${i.output.stride}, spatial multiple ${i.spatialMultiple}, recommended size ${i.recommendedSize}`);
        console.log(`  input "${i.input.name}" = L * ${i.input.scale} + ${i.input.offset}, ${i.frames} frame(s); ${i.embedding ? `embedding ${i.embedding.dim}-d${i.embedding.input ? ` input "${i.embedding.input}"` : ' (computed inside)'}${i.embedding.source ? ` from ${i.embedding.source}` : ''}` : 'no embedding'}`);
        if (Object.keys(i.provenance).length) console.log(`  provenance ${JSON.stringify(i.provenance)}`);
        if (i.contentHash) console.log(`  content hash ${i.contentHash}`);
      } else {
        console.log(s.catalogName ? `the published ${s.catalogName} classifier (usable as --embedding ${s.catalogName})` : 'no tinta metadata: a plain model (e.g. a classifier for --embedding with --descriptor)');
      }
    });
}
