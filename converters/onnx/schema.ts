/**
 * The subset of the ONNX protobuf schema that tinta reads and writes, written here
 * as text (no .proto file to load, so bundlers need no file reads) and parsed once,
 * on first use. Field numbers are ONNX's; names keep ONNX's snake_case.
 *
 * Fields we leave out (functions, training_info, sparse tensors, quantization
 * annotations, ...) are skipped by the decoder; `model.ts` keeps the raw bytes of
 * the ones that sit directly in ModelProto or the main GraphProto.
 */
import protobuf from 'protobufjs';

// proto2, like ONNX itself: optional fields keep presence (an attribute `i = 0`
// is still written) and only the *_data tensor fields are packed.
const ONNX_SUBSET = `
syntax = "proto2";
package tinta.onnx;

message StringStringEntryProto {
  optional string key = 1;
  optional string value = 2;
}

message OperatorSetIdProto {
  optional string domain = 1;
  optional int64 version = 2;
}

message TensorShapeProto {
  message Dimension {
    oneof value {
      int64 dim_value = 1;
      string dim_param = 2;
    }
    optional string denotation = 3;
  }
  repeated Dimension dim = 1;
}

message TypeProto {
  message Tensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  message Sequence {
    optional TypeProto elem_type = 1;
  }
  message Map {
    optional int32 key_type = 1;
    optional TypeProto value_type = 2;
  }
  message Optional {
    optional TypeProto elem_type = 1;
  }
  message SparseTensor {
    optional int32 elem_type = 1;
    optional TensorShapeProto shape = 2;
  }
  oneof value {
    Tensor tensor_type = 1;
    Sequence sequence_type = 4;
    Map map_type = 5;
    Optional optional_type = 9;
    SparseTensor sparse_tensor_type = 8;
  }
  optional string denotation = 6;
}

message ValueInfoProto {
  optional string name = 1;
  optional TypeProto type = 2;
  optional string doc_string = 3;
}

message TensorProto {
  message Segment {
    optional int64 begin = 1;
    optional int64 end = 2;
  }
  repeated int64 dims = 1;
  optional int32 data_type = 2;
  optional Segment segment = 3;
  repeated float float_data = 4 [packed = true];
  repeated int32 int32_data = 5 [packed = true];
  repeated bytes string_data = 6;
  repeated int64 int64_data = 7 [packed = true];
  optional string name = 8;
  optional bytes raw_data = 9;
  repeated double double_data = 10 [packed = true];
  repeated uint64 uint64_data = 11 [packed = true];
  optional string doc_string = 12;
  repeated StringStringEntryProto external_data = 13;
  optional int32 data_location = 14;
}

message AttributeProto {
  optional string name = 1;
  optional float f = 2;
  optional int64 i = 3;
  optional bytes s = 4;
  optional TensorProto t = 5;
  optional GraphProto g = 6;
  repeated float floats = 7;
  repeated int64 ints = 8;
  repeated bytes strings = 9;
  repeated TensorProto tensors = 10;
  repeated GraphProto graphs = 11;
  optional string doc_string = 13;
  optional int32 type = 20;
  optional string ref_attr_name = 21;
}

message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  optional string name = 3;
  optional string op_type = 4;
  repeated AttributeProto attribute = 5;
  optional string doc_string = 6;
  optional string domain = 7;
}

message GraphProto {
  repeated NodeProto node = 1;
  optional string name = 2;
  repeated TensorProto initializer = 5;
  optional string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}

message ModelProto {
  optional int64 ir_version = 1;
  optional string producer_name = 2;
  optional string producer_version = 3;
  optional string domain = 4;
  optional int64 model_version = 5;
  optional string doc_string = 6;
  optional GraphProto graph = 7;
  repeated OperatorSetIdProto opset_import = 8;
  repeated StringStringEntryProto metadata_props = 14;
}
`;

/** The protobufjs message types of the ONNX subset. */
export interface OnnxProtoTypes {
  ModelProto: protobuf.Type;
  GraphProto: protobuf.Type;
  NodeProto: protobuf.Type;
  AttributeProto: protobuf.Type;
  TensorProto: protobuf.Type;
  ValueInfoProto: protobuf.Type;
  TypeProto: protobuf.Type;
  TensorShapeProto: protobuf.Type;
  OperatorSetIdProto: protobuf.Type;
  StringStringEntryProto: protobuf.Type;
}

let cached: OnnxProtoTypes | undefined;

/** The parsed ONNX schema subset; parsed on the first call, then reused. */
export function onnxProto(): OnnxProtoTypes {
  if (cached) return cached;
  // keepCase: the objects we hand to encode() use ONNX's own field names.
  const root = protobuf.parse(ONNX_SUBSET, { keepCase: true }).root;
  const t = (name: string): protobuf.Type => root.lookupType(`tinta.onnx.${name}`);
  cached = {
    ModelProto: t('ModelProto'),
    GraphProto: t('GraphProto'),
    NodeProto: t('NodeProto'),
    AttributeProto: t('AttributeProto'),
    TensorProto: t('TensorProto'),
    ValueInfoProto: t('ValueInfoProto'),
    TypeProto: t('TypeProto'),
    TensorShapeProto: t('TensorShapeProto'),
    OperatorSetIdProto: t('OperatorSetIdProto'),
    StringStringEntryProto: t('StringStringEntryProto'),
  };
  return cached;
}

/** ONNX TensorProto.DataType values. */
export const DataType = {
  UNDEFINED: 0,
  FLOAT: 1,
  UINT8: 2,
  INT8: 3,
  UINT16: 4,
  INT16: 5,
  INT32: 6,
  INT64: 7,
  STRING: 8,
  BOOL: 9,
  FLOAT16: 10,
  DOUBLE: 11,
  UINT32: 12,
  UINT64: 13,
  COMPLEX64: 14,
  COMPLEX128: 15,
  BFLOAT16: 16,
  FLOAT8E4M3FN: 17,
  FLOAT8E4M3FNUZ: 18,
  FLOAT8E5M2: 19,
  FLOAT8E5M2FNUZ: 20,
  UINT4: 21,
  INT4: 22,
  FLOAT4E2M1: 23,
} as const;

/** ONNX AttributeProto.AttributeType values. */
export const AttributeType = {
  UNDEFINED: 0,
  FLOAT: 1,
  INT: 2,
  STRING: 3,
  TENSOR: 4,
  GRAPH: 5,
  FLOATS: 6,
  INTS: 7,
  STRINGS: 8,
  TENSORS: 9,
  GRAPHS: 10,
  SPARSE_TENSOR: 11,
  SPARSE_TENSORS: 12,
  TYPE_PROTO: 13,
  TYPE_PROTOS: 14,
} as const;

/** ModelProto field numbers that model.ts and the SDK reader walk by hand. */
export const ModelField = { IR_VERSION: 1, GRAPH: 7, OPSET_IMPORT: 8, METADATA_PROPS: 14 } as const;

/** GraphProto field numbers modelled by the schema above (anything else is kept raw). */
export const GRAPH_FIELDS_IN_SCHEMA: ReadonlySet<number> = new Set([1, 2, 5, 10, 11, 12, 13]);

/** ModelProto fields modelled by the schema above -> their wire type (anything else is kept raw). */
export const MODEL_FIELD_WIRE_TYPES: ReadonlyMap<number, number> = new Map([
  [1, 0], // ir_version: varint
  [2, 2],
  [3, 2],
  [4, 2],
  [5, 0], // model_version: varint
  [6, 2],
  [7, 2],
  [8, 2],
  [14, 2],
]);
