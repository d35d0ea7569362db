/**
 * A tiny, dependency-free reader of the few facts the SDK needs from an ONNX file:
 * the model's `metadata_props` and the main graph's input and output names.
 *
 * onnxruntime (web and node, 1.30) exposes input/output names and shapes on an
 * InferenceSession but not the model's custom metadata, so the SDK reads it here,
 * from the bytes, without protobufjs (it must run in browsers as is). Initializers
 * and nodes are skipped by length, never copied, so a 20 MB model costs microseconds.
 */
import { TintaError, ErrorCodes } from '../errors.ts';

/** What `readOnnxMetadata` returns. */
export interface OnnxModelInfo {
  /** ModelProto.metadata_props as key -> value (a later duplicate key wins). */
  metadata: Record<string, string>;
  /** Names of GraphProto.input, in order (ONNX before IR 4 also lists initializers here). */
  inputs: string[];
  /** Names of GraphProto.output, in order. */
  outputs: string[];
}

/** Protobuf wire types. */
export const WireType = { VARINT: 0, I64: 1, LEN: 2, SGROUP: 3, EGROUP: 4, I32: 5 } as const;

/** One field as found in the bytes: where its tag starts, where its value starts and ends. */
export interface WireField {
  field: number;
  wireType: number;
  /** Offset of the field's tag (the field spans tagStart..end). */
  tagStart: number;
  /** Offset of the value: for LEN fields, the first payload byte (after the length). */
  valueStart: number;
  /** Offset one past the field's last byte. */
  end: number;
}

// Groups are obsolete, but skipping one needs a bound on nesting so that hostile
// bytes cannot recurse us into a stack overflow.
const MAX_GROUP_DEPTH = 64;

function invalid(message: string, offset: number): TintaError {
  return new TintaError(ErrorCodes.MODEL_INVALID, `Not a valid ONNX model: ${message} (at byte ${offset}).`, {
    details: { offset },
  });
}

/** Reads a varint at `pos` (must end before `end`); returns [value, next offset]. Values past 2^53 lose precision. */
export function readVarint(bytes: Uint8Array, pos: number, end: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = 0; i < 10; i++) {
    if (pos >= end) throw invalid('number cut off by the end of the data (truncated file?)', pos);
    const b = bytes[pos++]!;
    // Multiplication, not shifts: lengths and offsets may exceed 32 bits.
    value += (b & 0x7f) * scale;
    if (b < 0x80) return [value, pos];
    scale *= 128;
  }
  throw invalid('varint longer than 10 bytes', pos);
}

/** Reads one field starting at `pos`; throws MODEL_INVALID when it does not fit before `end`. */
export function readField(bytes: Uint8Array, pos: number, end: number, depth = 0): WireField {
  const tagStart = pos;
  const [tag, afterTag] = readVarint(bytes, pos, end);
  const field = Math.floor(tag / 8);
  const wireType = tag % 8;
  if (field === 0) throw invalid('field number 0', tagStart);
  let valueStart = afterTag;
  let next: number;
  switch (wireType) {
    case WireType.VARINT:
      next = readVarint(bytes, afterTag, end)[1];
      break;
    case WireType.I64:
      next = afterTag + 8;
      break;
    case WireType.I32:
      next = afterTag + 4;
      break;
    case WireType.LEN: {
      const [len, at] = readVarint(bytes, afterTag, end);
      valueStart = at;
      next = at + len;
      break;
    }
    case WireType.SGROUP: {
      if (depth >= MAX_GROUP_DEPTH) throw invalid('groups nested too deeply', tagStart);
      let p = afterTag;
      for (;;) {
        const inner = readField(bytes, p, end, depth + 1);
        p = inner.end;
        if (inner.wireType === WireType.EGROUP) {
          if (inner.field !== field) throw invalid(`group ${field} closed as ${inner.field}`, inner.tagStart);
          break;
        }
      }
      next = p;
      break;
    }
    case WireType.EGROUP:
      // Only legal as the terminator the SGROUP case above looks for.
      if (depth === 0) throw invalid('unexpected end-group tag', tagStart);
      next = afterTag;
      break;
    default:
      throw invalid(`unknown wire type ${wireType}`, tagStart);
  }
  if (next > end) throw invalid(`field ${field} needs ${next - end} more bytes than its message holds (truncated file?)`, tagStart);
  return { field, wireType, tagStart, valueStart, end: next };
}

