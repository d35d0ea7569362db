// The ONNX model layer: builder -> bytes -> onnxruntime (node and web/WASM) against a
// JS reference, decode/encode fidelity, the SDK's tiny metadata reader, toposort, and
// clear MODEL_INVALID errors for bytes that are not a model.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import {
  GraphBuilder,
  DataType,
  decodeModel,
  encodeModel,
  float,
  getMetadata,
  int,
  ints,
  makeTensor,
  tensorToArray,
  toAttribute,
  toposort,
  type OnnxGraph,
  type OnnxNode,
} from '../converters/onnx/model.ts';
import { readOnnxMetadata } from '../sdk/model/onnx-metadata.ts';
import { TintaError, ErrorCodes } from '../sdk/errors.ts';
import { createRng } from '../trainer/data/rng.ts';

type Ort = typeof ortNode;
// Both packages share onnxruntime-common's API; the web one runs on WASM here.
const runtimes: [string, Ort][] = [
  ['onnxruntime-node', ortNode],
  ['onnxruntime-web', ortWeb as unknown as Ort],
];
ortWeb.env.wasm.numThreads = 1;
ortNode.env.logLevel = 'error';
ortWeb.env.logLevel = 'error';

const INT64_MAX = 9223372036854775807n;

function rng(seed: number): () => number {
  return createRng(seed).float;
}

function randomArray(n: number, r: () => number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

async function runModel(ort: Ort, bytes: Uint8Array, feeds: Record<string, ortNode.Tensor>) {
  const session = await ort.InferenceSession.create(bytes, { logSeverityLevel: 3 });
  try {
    const out = await session.run(feeds);
    return { out, inputNames: [...session.inputNames], outputNames: [...session.outputNames] };
  } finally {
    await session.release();
  }
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    const tol = 1e-5 * Math.max(1, Math.abs(expected[i]!));
    if (!(Math.abs(actual[i]! - expected[i]!) <= tol)) {
      assert.fail(`${what}[${i}]: got ${actual[i]}, expected ${expected[i]}`);
    }
  }
}

function expectInvalid(fn: () => unknown, what: string): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof TintaError, `${what}: expected a TintaError, got ${String(e)}`);
    assert.equal(e.code, ErrorCodes.MODEL_INVALID, `${what}: ${e.message}`);
    assert.match(e.message, /ONNX|tensor|model/i);
    return true;
  });
}

// ---------------------------------------------------------------------------
// The test network and its JS reference
// ---------------------------------------------------------------------------

interface Params {
  convW: Float32Array; // [4,1,3,3]
  convB: Float32Array; // [4]
  gemmW: Float32Array; // [8,3]
  gemmB: Float32Array; // [3]
  matW: Float32Array; // [3,2]
}

function makeParams(seed: number): Params {
  const r = rng(seed);
  return {
    convW: randomArray(36, r),
    convB: randomArray(4, r, 0.1),
    gemmW: randomArray(24, r),
    gemmB: randomArray(3, r, 0.1),
    matW: randomArray(6, r),
  };
}

/**
 * x[N,1,H,W] -> Conv3x3 -> Relu -> r ; r -> AvgPool/4 -> Resize nearest back to
 * H,W (sizes from Shape/Slice/Concat, so H and W stay dynamic) -> u ;
 * cat = Concat(r, u, axis -3) ; probs = Softmax(cat, axis 1) ;
 * logits = MatMul(Gemm(Flatten(GlobalAveragePool(cat)))).
 */
