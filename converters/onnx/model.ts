/**
 * A small typed layer over ONNX models: plain objects for models, graphs, nodes and
 * tensors; `decodeModel` / `encodeModel` between them and bytes; `GraphBuilder` to
 * assemble graphs; `toposort` to order nodes. Export, quantization and graph fusion
 * build on this, so decode -> edit -> encode must not lose what it does not touch.
 *
 * int64 values (attribute ints, int64 tensor data, model_version) are `number` when
 * exactly representable and `bigint` otherwise (e.g. Slice's INT64_MAX); shapes,
 * dims, ir_version and opset versions are plain numbers.
 */
import protobuf from 'protobufjs';
import { TintaError, ErrorCodes } from '../../sdk/errors.ts';
import { forEachField, WireType } from '../../sdk/model/onnx-metadata.ts';
import {
  onnxProto,
  DataType,
  AttributeType,
  ModelField,
  GRAPH_FIELDS_IN_SCHEMA,
  MODEL_FIELD_WIRE_TYPES,
} from './schema.ts';

export { DataType, AttributeType } from './schema.ts';

// ---------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------

/** An int64 value: a number when it is a safe integer, a bigint otherwise. */
export type Int64 = number | bigint;

/** One dimension of a value's shape: a size, a symbolic name, or null when unknown. */
export type Dim = number | string | null;

/** Typed arrays a tensor's elements can be read into or built from. */
export type TensorArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array
  | BigUint64Array;

/**
 * A TensorProto, kept in whichever storage field it came in (so re-encoding is
 * faithful); read the elements with `tensorToArray`. New tensors from
 * `makeTensor` use `rawData` (little-endian).
 */
export interface OnnxTensor {
  /** Empty for unnamed tensors (e.g. some Constant values). */
  name: string;
  /** A `DataType` value. */
  dataType: number;
  dims: number[];
  /** Shares memory with the bytes given to `decodeModel` (no copy). */
  rawData?: Uint8Array;
  floatData?: ArrayLike<number>;
  int32Data?: ArrayLike<number>;
  int64Data?: Int64[];
  doubleData?: ArrayLike<number>;
  uint64Data?: Int64[];
  stringData?: Uint8Array[];
  externalData?: Record<string, string>;
  /** 1 = EXTERNAL (data lives in another file, see externalData). */
  dataLocation?: number;
  segment?: { begin: Int64; end: Int64 };
  docString?: string;
}

/** A graph input, output or value_info entry. */
export interface OnnxValueInfo {
  name: string;
  /** A `DataType` value; 0 when the type is unknown or not a tensor. */
  elemType: number;
  /** Undefined when the rank is unknown. */
  shape?: Dim[];
  docString?: string;
  /** A non-tensor TypeProto (sequence, map, optional, sparse), kept as decoded and written back as is. */
  nonTensorType?: object;
}

/** A typed attribute value; `docString` may accompany any kind. */
export type OnnxAttribute = (
  | { type: 'float'; value: number }
  | { type: 'int'; value: Int64 }
  | { type: 'string'; value: string | Uint8Array }
  | { type: 'tensor'; value: OnnxTensor }
  | { type: 'graph'; value: OnnxGraph }
  | { type: 'floats'; value: number[] }
  | { type: 'ints'; value: Int64[] }
  | { type: 'strings'; value: (string | Uint8Array)[] }
  | { type: 'tensors'; value: OnnxTensor[] }
  | { type: 'graphs'; value: OnnxGraph[] }
  // Inside functions only: the value comes from the caller's attribute `refAttrName`.
  | { type: 'ref'; refAttrName: string; refType: number }
) & { docString?: string };

/** The kinds of `OnnxAttribute`. */
export type AttributeKind = OnnxAttribute['type'];

/** A NodeProto. */
export interface OnnxNode {
  opType: string;
  /** '' marks an omitted optional input. */
  inputs: string[];
  outputs: string[];
  name?: string;
  /** Undefined or '' is the default ONNX domain. */
  domain?: string;
  attrs: Record<string, OnnxAttribute>;
  docString?: string;
}

/** A GraphProto. */
export interface OnnxGraph {
  name?: string;
  nodes: OnnxNode[];
  initializers: OnnxTensor[];
  inputs: OnnxValueInfo[];
  outputs: OnnxValueInfo[];
  valueInfo: OnnxValueInfo[];
  docString?: string;
  /** Raw bytes of GraphProto fields outside our schema (main graph only), written back verbatim. */
  unknownFields?: Uint8Array;
}

/** An OperatorSetIdProto; domain '' is the default ONNX operator set. */
export interface OpsetImport {
  domain: string;
  version: number;
}

/** A ModelProto. */
export interface OnnxModel {
  irVersion: number;
  opset: OpsetImport[];
  producerName?: string;
  producerVersion?: string;
  domain?: string;
  modelVersion?: Int64;
  docString?: string;
  graph: OnnxGraph;
  metadata: Record<string, string>;
  /** Raw bytes of ModelProto fields outside our schema (functions, training_info, ...), written back verbatim. */
  unknownFields?: Uint8Array;
}

/** What `encodeModel` takes: a decoded `OnnxModel`, or the parts of one with defaults filled in. */
export type EncodeModelInput = Omit<Partial<OnnxModel>, 'graph'> & {
  graph: OnnxGraph | GraphBuilder;
  /** Shorthand for producerName. */
  producer?: string;
};

/** Default opset for new models: 17 is supported by every onnxruntime this project targets. */
export const DEFAULT_OPSET: readonly OpsetImport[] = Object.freeze([{ domain: '', version: 17 }]);
/** Default IR version for new models: IR 8 is what ONNX 1.12 (opset 17) writes. */
export const DEFAULT_IR_VERSION = 8;

// ---------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------

// protobufjs decodes into objects of its own; we only read fields off them.
type ProtoMsg = { [field: string]: any };

function exportFailed(message: string, details?: Record<string, unknown>): TintaError {
  return new TintaError(ErrorCodes.EXPORT_FAILED, message, details ? { details } : {});
}

function modelInvalid(message: string, cause?: unknown): TintaError {
  return new TintaError(ErrorCodes.MODEL_INVALID, message, cause !== undefined ? { cause } : {});
}

