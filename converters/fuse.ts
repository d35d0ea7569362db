/**
 * `tinta fuse`: a fusion colorizer and its embedding classifier merged into one ONNX graph whose
 * only input is L. Inside: L -> centre crop -> gray (L / 100, or sRGB) -> resize -> normalise ->
 * classifier (fuse-preprocess.ts), its logits -> softmax (unless it outputs probabilities) -> the
 * colorizer's embedding input. The classifier's names get a prefix (default 'emb/'), the default-domain opsets
 * are reconciled to the higher of the two (fuse-opset.ts), other domains' imports (com.microsoft,
 * ...) are kept, and the colorizer's tinta metadata is kept with kind 'fused', embedding.input ''
 * and a record of the classifier (name, sha256, descriptor), under a new content hash.
 */
import { readFile } from 'node:fs/promises';
import { TintaError, ErrorCodes, isTintaError } from '../sdk/errors.ts';
import { buildMetadata, parseModelInfo, type InputSpec, type ModelInfo } from '../sdk/model/metadata.ts';
import { writeFileAtomic } from '../sdk/io/atomic-node.ts';
import { decodeModel, encodeModel, getMetadata, GraphBuilder, DataType, type OnnxGraph, type OnnxModel, type OpsetImport } from './onnx/model.ts';
import { encodeWithContentHash, sha256Hex } from './content-hash.ts';
import { irVersionFor } from './export.ts';
import { BUILTIN_DESCRIPTORS, isBuiltinDescriptor, parseDescriptor, type EmbeddingDescriptor } from '../trainer/embedding/descriptor.ts';
import { resolveDescriptor, type ClassifierOutputKind, type GrayMode, type ResolvedDescriptor } from './fuse-classifier.ts';
import { preprocessingConflicts, readEmbeddingCacheHeader, type EmbeddingCacheHeader } from '../trainer/embedding/cache.ts';
import { emitClassifierInput } from './fuse-preprocess.ts';
import { reconcileOpset } from './fuse-opset.ts';

/** Options of `fuseModels`. */
export interface FuseOptions {
  /** The classifier's embedding descriptor (trainer/embedding/descriptor.ts) or a built-in name; default: the colorizer's embedding source. */
  descriptor?: EmbeddingDescriptor | string;
  /** What the classifier outputs; overrides the descriptor ('logits' -> softmax inside the graph). */
  embeddingOutput?: ClassifierOutputKind;
  /** How the classifier's gray value is made from L; default DEFAULT_GRAY ('srgb'); it must be what the training embeddings used. */
  gray?: GrayMode;
  /** Prefix of the classifier's names in the fused graph; default 'emb/' (another is picked if the colorizer uses it). */
  prefix?: string;
  /**
   * How the colorizer's training embeddings were made (the header of its `tinta embed` cache): the
   * gray value and, when no descriptor is given, the descriptor are taken from it, and a classifier
   * file, preprocessing or network size that differs is FUSE_FAILED, since the fused model would
   * compute other embeddings than it was trained on.
   */
  embeddings?: TrainingEmbeddings;
}

/** What `fuseModels` checks of the training embeddings (an embedding cache's header). */
export type TrainingEmbeddings = Pick<EmbeddingCacheHeader, 'source' | 'model' | 'descriptor' | 'preprocessing'> & { dir?: string };

/** What a fuse did. */
export interface FuseReport {
  bytes: number;
  colorizerBytes: number;
  classifierBytes: number;
  /** Default-domain opset of the fused graph, and of the two parts before. */
  opset: number;
  colorizerOpset: number;
  classifierOpset: number;
  /** Every opset import of the fused model. */
  opsetImports: OpsetImport[];
  /** Nodes rewritten for the fused opset (see fuse-opset.ts). */
  converted: string[];
  nodes: number;
  classifierNodes: number;
  prefix: string;
  descriptor: ResolvedDescriptor;
  classifierSha256: string;
  output?: string;
}