function buildNetwork(p: Params): GraphBuilder {
  const g = new GraphBuilder({ name: 'net' });
  g.addInput('x', DataType.FLOAT, ['N', 1, 'H', 'W']);
  g.addInitializer('conv.w', p.convW, [4, 1, 3, 3]);
  g.addInitializer('conv.b', p.convB, [4]);
  g.addInitializer('gemm.w', p.gemmW, [8, 3]);
  g.addInitializer('gemm.b', p.gemmB, [3]);
  g.addInitializer('mat.w', p.matW, [3, 2]);
  g.addInitializer('hw.start', new BigInt64Array([-2n]), [1]);
  g.addInitializer('hw.end', new BigInt64Array([INT64_MAX]), [1]);
  g.addInitializer('nc.start', new BigInt64Array([0n]), [1]);
  g.addInitializer('nc.end', new BigInt64Array([2n]), [1]);

  g.addNode({
    opType: 'Conv',
    inputs: ['x', 'conv.w', 'conv.b'],
    outputs: ['conv'],
    attrs: { kernel_shape: [3, 3], pads: [1, 1, 1, 1], strides: [1, 1] },
  });
  g.addNode({ opType: 'Relu', inputs: ['conv'], outputs: ['r'] });
  g.addNode({ opType: 'AveragePool', inputs: ['r'], outputs: ['pooled'], attrs: { kernel_shape: [4, 4], strides: [4, 4] } });
  g.addNode({ opType: 'Shape', inputs: ['x'], outputs: ['x.shape'] });
  g.addNode({ opType: 'Shape', inputs: ['pooled'], outputs: ['pooled.shape'] });
  g.addNode({ opType: 'Slice', inputs: ['x.shape', 'hw.start', 'hw.end'], outputs: ['hw'] });
  g.addNode({ opType: 'Slice', inputs: ['pooled.shape', 'nc.start', 'nc.end'], outputs: ['nc'] });
  g.addNode({ opType: 'Concat', inputs: ['nc', 'hw'], outputs: ['sizes'], attrs: { axis: 0 } });
  g.addNode({
    opType: 'Resize',
    inputs: ['pooled', '', '', 'sizes'],
    outputs: ['up'],
    attrs: { mode: 'nearest', coordinate_transformation_mode: 'asymmetric', nearest_mode: 'floor' },
  });
  g.addNode({ opType: 'Concat', inputs: ['r', 'up'], outputs: ['cat'], attrs: { axis: -3 } });
  g.addNode({ opType: 'Softmax', inputs: ['cat'], outputs: ['probs'], attrs: { axis: int(1) } });
  g.addNode({ opType: 'GlobalAveragePool', inputs: ['cat'], outputs: ['gap'] });
  g.addNode({ opType: 'Flatten', inputs: ['gap'], outputs: ['flat'], attrs: { axis: 1 } });
  // alpha: inferred FLOAT by name; beta: an integral float, so spelled out.
  g.addNode({ opType: 'Gemm', inputs: ['flat', 'gemm.w', 'gemm.b'], outputs: ['gemm'], attrs: { alpha: 0.5, beta: float(1) } });
  g.addNode({ opType: 'MatMul', inputs: ['gemm', 'mat.w'], outputs: ['logits'] });
  g.addOutput('probs', DataType.FLOAT, ['N', 8, 'H', 'W']);
  g.addOutput('logits', DataType.FLOAT, ['N', 2]);
  return g;
}

function reference(p: Params, x: Float32Array, N: number, H: number, W: number) {
  const HW = H * W;
  const cat = new Float64Array(N * 8 * HW);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < 4; o++) {
      for (let y = 0; y < H; y++) {
        for (let xx = 0; xx < W; xx++) {
          let s = p.convB[o]!;
          for (let ky = 0; ky < 3; ky++) {
            for (let kx = 0; kx < 3; kx++) {
              const iy = y + ky - 1;
              const ix = xx + kx - 1;
              if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
              s += p.convW[o * 9 + ky * 3 + kx]! * x[n * HW + iy * W + ix]!;
            }
          }
          cat[(n * 8 + o) * HW + y * W + xx] = Math.max(0, s);
        }
      }
      // AveragePool 4x4/4, then nearest-floor upsampling back: each 4x4 block gets its mean.
      for (let by = 0; by < H / 4; by++) {
        for (let bx = 0; bx < W / 4; bx++) {
          let s = 0;
          for (let y = 0; y < 4; y++) for (let xx = 0; xx < 4; xx++) s += cat[(n * 8 + o) * HW + (by * 4 + y) * W + bx * 4 + xx]!;
          for (let y = 0; y < 4; y++) for (let xx = 0; xx < 4; xx++) cat[(n * 8 + 4 + o) * HW + (by * 4 + y) * W + bx * 4 + xx] = s / 16;
        }
      }
    }
  }
  const probs = new Float64Array(cat.length);
  for (let n = 0; n < N; n++) {
    for (let i = 0; i < HW; i++) {
      let max = -Infinity;
      for (let c = 0; c < 8; c++) max = Math.max(max, cat[(n * 8 + c) * HW + i]!);
      let sum = 0;
      for (let c = 0; c < 8; c++) sum += Math.exp(cat[(n * 8 + c) * HW + i]! - max);
      for (let c = 0; c < 8; c++) probs[(n * 8 + c) * HW + i] = Math.exp(cat[(n * 8 + c) * HW + i]! - max) / sum;
    }
  }
  const logits = new Float64Array(N * 2);
  for (let n = 0; n < N; n++) {
    const gap: number[] = [];
    for (let c = 0; c < 8; c++) {
      let s = 0;
      for (let i = 0; i < HW; i++) s += cat[(n * 8 + c) * HW + i]!;
      gap.push(s / HW);
    }
    const gemm: number[] = [];
    for (let j = 0; j < 3; j++) {
      let s = 0;
      for (let i = 0; i < 8; i++) s += gap[i]! * p.gemmW[i * 3 + j]!;
      gemm.push(0.5 * s + p.gemmB[j]!);
    }
    for (let k = 0; k < 2; k++) {
      let s = 0;
      for (let j = 0; j < 3; j++) s += gemm[j]! * p.matW[j * 2 + k]!;
      logits[n * 2 + k] = s;
    }
  }
  return { probs, logits };
}

