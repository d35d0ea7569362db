/**
 * The colorization network, as tf.layers builders.
 *
 * The seed's design: an encoder of 8 convolutions and 4 normalization layers down to 1/8 of the
 * input, optional fusion of a global image embedding (Iizuka & Simo-Serra 2016: dense -> tiled over
 * space -> concatenated -> 1x1 conv), and a decoder of 12 convolutions and 3 normalization layers
 * up to 1/4 of the input, ending in per-pixel logits over the ab buckets (softmax is applied by the
 * loss and by the decoder of the SDK). Only layers the ONNX exporter supports are used, and every
 * layer gets a stable name so export and analysis can find the blocks.
 */
import * as tf from '@tensorflow/tfjs-core';
import * as tfl from '@tensorflow/tfjs-layers';
import { TintaError, ErrorCodes } from '../sdk/errors.ts';

/** Named architecture presets. */
export type Preset = 'seed' | 'tiny';

/** How the decoder goes from 1/8 to 1/4 resolution. */
export type Upsampling = 'nearest' | 'bilinear' | 'transpose';

/** Everything that determines the network's shape. */
export interface ModelConfig {
  preset: Preset;
  /** Number of ab buckets Q (output channels). */
  buckets: number;
  /** Channel widths of the four encoder stages; the decoder uses the last two. */
  widths: [number, number, number, number];
  /** Convolutions per decoder stage (the seed: 3 stages of 3 plus the 3-conv head = 12). */
  decoderDepth: number;
  upsampling: Upsampling;
  /** Fuse a global embedding of this many values (0 = no fusion). */
  embeddingDim: number;
  /** Width of the fusion dense layer. */
  fusionWidth: number;
  /** Consecutive frames stacked as input channels (video models; absent = 1, a photo model). */
  frames?: number;
}

const PRESETS: Record<Preset, Omit<ModelConfig, 'buckets' | 'embeddingDim'>> = {
  // About 5.6 M parameters: the seed's layer counts at widths a CPU can train.
  seed: { preset: 'seed', widths: [32, 64, 128, 256], decoderDepth: 3, upsampling: 'nearest', fusionWidth: 256 },
  // About 0.9 M parameters: for CPU training and edge inference.
  tiny: { preset: 'tiny', widths: [16, 32, 64, 96], decoderDepth: 3, upsampling: 'nearest', fusionWidth: 96 },
};

/** The full config of a preset, with optional overrides (width multiplier, fusion...). */
export function presetConfig(
  preset: Preset,
  opts: { buckets?: number; fusion?: boolean; embeddingDim?: number; widthMultiplier?: number; decoderDepth?: number; upsampling?: Upsampling } = {},
): ModelConfig {
  const base = PRESETS[preset];
  if (!base) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Unknown preset "${preset}"; use "seed" or "tiny".`);
  const m = opts.widthMultiplier ?? 1;
  if (!(m > 0)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Width multiplier must be positive; got ${m}.`);
  const widths = base.widths.map((w) => Math.max(4, Math.round((w * m) / 4) * 4)) as ModelConfig['widths'];
  return {
    ...base,
    widths,
    fusionWidth: Math.max(4, Math.round((base.fusionWidth * m) / 4) * 4),
    decoderDepth: opts.decoderDepth ?? base.decoderDepth,
    upsampling: opts.upsampling ?? base.upsampling,
    buckets: opts.buckets ?? 112,
    embeddingDim: opts.fusion ? (opts.embeddingDim ?? 1000) : 0,
  };
}

/**
 * Tiles a per-image vector [B, D] over the spatial grid of a feature map [B, H, W, C] -> [B, H, W, D].
 * A layer of its own (rather than RepeatVector + Reshape) so the spatial size stays dynamic and the
 * exporter sees one node to translate.
 */
export class SpatialTile extends tfl.layers.Layer {
  static className = 'TintaSpatialTile';

  override computeOutputShape(inputShape: tfl.Shape[] | tfl.Shape): tfl.Shape {
    const shapes = inputShape as tfl.Shape[];
    const feat = shapes[0]!, vec = shapes[1]!;
    return [feat[0]!, feat[1]!, feat[2]!, vec[1]!];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const [feat, vec] = inputs as tf.Tensor[];
      const [, h, w] = feat!.shape as number[];
      const [b, d] = vec!.shape as number[];
      return tf.tile(tf.reshape(vec!, [b!, 1, 1, d!]), [1, h!, w!, 1]);
    });
  }
}
tf.serialization.registerClass(SpatialTile);

function conv(x: tfl.SymbolicTensor, name: string, filters: number, opts: { kernel?: number; strides?: number; activation?: 'relu' | 'linear' } = {}): tfl.SymbolicTensor {
  return tfl.layers.conv2d({
    name,
    filters,
    kernelSize: opts.kernel ?? 3,
    strides: opts.strides ?? 1,
    padding: 'same',
    activation: opts.activation ?? 'relu',
    kernelInitializer: 'heNormal',
  }).apply(x) as tfl.SymbolicTensor;
}