// proto2 presence: protobufjs puts only the fields it read on the instance itself.
function has(m: ProtoMsg, key: string): boolean {
  return Object.prototype.hasOwnProperty.call(m, key) && m[key] != null;
}

function nonEmpty<T>(a: ArrayLike<T> | undefined): a is ArrayLike<T> {
  return a != null && a.length > 0;
}

// The same test for protobufjs fields, without narrowing `any` to ArrayLike<unknown>.
function filled(a: { length: number } | null | undefined): boolean {
  return a != null && a.length > 0;
}

/** An own-property assignment that also works for keys like "__proto__". */
function setEntry(rec: Record<string, string>, key: string, value: string): void {
  Object.defineProperty(rec, key, { value, enumerable: true, writable: true, configurable: true });
}

// In Node, protobufjs and callers may hand us Buffers; onnxruntime-web and strict
// equality checks want plain Uint8Arrays, so views are re-wrapped (no copy).
function plainBytes(b: Uint8Array): Uint8Array {
  return b.constructor === Uint8Array ? b : new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

interface LongLike {
  low: number;
  high: number;
  unsigned?: boolean;
}

/** Normalises a protobufjs int64 (Long or number) to a number when safe, else a bigint. */
function toInt64(v: number | LongLike, unsigned = false): Int64 {
  if (typeof v === 'number') return v;
  const lo = v.low >>> 0;
  const isUnsigned = unsigned || v.unsigned === true;
  const hi = isUnsigned ? v.high >>> 0 : v.high | 0;
  const n = hi * 4294967296 + lo;
  if (Number.isSafeInteger(n)) return n;
  return (BigInt(hi) << 32n) | BigInt(lo);
}

function toSafeNumber(v: number | LongLike, what: string): number {
  const n = toInt64(v);
  if (typeof n === 'bigint') throw modelInvalid(`Not a valid ONNX model: ${what} ${n} is out of range.`);
  return n;
}

/** The form protobufjs's int64 writer accepts without precision loss. */
function int64Out(v: Int64, what: string): number | LongLike {
  if (typeof v === 'bigint') {
    const u = BigInt.asUintN(64, v);
    return { low: Number(u & 0xffffffffn), high: Number(u >> 32n) };
  }
  if (!Number.isSafeInteger(v)) {
    throw exportFailed(`${what} must be an integer (a bigint beyond 2^53), got ${v}.`);
  }
  return v;
}

const utf8Strict = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const utf8Lenient = new TextDecoder('utf-8');
const utf8Encoder = new TextEncoder();

// Attribute strings are bytes in ONNX; valid UTF-8 (the usual case) becomes a string,
// anything else stays bytes so that re-encoding reproduces it exactly.
function bytesToText(b: Uint8Array): string | Uint8Array {
  try {
    return utf8Strict.decode(b);
  } catch {
    return plainBytes(b);
  }
}

function textToBytes(s: string | Uint8Array): Uint8Array {
  return typeof s === 'string' ? utf8Encoder.encode(s) : s;
}

function entriesToRecord(entries: ProtoMsg[]): Record<string, string> {
  const rec: Record<string, string> = {};
  for (const e of entries) setEntry(rec, has(e, 'key') ? e.key : '', has(e, 'value') ? e.value : '');
  return rec;
}

function recordToEntries(rec: Record<string, string>): ProtoMsg[] {
  return Object.entries(rec).map(([key, value]) => ({ key, value }));
}

function concatBytes(parts: Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.length;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function varint(n: number): Uint8Array {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return Uint8Array.from(out);
}

const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function requireLittleEndian(): void {
  // raw_data is little-endian by spec and we view it through typed arrays directly.
  if (!LITTLE_ENDIAN_HOST) throw exportFailed('ONNX raw tensor data needs a little-endian host.');
}

// ---------------------------------------------------------------------------
// Tensors
// ---------------------------------------------------------------------------

type TypedArrayCtor =
  | Float32ArrayConstructor
  | Float64ArrayConstructor
  | Int8ArrayConstructor
  | Uint8ArrayConstructor
  | Int16ArrayConstructor
  | Uint16ArrayConstructor
  | Int32ArrayConstructor
  | Uint32ArrayConstructor
  | BigInt64ArrayConstructor
  | BigUint64ArrayConstructor;

// The typed array holding one data type's elements, and how many array entries
// make one element (complex numbers are pairs).
const STORAGE: Record<number, { ctor: TypedArrayCtor; perElement: number }> = {
  [DataType.FLOAT]: { ctor: Float32Array, perElement: 1 },
  [DataType.UINT8]: { ctor: Uint8Array, perElement: 1 },
  [DataType.INT8]: { ctor: Int8Array, perElement: 1 },
  [DataType.UINT16]: { ctor: Uint16Array, perElement: 1 },
  [DataType.INT16]: { ctor: Int16Array, perElement: 1 },
  [DataType.INT32]: { ctor: Int32Array, perElement: 1 },
  [DataType.INT64]: { ctor: BigInt64Array, perElement: 1 },
  [DataType.BOOL]: { ctor: Uint8Array, perElement: 1 },
  [DataType.FLOAT16]: { ctor: Uint16Array, perElement: 1 },
  [DataType.DOUBLE]: { ctor: Float64Array, perElement: 1 },
  [DataType.UINT32]: { ctor: Uint32Array, perElement: 1 },
  [DataType.UINT64]: { ctor: BigUint64Array, perElement: 1 },
  [DataType.COMPLEX64]: { ctor: Float32Array, perElement: 2 },
  [DataType.COMPLEX128]: { ctor: Float64Array, perElement: 2 },
  [DataType.BFLOAT16]: { ctor: Uint16Array, perElement: 1 },
  [DataType.FLOAT8E4M3FN]: { ctor: Uint8Array, perElement: 1 },
  [DataType.FLOAT8E4M3FNUZ]: { ctor: Uint8Array, perElement: 1 },
  [DataType.FLOAT8E5M2]: { ctor: Uint8Array, perElement: 1 },
  [DataType.FLOAT8E5M2FNUZ]: { ctor: Uint8Array, perElement: 1 },
};

function dataTypeName(t: number): string {
  for (const [k, v] of Object.entries(DataType)) if (v === t) return k;
  return `data type ${t}`;
}

function defaultDataType(data: TensorArray): number {
  if (data instanceof Float32Array) return DataType.FLOAT;
  if (data instanceof Float64Array) return DataType.DOUBLE;
  if (data instanceof Int8Array) return DataType.INT8;
  if (data instanceof Uint8Array) return DataType.UINT8;
  if (data instanceof Int16Array) return DataType.INT16;
  // ONNX has no native JS float16 array; Uint16Array carries float16 bit patterns.
  if (data instanceof Uint16Array) return DataType.FLOAT16;
  if (data instanceof Int32Array) return DataType.INT32;
  if (data instanceof Uint32Array) return DataType.UINT32;
  if (data instanceof BigInt64Array) return DataType.INT64;
  return DataType.UINT64;
}

/** Number of elements of a tensor with these dims (1 for a scalar). */
export function elementCount(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

/** A tensor from a typed array, stored as little-endian raw_data; Uint16Array defaults to FLOAT16. */
export function makeTensor(name: string, data: TensorArray, dims: readonly number[], dataType?: number): OnnxTensor {
  requireLittleEndian();
  const type = dataType ?? defaultDataType(data);
  const storage = STORAGE[type];
  if (!storage) throw exportFailed(`Tensor '${name}': ${dataTypeName(type)} cannot be built from a typed array.`);
  if (!(data instanceof storage.ctor)) {
    throw exportFailed(`Tensor '${name}': ${dataTypeName(type)} needs a ${storage.ctor.name}, got ${data.constructor.name}.`);
  }
  for (const d of dims) {
    if (!Number.isSafeInteger(d) || d < 0) throw exportFailed(`Tensor '${name}': bad dimension ${d} in [${dims.join(', ')}].`);
  }
  const expected = elementCount(dims) * storage.perElement;
  if (data.length !== expected) {
    throw exportFailed(`Tensor '${name}': dims [${dims.join(', ')}] need ${expected} values, got ${data.length}.`);
  }
  // Copied, so later writes to the caller's array do not change the model.
  const rawData = new Uint8Array(data.buffer, data.byteOffset, data.byteLength).slice();
  return { name, dataType: type, dims: [...dims], rawData };
}

/** The elements of a tensor as a typed array (a copy), whichever field stores them; string tensors give string[]. */
export function tensorToArray(t: OnnxTensor): TensorArray | string[] {
  const label = t.name ? `Tensor '${t.name}'` : 'A tensor';
  if (t.dataLocation === 1 || nonEmpty(t.externalData ? Object.keys(t.externalData) : undefined)) {
    throw new TintaError(
      ErrorCodes.MODEL_NEEDS_EMBEDDING,
      `${label} keeps its data in an external file (${t.externalData?.location ?? 'unknown location'}); embed the weights in the .onnx file first.`,
    );
  }
  if (t.segment) throw modelInvalid(`${label} is one segment of a split tensor, which tinta does not read.`);
  const count = elementCount(t.dims);
  if (t.dataType === DataType.STRING) {
    const strings = (t.stringData ?? []).map((b) => utf8Lenient.decode(b));
    if (strings.length !== count) throw modelInvalid(`${label} has ${strings.length} strings for dims [${t.dims.join(', ')}].`);
    return strings;
  }
  const storage = STORAGE[t.dataType];
  if (!storage) throw modelInvalid(`${label} has ${dataTypeName(t.dataType)}, which tinta cannot read.`);
  const n = count * storage.perElement;
  let out: TensorArray;
  if (t.rawData) {
    requireLittleEndian();
    const bytesPerEntry = storage.ctor.BYTES_PER_ELEMENT;
    if (t.rawData.length !== n * bytesPerEntry) {
      throw modelInvalid(`${label} has ${t.rawData.length} bytes of raw data; ${dataTypeName(t.dataType)} [${t.dims.join(', ')}] needs ${n * bytesPerEntry}.`);
    }
    // slice(): an aligned copy, independent of the model bytes.
    out = new storage.ctor(t.rawData.slice().buffer);
  } else if (nonEmpty(t.floatData)) {
    out = storage.ctor === Float32Array ? Float32Array.from(t.floatData) : badField(label, 'float_data', t.dataType);
  } else if (nonEmpty(t.doubleData)) {
    out = storage.ctor === Float64Array ? Float64Array.from(t.doubleData) : badField(label, 'double_data', t.dataType);
  } else if (nonEmpty(t.int32Data)) {
    out = fromInt32Data(label, t.int32Data, t.dataType, storage.ctor);
  } else if (nonEmpty(t.int64Data)) {
    out = storage.ctor === BigInt64Array ? BigInt64Array.from(t.int64Data, (v) => BigInt(v)) : badField(label, 'int64_data', t.dataType);
  } else if (nonEmpty(t.uint64Data)) {
    if (storage.ctor === BigUint64Array) out = BigUint64Array.from(t.uint64Data, (v) => BigInt(v));
    else if (storage.ctor === Uint32Array) out = Uint32Array.from(t.uint64Data, (v) => Number(v));
    else out = badField(label, 'uint64_data', t.dataType);
  } else {
    out = new storage.ctor(0);
  }
  if (out.length !== n) throw modelInvalid(`${label} has ${out.length} values; dims [${t.dims.join(', ')}] need ${n}.`);
  return out;
}

function badField(label: string, field: string, dataType: number): never {
  throw modelInvalid(`${label} stores ${dataTypeName(dataType)} values in ${field}, which the ONNX spec does not allow.`);
}

// int32_data carries every type of 32 bits or less (float16/bfloat16 as bit patterns).
function fromInt32Data(label: string, src: ArrayLike<number>, dataType: number, ctor: TypedArrayCtor): TensorArray {
  switch (ctor) {
    case Int32Array:
      return Int32Array.from(src);
    case Int16Array:
      return Int16Array.from(src);
    case Uint16Array:
      return Uint16Array.from(src);
    case Int8Array:
      return Int8Array.from(src);
    case Uint8Array:
      return Uint8Array.from(src);
    default:
      return badField(label, 'int32_data', dataType);
  }
}

// ---------------------------------------------------------------------------
// Attributes
// ---------------------------------------------------------------------------

/** A value `addNode` accepts for an attribute; numbers and arrays have their type inferred. */
export type AttrValue =
  | number
  | bigint
  | string
  | Uint8Array
  | number[]
  | bigint[]
  | string[]
  | Float32Array
  | Int32Array
  | BigInt64Array
  | OnnxTensor
  | OnnxTensor[]
  | OnnxGraph
  | OnnxGraph[]
  | GraphBuilder
  | OnnxAttribute;

/** An INT attribute (use for integral values that must not be floats, or to be explicit). */
export function int(value: Int64): OnnxAttribute {
  return { type: 'int', value };
}
/** A FLOAT attribute (use for integral floats such as `alpha: float(1)`). */
export function float(value: number): OnnxAttribute {
  return { type: 'float', value };
}
/** An INTS attribute. */
export function ints(value: Iterable<Int64>): OnnxAttribute {
  return { type: 'ints', value: [...value] };
}
/** A FLOATS attribute. */
export function floats(value: Iterable<number>): OnnxAttribute {
  return { type: 'floats', value: [...value] };
}
/** A STRING attribute. */
export function str(value: string | Uint8Array): OnnxAttribute {
  return { type: 'string', value };
}
/** A STRINGS attribute. */
export function strs(value: Iterable<string | Uint8Array>): OnnxAttribute {
  return { type: 'strings', value: [...value] };
}

// Standard-op attributes that are FLOAT even when the value is integral, so that
// `{ alpha: 1 }` does what the op expects; anything else integral becomes INT.
const FLOAT_ATTRIBUTE_NAMES: ReadonlySet<string> = new Set([
  'alpha',
  'beta',
  'gamma',
  'bias',
  'epsilon',
  'momentum',
  'lambd',
  'cubic_coeff_a',
  'extrapolation_value',
  'scales',
  'value_float',
  'value_floats',
]);

const ATTRIBUTE_KINDS: ReadonlySet<string> = new Set([
  'float',
  'int',
  'string',
  'tensor',
  'graph',
  'floats',
  'ints',
  'strings',
  'tensors',
  'graphs',
  'ref',
]);

function isAttribute(v: object): v is OnnxAttribute {
  const type = (v as { type?: unknown }).type;
  return typeof type === 'string' && ATTRIBUTE_KINDS.has(type);
}

function isTensor(v: object): v is OnnxTensor {
  return 'dataType' in v && 'dims' in v;
}

function isGraph(v: object): v is OnnxGraph {
  return 'nodes' in v && 'initializers' in v;
}

/** The typed attribute `addNode` makes of a value: integral numbers become INT unless the name is a known float attribute. */
export function toAttribute(name: string, v: AttrValue): OnnxAttribute {
  const floatByName = FLOAT_ATTRIBUTE_NAMES.has(name);
  if (typeof v === 'number') return Number.isInteger(v) && !floatByName ? int(v) : float(v);
  if (typeof v === 'bigint') return int(v);
  if (typeof v === 'string' || v instanceof Uint8Array) return str(v);
  if (v instanceof Float32Array) return floats(v);
  if (v instanceof Int32Array) return ints(v);
  if (v instanceof BigInt64Array) return ints(Array.from(v, (x) => (Number.isSafeInteger(Number(x)) ? Number(x) : x)));
  if (v instanceof GraphBuilder) return { type: 'graph', value: v.graph };
  if (Array.isArray(v)) {
    // An empty list has no element to infer from; INTS is the common case (axes, pads).
    if (v.length === 0) return floatByName ? floats([]) : ints([]);
    const first = v[0];
    if (typeof first === 'string') return strs(v as string[]);
    if (typeof first === 'bigint') return ints(v as bigint[]);
    if (typeof first === 'number') {
      const nums = v as number[];
      return !floatByName && nums.every((x) => Number.isInteger(x)) ? ints(nums) : floats(nums);
    }
    if (typeof first === 'object' && first !== null && isTensor(first)) return { type: 'tensors', value: v as OnnxTensor[] };
    if (typeof first === 'object' && first !== null && isGraph(first)) return { type: 'graphs', value: v as OnnxGraph[] };
  } else if (typeof v === 'object' && v !== null) {
    if (isAttribute(v)) return v;
    if (isTensor(v)) return { type: 'tensor', value: v };
    if (isGraph(v)) return { type: 'graph', value: v };
  }
  throw exportFailed(`Attribute '${name}': cannot infer an ONNX attribute type from this value.`);
}

const KIND_TO_TYPE: Record<Exclude<AttributeKind, 'ref'>, number> = {
  float: AttributeType.FLOAT,
  int: AttributeType.INT,
  string: AttributeType.STRING,
  tensor: AttributeType.TENSOR,
  graph: AttributeType.GRAPH,
  floats: AttributeType.FLOATS,
  ints: AttributeType.INTS,
  strings: AttributeType.STRINGS,
  tensors: AttributeType.TENSORS,
  graphs: AttributeType.GRAPHS,
};

// ---------------------------------------------------------------------------
// Proto objects -> our objects (decode)
// ---------------------------------------------------------------------------

function tensorFromProto(t: ProtoMsg): OnnxTensor {
  const out: OnnxTensor = {
    name: has(t, 'name') ? t.name : '',
    dataType: has(t, 'data_type') ? t.data_type : 0,
    dims: (t.dims as LongLike[]).map((d) => toSafeNumber(d, 'tensor dimension')),
  };
  if (has(t, 'raw_data')) out.rawData = plainBytes(t.raw_data);
  if (filled(t.float_data)) out.floatData = t.float_data;
  if (filled(t.int32_data)) out.int32Data = t.int32_data;
  if (filled(t.int64_data)) out.int64Data = (t.int64_data as LongLike[]).map((v) => toInt64(v));
  if (filled(t.double_data)) out.doubleData = t.double_data;
  if (filled(t.uint64_data)) out.uint64Data = (t.uint64_data as LongLike[]).map((v) => toInt64(v, true));
  if (filled(t.string_data)) out.stringData = (t.string_data as Uint8Array[]).map(plainBytes);
  if (filled(t.external_data)) out.externalData = entriesToRecord(t.external_data);
  if (has(t, 'data_location')) out.dataLocation = t.data_location;
  if (has(t, 'segment')) {
    const s = t.segment as ProtoMsg;
    out.segment = { begin: has(s, 'begin') ? toInt64(s.begin) : 0, end: has(s, 'end') ? toInt64(s.end) : 0 };
  }
  if (has(t, 'doc_string')) out.docString = t.doc_string;
  return out;
}

function valueInfoFromProto(v: ProtoMsg): OnnxValueInfo {
  const out: OnnxValueInfo = { name: has(v, 'name') ? v.name : '', elemType: 0 };
  if (has(v, 'type')) {
    const type = v.type as ProtoMsg;
    if (has(type, 'tensor_type')) {
      const tt = type.tensor_type as ProtoMsg;
      out.elemType = has(tt, 'elem_type') ? tt.elem_type : 0;
      if (has(tt, 'shape')) {
        out.shape = (tt.shape.dim as ProtoMsg[]).map((d): Dim => {
          if (has(d, 'dim_value')) return toSafeNumber(d.dim_value, 'shape dimension');
          if (has(d, 'dim_param')) return d.dim_param as string;
          return null;
        });
      }
    } else {
      out.nonTensorType = type;
    }
  }
  if (has(v, 'doc_string')) out.docString = v.doc_string;
  return out;
}

function attributeFromProto(a: ProtoMsg): [string, OnnxAttribute] {
  const name: string = has(a, 'name') ? a.name : '';
  const type: number = has(a, 'type') && a.type !== 0 ? a.type : legacyAttributeType(a, name);
  let attr: OnnxAttribute;
  if (has(a, 'ref_attr_name')) {
    attr = { type: 'ref', refAttrName: a.ref_attr_name, refType: type };
  } else {
    switch (type) {
      case AttributeType.FLOAT:
        attr = float(has(a, 'f') ? a.f : 0);
        break;
      case AttributeType.INT:
        attr = int(has(a, 'i') ? toInt64(a.i) : 0);
        break;
      case AttributeType.STRING:
        attr = str(has(a, 's') ? bytesToText(a.s) : '');
        break;
      case AttributeType.TENSOR:
        if (!has(a, 't')) throw modelInvalid(`Not a valid ONNX model: tensor attribute '${name}' has no tensor.`);
        attr = { type: 'tensor', value: tensorFromProto(a.t) };
        break;
      case AttributeType.GRAPH:
        if (!has(a, 'g')) throw modelInvalid(`Not a valid ONNX model: graph attribute '${name}' has no graph.`);
        attr = { type: 'graph', value: graphFromProto(a.g) };
        break;
      case AttributeType.FLOATS:
        attr = floats(a.floats as number[]);
        break;
      case AttributeType.INTS:
        attr = ints((a.ints as LongLike[]).map((v) => toInt64(v)));
        break;
      case AttributeType.STRINGS:
        attr = strs((a.strings as Uint8Array[]).map(bytesToText));
        break;
      case AttributeType.TENSORS:
        attr = { type: 'tensors', value: (a.tensors as ProtoMsg[]).map(tensorFromProto) };
        break;
      case AttributeType.GRAPHS:
        attr = { type: 'graphs', value: (a.graphs as ProtoMsg[]).map(graphFromProto) };
        break;
      default:
        throw modelInvalid(`Attribute '${name}' has type ${type} (sparse tensor or type proto), which tinta does not read.`);
    }
  }
  if (has(a, 'doc_string')) attr.docString = a.doc_string;
  return [name, attr];
}

// IR version 1 had no `type` field: the one value field present tells the type.
function legacyAttributeType(a: ProtoMsg, name: string): number {
  if (has(a, 'f')) return AttributeType.FLOAT;
  if (has(a, 'i')) return AttributeType.INT;
  if (has(a, 's')) return AttributeType.STRING;
  if (has(a, 't')) return AttributeType.TENSOR;
  if (has(a, 'g')) return AttributeType.GRAPH;
  if (filled(a.floats)) return AttributeType.FLOATS;
  if (filled(a.ints)) return AttributeType.INTS;
  if (filled(a.strings)) return AttributeType.STRINGS;
  if (filled(a.tensors)) return AttributeType.TENSORS;
  if (filled(a.graphs)) return AttributeType.GRAPHS;
  throw modelInvalid(`Not a valid ONNX model: attribute '${name}' has no type and no value.`);
}

function nodeFromProto(n: ProtoMsg): OnnxNode {
  const node: OnnxNode = {
    opType: has(n, 'op_type') ? n.op_type : '',
    inputs: [...(n.input as string[])],
    outputs: [...(n.output as string[])],
    attrs: {},
  };
  if (has(n, 'name')) node.name = n.name;
  if (has(n, 'domain')) node.domain = n.domain;
  for (const a of n.attribute as ProtoMsg[]) {
    const [name, attr] = attributeFromProto(a);
    node.attrs[name] = attr;
  }
  if (has(n, 'doc_string')) node.docString = n.doc_string;
  return node;
}

function graphFromProto(g: ProtoMsg): OnnxGraph {
  const graph: OnnxGraph = {
    nodes: (g.node as ProtoMsg[]).map(nodeFromProto),
    initializers: (g.initializer as ProtoMsg[]).map(tensorFromProto),
    inputs: (g.input as ProtoMsg[]).map(valueInfoFromProto),
    outputs: (g.output as ProtoMsg[]).map(valueInfoFromProto),
    valueInfo: (g.value_info as ProtoMsg[]).map(valueInfoFromProto),
  };
  if (has(g, 'name')) graph.name = g.name;
  if (has(g, 'doc_string')) graph.docString = g.doc_string;
  return graph;
}

// ---------------------------------------------------------------------------
// Our objects -> proto objects (encode)
// ---------------------------------------------------------------------------

function tensorToProto(t: OnnxTensor): ProtoMsg {
  const label = `tensor '${t.name}'`;
  const p: ProtoMsg = { dims: t.dims.map((d) => int64Out(d, `${label} dimension`)) };
  if (t.dataType !== 0) p.data_type = t.dataType;
  if (t.segment) p.segment = { begin: int64Out(t.segment.begin, 'segment'), end: int64Out(t.segment.end, 'segment') };
  if (nonEmpty(t.floatData)) p.float_data = t.floatData;
  if (nonEmpty(t.int32Data)) p.int32_data = t.int32Data;
  if (nonEmpty(t.stringData)) p.string_data = t.stringData;
  if (nonEmpty(t.int64Data)) p.int64_data = t.int64Data.map((v) => int64Out(v, `${label} value`));
  if (t.name !== '') p.name = t.name;
  if (t.rawData) p.raw_data = t.rawData;
  if (nonEmpty(t.doubleData)) p.double_data = t.doubleData;
  if (nonEmpty(t.uint64Data)) p.uint64_data = t.uint64Data.map((v) => int64Out(v, `${label} value`));
  if (t.docString !== undefined) p.doc_string = t.docString;
  if (t.externalData) p.external_data = recordToEntries(t.externalData);
  if (t.dataLocation !== undefined) p.data_location = t.dataLocation;
  return p;
}

function valueInfoToProto(v: OnnxValueInfo): ProtoMsg {
  const p: ProtoMsg = { name: v.name };
  if (v.nonTensorType) {
    p.type = v.nonTensorType;
  } else if (v.elemType !== 0 || v.shape) {
    const tt: ProtoMsg = {};
    if (v.elemType !== 0) tt.elem_type = v.elemType;
    if (v.shape) {
      tt.shape = {
        dim: v.shape.map((d) => {
          if (d === null) return {};
          if (typeof d === 'string') return { dim_param: d };
          return { dim_value: int64Out(d, `shape of '${v.name}'`) };
        }),
      };
    }
    p.type = { tensor_type: tt };
  }
  if (v.docString !== undefined) p.doc_string = v.docString;
  return p;
}

function attributeToProto(name: string, a: OnnxAttribute): ProtoMsg {
  const p: ProtoMsg = { name };
  const what = `attribute '${name}'`;
  switch (a.type) {
    case 'ref':
      p.ref_attr_name = a.refAttrName;
      p.type = a.refType;
      break;
    case 'float':
      p.f = a.value;
      break;
    case 'int':
      p.i = int64Out(a.value, what);
      break;
    case 'string':
      p.s = textToBytes(a.value);
      break;
    case 'tensor':
      p.t = tensorToProto(a.value);
      break;
    case 'graph':
      p.g = graphToProto(a.value);
      break;
    case 'floats':
      p.floats = a.value;
      break;
    case 'ints':
      p.ints = a.value.map((v) => int64Out(v, what));
      break;
    case 'strings':
      p.strings = a.value.map(textToBytes);
      break;
    case 'tensors':
      p.tensors = a.value.map(tensorToProto);
      break;
    case 'graphs':
      p.graphs = a.value.map(graphToProto);
      break;
    default:
      throw exportFailed(`Attribute '${name}' has an unknown kind.`);
  }
  if (a.type !== 'ref') p.type = KIND_TO_TYPE[a.type];
  if (a.docString !== undefined) p.doc_string = a.docString;
  return p;
}

function nodeToProto(n: OnnxNode): ProtoMsg {
  const p: ProtoMsg = {
    input: n.inputs,
    output: n.outputs,
    op_type: n.opType,
    attribute: Object.entries(n.attrs).map(([k, a]) => attributeToProto(k, a)),
  };
  if (n.name !== undefined) p.name = n.name;
  if (n.docString !== undefined) p.doc_string = n.docString;
  if (n.domain !== undefined) p.domain = n.domain;
  return p;
}

function graphToProto(g: OnnxGraph): ProtoMsg {
  const p: ProtoMsg = {
    node: g.nodes.map(nodeToProto),
    initializer: g.initializers.map(tensorToProto),
    input: g.inputs.map(valueInfoToProto),
    output: g.outputs.map(valueInfoToProto),
    value_info: g.valueInfo.map(valueInfoToProto),
  };
  if (g.name !== undefined) p.name = g.name;
  if (g.docString !== undefined) p.doc_string = g.docString;
  return p;
}

// ---------------------------------------------------------------------------
// Models
// ---------------------------------------------------------------------------

function encodeMessage(type: protobuf.Type, msg: ProtoMsg): Uint8Array {
  // finish(true) returns a view of the writer's buffer; the caller copies it once.
  return type.encode(msg, new protobuf.Writer()).finish(true);
}

/** Serialises a model (decoded, or built with GraphBuilder) to ONNX bytes (a plain Uint8Array). */
export function encodeModel(input: EncodeModelInput): Uint8Array {
  const { ModelProto, GraphProto } = onnxProto();
  const graph = input.graph instanceof GraphBuilder ? input.graph.graph : input.graph;
  const opset = input.opset ?? DEFAULT_OPSET;
  if (opset.length === 0) throw exportFailed('A model needs at least one opset import.');
  try {
    // Fields in number order, as other ONNX writers do, with the graph spliced in
    // by hand so that its unknown fields can follow it inside the same message.
    const head: ProtoMsg = { ir_version: int64Out(input.irVersion ?? DEFAULT_IR_VERSION, 'ir_version') };
    const producerName = input.producerName ?? input.producer;
    if (producerName !== undefined) head.producer_name = producerName;
    if (input.producerVersion !== undefined) head.producer_version = input.producerVersion;
    if (input.domain !== undefined) head.domain = input.domain;
    if (input.modelVersion !== undefined) head.model_version = int64Out(input.modelVersion, 'model_version');
    if (input.docString !== undefined) head.doc_string = input.docString;
    const tail: ProtoMsg = {
      opset_import: opset.map((o) => ({ domain: o.domain, version: int64Out(o.version, 'opset version') })),
      metadata_props: recordToEntries(input.metadata ?? {}),
    };
    const graphKnown = encodeMessage(GraphProto, graphToProto(graph));
    const graphUnknown = graph.unknownFields ?? new Uint8Array(0);
    const graphLength = graphKnown.length + graphUnknown.length;
    return concatBytes([
      encodeMessage(ModelProto, head),
      varint((ModelField.GRAPH << 3) | WireType.LEN),
      varint(graphLength),
      graphKnown,
      graphUnknown,
      encodeMessage(ModelProto, tail),
      input.unknownFields ?? new Uint8Array(0),
    ]);
  } catch (e) {
    if (e instanceof TintaError) throw e;
    throw new TintaError(ErrorCodes.EXPORT_FAILED, `Could not encode the ONNX model: ${(e as Error).message}`, { cause: e });
  }
}

// Collects the raw bytes of fields our schema does not model, so that re-encoding keeps them.
function unknownFieldsOf(bytes: Uint8Array, start: number, end: number, known: ReadonlySet<number>): Uint8Array[] {
  const parts: Uint8Array[] = [];
  forEachField(bytes, start, end, (f) => {
    if (!known.has(f.field)) parts.push(bytes.subarray(f.tagStart, f.end));
  });
  return parts;
}

/** Parses ONNX model bytes into plain objects; MODEL_INVALID when they are not a model. */
export function decodeModel(data: Uint8Array | ArrayBuffer): OnnxModel {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : data instanceof Uint8Array ? plainBytes(data) : null;
  if (!bytes) throw modelInvalid('Not a valid ONNX model: expected the model as a Uint8Array or ArrayBuffer.');
  if (bytes.length === 0) throw modelInvalid('Not a valid ONNX model: the model is empty (0 bytes).');
  // Walk the top level first: it validates framing with clear messages and finds
  // the fields outside our schema, which protobufjs would silently drop.
  const modelUnknown: Uint8Array[] = [];
  const graphUnknown: Uint8Array[] = [];
  forEachField(bytes, 0, bytes.length, (f) => {
    const wireType = MODEL_FIELD_WIRE_TYPES.get(f.field);
    if (wireType === undefined) {
      modelUnknown.push(bytes.subarray(f.tagStart, f.end));
    } else if (wireType !== f.wireType) {
      // protobufjs would read such a field as its declared type and produce garbage.
      throw modelInvalid(`Not a valid ONNX model: ModelProto field ${f.field} has wire type ${f.wireType}, expected ${wireType} (at byte ${f.tagStart}).`);
    } else if (f.field === ModelField.GRAPH) {
      graphUnknown.push(...unknownFieldsOf(bytes, f.valueStart, f.end, GRAPH_FIELDS_IN_SCHEMA));
    }
  });
  let m: ProtoMsg;
  try {
    m = onnxProto().ModelProto.decode(new protobuf.Reader(bytes)) as ProtoMsg;
  } catch (e) {
    throw modelInvalid(`Not a valid ONNX model: ${(e as Error).message}.`, e);
  }
  if (!has(m, 'graph')) throw modelInvalid('Not a valid ONNX model: it has no graph (is this an ONNX file?).');
  if (!has(m, 'ir_version')) throw modelInvalid('Not a valid ONNX model: it has no ir_version (is this an ONNX file?).');
  const model: OnnxModel = {
    irVersion: toSafeNumber(m.ir_version, 'ir_version'),
    opset: (m.opset_import as ProtoMsg[]).map((o) => ({
      domain: has(o, 'domain') ? o.domain : '',
      version: has(o, 'version') ? toSafeNumber(o.version, 'opset version') : 0,
    })),
    graph: graphFromProto(m.graph),
    metadata: entriesToRecord(m.metadata_props),
  };
  if (has(m, 'producer_name')) model.producerName = m.producer_name;
  if (has(m, 'producer_version')) model.producerVersion = m.producer_version;
  if (has(m, 'domain')) model.domain = m.domain;
  if (has(m, 'model_version')) model.modelVersion = toInt64(m.model_version);
  if (has(m, 'doc_string')) model.docString = m.doc_string;
  if (graphUnknown.length) model.graph.unknownFields = concatBytes(graphUnknown);
  if (modelUnknown.length) model.unknownFields = concatBytes(modelUnknown);
  return model;
}

/** The model's metadata_props as a fresh key -> value record. */
export function getMetadata(model: OnnxModel): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(model.metadata)) setEntry(out, k, v);
  return out;
}

// ---------------------------------------------------------------------------
// Topological order
// ---------------------------------------------------------------------------

function nodeLabel(n: OnnxNode, index: number): string {
  return n.name ? `'${n.name}' (${n.opType})` : `#${index} (${n.opType})`;
}

/** Names a graph reads from its enclosing scope (used by subgraphs of If/Loop/Scan). */
export function outerScopeReads(g: OnnxGraph): Set<string> {
  const defined = new Set<string>(['']);
  for (const v of g.inputs) defined.add(v.name);
  for (const t of g.initializers) defined.add(t.name);
  for (const n of g.nodes) for (const o of n.outputs) defined.add(o);
  const reads = new Set<string>();
  for (const n of g.nodes) {
    for (const name of nodeReads(n)) if (!defined.has(name)) reads.add(name);
  }
  return reads;
}

// Everything a node needs before it can run: its inputs and what its subgraphs capture.
function nodeReads(n: OnnxNode): string[] {
  const reads = [...n.inputs];
  for (const a of Object.values(n.attrs)) {
    if (a.type === 'graph') reads.push(...outerScopeReads(a.value));
    else if (a.type === 'graphs') for (const g of a.value) reads.push(...outerScopeReads(g));
  }
  return reads;
}

/**
 * The graph's nodes in an order where every value is produced before it is read;
 * nodes already in order keep their order. EXPORT_FAILED names a cycle, a missing
 * input or a value produced twice. `outerScope`: names a subgraph may read from its parent.
 */
export function toposort(graph: OnnxGraph, outerScope: Iterable<string> = []): OnnxNode[] {
  const nodes = graph.nodes;
  const available = new Set<string>(['', ...outerScope]);
  for (const v of graph.inputs) available.add(v.name);
  for (const t of graph.initializers) available.add(t.name);
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => {
    for (const o of n.outputs) {
      if (o === '') continue;
      const prev = producer.get(o);
      if (prev !== undefined || available.has(o)) {
        const by = prev !== undefined ? `node ${nodeLabel(nodes[prev]!, prev)}` : 'a graph input or initializer';
        throw exportFailed(`Value '${o}' is produced by both ${by} and node ${nodeLabel(n, i)}.`, { value: o });
      }
      producer.set(o, i);
    }
  });
  const deps: number[][] = nodes.map((n, i) => {
    const out = new Set<number>();
    for (const name of nodeReads(n)) {
      if (available.has(name)) continue;
      const p = producer.get(name);
      if (p === undefined) {
        throw exportFailed(
          `Node ${nodeLabel(n, i)} reads '${name}', which no node, graph input or initializer provides.`,
          { value: name },
        );
      }
      out.add(p);
    }
    return [...out];
  });
  // Iterative depth-first post-order: deep chains cannot overflow the stack, and
  // the stack holds the path that closes a cycle when one is found.
  const state = new Uint8Array(nodes.length); // 0 new, 1 on the path, 2 placed
  const order: OnnxNode[] = [];
  for (let root = 0; root < nodes.length; root++) {
    if (state[root] !== 0) continue;
    const stack: [number, number][] = [[root, 0]];
    state[root] = 1;
    while (stack.length) {
      const top = stack[stack.length - 1]!;
      const [i, k] = top;
      const d = deps[i]!;
      if (k < d.length) {
        top[1] = k + 1;
        const j = d[k]!;
        if (state[j] === 0) {
          state[j] = 1;
          stack.push([j, 0]);
        } else if (state[j] === 1) {
          // j is on the path: the cycle runs j -> ... -> i -> j in data-flow order.
          const path = stack.slice(stack.findIndex(([x]) => x === j)).map(([x]) => x);
          const cycle = [...path].reverse();
          cycle.push(cycle[0]!);
          throw exportFailed(`The graph has a cycle: ${cycle.map((x) => nodeLabel(nodes[x]!, x)).join(' -> ')}.`, {
            cycle: cycle.map((x) => nodes[x]!.name ?? `#${x}`),
          });
        }
      } else {
        state[i] = 2;
        order.push(nodes[i]!);
        stack.pop();
      }
    }
  }
  return order;
}