const METADATA = {
  'tinta.model': 'colorizer-small',
  'tinta.version': '3',
  'tinta.input': JSON.stringify({ space: 'L', range: [0, 100] }),
  'ключ 🎨': 'значение ✓',
  empty: '',
};

function encodeNetwork(g: GraphBuilder): Uint8Array {
  return encodeModel({ graph: g, opset: [{ domain: '', version: 17 }], irVersion: 8, producer: 'tinta-test', metadata: METADATA });
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

test('a built Conv/Resize/Concat/Softmax/Gemm/MatMul graph runs in ORT node and web like the JS reference', async () => {
  const p = makeParams(1);
  const bytes = encodeNetwork(buildNetwork(p));
  const r = rng(2);
  // Two shapes through the same session-less model: H and W really are dynamic.
  for (const [N, H, W] of [
    [2, 8, 12],
    [1, 16, 4],
  ] as const) {
    const x = randomArray(N * H * W, r, 2);
    const ref = reference(p, x, N, H, W);
    for (const [name, ort] of runtimes) {
      const { out } = await runModel(ort, bytes, { x: new ort.Tensor('float32', x, [N, 1, H, W]) });
      assert.deepEqual([...out.probs!.dims], [N, 8, H, W], `${name} probs dims`);
      assert.deepEqual([...out.logits!.dims], [N, 2], `${name} logits dims`);
      assertClose(out.probs!.data as Float32Array, ref.probs, `${name} probs ${N}x${H}x${W}`);
      assertClose(out.logits!.data as Float32Array, ref.logits, `${name} logits ${N}x${H}x${W}`);
    }
  }
});

test('decode -> encode reproduces the bytes, and the decoded model reads back as built', () => {
  const p = makeParams(3);
  const bytes = encodeNetwork(buildNetwork(p));
  const model = decodeModel(bytes);
  assert.deepEqual(encodeModel(model), bytes);

  assert.equal(model.irVersion, 8);
  assert.deepEqual(model.opset, [{ domain: '', version: 17 }]);
  assert.equal(model.producerName, 'tinta-test');
  assert.equal(model.graph.name, 'net');
  assert.deepEqual(model.graph.inputs, [{ name: 'x', elemType: DataType.FLOAT, shape: ['N', 1, 'H', 'W'] }]);
  assert.deepEqual(
    model.graph.outputs.map((o) => [o.name, o.shape]),
    [
      ['probs', ['N', 8, 'H', 'W']],
      ['logits', ['N', 2]],
    ],
  );
  const byOutput = new Map(model.graph.nodes.map((n) => [n.outputs[0], n]));
  assert.deepEqual(byOutput.get('cat')!.attrs.axis, { type: 'int', value: -3 });
  assert.deepEqual(byOutput.get('conv')!.attrs.pads, { type: 'ints', value: [1, 1, 1, 1] });
  assert.deepEqual(byOutput.get('up')!.attrs.mode, { type: 'string', value: 'nearest' });
  assert.deepEqual(byOutput.get('gemm')!.attrs.alpha, { type: 'float', value: 0.5 });
  assert.deepEqual(byOutput.get('gemm')!.attrs.beta, { type: 'float', value: 1 });
  assert.deepEqual(byOutput.get('up')!.inputs, ['pooled', '', '', 'sizes']);

  const inits = new Map(model.graph.initializers.map((t) => [t.name, t]));
  assert.deepEqual(inits.get('conv.w')!.dims, [4, 1, 3, 3]);
  assert.deepEqual(tensorToArray(inits.get('conv.w')!), p.convW);
  assert.deepEqual(tensorToArray(inits.get('hw.end')!), new BigInt64Array([INT64_MAX]));
  assert.deepEqual(tensorToArray(inits.get('hw.start')!), new BigInt64Array([-2n]));
  // Zero-copy: raw_data views the input bytes.
  assert.equal(inits.get('conv.w')!.rawData!.buffer, bytes.buffer);
});

test('int64 extremes, negative ints, strings, tensors and subgraphs survive a round trip', () => {
  const sub = new GraphBuilder({ name: 'then' });
  sub.addNode({ opType: 'Identity', inputs: ['outer'], outputs: ['then_out'] });
  sub.addOutput('then_out', DataType.FLOAT, [null, 'K', 3]);
  const g = new GraphBuilder();
  g.addInput('outer', DataType.FLOAT);
  g.addInitializer('big', new BigInt64Array([INT64_MAX, -(2n ** 63n), -1n, 2n ** 53n + 1n, 7n]), [5]);
  g.addInitializer('u64', new BigUint64Array([2n ** 64n - 1n, 0n]), [2]);
  g.addInitializer('huge.dims', new Float32Array(0), [0, 3_000_000_000]);
  g.addNode({
    opType: 'Custom',
    domain: 'tinta.test',
    inputs: ['outer'],
    outputs: ['y'],
    attrs: {
      big: INT64_MAX,
      small: -(2n ** 63n),
      neg: -7,
      negs: ints([-1, -9007199254740993n, 0]),
      f: 1.5,
      fs: [0.25, -3],
      s: 'héllo',
      bytes: new Uint8Array([0xff, 0xfe, 0x00]),
      ss: ['a', 'b'],
      t: makeTensor('', new Int8Array([-128, 127]), [2]),
      g: sub,
    },
  });
  g.addOutput('y', DataType.FLOAT);
  const bytes = encodeModel({ graph: g, opset: [{ domain: '', version: 17 }, { domain: 'tinta.test', version: 1 }], modelVersion: -(2n ** 62n) });
  const model = decodeModel(bytes);
  assert.deepEqual(encodeModel(model), bytes);
  assert.equal(model.modelVersion, -(2n ** 62n));
  const a = model.graph.nodes[0]!.attrs;
  assert.deepEqual(a.big, { type: 'int', value: INT64_MAX });
  assert.deepEqual(a.small, { type: 'int', value: -(2n ** 63n) });
  assert.deepEqual(a.neg, { type: 'int', value: -7 });
  assert.deepEqual(a.negs, { type: 'ints', value: [-1, -9007199254740993n, 0] });
  assert.deepEqual(a.fs, { type: 'floats', value: [0.25, -3] });
  assert.deepEqual(a.s, { type: 'string', value: 'héllo' });
  assert.deepEqual(a.bytes, { type: 'string', value: new Uint8Array([0xff, 0xfe, 0x00]) });
  assert.deepEqual(a.ss, { type: 'strings', value: ['a', 'b'] });
  assert.equal(a.t!.type, 'tensor');
  assert.deepEqual(tensorToArray((a.t as { value: Parameters<typeof tensorToArray>[0] }).value), new Int8Array([-128, 127]));
  assert.equal(a.g!.type, 'graph');
  assert.deepEqual((a.g as { value: OnnxGraph }).value.outputs[0]!.shape, [null, 'K', 3]);
  const inits = new Map(model.graph.initializers.map((t) => [t.name, t]));
  assert.deepEqual(tensorToArray(inits.get('big')!), new BigInt64Array([INT64_MAX, -(2n ** 63n), -1n, 2n ** 53n + 1n, 7n]));
  assert.deepEqual(tensorToArray(inits.get('u64')!), new BigUint64Array([2n ** 64n - 1n, 0n]));
  assert.deepEqual(inits.get('huge.dims')!.dims, [0, 3_000_000_000]);
  assert.deepEqual(model.opset[1], { domain: 'tinta.test', version: 1 });
  // An unsafe int64 given as a number would be silently wrong: refused instead.
  assert.throws(() => encodeModel({ graph: { ...model.graph, nodes: [{ ...model.graph.nodes[0]!, attrs: { x: int(2 ** 60) } }] } }), {
    code: ErrorCodes.EXPORT_FAILED,
  });
});

test('metadata and input/output names read the same through decodeModel, the SDK reader and ORT', async () => {
  const bytes = encodeNetwork(buildNetwork(makeParams(4)));
  assert.deepEqual(getMetadata(decodeModel(bytes)), METADATA);
  const info = readOnnxMetadata(bytes);
  assert.deepEqual(info.metadata, METADATA);
  assert.deepEqual(info.inputs, ['x']);
  assert.deepEqual(info.outputs, ['probs', 'logits']);
  // The SDK reader also takes a Buffer, or a view into a larger buffer.
  const padded = new Uint8Array(bytes.length + 10);
  padded.set(bytes, 5);
  assert.deepEqual(readOnnxMetadata(padded.subarray(5, 5 + bytes.length)), info);
  assert.deepEqual(readOnnxMetadata(Buffer.from(bytes)), info);
  const { inputNames, outputNames } = await runModel(ortNode, bytes, {
    x: new ortNode.Tensor('float32', new Float32Array(16), [1, 1, 4, 4]),
  });
  assert.deepEqual(inputNames, info.inputs);
  assert.deepEqual(outputNames, info.outputs);
  // Keys that are special to JS objects stay plain data.
  const odd = encodeModel({ graph: buildNetwork(makeParams(4)), metadata: JSON.parse('{"__proto__":"p","constructor":"c"}') });
  const oddMeta = readOnnxMetadata(odd).metadata;
  assert.equal(Object.getPrototypeOf(oddMeta), Object.prototype);
  assert.deepEqual(Object.entries(oddMeta), [
    ['__proto__', 'p'],
    ['constructor', 'c'],
  ]);
  assert.deepEqual(Object.entries(getMetadata(decodeModel(odd))), Object.entries(oddMeta));
});

test('unknown ModelProto and GraphProto fields are kept verbatim', () => {
  const g = buildNetwork(makeParams(5));
  // GraphProto.metadata_props (16) = { key: "k", value: "v" }: outside our schema.
  g.graph.unknownFields = new Uint8Array([0x82, 0x01, 0x06, 0x0a, 0x01, 0x6b, 0x12, 0x01, 0x76]);
  // ModelProto field 20 (training_info) holding an empty TrainingInfoProto.
  const modelUnknown = new Uint8Array([0xa2, 0x01, 0x00]);
  const bytes = encodeModel({ graph: g, metadata: { a: 'b' }, unknownFields: modelUnknown });
  const model = decodeModel(bytes);
  assert.deepEqual(model.graph.unknownFields, g.graph.unknownFields);
  assert.deepEqual(model.unknownFields, modelUnknown);
  assert.deepEqual(encodeModel(model), bytes);
  assert.deepEqual(readOnnxMetadata(bytes).metadata, { a: 'b' });
});

test('toposort orders a shuffled node list, keeps a sorted one, and names cycles and missing inputs', async () => {
  const p = makeParams(6);
  const ordered = buildNetwork(p);
  const original = [...ordered.graph.nodes];
  assert.deepEqual(toposort(ordered.graph), original);

  const shuffled = buildNetwork(p);
  const r = rng(7);
  const nodes = shuffled.graph.nodes;
  for (let i = nodes.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [nodes[i], nodes[j]] = [nodes[j]!, nodes[i]!];
  }
  assert.notDeepEqual(nodes.map((n) => n.name), original.map((n) => n.name));
  shuffled.toposort();
  const seen = new Set(['', 'x', ...shuffled.graph.initializers.map((t) => t.name)]);
  for (const n of shuffled.graph.nodes) {
    for (const i of n.inputs) assert.ok(seen.has(i), `${n.name} reads ${i} before it is produced`);
    for (const o of n.outputs) seen.add(o);
  }
  const x = randomArray(2 * 8 * 8, rng(8));
  const ref = reference(p, x, 2, 8, 8);
  const { out } = await runModel(ortNode, encodeModel({ graph: shuffled }), { x: new ortNode.Tensor('float32', x, [2, 1, 8, 8]) });
  assertClose(out.logits!.data as Float32Array, ref.logits, 'toposorted logits');

  const cyclic = new GraphBuilder();
  cyclic.addInput('in', DataType.FLOAT, [1]);
  cyclic.addNode({ opType: 'Add', name: 'first', inputs: ['in', 'c'], outputs: ['a'] });
  cyclic.addNode({ opType: 'Relu', name: 'second', inputs: ['a'], outputs: ['b'] });
  cyclic.addNode({ opType: 'Neg', name: 'third', inputs: ['b'], outputs: ['c'] });
  assert.throws(() => cyclic.toposort(), (e: unknown) => {
    assert.ok(e instanceof TintaError && e.code === ErrorCodes.EXPORT_FAILED);
    assert.match(e.message, /cycle/);
    for (const name of ['first', 'second', 'third']) assert.ok(e.message.includes(`'${name}'`), e.message);
    return true;
  });

  const missing = new GraphBuilder();
  missing.addInput('in', DataType.FLOAT, [1]);
  missing.addNode({ opType: 'Add', name: 'adder', inputs: ['in', 'nowhere'], outputs: ['a'] });
  assert.throws(() => missing.toposort(), /'adder' \(Add\) reads 'nowhere'/);

  // A subgraph's reads from the outer scope order its node after their producer.
  const outer = new GraphBuilder();
  outer.addInput('cond', DataType.BOOL, []);
  const branch = (): OnnxGraph => {
    const b = new GraphBuilder({ name: 'branch' });
    b.addNode({ opType: 'Identity', inputs: ['late'], outputs: ['branch_out'] });
    b.addOutput('branch_out', DataType.BOOL, []);
    return b.graph;
  };
  outer.addNode({ opType: 'If', name: 'if', inputs: ['cond'], outputs: ['res'], attrs: { then_branch: branch(), else_branch: branch() } });
  outer.addNode({ opType: 'Not', name: 'producer', inputs: ['cond'], outputs: ['late'] });
  assert.deepEqual(outer.toposort().map((n: OnnxNode) => n.name), ['producer', 'if']);
});

test('truncated and garbage bytes give MODEL_INVALID from decodeModel and readOnnxMetadata', () => {
  const bytes = encodeNetwork(buildNetwork(makeParams(9)));
  const cases: [string, Uint8Array][] = [
    ['empty', new Uint8Array(0)],
    ['text', new TextEncoder().encode('this is not an ONNX model, just some text\n')],
    ['jpeg header', new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00, 0x01])],
    ['png header', new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52])],
    ['overlong varint', new Uint8Array([0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01])],
    ['length past the end', new Uint8Array([0x3a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x00])],
    ['graph with the wrong wire type', new Uint8Array([0x08, 0x08, 0x38, 0x05])],
    ['ir_version only', new Uint8Array([0x08, 0x08])],
    ['truncated to 3 bytes', bytes.subarray(0, 3)],
    ['truncated to half', bytes.subarray(0, bytes.length >> 1)],
    ['truncated by one byte', bytes.subarray(0, bytes.length - 1)],
  ];
  const r = rng(10);
  for (let k = 0; k < 5; k++) cases.push([`random #${k}`, Uint8Array.from({ length: 64 + k * 500 }, () => Math.floor(r() * 256))]);
  for (const [what, b] of cases) {
    expectInvalid(() => readOnnxMetadata(b), `readOnnxMetadata(${what})`);
    expectInvalid(() => decodeModel(b), `decodeModel(${what})`);
  }
});

