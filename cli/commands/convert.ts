/** `tinta export` and `tinta quantize`: fronts of converters/export.ts and converters/quantize.ts. */
import type { Command } from 'commander';
import { Option } from 'commander';
import { readFile } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { exportCheckpoint } from '../../converters/export.ts';
import { quantizeModel, calibrationInputs } from '../../converters/quantize.ts';
import { calibrationWithEmbeddings } from '../../trainer/embedding/calibration.ts';
import { TintaError, ErrorCodes, formatBytes } from '../../sdk/errors.ts';
import { parseNumber, parsePositiveInt } from '../options.ts';

/** Register the commands on `program`. */
export function registerConvert(program: Command): void {
  program
    .command('export')
    .description('export a training checkpoint to an ONNX model with tinta metadata inside')
    .argument('<checkpoint>', 'a .tinta checkpoint (e.g. RUN/checkpoints/best.tinta)')
    .requiredOption('-o, --out <file>', 'the ONNX file to write')
    .option('--opset <n>', 'ONNX opset (13-26)', parsePositiveInt, 17)
    .option('--temperature <T>', 'default annealed-mean temperature stored in the model', parseNumber)
    .option('--size <px>', 'recommended short side the network sees', parsePositiveInt)
    .option('--embedding <name>', 'name of the embedding network a fusion model expects (e.g. mobilenetv2)')
    .addHelpText('after', '\nExamples:\n  tinta export runs/tiny128/checkpoints/best.tinta -o models/tiny.onnx')
    .action(async (ckpt: string, o: { out: string; opset: number; temperature?: number; size?: number; embedding?: string }) => {
      const r = await exportCheckpoint(ckpt, { output: o.out, opset: o.opset, temperature: o.temperature, recommendedSize: o.size, embeddingSource: o.embedding });
      const ops = Object.entries(r.report.ops).map(([k, v]) => `${k} ${v}`).join(', ');
      console.log(`wrote ${o.out}: ${formatBytes(r.report.bytes)}, ${r.report.parameters.toLocaleString('en')} weights, ${r.report.nodes} nodes (${ops}), opset ${r.report.opset}`);
      console.log(`  ${r.info.buckets.count} buckets (${r.info.buckets.name}), temperature ${r.info.temperature}, ${r.info.embedding ? `expects a ${r.info.embedding.dim}-d embedding` : 'takes L alone'}, content hash ${r.info.contentHash.slice(0, 16)}…`);
      if (r.info.frames > 1) console.log(`  video model: stacks ${r.info.frames} frames (input [N, ${r.info.frames}, H, W]) and colorizes the centre one; streams run ${(r.info.frames - 1) / 2} frame(s) behind`);
    });

  program
    .command('quantize')
    .description('quantize an exported model to int8 (QDQ, calibrated on real photos) or fp16 weights')
    .argument('<model>', 'an fp32 ONNX model made by `tinta export`')
    .addOption(new Option('--int8', 'int8 static quantization').conflicts('fp16'))
    .addOption(new Option('--fp16', 'float16 weights').conflicts('int8'))
    .option('--calibrate <dir>', 'folder of photos to calibrate activation ranges on (required for --int8)')
    .option('--limit <n>', 'calibration photos used', parsePositiveInt, 32)
    .option('--size <px>', 'calibration image side', parsePositiveInt, 256)
    .option('--embeddings <cache>', 'fusion models: calibrate with the real embeddings of the calibration photos from this `tinta embed` cache (default: synthetic ones)')
    .addOption(new Option('--method <m>', 'activation range (percentile ignores rare outliers)').choices(['minmax', 'percentile']).default('percentile'))
    .option('--percentile <p>', 'percentile for --method percentile', parseNumber, 99.9)
    .option('--target-agreement <f>', 'int8: bucket agreement with fp32 to reach, keeping the most sensitive convs float (0 = off)', parseNumber, 0.97)
    .option('--max-float <f>', 'int8: at most this share of the conv multiply-adds kept float to reach the target', parseNumber, 0.3)
    .option('--keep-float <conv...>', 'int8: Conv node names always kept float')
    .option('-o, --out <file>', 'output file (default: MODEL.int8.onnx / MODEL.fp16.onnx beside the input)')
    .addHelpText('after', '\nExamples:\n  tinta quantize models/tiny.onnx --int8 --calibrate photos/val\n  tinta quantize models/tiny.onnx --int8 --calibrate photos/val --target-agreement 0   # all convs int8\n  tinta quantize models/tiny.onnx --fp16 -o models/tiny.fp16.onnx')
    .action(async (model: string, o: { int8?: boolean; fp16?: boolean; calibrate?: string; embeddings?: string; limit: number; size: number; method: 'minmax' | 'percentile'; percentile: number; targetAgreement: number; maxFloat: number; keepFloat?: string[]; out?: string }) => {
      if (!o.int8 && !o.fp16) throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'Choose --int8 or --fp16.');
      const mode = o.int8 ? 'int8' : 'fp16';
      if (mode === 'int8' && !o.calibrate) throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'int8 quantization needs real photos to calibrate on: add --calibrate DIR.');
      const bytes = new Uint8Array(await readFile(model).catch((e: Error) => { throw new TintaError(ErrorCodes.MODEL_NOT_FOUND, `Cannot read ${model}: ${e.message}`); }));
      if (o.embeddings && !o.calibrate) throw new TintaError(ErrorCodes.BAD_ARGUMENT, '--embeddings pairs calibration photos with their embeddings: add --calibrate DIR.');
      const paired = o.calibrate && o.embeddings ? await calibrationWithEmbeddings(o.calibrate, o.embeddings, { size: o.size, limit: o.limit }) : undefined;
      if (paired?.skipped.length) console.error(`note: ${paired.skipped.length} photos of ${o.calibrate} passed over (${paired.skipped.filter((x) => x.reason === 'no-embedding').length} without an embedding in ${o.embeddings})`);
      const calibration = paired ? paired.calibration : o.calibrate ? await calibrationInputs(o.calibrate, { size: o.size, limit: o.limit }) : undefined;
      const out = o.out ?? join(dirname(model), `${basename(model, extname(model))}.${mode}.onnx`);
      const r = await quantizeModel(bytes, {
        mode, calibration, method: o.method, percentile: o.percentile, output: out, ...(paired ? { embeddings: paired.embeddings } : {}),
        targetAgreement: o.targetAgreement, maxFloatMacs: o.maxFloat, ...(o.keepFloat ? { keepFloat: o.keepFloat } : {}),
      });
      const rep = r.report;
      console.log(`wrote ${out}: ${formatBytes(rep.bytes)} (${((100 * rep.bytes) / rep.fp32Bytes).toFixed(0)}% of fp32)`);
      const a = rep.agreement;
      if (rep.embeddings) console.log(`  fusion embeddings for calibration: ${rep.embeddings === 'provided' ? `real, from ${o.embeddings}` : 'synthetic (pass --embeddings CACHE for real ones)'}`);
      if (a) console.log(`  on ${rep.calibrationImages} calibration photos: bucket agreement with fp32 ${(100 * a.argmaxAgreement).toFixed(2)}%, ab error vs fp32 mean ${a.meanAbError.toFixed(2)} / max ${a.maxAbError.toFixed(2)}`);
      if (mode === 'int8') {
        console.log(`  ${rep.quantizedConvs} convs int8, ${rep.floatConvs.length} float (${(100 * rep.floatMacs).toFixed(1)}% of conv multiply-adds)${rep.floatConvs.length ? `: ${rep.floatConvs.join(', ')}` : ''}`);
        if (rep.fallbackConvs.length) console.log(`  kept float to reach ${(100 * o.targetAgreement).toFixed(1)}% agreement: ${rep.fallbackConvs.join(', ')}`);
        if (rep.targetMet === false) console.log(`  target agreement ${(100 * o.targetAgreement).toFixed(1)}% not reached within --max-float ${o.maxFloat}; raise --max-float or use --keep-float`);
      }
    });
}