function fail(message: string, details?: Record<string, unknown>): TintaError {
  return new TintaError(ErrorCodes.FUSE_FAILED, message, details ? { details } : {});
}

function defaultOpset(m: OnnxModel): number {
  const v = m.opset.find((o) => o.domain === '' || o.domain === 'ai.onnx')?.version;
  // ONNX: a model without a default-domain import uses none of its ops; treat it as the oldest.
  return v ?? 1;
}

// Every value, node and initializer name of `g` and its subgraphs, `rename`d in place.
function renameAll(g: OnnxGraph, rename: (s: string) => string): void {
  const v = (s: string) => (s === '' ? s : rename(s));
  for (const t of g.initializers) t.name = v(t.name);
  for (const list of [g.inputs, g.outputs, g.valueInfo]) for (const x of list) x.name = v(x.name);
  for (const n of g.nodes) {
    n.inputs = n.inputs.map(v);
    n.outputs = n.outputs.map(v);
    if (n.name) n.name = rename(n.name);
    for (const a of Object.values(n.attrs)) {
      if (a.type === 'graph') renameAll(a.value, rename);
      else if (a.type === 'graphs') a.value.forEach((sg) => renameAll(sg, rename));
    }
  }
}

function allNames(g: OnnxGraph, out = new Set<string>()): Set<string> {
  for (const t of g.initializers) out.add(t.name);
  for (const list of [g.inputs, g.outputs, g.valueInfo]) for (const x of list) out.add(x.name);
  for (const n of g.nodes) {
    for (const s of [...n.inputs, ...n.outputs]) out.add(s);
    if (n.name) out.add(n.name);
    for (const a of Object.values(n.attrs)) {
      if (a.type === 'graph') allNames(a.value, out);
      else if (a.type === 'graphs') a.value.forEach((sg) => allNames(sg, out));
    }
  }
  return out;
}

function mergeOpsets(colorizer: OpsetImport[], classifier: OpsetImport[], target: number): OpsetImport[] {
  const out: OpsetImport[] = [{ domain: '', version: target }];
  for (const o of [...colorizer, ...classifier]) {
    if (o.domain === '' || o.domain === 'ai.onnx') continue;
    const prev = out.find((p) => p.domain === o.domain);
    if (!prev) out.push({ ...o });
    else if (prev.version !== o.version) {
      // Other domains have no version converter: their ops must mean the same in both graphs.
      throw fail(`The colorizer and the classifier import domain '${o.domain}' at different versions (${prev.version} and ${o.version}).`);
    }
  }
  return out;
}

function checkClassifierFile(m: OnnxModel): void {
  if (m.unknownFields?.length || m.graph.unknownFields?.length) {
    throw fail('The classifier uses ONNX features tinta does not merge (model-local functions, sparse initializers or quantization annotations).');
  }
  const external = m.graph.initializers.filter((t) => t.dataLocation === 1 || t.externalData);
  if (external.length) throw fail(`The classifier keeps ${external.length} tensors in external files (e.g. '${external[0]!.name}'); embed the weights in the .onnx file first.`);
}

function checkEmbeddingOutput(v: unknown): void {
  if (v !== undefined && v !== 'logits' && v !== 'probabilities') {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `The embedding output must be 'logits' or 'probabilities'; got ${String(v)}.`);
  }
}

// A prefix no name of `g` starts with: `base`, else base1/, base2/, ...
function freePrefix(g: OnnxGraph, base: string): string {
  const taken = [...allNames(g)];
  let prefix = base;
  for (let k = 1; taken.some((s) => s.startsWith(prefix)); k++) prefix = `${base.replace(/\/$/, '')}${k}/`;
  return prefix;
}

function builtin(name: string): EmbeddingDescriptor {
  if (!isBuiltinDescriptor(name)) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, `'${name}' is not a built-in embedding descriptor (${Object.keys(BUILTIN_DESCRIPTORS).join(', ')}); give its descriptor (a JSON file, docs/embeddings.md).`);
  }
  return BUILTIN_DESCRIPTORS[name]!;
}