test('a float16 initializer (Uint16Array) with a Cast runs in ORT node and web', async () => {
  // 0.5, -2, 1.25, 65504 (the largest float16) as IEEE half bit patterns.
  const halves = new Uint16Array([0x3800, 0xc000, 0x3d00, 0x7bff]);
  const g = new GraphBuilder();
  g.addInput('x', DataType.FLOAT, [4]);
  g.addInitializer('h', halves, [4]);
  g.addNode({ opType: 'Cast', inputs: ['h'], outputs: ['h32'], attrs: { to: DataType.FLOAT } });
  g.addNode({ opType: 'Add', inputs: ['x', 'h32'], outputs: ['y'] });
  g.addNode({ opType: 'Cast', inputs: ['y'], outputs: ['y16'], attrs: { to: DataType.FLOAT16 } });
  g.addOutput('y', DataType.FLOAT, [4]);
  g.addOutput('y16', DataType.FLOAT16, [4]);
  const bytes = encodeModel({ graph: g });
  const h = decodeModel(bytes).graph.initializers[0]!;
  assert.equal(h.dataType, DataType.FLOAT16);
  assert.deepEqual(tensorToArray(h), halves);
  for (const [name, ort] of runtimes) {
    const { out } = await runModel(ort, bytes, { x: new ort.Tensor('float32', new Float32Array([1, 1, 1, -504]), [4]) });
    assertClose(out.y!.data as Float32Array, [1.5, -1, 2.25, 65000], `${name} y`);
    assert.equal(out.y16!.type, 'float16', name);
    // 1.5, -1, 2.25 and 64992 (65000 rounded to float16) as bit patterns.
    assert.deepEqual([...new Uint16Array((out.y16!.data as Uint16Array).buffer, (out.y16!.data as Uint16Array).byteOffset, 4)], [0x3e00, 0xbc00, 0x4080, 0x7bef], name);
  }
});