function bn(x: tfl.SymbolicTensor, name: string): tfl.SymbolicTensor {
  return tfl.layers.batchNormalization({ name, momentum: 0.99, epsilon: 1e-3 }).apply(x) as tfl.SymbolicTensor;
}

/** Build the network for `cfg`. Inputs: `L` [B,H,W,frames] in [0,1] (and `embedding` [B,D] with fusion); output: logits [B,H/4,W/4,Q]. */
export function buildModel(cfg: ModelConfig, opts: { inputSize?: number } = {}): tfl.LayersModel {
  if (!(cfg.buckets >= 2)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `A model needs at least 2 buckets; got ${cfg.buckets}.`);
  const s = opts.inputSize ?? null;
  if (s !== null && s % 8 !== 0) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `Input size must be a multiple of 8; got ${s}.`);
  const [w1, w2, w3, w4] = cfg.widths;
  const frames = cfg.frames ?? 1;
  if (!(Number.isInteger(frames) && frames >= 1)) throw new TintaError(ErrorCodes.BAD_ARGUMENT, `A model takes a whole number of frames >= 1; got ${frames}.`);
  const input = tfl.input({ name: 'L', shape: [s, s, frames] });
  const inputs: tfl.SymbolicTensor[] = [input];

  // Encoder: 4 stages of 2 convolutions + batch norm; the first three halve the resolution.
  let x = conv(input, 'enc1_conv1', w1);
  x = conv(x, 'enc1_conv2', w1, { strides: 2 });
  x = bn(x, 'enc1_bn');
  x = conv(x, 'enc2_conv1', w2);
  x = conv(x, 'enc2_conv2', w2, { strides: 2 });
  x = bn(x, 'enc2_bn');
  x = conv(x, 'enc3_conv1', w3);
  x = conv(x, 'enc3_conv2', w3, { strides: 2 });
  x = bn(x, 'enc3_bn');
  x = conv(x, 'enc4_conv1', w4);
  x = conv(x, 'enc4_conv2', w4);
  x = bn(x, 'enc4_bn');

  if (cfg.embeddingDim > 0) {
    const emb = tfl.input({ name: 'embedding', shape: [cfg.embeddingDim] });
    inputs.push(emb);
    const g = tfl.layers.dense({ name: 'fusion_dense', units: cfg.fusionWidth, activation: 'relu' }).apply(emb) as tfl.SymbolicTensor;
    const tiled = new SpatialTile({ name: 'fusion_tile' }).apply([x, g]) as tfl.SymbolicTensor;
    x = tfl.layers.concatenate({ name: 'fusion_concat', axis: -1 }).apply([x, tiled]) as tfl.SymbolicTensor;
    x = conv(x, 'fusion_conv', w4, { kernel: 1 });
  }

  // Decoder: two stages at 1/8, one at 1/4 after upsampling, then the head (3 convolutions).
  const d = cfg.decoderDepth;
  for (let i = 1; i <= d; i++) x = conv(x, `dec1_conv${i}`, w4);
  x = bn(x, 'dec1_bn');
  for (let i = 1; i <= d; i++) x = conv(x, `dec2_conv${i}`, w4);
  x = bn(x, 'dec2_bn');
  if (cfg.upsampling === 'transpose') {
    x = tfl.layers.conv2dTranspose({ name: 'dec3_up', filters: w3, kernelSize: 4, strides: 2, padding: 'same', activation: 'relu', kernelInitializer: 'heNormal' }).apply(x) as tfl.SymbolicTensor;
    for (let i = 2; i <= d; i++) x = conv(x, `dec3_conv${i}`, w3);
  } else {
    x = tfl.layers.upSampling2d({ name: 'dec3_up', size: [2, 2], interpolation: cfg.upsampling }).apply(x) as tfl.SymbolicTensor;
    for (let i = 1; i <= d; i++) x = conv(x, `dec3_conv${i}`, w3);
  }
  x = bn(x, 'dec3_bn');
  x = conv(x, 'head_conv1', w3);
  x = conv(x, 'head_conv2', w3);
  const logits = conv(x, 'head_logits', cfg.buckets, { kernel: 1, activation: 'linear' });
  return tfl.model({ name: `tinta_${cfg.preset}`, inputs, outputs: logits });
}

/** Count of convolution and normalization layers, by part (checks the seed's 8+4 / 12+3 layout). */
export function layerCounts(model: tfl.LayersModel): { encoderConv: number; encoderNorm: number; decoderConv: number; decoderNorm: number } {
  const r = { encoderConv: 0, encoderNorm: 0, decoderConv: 0, decoderNorm: 0 };
  for (const l of model.layers) {
    const cls = l.getClassName();
    const isConv = cls === 'Conv2D' || cls === 'Conv2DTranspose';
    const isNorm = cls === 'BatchNormalization';
    if (l.name.startsWith('enc')) { if (isConv) r.encoderConv++; if (isNorm) r.encoderNorm++; }
    if (l.name.startsWith('dec') || l.name.startsWith('head')) { if (isConv) r.decoderConv++; if (isNorm) r.decoderNorm++; }
  }
  return r;
}