function pickDescriptor(info: ModelInfo, given: EmbeddingDescriptor | string | undefined): EmbeddingDescriptor {
  const source = info.embedding?.source;
  const wanted = given ?? source;
  if (wanted === undefined) {
    throw new TintaError(ErrorCodes.BAD_ARGUMENT, 'The colorizer does not say which classifier made its embeddings; give its descriptor (e.g. mobilenetv2, or a JSON file).');
  }
  const d = typeof wanted === 'string' ? builtin(wanted) : wanted;
  if (source !== undefined && d.name !== source) {
    throw fail(`The colorizer was trained on embeddings from '${source}', not '${d.name}'; fuse it with that classifier (a descriptor named '${source}').`);
  }
  return d;
}

function cacheName(t: TrainingEmbeddings): string {
  return t.dir ? `the embedding cache ${t.dir}` : 'the training embeddings';
}

/** The gray mode: the option, else the training embeddings'; both given and different is FUSE_FAILED. */
function pickGray(given: GrayMode | undefined, t: TrainingEmbeddings | undefined): GrayMode | undefined {
  const trained = t?.preprocessing.classifier.gray;
  if (given !== undefined && trained !== undefined && given !== trained) {
    throw fail(`--gray ${given} differs from ${cacheName(t!)}, made with --gray ${trained}: the colorizer learnt from those embeddings. Leave --gray out (it is read from the cache) or embed again with --gray ${given} and retrain.`);
  }
  return given ?? trained;
}

/** FUSE_FAILED when the fused model would compute its embedding otherwise than the training embeddings were made. */
function checkTrainingEmbeddings(info: ModelInfo, k: PreparedClassifier, t: TrainingEmbeddings): void {
  const where = cacheName(t);
  const source = info.embedding?.source;
  if (source !== undefined && t.source !== source) throw fail(`The colorizer was trained on '${source}' embeddings, but ${where} holds '${t.source}' ones.`);
  // A TF.js classifier cannot be fused; its ONNX conversion has another hash but computes the same.
  if (t.model.format === 'onnx' && t.model.sha256 !== k.sha256) {
    throw fail(`${where} was computed with ${t.model.file} (sha256 ${t.model.sha256.slice(0, 12)}…), not with this classifier file (sha256 ${k.sha256.slice(0, 12)}…); fuse with that file.`);
  }
  const diff = preprocessingConflicts(t.preprocessing, { network: { resolution: info.recommendedSize, multiple: info.spatialMultiple }, classifier: k.descriptor, ranBy: 'onnx-embedding-graph' }, 'the training embeddings have', 'the fused model would have');
  if (diff.length) {
    const hint = diff.some((d) => d.startsWith('network size')) ? ' The network size is the colorizer\'s recommended size and spatial multiple: export with --size to match, or embed again with --resolution/--multiple.' : '';
    throw fail(`The fused model would not compute the embeddings the colorizer was trained on (${where}):\n  ${diff.join('\n  ')}${hint}`);
  }
}

/** A classifier decoded, checked against its descriptor, ready to be merged. */
interface PreparedClassifier {
  model: OnnxModel;
  descriptor: ResolvedDescriptor;
  /** Its default-domain opset. */
  opset: number;
  sha256: string;
  /** Its output width when the file says it. */
  dim: number | null;
}