test('tensors stored in float_data / int32_data / int64_data / double_data decode and run', async () => {
  const g = new GraphBuilder();
  g.addInput('x', DataType.FLOAT, [2, 3]);
  g.graph.initializers.push(
    { name: 'a', dataType: DataType.FLOAT, dims: [3], floatData: [0.5, -1, 2] },
    { name: 'axes', dataType: DataType.INT64, dims: [1], int64Data: [-1] },
    { name: 'i8', dataType: DataType.INT8, dims: [2], int32Data: [-3, 5] },
    { name: 'd', dataType: DataType.DOUBLE, dims: [1], doubleData: [0.125] },
  );
  g.addNode({ opType: 'Add', inputs: ['x', 'a'], outputs: ['sum'] });
  g.addNode({ opType: 'ReduceSum', inputs: ['sum', 'axes'], outputs: ['red'], attrs: { keepdims: 0 } });
  g.addNode({ opType: 'Cast', inputs: ['i8'], outputs: ['i8f'], attrs: { to: DataType.FLOAT } });
  g.addNode({ opType: 'Cast', inputs: ['d'], outputs: ['df'], attrs: { to: DataType.FLOAT } });
  g.addOutput('red', DataType.FLOAT, [2]);
  g.addOutput('i8f', DataType.FLOAT, [2]);
  g.addOutput('df', DataType.FLOAT, [1]);
  const bytes = encodeModel({ graph: g });
  const model = decodeModel(bytes);
  assert.deepEqual(encodeModel(model), bytes);
  const inits = new Map(model.graph.initializers.map((t) => [t.name, t]));
  assert.deepEqual(tensorToArray(inits.get('a')!), new Float32Array([0.5, -1, 2]));
  assert.deepEqual(tensorToArray(inits.get('axes')!), new BigInt64Array([-1n]));
  assert.deepEqual(tensorToArray(inits.get('i8')!), new Int8Array([-3, 5]));
  assert.deepEqual(tensorToArray(inits.get('d')!), new Float64Array([0.125]));
  for (const [name, ort] of runtimes) {
    const { out } = await runModel(ort, bytes, { x: new ort.Tensor('float32', new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]) });
    assertClose(out.red!.data as Float32Array, [7.5, 16.5], `${name} red`);
    assertClose(out.i8f!.data as Float32Array, [-3, 5], `${name} i8f`);
    assertClose(out.df!.data as Float32Array, [0.125], `${name} df`);
  }
  // A tensor whose data does not match its dims is reported, not misread.
  expectInvalid(() => tensorToArray({ name: 'bad', dataType: DataType.FLOAT, dims: [4], floatData: [1, 2] }), 'short float_data');
  expectInvalid(() => tensorToArray({ name: 'bad', dataType: DataType.FLOAT, dims: [2], rawData: new Uint8Array(7) }), 'short raw_data');
  assert.throws(() => tensorToArray({ name: 'ext', dataType: DataType.FLOAT, dims: [2], dataLocation: 1, externalData: { location: 'w.bin' } }), {
    code: ErrorCodes.MODEL_NEEDS_EMBEDDING,
  });
});