// ---------------------------------------------------------------------------
// Building graphs
// ---------------------------------------------------------------------------

/** What `GraphBuilder.addNode` takes. */
export interface NodeSpec {
  opType: string;
  inputs: string[];
  outputs: string[];
  /** Defaults to a unique name derived from opType. */
  name?: string;
  domain?: string;
  attrs?: Record<string, AttrValue>;
  docString?: string;
}

/** Assembles an OnnxGraph step by step; wrap a decoded graph to edit it (names stay unique). */
export class GraphBuilder {
  readonly graph: OnnxGraph;
  private readonly used = new Set<string>();
  private readonly produced = new Set<string>();

  constructor(init: OnnxGraph | { name?: string } = {}) {
    if ('nodes' in init) {
      this.graph = init;
      for (const v of [...init.inputs, ...init.outputs, ...init.valueInfo]) this.used.add(v.name);
      for (const t of init.initializers) {
        this.used.add(t.name);
        this.produced.add(t.name);
      }
      for (const v of init.inputs) this.produced.add(v.name);
      for (const n of init.nodes) {
        if (n.name) this.used.add(n.name);
        for (const o of n.outputs) {
          this.used.add(o);
          this.produced.add(o);
        }
      }
    } else {
      this.graph = { name: init.name ?? 'tinta', nodes: [], initializers: [], inputs: [], outputs: [], valueInfo: [] };
    }
  }

