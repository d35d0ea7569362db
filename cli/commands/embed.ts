/** `tinta embed`: the front of trainer/embedding/embed.ts (embeddings of training photos for --fusion). */
import type { Command } from 'commander';
import { Option } from 'commander';
import cliProgress from 'cli-progress';
import { embedImages, type EmbedProgress } from '../../trainer/embedding/embed.ts';
import { isTintaError } from '../../sdk/errors.ts';
import { parsePositiveInt } from '../options.ts';
import { DEFAULT_NETWORK_VIEW } from '../../trainer/embedding/preprocess.ts';
import { DEFAULT_GRAY, type GrayMode } from '../../converters/fuse-classifier.ts';

/** Register the command on `program`. */
export function registerEmbed(program: Command): void {
  program
    .command('embed')
    .description('precompute the ImageNet-classifier embedding of every training photo\'s grayscale version (for train --fusion)')
    .requiredOption('--data <dir...>', 'folders of photos (recursive)')
    .requiredOption('--embedding <name|file>', 'built-in network (mobilenetv2, inception-resnet-v2; see `tinta models list`) or an .onnx file / TF.js model.json')
    .requiredOption('--out <dir>', 'the embedding cache folder (created; a rerun continues it)')
    .option('--descriptor <name|json>', 'input size, normalisation, layout and tensor names of the network (docs/embeddings.md)')
    .option('--models-dir <dir>', 'where `tinta models fetch` put the built-in networks (default $TINTA_MODELS or ~/.cache/tinta/models)')
    .addOption(new Option('--gray <mode>', "the gray value the classifier sees: 'srgb' = the sRGB gray of L (what a black-and-white photo looks like to it), 'lightness' = L/100; `tinta fuse` reads it from the cache").choices(['srgb', 'lightness']).default(DEFAULT_GRAY))
    .option('--resolution <px>', "the short side the colorizer sees (the SDK's resolution: the exported model's recommended size)", parsePositiveInt, DEFAULT_NETWORK_VIEW.resolution)
    .option('--multiple <n>', "the colorizer's spatial multiple (8 for tinta's presets)", parsePositiveInt, DEFAULT_NETWORK_VIEW.multiple)
    .option('--batch <n>', 'photos per batch (the unit a crash can lose)', parsePositiveInt, 16)
    .option('--threads <n>', 'onnxruntime threads (default: its choice)', parsePositiveInt)
    .addOption(new Option('--backend <name>', 'TensorFlow.js backend for model.json networks').choices(['auto', 'node-gpu', 'node', 'wasm', 'cpu']).default('auto'))
    .addHelpText('after', `
Each photo is made into the L plane the SDK feeds a colorizer (CIE L, area-averaged to the
network size), and the embedding half of a fused model (\`tinta fuse\`) runs on it: centre crop,
gray value, bilinear resize to the classifier's input, normalisation, classifier, softmax. So the
cache holds what the fused model computes at inference. Vectors are keyed by the sha256 of the
photo file. A rerun skips photos already embedded; unreadable photos are skipped and listed.

Examples:
  tinta models fetch mobilenetv2
  tinta embed --data photos/train --embedding mobilenetv2 --out embeddings/mobilenetv2
  tinta embed --data photos/ --embedding irv2/model.json --descriptor inception-resnet-v2 --out emb/irv2
  tinta train --data photos/train --fusion --embeddings embeddings/mobilenetv2 --out runs/fusion`)
    .action(async (o: { data: string[]; embedding: string; out: string; descriptor?: string; modelsDir?: string; gray: GrayMode; resolution: number; multiple: number; batch: number; threads?: number; backend: 'auto' }) => {
      const abort = new AbortController();
      const onSigint = () => { process.stderr.write('\ninterrupted: finishing the current batch\n'); abort.abort(); };
      process.once('SIGINT', onSigint);
      const bar = new cliProgress.SingleBar({ format: 'embedding |{bar}| {value}/{total} photos | {embedded} new, {cached} cached, {skipped} skipped | ETA {eta_formatted}', hideCursor: true, etaBuffer: 20 }, cliProgress.Presets.shades_classic);
      let barOn = false;
      const onProgress = (p: EmbedProgress) => {
        if (p.type === 'notice') console.error(`note: ${p.message}`);
        else if (p.type === 'start') {
          console.log(`${p.source}: ${p.total} photos, ${p.cached} embeddings already in the cache`);
          if (process.stderr.isTTY) { bar.start(p.total, 0, { embedded: 0, cached: 0, skipped: 0 }); barOn = true; }
        } else if (barOn) bar.update(p.done, { embedded: p.embedded, cached: p.cached, skipped: p.skipped });
      };
      try {
        const r = await embedImages({
          data: o.data, out: o.out, embedding: o.embedding, batchSize: o.batch, backend: o.backend, onProgress, signal: abort.signal,
          gray: o.gray, network: { resolution: o.resolution, multiple: o.multiple },
          ...(o.descriptor !== undefined ? { descriptor: o.descriptor } : {}), ...(o.modelsDir !== undefined ? { modelsDir: o.modelsDir } : {}),
          ...(o.threads !== undefined ? { threads: o.threads } : {}),
        });
        if (barOn) bar.stop();
        barOn = false;
        for (const s of r.skipped) console.error(`  skipped ${s.file}: ${s.message} [${s.code}]`);
        console.log(`${r.source}: embedded ${r.embedded} photos in ${r.seconds.toFixed(1)} s (${r.imagesPerSec.toFixed(1)} photos/s), ${r.cached} already cached, ${r.skipped.length} skipped; ${r.total} ${r.dim ?? '?'}-d embeddings in ${r.cacheDir}`);
        console.log(`  ${r.gray} gray, photos at a short side of ${r.network.resolution} (multiple ${r.network.multiple}), as the SDK feeds a colorizer`);
        if (r.skipped.length) process.exitCode = 1;
      } catch (e) {
        if (barOn) bar.stop();
        barOn = false;
        if (isTintaError(e, 'ABORTED')) { console.error(e.message); process.exitCode = 130; return; }
        throw e;
      } finally {
        process.off('SIGINT', onSigint);
      }
    });
}