test('attribute types are inferred, overridable, and builder misuse fails with EXPORT_FAILED', () => {
  assert.deepEqual(toAttribute('axis', 1), { type: 'int', value: 1 });
  assert.deepEqual(toAttribute('alpha', 1), { type: 'float', value: 1 });
  assert.deepEqual(toAttribute('ratio', 0.5), { type: 'float', value: 0.5 });
  assert.deepEqual(toAttribute('pads', [0, 1]), { type: 'ints', value: [0, 1] });
  assert.deepEqual(toAttribute('scales', [1, 2]), { type: 'floats', value: [1, 2] });
  assert.deepEqual(toAttribute('x', [1, 2.5]), { type: 'floats', value: [1, 2.5] });
  assert.deepEqual(toAttribute('x', new Float32Array([1, 2])), { type: 'floats', value: [1, 2] });
  assert.deepEqual(toAttribute('x', new BigInt64Array([1n, INT64_MAX])), { type: 'ints', value: [1, INT64_MAX] });
  assert.deepEqual(toAttribute('x', float(3)), { type: 'float', value: 3 });
  assert.deepEqual(toAttribute('mode', 'nearest'), { type: 'string', value: 'nearest' });
  const t = makeTensor('v', new Float32Array([1]), [1]);
  assert.deepEqual(toAttribute('value', t), { type: 'tensor', value: t });

  const g = new GraphBuilder();
  assert.equal(g.uniqueName('conv'), 'conv');
  assert.equal(g.uniqueName('conv'), 'conv_1');
  assert.equal(g.addNode({ opType: 'Relu', inputs: ['conv'], outputs: ['r1'] }).name, 'Relu');
  assert.equal(g.addNode({ opType: 'Relu', inputs: ['r1'], outputs: ['r2'] }).name, 'Relu_1');
  const exportFailed = { code: ErrorCodes.EXPORT_FAILED };
  assert.throws(() => g.addNode({ opType: 'Relu', inputs: ['r1'], outputs: ['r2'] }), exportFailed);
  assert.throws(() => g.addInitializer('w', new Float32Array(5), [2, 3]), exportFailed);
  assert.throws(() => g.addInitializer('w', new Float32Array(4), [4], DataType.FLOAT16), exportFailed);
  assert.throws(() => encodeModel({ graph: g, opset: [] }), exportFailed);
});