/** Calls `visit` for each field of the message in bytes[start, end); validates framing of every field. */
export function forEachField(
  bytes: Uint8Array,
  start: number,
  end: number,
  visit: (f: WireField) => void,
): void {
  let pos = start;
  while (pos < end) {
    const f = readField(bytes, pos, end);
    visit(f);
    pos = f.end;
  }
}

const utf8 = new TextDecoder('utf-8');

function expectLen(f: WireField, what: string): void {
  if (f.wireType !== WireType.LEN) throw invalid(`${what} has wire type ${f.wireType}, expected length-delimited`, f.tagStart);
}

function readString(bytes: Uint8Array, f: WireField, what: string): string {
  expectLen(f, what);
  return utf8.decode(bytes.subarray(f.valueStart, f.end));
}

// ValueInfoProto.name = 1.
function readValueInfoName(bytes: Uint8Array, vi: WireField): string {
  let name = '';
  forEachField(bytes, vi.valueStart, vi.end, (f) => {
    if (f.field === 1) name = readString(bytes, f, 'ValueInfoProto.name');
  });
  return name;
}

/** Reads metadata_props and the graph's input/output names from ONNX model bytes; MODEL_INVALID if they are not a model. */
export function readOnnxMetadata(bytes: Uint8Array): OnnxModelInfo {
  if (!(bytes instanceof Uint8Array)) {
    throw new TintaError(ErrorCodes.MODEL_INVALID, 'Not a valid ONNX model: expected the model as a Uint8Array.');
  }
  if (bytes.length === 0) throw new TintaError(ErrorCodes.MODEL_INVALID, 'Not a valid ONNX model: the model is empty (0 bytes).');
  const metadata: Record<string, string> = {};
  const inputs: string[] = [];
  const outputs: string[] = [];
  let sawGraph = false;
  let sawIrVersion = false;
  // Every top-level field is framed even when skipped, so a truncated file fails
  // here rather than later inside onnxruntime with a vaguer message.
  forEachField(bytes, 0, bytes.length, (f) => {
    switch (f.field) {
      case 1: // ModelProto.ir_version
        if (f.wireType !== WireType.VARINT) throw invalid('ir_version is not a varint', f.tagStart);
        sawIrVersion = true;
        break;
      case 7: // ModelProto.graph
        expectLen(f, 'ModelProto.graph');
        sawGraph = true;
        forEachField(bytes, f.valueStart, f.end, (g) => {
          if (g.field === 11) {
            expectLen(g, 'GraphProto.input');
            inputs.push(readValueInfoName(bytes, g));
          } else if (g.field === 12) {
            expectLen(g, 'GraphProto.output');
            outputs.push(readValueInfoName(bytes, g));
          }
        });
        break;
      case 14: {
        // ModelProto.metadata_props: StringStringEntryProto { key = 1; value = 2; }
        expectLen(f, 'ModelProto.metadata_props');
        let key = '';
        let value = '';
        forEachField(bytes, f.valueStart, f.end, (e) => {
          if (e.field === 1) key = readString(bytes, e, 'metadata key');
          else if (e.field === 2) value = readString(bytes, e, 'metadata value');
        });
        // defineProperty, not assignment: a key such as "__proto__" must stay plain data.
        Object.defineProperty(metadata, key, { value, enumerable: true, writable: true, configurable: true });
        break;
      }
      default:
        break;
    }
  });
  // Both are mandatory in ONNX; requiring them turns most non-model files that
  // happen to parse as protobuf (text, other formats) into a clear error.
  if (!sawGraph || !sawIrVersion) {
    throw new TintaError(
      ErrorCodes.MODEL_INVALID,
      `Not a valid ONNX model: no ${!sawGraph ? 'graph' : 'ir_version'} field (is this an ONNX file?).`,
    );
  }
  return { metadata, inputs, outputs };
}
