/**
 * The exporter's intermediate form: the network as NCHW operations with weights already in ONNX
 * layout. Lowering from tf.layers produces it, the folding passes rewrite it, and the emitter turns
 * it into ONNX nodes one to a few at a time. Keeping it separate from both ends is what lets the
 * passes reason about "a conv followed by a per-channel affine" without knowing either format.
 */

/** A pointwise activation the exporter can emit. */
export type Activation = 'relu' | 'relu6' | 'sigmoid' | 'tanh' | 'softmax';

/** Convolution (or transposed convolution) with weights in ONNX layout. */
export interface ConvOp {
  kind: 'conv';
  transpose: boolean;
  /** Conv: [cout, cin, kh, kw]; ConvTranspose: [cin, cout, kh, kw]. */
  weight: Float32Array;
  weightShape: [number, number, number, number];
  bias: Float32Array;
  strides: [number, number];
  /** ONNX order: [top, left, bottom, right]. */
  pads: [number, number, number, number];
  dilations: [number, number];
  activation: Activation | null;
}

/** y = x * scale + shift per channel (axis 1); either part may be absent. */
export interface AffineOp {
  kind: 'affine';
  scale: Float32Array | null;
  shift: Float32Array | null;
}

/** Spatial upsampling by integer factors. */
export interface ResizeOp {
  kind: 'resize';
  mode: 'nearest' | 'linear';
  factors: [number, number];
}

/** Concatenation along an NCHW axis. */
export interface ConcatOp {
  kind: 'concat';
  axis: number;
}

/** Fully connected layer on [N, in]: y = x W + b with W [in, out]. */
export interface GemmOp {
  kind: 'gemm';
  weight: Float32Array;
  weightShape: [number, number];
  bias: Float32Array;
  activation: Activation | null;
}

/** Tiles a vector [N, D] over the spatial grid of a feature map: inputs [feature, vector]. */
export interface TileOp {
  kind: 'tile';
}

/** A standalone activation (softmax over channels for feature maps). */
export interface ActivationOp {
  kind: 'activation';
  activation: Activation;
  /** NCHW axis for softmax. */
  axis: number;
}

/** Element-wise sum of the inputs. */
export interface AddOp {
  kind: 'add';
}

/** A graph input. */
export interface InputOp {
  kind: 'input';
}

/** Every operation of the intermediate form. */
export type IrOp = ConvOp | AffineOp | ResizeOp | ConcatOp | GemmOp | TileOp | ActivationOp | AddOp | InputOp;

/** One operation with its place in the graph and what is known of its output. */
export interface IrNode {
  /** Unique id (the tf.layers layer name). */
  id: string;
  op: IrOp;
  /** Ids of the nodes it reads, in argument order. */
  inputs: string[];
  /** Output rank: 4 (NCHW feature map) or 2 ([N, D] vector). */
  rank: 2 | 4;
  /** Output channels (axis 1). */
  channels: number;
  /** For feature maps: how many input pixels one output pixel spans per axis (1 at the input). */
  stride: number;
}

/** The network in intermediate form; `nodes` are in topological order. */
export interface IrGraph {
  name: string;
  nodes: IrNode[];
  /** Input node ids. */
  inputs: string[];
  /** The output node id. */
  output: string;
}

/** Ids of the nodes that read `id` (with repetition when one node reads it twice). */
export function consumersOf(g: IrGraph, id: string): IrNode[] {
  return g.nodes.filter((n) => n.inputs.includes(id));
}

/** The node with this id (throws if absent: the passes only ask for ids they saw). */
export function nodeById(g: IrGraph, id: string): IrNode {
  const n = g.nodes.find((x) => x.id === id);
  if (!n) throw new Error(`internal: no IR node "${id}"`);
  return n;
}