test('the SDK reader skips a 20 MB initializer quickly and decodeModel does not copy it', () => {
  const g = new GraphBuilder();
  g.addInput('x', DataType.FLOAT, [1]);
  g.addInitializer('big', new Float32Array(5 * 1024 * 1024).fill(0.5), [5 * 1024 * 1024]);
  g.addNode({ opType: 'Identity', inputs: ['x'], outputs: ['y'] });
  g.addOutput('y', DataType.FLOAT, [1]);
  const bytes = encodeModel({ graph: g, metadata: { size: 'big' } });
  assert.ok(bytes.length > 20 * 1024 * 1024);
  let t0 = performance.now();
  const info = readOnnxMetadata(bytes);
  const readMs = performance.now() - t0;
  assert.deepEqual(info, { metadata: { size: 'big' }, inputs: ['x'], outputs: ['y'] });
  assert.ok(readMs < 50, `readOnnxMetadata took ${readMs.toFixed(1)} ms on 20 MB`);
  t0 = performance.now();
  const model = decodeModel(bytes);
  const decodeMs = performance.now() - t0;
  assert.equal(model.graph.initializers[0]!.rawData!.buffer, bytes.buffer);
  assert.ok(decodeMs < 1000, `decodeModel took ${decodeMs.toFixed(1)} ms on 20 MB`);
});