  /** A name not yet used in this graph (base, then base_1, base_2, ...); reserves it. */
  uniqueName(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  /** True when a value or node in this graph already has this name. */
  hasName(name: string): boolean {
    return this.used.has(name);
  }

  /** Declares a graph input; returns its name. */
  addInput(name: string, elemType: number, shape?: readonly Dim[]): string {
    if (this.graph.inputs.some((v) => v.name === name)) throw exportFailed(`Graph input '${name}' is declared twice.`);
    this.graph.inputs.push(valueInfo(name, elemType, shape));
    this.used.add(name);
    this.produced.add(name);
    return name;
  }

  /** Declares a graph output (a value some node produces); returns its name. */
  addOutput(name: string, elemType: number, shape?: readonly Dim[]): string {
    if (this.graph.outputs.some((v) => v.name === name)) throw exportFailed(`Graph output '${name}' is declared twice.`);
    this.graph.outputs.push(valueInfo(name, elemType, shape));
    this.used.add(name);
    return name;
  }

  /** Records the type and shape of an intermediate value; returns its name. */
  addValueInfo(name: string, elemType: number, shape?: readonly Dim[]): string {
    this.graph.valueInfo.push(valueInfo(name, elemType, shape));
    this.used.add(name);
    return name;
  }

  /** Adds a constant tensor (raw_data, little-endian); Uint16Array means FLOAT16 unless dataType says otherwise. */
  addInitializer(name: string, data: TensorArray, dims: readonly number[], dataType?: number): string {
    if (this.graph.initializers.some((t) => t.name === name)) throw exportFailed(`Initializer '${name}' is added twice.`);
    this.graph.initializers.push(makeTensor(name, data, dims, dataType));
    this.used.add(name);
    this.produced.add(name);
    return name;
  }

  /** Adds a node; attribute types are inferred (see toAttribute) unless given with int()/float()/... */
  addNode(spec: NodeSpec): OnnxNode {
    for (const o of spec.outputs) {
      if (o !== '' && this.produced.has(o)) throw exportFailed(`Value '${o}' is already produced in this graph.`, { value: o });
    }
    const name = spec.name ?? this.uniqueName(spec.opType);
    this.used.add(name);
    const attrs: Record<string, OnnxAttribute> = {};
    for (const [k, v] of Object.entries(spec.attrs ?? {})) attrs[k] = toAttribute(k, v);
    const node: OnnxNode = { opType: spec.opType, inputs: [...spec.inputs], outputs: [...spec.outputs], name, attrs };
    if (spec.domain !== undefined) node.domain = spec.domain;
    if (spec.docString !== undefined) node.docString = spec.docString;
    for (const o of spec.outputs) {
      if (o === '') continue;
      this.used.add(o);
      this.produced.add(o);
    }
    this.graph.nodes.push(node);
    return node;
  }

  /** Puts the nodes in topological order (see `toposort`) and returns them. */
  toposort(outerScope: Iterable<string> = []): OnnxNode[] {
    const sorted = toposort(this.graph, outerScope);
    // Element-wise, not splice(...sorted): spreading 100k+ nodes overflows the call stack.
    sorted.forEach((n, i) => {
      this.graph.nodes[i] = n;
    });
    return this.graph.nodes;
  }

  /** The graph built so far (the same object, not a copy). */
  build(): OnnxGraph {
    return this.graph;
  }
}

function valueInfo(name: string, elemType: number, shape?: readonly Dim[]): OnnxValueInfo {
  const v: OnnxValueInfo = { name, elemType };
  if (shape) v.shape = [...shape];
  return v;
}