function prepareClassifier(bytes: Uint8Array, descriptor: EmbeddingDescriptor, opts: { embeddingOutput?: ClassifierOutputKind; gray?: GrayMode }): PreparedClassifier {
  let model: OnnxModel;
  try {
    model = decodeModel(bytes);
  } catch (e) {
    throw isTintaError(e) ? new TintaError(e.code, `The classifier: ${e.message}`, { cause: e }) : e;
  }
  checkClassifierFile(model);
  const g = model.graph;
  const initNames = new Set(g.initializers.map((t) => t.name));
  // Before IR 4, initializers were listed among the inputs too.
  g.inputs = g.inputs.filter((v) => !initNames.has(v.name));
  const d = resolveDescriptor(descriptor, g, { ...(opts.embeddingOutput ? { output: opts.embeddingOutput } : {}), ...(opts.gray ? { gray: opts.gray } : {}) });
  const out = g.outputs.find((v) => v.name === d.outputName)!;
  if (out.shape && out.shape.length !== 2) throw fail(`The classifier's output '${out.name}' is [${out.shape.join(', ')}]; an embedding is [N, D].`);
  if (out.elemType !== 0 && out.elemType !== DataType.FLOAT) throw fail(`The classifier's output '${out.name}' is not float32.`);
  const input = g.inputs.find((v) => v.name === d.input)!;
  if (input.elemType !== 0 && input.elemType !== DataType.FLOAT) throw fail(`The classifier's input '${input.name}' is not float32.`);
  const dim = out.shape && typeof out.shape[1] === 'number' ? out.shape[1] : (descriptor.classes ?? null);
  if (descriptor.classes !== undefined && dim !== descriptor.classes) throw fail(`The classifier's output '${out.name}' has ${dim} classes; its descriptor '${descriptor.name}' says ${descriptor.classes}.`);
  return { model, descriptor: d, opset: defaultOpset(model), sha256: sha256Hex(bytes), dim };
}

/**
 * Merges the classifier into `host` (whose other names never start with `prefix`): its names get
 * the prefix, the preprocessing computes its input from the network input `x`, and its output
 * (softmaxed when it holds logits) becomes the value `out`, [N, dim].
 */
function addEmbedding(host: OnnxGraph, k: PreparedClassifier, x: string, input: InputSpec, out: string, dim: number, prefix: string): void {
  const kg = k.model.graph;
  const d = k.descriptor;
  renameAll(kg, (s) => prefix + s);
  host.nodes.push(...kg.nodes);
  host.initializers.push(...kg.initializers);
  // The classifier's input and outputs are inner values now; their types stay recorded.
  host.valueInfo.push(...kg.valueInfo, ...kg.inputs, ...kg.outputs, { name: out, elemType: DataType.FLOAT, shape: ['N', dim] });
  const b = new GraphBuilder(host);
  emitClassifierInput(b, x, input, d, prefix + d.input, `${prefix}pre/`);
  const head = d.output === 'logits' ? 'Softmax' : 'Identity';
  b.addNode({ opType: head, inputs: [prefix + d.outputName], outputs: [out], name: b.uniqueName(`${prefix}embedding`), ...(head === 'Softmax' ? { attrs: { axis: -1 } } : {}) });
  try {
    b.toposort();
  } catch (e) {
    throw isTintaError(e) ? fail(`The merged graph is not valid: ${e.message}`, { ...e.details }) : e;
  }
}

/**
 * Merge a fusion colorizer (tinta export) and its classifier into one graph that takes L alone.
 * FUSE_FAILED says what does not fit (already fused, no embedding input, sizes, opsets, domains).
 */
