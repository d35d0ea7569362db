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

/** Run `reference` and `candidate` (ONNX bytes of the same network) on `feeds` and compare outputs. */
export async function measureAgreement(reference: Uint8Array, candidate: Uint8Array, info: ModelInfo, feeds: readonly Feeds[]): Promise<Agreement> {
  const opts: ort.InferenceSession.SessionOptions = { logSeverityLevel: 3 };
  const [a, b] = await Promise.all([ort.InferenceSession.create(reference, opts), ort.InferenceSession.create(candidate, opts)]);
  const q = info.buckets.count;
  let pixels = 0, same = 0, sum = 0, max = 0;
  try {
    for (const f of feeds) {
      const inputs: Record<string, ort.Tensor> = {};
      for (const [k, v] of Object.entries(f)) inputs[k] = new ort.Tensor('float32', v.data, v.dims);
      const ra = (await a.run(inputs))[info.output.name]!;
      const rb = (await b.run(inputs))[info.output.name]!;
      const va = ra.data as Float32Array, vb = rb.data as Float32Array;
      const n = va.length / q;
      const ia = new Uint16Array(n), ib = new Uint16Array(n);
      argmaxChw(va, q, n, ia);
      argmaxChw(vb, q, n, ib);
      const layout = { pixels: n, layout: 'chw' as const, kind: info.output.kind };
      const abA = annealedMean(va, info.buckets, layout, info.temperature);
      const abB = annealedMean(vb, info.buckets, layout, info.temperature);
      for (let i = 0; i < n; i++) {
        if (ia[i] === ib[i]) same++;
        const d = Math.hypot(abA.a[i]! - abB.a[i]!, abA.b[i]! - abB.b[i]!);
        sum += d;
        if (d > max) max = d;
      }
      pixels += n;
    }
  } finally {
    await Promise.all([a.release(), b.release()]);
  }
  return { images: feeds.length, pixels, argmaxAgreement: pixels ? same / pixels : 1, meanAbError: pixels ? sum / pixels : 0, maxAbError: max };
}
