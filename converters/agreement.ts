/**
 * How closely a converted model follows its fp32 original, measured the way users see it: the
 * per-pixel argmax bucket, and the ab colour after annealed-mean decoding with the model's own
 * buckets and temperature (Euclidean distance in ab units).
 */
import * as ort from 'onnxruntime-node';
import { annealedMean } from '../sdk/color/decode.ts';
import type { ModelInfo } from '../sdk/model/metadata.ts';
import type { Feeds } from './calibrate.ts';

/** Agreement of a converted model with its reference over some inputs. */
export interface Agreement {
  images: number;
  pixels: number;
  /** Fraction of output pixels whose argmax bucket is the same (0..1). */
  argmaxAgreement: number;
  /** Mean and max ab distance between the decoded colours. */
  meanAbError: number;
  maxAbError: number;
}

function argmaxChw(v: Float32Array, q: number, n: number, out: Uint16Array): void {
  for (let i = 0; i < n; i++) {
    let best = 0, bv = v[i]!;
    for (let j = 1; j < q; j++) {
      const x = v[j * n + i]!;
      if (x > bv) { bv = x; best = j; }
    }
    out[i] = best;
  }
}

/**
 * The reference model's outputs on some inputs, kept to compare any number of candidates against
 * (the reference runs once; its outputs are kept decoded, as argmax and ab per pixel).
 */
export interface AgreementReference {
  compare(candidate: Uint8Array): Promise<Agreement>;
}

interface Decoded {
  argmax: Uint16Array;
  a: Float32Array;
  b: Float32Array;
}

function decode(v: Float32Array, info: ModelInfo): Decoded {
  const q = info.buckets.count;
  const n = v.length / q;
  const argmax = new Uint16Array(n);
  argmaxChw(v, q, n, argmax);
  const { a, b } = annealedMean(v, info.buckets, { pixels: n, layout: 'chw', kind: info.output.kind }, info.temperature);
  return { argmax, a, b };
}

function inputsOf(f: Feeds): Record<string, ort.Tensor> {
  const inputs: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(f)) inputs[k] = new ort.Tensor('float32', v.data, v.dims);
  return inputs;
}

const SESSION: ort.InferenceSession.SessionOptions = { logSeverityLevel: 3 };

/** Run `reference` on `feeds` once; candidates are then compared with `compare`. */
export async function agreementReference(reference: Uint8Array, info: ModelInfo, feeds: readonly Feeds[]): Promise<AgreementReference> {
  const s = await ort.InferenceSession.create(reference, SESSION);
  const ref: Decoded[] = [];
  try {
    for (const f of feeds) ref.push(decode((await s.run(inputsOf(f)))[info.output.name]!.data as Float32Array, info));
  } finally {
    await s.release();
  }
  return {
    async compare(candidate: Uint8Array): Promise<Agreement> {
      const c = await ort.InferenceSession.create(candidate, SESSION);
      let pixels = 0, same = 0, sum = 0, max = 0;
      try {
        for (const [k, f] of feeds.entries()) {
          const A = ref[k]!;
          const B = decode((await c.run(inputsOf(f)))[info.output.name]!.data as Float32Array, info);
          const n = A.argmax.length;
          for (let i = 0; i < n; i++) {
            if (A.argmax[i] === B.argmax[i]) same++;
            const d = Math.hypot(A.a[i]! - B.a[i]!, A.b[i]! - B.b[i]!);
            sum += d;
            if (d > max) max = d;
          }
          pixels += n;
        }
      } finally {
        await c.release();
      }
      return { images: feeds.length, pixels, argmaxAgreement: pixels ? same / pixels : 1, meanAbError: pixels ? sum / pixels : 0, maxAbError: max };
    },
  };
}

/** Run `reference` and `candidate` (ONNX bytes of the same network) on `feeds` and compare outputs. */
export async function measureAgreement(reference: Uint8Array, candidate: Uint8Array, info: ModelInfo, feeds: readonly Feeds[]): Promise<Agreement> {
  return (await agreementReference(reference, info, feeds)).compare(candidate);
}
