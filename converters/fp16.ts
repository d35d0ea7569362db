/**
 * fp16 weight storage: float initializers become float16 initializers followed by a Cast to float.
 * Compute stays fp32 (onnxruntime's CPU and WASM kernels are fp32; its constant folding turns each
 * Cast back into a float initializer at session creation), so this halves the file, and the
 * download, at the cost of rounding each weight to 11 significant bits, and runs unchanged
 * everywhere. Real fp16 compute would only pay off on WebGPU, and there it is the runtime's choice.
 */
import { DataType, int, makeTensor, tensorToArray, type OnnxModel, type OnnxNode, type OnnxTensor } from './onnx/model.ts';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);

/** float32 -> IEEE float16 bits, round to nearest even; overflow gives +-Infinity. */
export function float16Bits(v: number): number {
  f32[0] = v;
  const x = u32[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0); // Inf / NaN
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): shift the full significand into place, rounding to nearest even.
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    const rest = m & ((1 << shift) - 1);
    let h = m >>> shift;
    if (rest > half || (rest === half && h & 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // Round to nearest even; a carry into the exponent is the correct result (up to Infinity).
  if (rest > 0x1000 || (rest === 0x1000 && h & 1)) h++;
  return sign | h;
}

/** IEEE float16 bits -> number. */
export function float16Value(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 0x1f) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** What the conversion did. */
export interface Fp16Report {
  /** Initializers stored as float16. */
  converted: number;
  /** Initializers kept float32 because some value exceeds the float16 range. */
  keptForRange: string[];
}

/** Store the float initializers of `model` (in place) as float16 + Cast; Resize's scales stay float32. */
export function toFp16Weights(model: OnnxModel): Fp16Report {
  const g = model.graph;
  const exempt = new Set<string>();
  for (const n of g.nodes) if (n.opType === 'Resize') for (const i of n.inputs.slice(1)) exempt.add(i);
  const report: Fp16Report = { converted: 0, keptForRange: [] };
  const taken = new Set<string>([...g.initializers.map((t) => t.name), ...g.nodes.flatMap((n) => [...n.outputs, n.name ?? ''])]);
  const fresh = (base: string) => {
    let name = base;
    for (let k = 1; taken.has(name); k++) name = `${base}_${k}`;
    taken.add(name);
    return name;
  };
  const initializers: OnnxTensor[] = [];
  const casts: OnnxNode[] = [];
  for (const t of g.initializers) {
    if (t.dataType !== DataType.FLOAT || exempt.has(t.name)) {
      initializers.push(t);
      continue;
    }
    const v = tensorToArray(t) as Float32Array;
    const h = new Uint16Array(v.length);
    let ok = true;
    for (let i = 0; i < v.length; i++) {
      h[i] = float16Bits(v[i]!);
      if ((h[i]! & 0x7c00) === 0x7c00 && Number.isFinite(v[i]!)) ok = false;
    }
    if (!ok) {
      report.keptForRange.push(t.name);
      initializers.push(t);
      continue;
    }
    // The Cast takes over the float tensor's name, so its readers need no change.
    const half = fresh(`${t.name}.fp16`);
    initializers.push(makeTensor(half, h, t.dims, DataType.FLOAT16));
    casts.push({ opType: 'Cast', inputs: [half], outputs: [t.name], name: fresh(`${t.name}/cast`), attrs: { to: int(DataType.FLOAT) } });
    report.converted++;
  }
  g.initializers = initializers;
  g.nodes = [...casts, ...g.nodes];
  return report;
}
