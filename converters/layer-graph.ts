/**
 * A tf.layers model as plain data: layers in the order Keras lists them, each with its class,
 * config, the layers it reads and its weights. Built either from a live `tfl.LayersModel` or from a
 * checkpoint's Keras JSON topology plus its weight map, so that exporting a checkpoint needs no
 * TensorFlow.js at all and both routes go through one lowering.
 */
import type * as tflTypes from '@tensorflow/tfjs-layers';
import { TintaError, ErrorCodes } from '../sdk/errors.ts';

/** One weight of a layer, in tfjs layout. */
export interface LayerWeight {
  shape: number[];
  data: Float32Array;
}

/** One layer of the graph. */
export interface LayerSpec {
  name: string;
  className: string;
  /** Keras config (snake_case keys, as tfjs serialises it). */
  config: Record<string, unknown>;
  /** Names of the layers whose (first) output this layer reads, in argument order. */
  inbound: string[];
  /** Weights by short name ('kernel', 'bias', 'gamma', 'moving_mean', ...). */
  weights: Map<string, LayerWeight>;
}

/** A whole functional model. */
export interface LayerGraph {
  name: string;
  layers: LayerSpec[];
  /** Input layer names, in the model's input order. */
  inputs: string[];
  /** Output layer names, in the model's output order. */
  outputs: string[];
}

function bad(message: string): TintaError {
  return new TintaError(ErrorCodes.CHECKPOINT_INVALID, `The model topology cannot be read: ${message}.`);
}

// Keras inbound entries are [layerName, nodeIndex, tensorIndex, kwargs]; tinta exports single-use
// layers with single outputs, so anything else (shared layers, multi-output layers) is refused.
function parseInbound(layerName: string, className: string, raw: unknown): string[] {
  if (raw === undefined || (Array.isArray(raw) && raw.length === 0)) return [];
  if (!Array.isArray(raw)) throw bad(`layer "${layerName}" has malformed inbound_nodes`);
  if (raw.length > 1) {
    throw new TintaError(ErrorCodes.UNSUPPORTED_LAYER, `Layer "${layerName}" (${className}) is called ${raw.length} times (a shared layer); the ONNX exporter supports layers used once.`, {
      details: { layer: layerName, className },
    });
  }
  const node = raw[0];
  if (!Array.isArray(node)) throw bad(`layer "${layerName}" has malformed inbound_nodes`);
  return node.map((entry: unknown) => {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string') throw bad(`layer "${layerName}" has a malformed inbound entry`);
    if ((entry[1] ?? 0) !== 0 || (entry[2] ?? 0) !== 0) {
      throw new TintaError(ErrorCodes.UNSUPPORTED_LAYER, `Layer "${layerName}" (${className}) reads output ${String(entry[2])} of call ${String(entry[1])} of "${entry[0]}"; the ONNX exporter supports single-output, single-use layers.`, {
        details: { layer: layerName, className },
      });
    }
    return entry[0] as string;
  });
}

function ioNames(raw: unknown, what: string): string[] {
  if (!Array.isArray(raw)) throw bad(`it has no ${what}`);
  return raw.map((e: unknown) => {
    if (!Array.isArray(e) || typeof e[0] !== 'string') throw bad(`malformed ${what}`);
    return e[0] as string;
  });
}

/** Split "layer/short" weight names into per-layer maps (the last path segment is the short name). */
export function groupWeights(named: Iterable<[string, LayerWeight]>): Map<string, Map<string, LayerWeight>> {
  const byLayer = new Map<string, Map<string, LayerWeight>>();
  for (const [full, w] of named) {
    const cut = full.lastIndexOf('/');
    const layer = cut < 0 ? '' : full.slice(0, cut);
    const short = full.slice(cut + 1);
    let m = byLayer.get(layer);
    if (!m) byLayer.set(layer, (m = new Map()));
    m.set(short, w);
  }
  return byLayer;
}

/**
 * The graph of a Keras JSON topology (`model.toJSON(null, false)` or a checkpoint header's
 * modelTopology) with weights named "layer/short" as tfjs's `originalName` gives them.
 */
export function layerGraphFromTopology(topology: unknown, weights: Iterable<[string, LayerWeight]>): LayerGraph {
  const top = (typeof topology === 'string' ? JSON.parse(topology) : topology) as { class_name?: unknown; config?: Record<string, unknown> } | null;
  if (!top || typeof top !== 'object') throw bad('it is not an object');
  if (top.class_name !== 'Model' && top.class_name !== 'Functional') {
    throw new TintaError(ErrorCodes.UNSUPPORTED_LAYER, `The exporter takes functional models (tf.model); this one is a ${String(top.class_name)}.`, {
      details: { className: top.class_name },
    });
  }
  const cfg = top.config;
  if (!cfg || !Array.isArray(cfg.layers)) throw bad('it lists no layers');
  const byLayer = groupWeights(weights);
  const layers: LayerSpec[] = (cfg.layers as Record<string, unknown>[]).map((l) => {
    const name = l.name as string;
    const className = l.class_name as string;
    if (typeof name !== 'string' || typeof className !== 'string') throw bad('a layer has no name or class');
    const config = (l.config ?? {}) as Record<string, unknown>;
    return { name, className, config, inbound: parseInbound(name, className, l.inbound_nodes), weights: byLayer.get(name) ?? new Map() };
  });
  return {
    name: typeof cfg.name === 'string' ? cfg.name : 'model',
    layers,
    inputs: ioNames(cfg.input_layers, 'input_layers'),
    outputs: ioNames(cfg.output_layers, 'output_layers'),
  };
}

/** The graph of a live tfjs model (its weights read from the backend). */
export function layerGraphFromModel(model: tflTypes.LayersModel): LayerGraph {
  const named: [string, LayerWeight][] = model.weights.map((w) => {
    const t = w.read();
    return [w.originalName, { shape: t.shape.slice(), data: Float32Array.from(t.dataSync() as Float32Array) }];
  });
  return layerGraphFromTopology(model.toJSON(null, false), named);
}