export function fuseModels(colorizerBytes: Uint8Array, classifierBytes: Uint8Array, opts: FuseOptions = {}): { bytes: Uint8Array; info: ModelInfo; report: FuseReport } {
  checkEmbeddingOutput(opts.embeddingOutput);
  const colorizer = decodeModel(colorizerBytes);
  const meta = getMetadata(colorizer);
  const info = parseModelInfo(meta, 'The colorizer');
  if (info.kind === 'fused') throw fail(`The colorizer is already fused (with ${info.embedding?.classifier?.name ?? 'a classifier'}); fuse the plain export instead.`);
  const emb = info.embedding;
  if (!emb) throw fail('The colorizer takes L alone (it was trained without fusion): there is no embedding to compute, so nothing to fuse.');
  if (!colorizer.graph.inputs.some((v) => v.name === emb.input)) throw fail(`The colorizer's metadata names the embedding input '${emb.input}', which its graph does not have.`);
  // Which frame of a stack the classifier should see is not decided anywhere yet.
  if (info.frames !== 1) throw fail(`The colorizer takes ${info.frames} stacked frames; fusing video models is not supported.`);
  const gray = pickGray(opts.gray, opts.embeddings);
  // Without a descriptor, the training embeddings' own one says how the classifier is fed.
  const given = opts.descriptor ?? (opts.embeddings ? parseDescriptor(opts.embeddings.descriptor, `The descriptor of ${cacheName(opts.embeddings)}`) : undefined);
  const k = prepareClassifier(classifierBytes, pickDescriptor(info, given), { ...opts, ...(gray ? { gray } : {}) });
  if (opts.embeddings) checkTrainingEmbeddings(info, k, opts.embeddings);
  if (k.dim !== null && k.dim !== emb.dim) {
    throw fail(`The classifier's output '${k.descriptor.outputName}' has ${k.dim} values; the colorizer takes a ${emb.dim}-d embedding.`);
  }

  // Opsets: the fused graph runs at the higher default-domain version; the other part is carried over.
  const cOpset = defaultOpset(colorizer);
  const target = Math.max(cOpset, k.opset);
  if (target < 13) throw fail(`The colorizer is opset ${cOpset}; re-export it with opset 13 or later.`);
  const converted = [
    ...reconcileOpset(k.model.graph, k.opset, target, 'The classifier').converted,
    ...reconcileOpset(colorizer.graph, cOpset, target, 'The colorizer').converted,
  ];
  const opsetImports = mergeOpsets(colorizer.opset, k.model.opset, target);

  const cg = colorizer.graph;
  const prefix = freePrefix(cg, opts.prefix ?? 'emb/');
  const classifierNodes = k.model.graph.nodes.length;
  const graph: OnnxGraph = { ...cg, inputs: cg.inputs.filter((v) => v.name !== emb.input), nodes: [...cg.nodes], initializers: [...cg.initializers], valueInfo: [...cg.valueInfo] };
  addEmbedding(graph, k, info.input.name, info.input, emb.input, emb.dim, prefix);

  const d = k.descriptor;
  const fusedInfo: Omit<ModelInfo, 'formatVersion'> = {
    ...info,
    kind: 'fused',
    embedding: { input: '', dim: emb.dim, source: emb.source ?? d.name, classifier: { name: d.name, sha256: k.sha256, descriptor: { ...d } } },
    contentHash: '',
  };
  // Other keys (not tinta's) stay as they were; tinta's are rewritten in place, keeping their order.
  const metadata = { ...meta, ...buildMetadata(fusedInfo) };
  const { bytes } = encodeWithContentHash({
    irVersion: Math.max(colorizer.irVersion, k.model.irVersion, irVersionFor(target)),
    opset: opsetImports,
    ...(colorizer.producerName !== undefined ? { producerName: colorizer.producerName } : {}),
    ...(colorizer.producerVersion !== undefined ? { producerVersion: colorizer.producerVersion } : {}),
    ...(colorizer.docString !== undefined ? { docString: colorizer.docString } : {}),
    graph,
    metadata,
  });
  return {
    bytes,
    info: parseModelInfo(metadata, 'The fused model'),
    report: {
      bytes: bytes.length,
      colorizerBytes: colorizerBytes.length,
      classifierBytes: classifierBytes.length,
      opset: target,
      colorizerOpset: cOpset,
      classifierOpset: k.opset,
      opsetImports,
      converted,
      nodes: graph.nodes.length,
      classifierNodes,
      prefix,
      descriptor: d,
      classifierSha256: k.sha256,
    },
  };
}

/** Options of `buildEmbeddingModel`. */
export interface EmbeddingModelOptions {
  /** The classifier's embedding descriptor or a built-in name. */
  descriptor: EmbeddingDescriptor | string;
  embeddingOutput?: ClassifierOutputKind;
  gray?: GrayMode;
  /** How the model input is made from L; default L / 100 (what tinta colorizers take). */
  input?: InputSpec;
}

