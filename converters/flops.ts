/**
 * The compute of an exported model: multiply-accumulates of its Conv, ConvTranspose and Gemm nodes
 * at a given input size, from a shape walk over the graph. Only what those counts need is tracked
 * (feature-map shapes through the element-wise, resize and concat nodes tinta emits); a dimension
 * the walk cannot know is null and never needed for the count. FLOPs = 2 x MACs.
 */
import { tensorToArray, type OnnxModel } from './onnx/model.ts';

type Shape = (number | null)[];

/** MACs by op type, by node (nodes with a name) and in total. */
export interface MacCount {
  total: number;
  byOp: Record<string, number>;
  byNode: Record<string, number>;
}

function ints(v: { type: string; value?: unknown } | undefined, fallback: number[]): number[] {
  return v && v.type === 'ints' ? (v.value as (number | bigint)[]).map(Number) : fallback;
}

/** MACs of one inference of `model` with graph inputs of the given shapes (e.g. { L: [1, 1, 256, 256] }). */
export function countMacs(model: OnnxModel, inputs: Record<string, number[]>): MacCount {
  const g = model.graph;
  const shapes = new Map<string, Shape>(Object.entries(inputs));
  const init = new Map(g.initializers.map((t) => [t.name, t]));
  for (const t of g.initializers) shapes.set(t.name, t.dims);
  const byOp: Record<string, number> = {};
  const byNode: Record<string, number> = {};
  let node = '';
  const add = (op: string, n: number) => {
    byOp[op] = (byOp[op] ?? 0) + n;
    if (node) byNode[node] = (byNode[node] ?? 0) + n;
  };
  const nodes = g.nodes;
  for (const n of nodes) {
    node = n.name ?? '';
    const x = shapes.get(n.inputs[0] ?? '');
    let out: Shape | undefined;
    switch (n.opType) {
      case 'Conv':
      case 'ConvTranspose': {
        const w = shapes.get(n.inputs[1] ?? '');
        if (!x || !w) break;
        const [kh, kw] = [Number(w[2]), Number(w[3])];
        const s = ints(n.attrs.strides, [1, 1]), d = ints(n.attrs.dilations, [1, 1]), p = ints(n.attrs.pads, [0, 0, 0, 0]);
        const group = n.attrs.group?.type === 'int' ? Number(n.attrs.group.value) : 1;
        const size = (i: 0 | 1, k: number) => {
          const v = x[2 + i];
          if (v == null) return null;
          return n.opType === 'Conv'
            ? Math.floor((v + p[i]! + p[i + 2]! - ((k - 1) * d[i]! + 1)) / s[i]!) + 1
            : s[i]! * (v - 1) + ((k - 1) * d[i]! + 1) - p[i]! - p[i + 2]!;
        };
        const cout = n.opType === 'Conv' ? Number(w[0]) : Number(w[1]) * group;
        const cin = n.opType === 'Conv' ? Number(w[1]) * group : Number(w[0]);
        out = [x[0] ?? 1, cout, size(0, kh), size(1, kw)];
        // Conv: every output pixel reads kh*kw*cin/group; ConvTranspose: every input pixel writes kh*kw*cout/group.
        const pix = n.opType === 'Conv' ? (out[2] ?? 0) * (out[3] ?? 0) : (x[2] ?? 0) * (x[3] ?? 0);
        const per = n.opType === 'Conv' ? (cin / group) * cout : cin * (cout / group);
        add(n.opType, (x[0] ?? 1) * pix * per * kh * kw);
        break;
      }
      case 'Gemm':
      case 'MatMul': {
        const w = shapes.get(n.inputs[1] ?? '');
        if (!x || !w) break;
        const transB = n.attrs.transB?.type === 'int' && Number(n.attrs.transB.value) === 1;
        const [k, m] = transB ? [Number(w[1]), Number(w[0])] : [Number(w[0]), Number(w[1])];
        out = [x[0] ?? 1, m];
        add(n.opType, (x[0] ?? 1) * k * m);
        break;
      }
      case 'Resize': {
        const sc = init.get(n.inputs[2] ?? '');
        if (!x || !sc) break;
        const f = Array.from(tensorToArray(sc) as Float32Array);
        out = x.map((v, i) => (v == null ? null : Math.floor(v * (f[i] ?? 1))));
        break;
      }
      case 'Concat': {
        const axis = n.attrs.axis?.type === 'int' ? Number(n.attrs.axis.value) : 0;
        const parts = n.inputs.map((i) => shapes.get(i));
        const known = parts.find((p) => p && p.every((v, i) => i === axis || v != null)) ?? parts.find(Boolean);
        if (!known) break;
        out = known.map((v, i) => (i === axis ? parts.reduce<number | null>((a, p) => (a == null || p?.[i] == null ? null : a + Number(p[i])), 0) : v));
        break;
      }
      case 'Expand': {
        // tinta's spatial tile: [N, D, 1, 1] broadcast over a feature map; the H, W are not needed for counting.
        if (x) out = x.map((v, i) => (i >= 2 ? null : v));
        break;
      }
      case 'Shape':
      case 'Unsqueeze':
        break;
      default:
        // Element-wise and (de)quantization nodes keep their first input's shape.
        if (x) out = x;
    }
    if (out) for (const o of n.outputs) shapes.set(o, out);
  }
  return { total: Object.values(byOp).reduce((a, b) => a + b, 0), byOp, byNode };
}
