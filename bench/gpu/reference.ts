/**
 * Prepares the cross-runtime check of exported models on another machine (bench/gpu/check_models.py):
 * copies each model into OUT, feeds it a deterministic input with onnxruntime-node (CPU) and writes
 * the input and output as raw little-endian float32, with a manifest.json naming shapes and files.
 * Run: node --import tsx bench/gpu/reference.ts OUT model.onnx [model.onnx...]   (SIZE=256)
 */
import { copyFileSync, mkdirSync, writeFileSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import * as ort from 'onnxruntime-node';

const [out, ...models] = process.argv.slice(2);
if (!out || models.length === 0) {
  console.error('usage: reference.ts OUT model.onnx [model.onnx...]');
  process.exit(2);
}
const SIZE = Number(process.env.SIZE ?? 256);
mkdirSync(out, { recursive: true });

/** The same smooth deterministic pattern check_models.py rebuilds: values in [0, 1). */
function pattern(n: number, salt: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = 0.5 + 0.45 * Math.sin(i * 0.0137 + salt) * Math.cos(i * 0.00071 + 2 * salt);
  return a;
}

const manifest: unknown[] = [];
for (const path of models) {
  const name = basename(path);
  copyFileSync(path, join(out, name));
  const session = await ort.InferenceSession.create(new Uint8Array(readFileSync(path)), { intraOpNumThreads: 1 });
  const feeds: Record<string, ort.Tensor> = {};
  const inputs: { name: string; dims: number[]; file: string }[] = [];
  session.inputNames.forEach((input, k) => {
    const meta = session.inputMetadata[k] as { shape?: (number | string)[] } | undefined;
    const shape = meta?.shape ?? [];
    // Images are [N, C, H, W] with H, W dynamic; vectors [N, D].
    const dims = shape.length === 4 ? [1, Number(shape[1]), SIZE, SIZE] : [1, Number(shape[1])];
    const data = pattern(dims.reduce((a, b) => a * b, 1), k + 1);
    feeds[input] = new ort.Tensor('float32', data, dims);
    const file = `${name}.in${k}.f32`;
    writeFileSync(join(out, file), new Uint8Array(data.buffer));
    inputs.push({ name: input, dims, file });
  });
  const t = performance.now();
  const r = await session.run(feeds);
  const ms = performance.now() - t;
  const outputs = session.outputNames.map((o, k) => {
    const tensor = r[o]!;
    const file = `${name}.out${k}.f32`;
    const data = tensor.data as Float32Array;
    writeFileSync(join(out, file), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    return { name: o, dims: [...tensor.dims], file };
  });
  manifest.push({ model: name, inputs, outputs, nodeCpuMs: ms });
  console.log(`${name}: ${inputs.map((i) => `${i.name}[${i.dims}]`).join(', ')} -> ${outputs.map((o) => `${o.name}[${o.dims}]`).join(', ')} (${ms.toFixed(0)} ms on onnxruntime-node CPU)`);
  await session.release();
}
writeFileSync(join(out, 'manifest.json'), JSON.stringify(manifest, null, 2));
