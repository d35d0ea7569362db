/** `tinta fuse`: front of converters/fuse.ts. */
import type { Command } from 'commander';
import { Option } from 'commander';
import { basename, dirname, extname, join } from 'node:path';
import { fuseFiles } from '../../converters/fuse.ts';
import { DEFAULT_GRAY, type ClassifierOutputKind, type GrayMode } from '../../converters/fuse-classifier.ts';
import { BUILTIN_DESCRIPTORS, loadDescriptor } from '../../trainer/embedding/descriptor.ts';
import { formatBytes } from '../../sdk/errors.ts';

/** Register the command on `program`. */
export function registerFuse(program: Command): void {
  program
    .command('fuse')
    .description('merge a fusion colorizer and its embedding classifier into one ONNX model that takes L alone')
    .argument('<colorizer>', 'a fusion model made by `tinta export` (it takes an embedding input)')
    .requiredOption('--embedding <classifier.onnx>', 'the classifier ONNX file that computes the embedding (e.g. mobilenetv2-12-int8.onnx)')
    .option('--descriptor <name|json>', `input size, normalisation, layout and tensor names of the classifier: ${Object.keys(BUILTIN_DESCRIPTORS).join(', ')} or a JSON file (docs/embeddings.md); default: the colorizer's embedding source`)
    .addOption(new Option('--embedding-output <kind>', "what the classifier outputs: 'logits' get a softmax inside the graph (default: the descriptor's outputKind; 'auto' looks for a final Softmax)").choices(['logits', 'probabilities']))
    .option('--embeddings <cache>', 'the `tinta embed` cache the colorizer was trained with: its gray value is used, and a classifier file, preprocessing or network size that differs is an error')
    .addOption(new Option('--gray <mode>', `the gray value the classifier sees: 'srgb' = the sRGB gray of L, 'lightness' = L/100; must be what \`tinta embed\` used (default: the cache's with --embeddings, else ${DEFAULT_GRAY})`).choices(['srgb', 'lightness']))
    .option('-o, --out <file>', 'output file (default: COLORIZER.fused.onnx beside the input)')
    .addHelpText('after', '\nExamples:\n  tinta fuse models/tiny-fusion.onnx --embedding mobilenetv2-12-int8.onnx --embeddings emb/mobilenetv2 -o models/tiny-fused.onnx\n  tinta fuse model.onnx --embedding irv2.onnx --descriptor inception-resnet-v2 --embedding-output probabilities')
    .action(async (colorizer: string, o: { embedding: string; embeddings?: string; descriptor?: string; embeddingOutput?: ClassifierOutputKind; gray?: GrayMode; out?: string }) => {
      const out = o.out ?? join(dirname(colorizer), `${basename(colorizer, extname(colorizer))}.fused.onnx`);
      const r = await fuseFiles(colorizer, o.embedding, {
        output: out,
        ...(o.gray !== undefined ? { gray: o.gray } : {}),
        ...(o.embeddings !== undefined ? { embeddingCache: o.embeddings } : {}),
        ...(o.descriptor !== undefined ? { descriptor: await loadDescriptor(o.descriptor) } : {}),
        ...(o.embeddingOutput !== undefined ? { embeddingOutput: o.embeddingOutput } : {}),
      });
      const rep = r.report, d = rep.descriptor;
      console.log(`wrote ${out}: ${formatBytes(rep.bytes)} (colorizer ${formatBytes(rep.colorizerBytes)} + classifier ${formatBytes(rep.classifierBytes)}), ${rep.nodes} nodes, opset ${rep.opset}`);
      console.log(`  classifier ${d.name} (sha256 ${rep.classifierSha256.slice(0, 16)}…, opset ${rep.classifierOpset}): centre crop, ${d.gray} gray, ${d.height}x${d.width} ${d.layout}, mean [${d.mean.join(', ')}], std [${d.std.join(', ')}]; ${d.output === 'logits' ? 'softmax of its logits' : 'its probabilities'} -> ${r.info.embedding!.dim}-d embedding`);
      if (rep.converted.length) console.log(`  converted for opset ${rep.opset}: ${rep.converted.join('; ')}`);
      console.log(o.embeddings !== undefined
        ? `  matches the training embeddings in ${o.embeddings} (classifier file, ${d.gray} gray, preprocessing, network size)`
        : `  not checked against the training embeddings: pass --embeddings CACHE (the \`tinta embed\` cache the colorizer was trained with)`);
    });
}