/**
 * The embedding half of a fused model on its own: input 'L' [N, 1, H, W] (normalised as `input`
 * says), output 'embedding' [N, D], computed by exactly the nodes a fused model has. Running it in
 * onnxruntime gives the embeddings a fused model computes inside, bit for bit on the same runtime;
 * the TypeScript `classifierInputFromL` agrees before the classifier to about 1e-5, which an int8
 * classifier can amplify.
 */
export function buildEmbeddingModel(classifierBytes: Uint8Array, opts: EmbeddingModelOptions): { bytes: Uint8Array; descriptor: ResolvedDescriptor; dim: number | null } {
  checkEmbeddingOutput(opts.embeddingOutput);
  const k = prepareClassifier(classifierBytes, typeof opts.descriptor === 'string' ? builtin(opts.descriptor) : opts.descriptor, opts);
  const input = opts.input ?? { name: 'L', scale: 1 / 100, offset: 0 };
  const target = Math.max(13, k.opset);
  reconcileOpset(k.model.graph, k.opset, target, 'The classifier');
  const graph: OnnxGraph = { name: 'tinta-embedding', nodes: [], initializers: [], inputs: [{ name: 'L', elemType: DataType.FLOAT, shape: ['N', 1, 'H', 'W'] }], outputs: [{ name: 'embedding', elemType: DataType.FLOAT, shape: ['N', k.dim ?? 'D'] }], valueInfo: [] };
  const dim = k.dim;
  addEmbedding(graph, k, 'L', { ...input, name: 'L' }, 'embedding', dim ?? 0, 'emb/');
  // addEmbedding records [N, dim]; an unknown width stays symbolic.
  if (dim === null) graph.valueInfo = graph.valueInfo.filter((v) => v.name !== 'embedding');
  const bytes = encodeModel({
    irVersion: Math.max(k.model.irVersion, irVersionFor(target)),
    opset: mergeOpsets([], k.model.opset, target),
    producer: 'tinta',
    graph,
    metadata: { 'tinta.classifier': JSON.stringify({ name: k.descriptor.name, sha256: k.sha256, descriptor: k.descriptor }) },
  });
  return { bytes, descriptor: k.descriptor, dim };
}

async function readModel(path: string, what: string): Promise<Uint8Array> {
  try {
    return new Uint8Array(await readFile(path));
  } catch (e) {
    throw new TintaError(ErrorCodes.MODEL_NOT_FOUND, `Cannot read the ${what} ${path}: ${(e as Error).message}`, { cause: e, details: { path } });
  }
}

/**
 * Fuse two model files (see fuseModels); with `output`, write the fused model there atomically;
 * with `embeddingCache`, check against that `tinta embed` cache (FuseOptions.embeddings).
 */
export async function fuseFiles(colorizerPath: string, classifierPath: string, opts: FuseOptions & { output?: string; embeddingCache?: string } = {}): Promise<{ bytes: Uint8Array; info: ModelInfo; report: FuseReport }> {
  const [c, k] = await Promise.all([readModel(colorizerPath, 'colorizer'), readModel(classifierPath, 'classifier')]);
  const embeddings = opts.embeddingCache !== undefined ? { ...(await readEmbeddingCacheHeader(opts.embeddingCache)), dir: opts.embeddingCache } : opts.embeddings;
  const result = fuseModels(c, k, { ...opts, ...(embeddings ? { embeddings } : {}) });
  if (opts.output) {
    try {
      await writeFileAtomic(opts.output, result.bytes);
    } catch (e) {
      throw new TintaError(ErrorCodes.FUSE_FAILED, `Could not write ${opts.output}: ${(e as Error).message}`, { cause: e, details: { path: opts.output } });
    }
    result.report.output = opts.output;
  }
  return result;
}
