/**
 * Kernels that let tfjs's WASM backend train convolutional nets.
 *
 * The stock WASM backend has no Conv2DBackpropFilter (so no conv can learn), its
 * Conv2DBackpropInput is a plain scalar loop, and the depthwise gradients and
 * UnsortedSegmentSum are missing. Here every conv gradient is rewritten as ONE
 * forward convolution over rearranged data, so it runs on the backend's own
 * XNNPACK Conv2D / DepthwiseConv2dNative, with Transpose and a few heap copies
 * around it. Intermediates are created and freed at the backend level (not as
 * engine tensors), so nothing leaks into tf.memory() and the engine only ever
 * sees the one output it owns.
 *
 * Slice, SplitV and Tile are replaced too: the stock ones are per-element or
 * copy the whole input out of the heap, and training hits them every step
 * (Concatenate's and BatchNormalization's gradients).
 */
import {
  backend_util,
  Conv2D,
  Conv2DBackpropFilter,
  Conv2DBackpropInput,
  DepthwiseConv2dNative,
  DepthwiseConv2dNativeBackpropFilter,
  DepthwiseConv2dNativeBackpropInput,
  getKernel,
  registerKernel,
  Slice,
  slice_util,
  SplitV,
  Sum,
  Tile,
  Transpose,
  unregisterKernel,
  UnsortedSegmentSum,
  util,
} from '@tensorflow/tfjs-core';
import type {
  Conv2DBackpropFilterAttrs,
  Conv2DBackpropInputAttrs,
  DepthwiseConv2dNativeBackpropFilterAttrs,
  DepthwiseConv2dNativeBackpropInputAttrs,
  KernelConfig,
  KernelFunc,
  NamedAttrMap,
  NamedTensorInfoMap,
  SliceAttrs,
  SplitVAttrs,
  TensorInfo,
  TileAttrs,
  UnsortedSegmentSumAttrs,
} from '@tensorflow/tfjs-core';
import type { BackendWasm } from '@tensorflow/tfjs-backend-wasm';
import { check, ErrorCodes, TintaError } from '../../sdk/errors.ts';

const BACKEND = 'wasm';
type Pad = Conv2DBackpropInputAttrs['pad'];
type Rounding = Conv2DBackpropInputAttrs['dimRoundingMode'];
type KernelArgs = Parameters<KernelFunc>[0];

/** Options of registerWasmTrainingKernels. */
export interface WasmTrainingOptions {
  /** Run Conv2DBackpropInput on the stock wasm loop where a cost model says it is faster (tiny maps, wide filters). Default true. */
  preferStockWhenCheaper?: boolean;
}

const options: Required<WasmTrainingOptions> = { preferStockWhenCheaper: true };

/** Stock wasm kernel configs, captured before anything here replaces them. */
const stock = new Map<string, KernelConfig>();

function stockKernel(name: string): KernelFunc {
  const config = stock.get(name) ?? getKernel(name, BACKEND);
  if (config === undefined) {
    throw new TintaError(ErrorCodes.BACKEND_UNAVAILABLE, `wasm kernel ${name} is not registered; import @tensorflow/tfjs-backend-wasm first`);
  }
  return config.kernelFunc;
}

function call(b: BackendWasm, name: string, inputs: NamedTensorInfoMap, attrs: NamedAttrMap = {}): TensorInfo {
  return stockKernel(name)({ inputs, backend: b, attrs }) as TensorInfo;
}

function free(b: BackendWasm, ...ts: TensorInfo[]): void {
  for (const t of ts) b.disposeData(t.dataId);
}

/** Float index of a tensor's first element in the wasm heap (offsets are byte offsets). */
function at(b: BackendWasm, t: TensorInfo): number {
  return b.dataIdMap.get(t.dataId)!.memoryOffset >>> 2;
}

/** A float view of the whole wasm heap; take it after the last allocation, since growth detaches old views. */
function heapOf(b: BackendWasm, t: TensorInfo): Float32Array {
  return new Float32Array(b.typedArrayFromHeap(t).buffer);
}

function requireFloat(t: TensorInfo, kernel: string): void {
  check(t.dtype === 'float32', `${kernel} on wasm needs float32 tensors, got ${t.dtype}`);
}

function nhwcOnly(dataFormat: string | undefined, kernel: string): void {
  // The wasm forward convs are channelsLast only, so a channelsFirst net cannot run there anyway.
  check(dataFormat === undefined || dataFormat === 'NHWC', `${kernel} on wasm supports NHWC only, got ${dataFormat}`);
}

/** Pads of a forward conv, as computed by tfjs (so 'same', 'valid', numbers and explicit pads all agree with it). */
function convInfo(inShape: number[], filterShape: number[], strides: [number, number] | number, pad: Pad, rounding: Rounding, depthwise: boolean) {
  return backend_util.computeConv2DInfo(
    inShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides, 1, pad, rounding, depthwise, 'channelsLast',
  );
}

/**
 * out[n, r, c, :] = x[n, r + top, c + left, :], zero outside x: the crops that
 * an XNNPACK conv's padding cannot express. NHWC rows are contiguous, so each
 * output row is a single copyWithin.
 */
function window4d(b: BackendWasm, x: TensorInfo, top: number, left: number, outH: number, outW: number): TensorInfo {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const out = b.makeOutput([n, outH, outW, c], 'float32');
  const heap = heapOf(b, out);
  const xo = at(b, x);
  const oo = at(b, out);
  const r0 = Math.max(0, -top), r1 = Math.min(outH, h - top);
  const c0 = Math.max(0, -left), c1 = Math.min(outW, w - left);
  if (r0 > 0 || c0 > 0 || r1 < outH || c1 < outW) heap.fill(0, oo, oo + n * outH * outW * c);
  if (c1 <= c0) return out;
  const run = (c1 - c0) * c;
  for (let i = 0; i < n; i++) {
    for (let r = r0; r < r1; r++) {
      const src = xo + ((i * h + r + top) * w + c0 + left) * c;
      heap.copyWithin(oo + ((i * outH + r) * outW + c0) * c, src, src + run);
    }
  }
  return out;
}

/** Explicit-padding attr for a wasm conv; negative sides must have been cropped away first. */
function explicitPad(top: number, bottom: number, left: number, right: number): [[number, number], [number, number], [number, number], [number, number]] {
  return [[0, 0], [top, bottom], [left, right], [0, 0]];
}

/**
 * Runs a stride-1 wasm conv (dense or depthwise) with arbitrary per-side pads:
 * non-negative ones go to XNNPACK as implicit padding, any negative side is
 * cropped out of x first.
 */
function convWithPads(
  b: BackendWasm, kernel: string, x: TensorInfo, filter: TensorInfo,
  top: number, bottom: number, left: number, right: number, dilations: [number, number],
): TensorInfo {
  let src = x;
  if (top < 0 || bottom < 0 || left < 0 || right < 0) {
    const [, h, w] = x.shape as [number, number, number, number];
    const t = Math.min(top, 0), bt = Math.min(bottom, 0), l = Math.min(left, 0), r = Math.min(right, 0);
    src = window4d(b, x, -t, -l, h + t + bt, w + l + r);
    top -= t; bottom -= bt; left -= l; right -= r;
  }
  const out = call(b, kernel, { x: src, filter }, {
    strides: [1, 1], dilations, pad: explicitPad(top, bottom, left, right), dataFormat: 'NHWC',
  });
  if (src !== x) free(b, src);
  return out;
}

// ---------------------------------------------------------------- filter grads

/**
 * dW[a,b,c,o] = sum_{n,i,j} xpad[n, i*s+a, j*s+b, c] * dy[n,i,j,o] is itself a
 * conv: with batch and channels of x swapped ([C,H,W,N]) as the input and dy as
 * a [Ho,Wo,N,Co] filter dilated by the forward stride, the output is [C,kh,kw,Co].
 * The bottom/right pad is whatever makes that output exactly kh x kw (negative
 * when 'valid' leaves rows of x unused; those are cropped).
 */
function conv2dBackpropFilter({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const b = backend as BackendWasm;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as Conv2DBackpropFilterAttrs;
  nhwcOnly(dataFormat, Conv2DBackpropFilter);
  requireFloat(x, Conv2DBackpropFilter);
  const info = convInfo(x.shape, filterShape, strides, pad, dimRoundingMode, false);
  const { inHeight: h, inWidth: w, outHeight: ho, outWidth: wo, strideHeight: sh, strideWidth: sw } = info;
  const { filterHeight: kh, filterWidth: kw, padInfo } = info;

  const xt = call(b, Transpose, { x }, { perm: [3, 1, 2, 0] });
  const dyt = call(b, Transpose, { x: dy }, { perm: [1, 2, 0, 3] });
  const out = convWithPads(
    b, Conv2D, xt, dyt,
    padInfo.top, kh + (ho - 1) * sh - h - padInfo.top,
    padInfo.left, kw + (wo - 1) * sw - w - padInfo.left,
    [sh, sw],
  );
  free(b, xt, dyt);
  const dw = call(b, Transpose, { x: out }, { perm: [1, 2, 0, 3] });
  free(b, out);
  return dw;
}

/**
 * The depthwise version of the same trick: x as [1,H,W,N*C] (batch folded into
 * channels), dy as a dilated [Ho,Wo,N*C,m] depthwise filter, giving
 * [1,kh,kw,N*C*m]; summing over N leaves [kh,kw,C,m].
 */
function depthwiseBackpropFilter({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const b = backend as BackendWasm;
  const { x, dy } = inputs as { x: TensorInfo; dy: TensorInfo };
  const { strides, pad, dimRoundingMode, filterShape, dilations } = attrs as unknown as DepthwiseConv2dNativeBackpropFilterAttrs;
  check(backend_util.tupleValuesAreOne(dilations ?? 1), 'depthwise conv gradients need dilation 1');
  requireFloat(x, DepthwiseConv2dNativeBackpropFilter);
  const info = convInfo(x.shape, filterShape, strides, pad, dimRoundingMode, true);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo } = info;
  const { strideHeight: sh, strideWidth: sw, filterHeight: kh, filterWidth: kw, padInfo } = info;
  const m = filterShape[3];

  const xt = call(b, Transpose, { x }, { perm: [1, 2, 0, 3] }); // [H,W,N,C]
  const dyt = call(b, Transpose, { x: dy }, { perm: [1, 2, 0, 3] }); // [Ho,Wo,N,C*m]
  const out = convWithPads(
    b, DepthwiseConv2dNative,
    { ...xt, shape: [1, h, w, n * c] }, { ...dyt, shape: [ho, wo, n * c, m] },
    padInfo.top, kh + (ho - 1) * sh - h - padInfo.top,
    padInfo.left, kw + (wo - 1) * sw - w - padInfo.left,
    [sh, sw],
  );
  free(b, xt, dyt);
  const dw = call(b, Sum, { x: { ...out, shape: [kh, kw, n, c * m] } }, { axis: [2], keepDims: false });
  free(b, out);
  return { ...dw, shape: [kh, kw, c, m] };
}

// ---------------------------------------------------------------- input grads

/**
 * How one spatial axis of dx = conv_transpose(dy) splits into stride phases.
 * With hp = h + padBefore = q*s + r, dx[h] = sum_t dy[q - t] * w[t*s + r], t < taps:
 * for each phase r this is a stride-1 conv of dy with a sub-filter, computed for
 * q in [first, first + count); dx[h] then sits at row (h + offset) of the
 * interleaved phases.
 */
function phasePlan(k: number, s: number, padBefore: number, inLen: number, outLen: number) {
  const taps = Math.ceil(k / s);
  const first = Math.floor(padBefore / s);
  const count = Math.floor((padBefore + inLen - 1) / s) - first + 1;
  const before = taps - 1 - first;
  return { taps, count, before, after: count - outLen - before + taps - 1, offset: padBefore - first * s };
}

/**
 * Builds the stride-1 filter computing every phase at once, spatially flipped
 * with in/out swapped: f[u,v,o,(rh*sw+rw)*C+c] = w[(Th-1-u)*sh+rh, (Tw-1-v)*sw+rw, c, o]
 * (zero where that tap does not exist). Channel order is phase-major, the
 * layout interleavePhases expects.
 */
function phaseFilter(b: BackendWasm, filter: TensorInfo, sh: number, sw: number, th: number, tw: number): TensorInfo {
  const [kh, kw, c, o] = filter.shape as [number, number, number, number];
  const p = sh * sw;
  const out = b.makeOutput([th, tw, o, p * c], 'float32');
  const heap = heapOf(b, out);
  const fo = at(b, out);
  const wo = at(b, filter);
  if (th * sh !== kh || tw * sw !== kw) heap.fill(0, fo, fo + th * tw * o * p * c);
  for (let u = 0; u < th; u++) {
    for (let v = 0; v < tw; v++) {
      for (let rh = 0; rh < sh; rh++) {
        const a = (th - 1 - u) * sh + rh;
        if (a >= kh) continue;
        for (let rw = 0; rw < sw; rw++) {
          const bb = (tw - 1 - v) * sw + rw;
          if (bb >= kw) continue;
          const src = wo + (a * kw + bb) * c * o;
          const dst = fo + (u * tw + v) * o * p * c + (rh * sw + rw) * c;
          for (let ci = 0; ci < c; ci++) {
            const s = src + ci * o;
            for (let oi = 0; oi < o; oi++) heap[dst + oi * p * c + ci] = heap[s + oi];
          }
        }
      }
    }
  }
  return out;
}

/**
 * Puts each stride phase at its pixels and crops to [h, w]. The conv output is
 * [N,Qh,Qw,sh,sw,C] in memory (phase-major channels); viewed as
 * [N*Qh, Qw, sh, sw*C], swapping the middle axes gives [N, Qh*sh, Qw*sw, C]:
 * one 4-D Transpose, much faster than the wasm DepthToSpace kernel (a
 * per-element loop, ~8x slower here) and valid for non-square strides too.
 */
function interleavePhases(b: BackendWasm, y: TensorInfo, sh: number, sw: number, c: number, oh: number, ow: number, h: number, w: number): TensorInfo {
  const [n, qh, qw] = y.shape as [number, number, number, number];
  const t = call(b, Transpose, { x: { ...y, shape: [n * qh, qw, sh, sw * c] } }, { perm: [0, 2, 1, 3] });
  const full = { ...t, shape: [n, qh * sh, qw * sw, c] };
  if (oh === 0 && ow === 0 && qh * sh === h && qw * sw === w) return full;
  const dx = window4d(b, full, oh, ow, h, w);
  free(b, t);
  return dx;
}

/**
 * True when the stock wasm loop should beat the phase conv. Ours pays a fixed
 * cost per filter weight (building the phase filter, then XNNPACK transposing
 * and packing it: ~15-30 ns each here) plus fast MACs (~0.15 ns); the stock
 * loop pays ~1 ns per MAC and nothing per weight. So the stock kernel only
 * wins on tiny spatial sizes with wide filters (e.g. 1x4x4x256, 3x3): cases
 * where both take a few ms. Constants measured on one core of an EPYC (SIMD).
 */
function stockIsCheaper(n: number, h: number, w: number, ci: number, co: number, kh: number, kw: number, sh: number, sw: number, th: number, tw: number): boolean {
  const phaseWeights = th * tw * sh * sw * ci * co;
  const stockMacs = (n * h * w * ci * co * kh * kw) / (sh * sw);
  const oursNs = 20_000 + 20 * phaseWeights + 0.15 * (n * h * w / (sh * sw)) * phaseWeights;
  return stockMacs < oursNs;
}

/**
 * dx = conv_transpose(dy, w) as one stride-1 XNNPACK conv producing all
 * stride phases as channels (sub-pixel decomposition: no multiply by inserted
 * zeros), then a transpose and a crop to put each phase at its pixels.
 */
function conv2dBackpropInput(args: KernelArgs): TensorInfo {
  const { inputs, backend, attrs } = args;
  const b = backend as BackendWasm;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dataFormat, dimRoundingMode, inputShape } = attrs as unknown as Conv2DBackpropInputAttrs;
  nhwcOnly(dataFormat, Conv2DBackpropInput);
  requireFloat(dy, Conv2DBackpropInput);
  const info = convInfo(inputShape, filter.shape, strides, pad, dimRoundingMode, false);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo, outChannels: co, strideHeight: sh, strideWidth: sw } = info;
  const ph = phasePlan(info.filterHeight, sh, info.padInfo.top, h, ho);
  const pw = phasePlan(info.filterWidth, sw, info.padInfo.left, w, wo);
  if (options.preferStockWhenCheaper && stock.has(Conv2DBackpropInput) &&
      stockIsCheaper(n, h, w, c, co, info.filterHeight, info.filterWidth, sh, sw, ph.taps, pw.taps)) {
    return stockKernel(Conv2DBackpropInput)(args) as TensorInfo;
  }

  const f = phaseFilter(b, filter, sh, sw, ph.taps, pw.taps);
  const y = convWithPads(b, Conv2D, dy, f, ph.before, ph.after, pw.before, pw.after, [1, 1]);
  free(b, f);
  if (sh === 1 && sw === 1) return y; // one phase: y is dx already (count = h, offset = 0)
  const dx = interleavePhases(b, y, sh, sw, c, ph.offset, pw.offset, h, w);
  free(b, y);
  return dx;
}

/**
 * Depthwise dx with the same phase decomposition, as a depthwise conv with
 * multiplier P = sh*sw (one output per phase, channel-major c*m*P + q*P + p);
 * the m multipliers of a channel are then summed and phases interleaved.
 */
function depthwiseBackpropInput({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const b = backend as BackendWasm;
  const { dy, filter } = inputs as { dy: TensorInfo; filter: TensorInfo };
  const { strides, pad, dimRoundingMode, inputShape, dilations } = attrs as unknown as DepthwiseConv2dNativeBackpropInputAttrs;
  check(backend_util.tupleValuesAreOne(dilations ?? 1), 'depthwise conv gradients need dilation 1');
  requireFloat(dy, DepthwiseConv2dNativeBackpropInput);
  const info = convInfo(inputShape, filter.shape, strides, pad, dimRoundingMode, true);
  const { batchSize: n, inHeight: h, inWidth: w, inChannels: c, outHeight: ho, outWidth: wo, strideHeight: sh, strideWidth: sw } = info;
  const [kh, kw, , m] = filter.shape as [number, number, number, number];
  const ph = phasePlan(kh, sh, info.padInfo.top, h, ho);
  const pw = phasePlan(kw, sw, info.padInfo.left, w, wo);
  const p = sh * sw;

  // f[u,v,k,ph] = w[(Th-1-u)*sh+rh, (Tw-1-v)*sw+rw, k/m, k%m] for dy channel k = c*m + q.
  const f = b.makeOutput([ph.taps, pw.taps, c * m, p], 'float32');
  {
    const heap = heapOf(b, f);
    const fo = at(b, f), wo0 = at(b, filter), cm = c * m;
    heap.fill(0, fo, fo + ph.taps * pw.taps * cm * p);
    for (let u = 0; u < ph.taps; u++) for (let v = 0; v < pw.taps; v++) {
      for (let rh = 0; rh < sh; rh++) for (let rw = 0; rw < sw; rw++) {
        const a = (ph.taps - 1 - u) * sh + rh, bb = (pw.taps - 1 - v) * sw + rw;
        if (a >= kh || bb >= kw) continue;
        const dst = fo + (u * pw.taps + v) * cm * p + rh * sw + rw;
        const src = wo0 + (a * kw + bb) * cm; // filter [kh,kw,C,m] is also [kh,kw,C*m]
        for (let k = 0; k < cm; k++) heap[dst + k * p] = heap[src + k];
      }
    }
  }
  const y = convWithPads(b, DepthwiseConv2dNative, dy, f, ph.before, ph.after, pw.before, pw.after, [1, 1]);
  free(b, f);
  let z = y; // [N,Qh,Qw,C*m*P], channel (c, q, phase)
  if (m > 1) {
    z = call(b, Sum, { x: { ...y, shape: [n * ph.count * pw.count * c, m, p] } }, { axis: [1], keepDims: false });
    free(b, y);
  }
  // Channel-major (c, phase) -> phase-major (phase, c), then the dense interleave.
  const zs = { ...z, shape: [n * ph.count * pw.count, c, p] };
  const t = call(b, Transpose, { x: zs }, { perm: [0, 2, 1] });
  free(b, z);
  const ts = { ...t, shape: [n, ph.count, pw.count, p * c] };
  const dx = p === 1 ? t : interleavePhases(b, ts, sh, sw, c, ph.offset, pw.offset, h, w);
  if (dx !== t) free(b, t);
  return { ...dx, shape: [n, h, w, c] };
}

// ---------------------------------------------------------------- data movement

/** A whole-heap view typed like t (float32/int32/bool) and t's first element index in it. */
function heapTyped(b: BackendWasm, t: TensorInfo): { heap: backend_util.TypedArray; base: number } {
  const view = b.typedArrayFromHeap(t);
  const Ctor = view.constructor as new (buffer: ArrayBufferLike) => backend_util.TypedArray;
  return { heap: new Ctor(view.buffer), base: b.dataIdMap.get(t.dataId)!.memoryOffset / view.BYTES_PER_ELEMENT };
}

/**
 * x[begin : begin + size] straight from the heap, one copyWithin per contiguous
 * run. The stock wasm Slice first copies ALL of x out of the heap (readSync),
 * and SplitV (the gradient of every Concatenate) does that once per part.
 */
function sliceHeap(b: BackendWasm, x: TensorInfo, begin: number[], size: number[]): TensorInfo {
  const out = b.makeOutput(size, x.dtype);
  const total = util.sizeFromShape(size);
  if (total === 0) return out;
  const { heap, base: xBase } = heapTyped(b, x);
  const oBase = heapTyped(b, out).base;
  const strides = [...util.computeStrides(x.shape), 1];
  // Axes inside the innermost partial one are whole, so that axis and everything in it is one run.
  let k = x.shape.length - 1;
  while (k > 0 && size[k] === x.shape[k]) k--;
  const run = size[k] * strides[k];
  const idx = new Array<number>(k).fill(0);
  let src0 = begin[k] * strides[k];
  for (let d = 0; d < k; d++) src0 += begin[d] * strides[d];
  for (let dst = oBase, src = src0; dst < oBase + total; dst += run) {
    heap.copyWithin(dst, xBase + src, xBase + src + run);
    // odometer over the outer axes 0..k-1
    for (let d = k - 1; d >= 0; d--) {
      src += strides[d];
      if (++idx[d] < size[d]) break;
      src -= size[d] * strides[d];
      idx[d] = 0;
    }
  }
  return out;
}

function slice({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const { x } = inputs as { x: TensorInfo };
  if (x.dtype === 'string' || x.shape.length === 0) return stockKernel(Slice)({ inputs, backend, attrs }) as TensorInfo;
  const { begin, size } = attrs as unknown as SliceAttrs;
  const [b0, s0] = slice_util.parseSliceParams(x, begin, size);
  return sliceHeap(backend as BackendWasm, x, b0, s0);
}

function splitV({ inputs, backend, attrs }: KernelArgs): TensorInfo[] {
  const { x } = inputs as { x: TensorInfo };
  if (x.dtype === 'string' || x.shape.length === 0) return stockKernel(SplitV)({ inputs, backend, attrs }) as TensorInfo[];
  const { numOrSizeSplits, axis } = attrs as unknown as SplitVAttrs;
  const ax = util.parseAxisParam(axis, x.shape)[0];
  const begin = x.shape.map(() => 0);
  return backend_util.prepareSplitSize(x, numOrSizeSplits, ax).map((part) => {
    const size = x.shape.slice();
    size[ax] = part;
    const out = sliceHeap(backend as BackendWasm, x, begin, size);
    begin[ax] += part;
    return out;
  });
}

/**
 * Tile by doubling copies: fill one copy of each axis block, then replicate it
 * with copyWithin of 1, 2, 4... blocks. The stock kernel is a per-element loop,
 * and BatchNormalization's gradient tiles a [C] vector to the full activation
 * size every step (it was ~13% of a small U-Net's training step).
 */
function tile({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const b = backend as BackendWasm;
  const { x } = inputs as { x: TensorInfo };
  if (x.dtype === 'string' || x.shape.length === 0) return stockKernel(Tile)({ inputs, backend, attrs }) as TensorInfo;
  const { reps } = attrs as unknown as TileAttrs;
  const shape = x.shape;
  const outShape = shape.map((d, i) => d * reps[i]);
  const out = b.makeOutput(outShape, x.dtype);
  if (util.sizeFromShape(outShape) === 0) return out;
  const { heap, base: xBase } = heapTyped(b, x);
  const oBase = heapTyped(b, out).base;
  const xs = [...util.computeStrides(shape), 1];
  const os = [...util.computeStrides(outShape), 1];
  const last = shape.length - 1;
  const fill = (d: number, xo: number, oo: number): void => {
    if (d === last) heap.copyWithin(oo, xo, xo + shape[d]);
    else for (let i = 0; i < shape[d]; i++) fill(d + 1, xo + i * xs[d], oo + i * os[d]);
    const total = shape[d] * os[d] * reps[d];
    for (let done = shape[d] * os[d]; done < total;) {
      const n = Math.min(done, total - done);
      heap.copyWithin(oo + done, oo, oo + n);
      done += n;
    }
  };
  fill(0, xBase, oBase);
  return out;
}

// ---------------------------------------------------------------- others

/** Gather's gradient: out[id] += x[i] for each segment id, in plain JS (it is memory-bound anyway). */
function unsortedSegmentSum({ inputs, backend, attrs }: KernelArgs): TensorInfo {
  const b = backend as BackendWasm;
  const { x, segmentIds } = inputs as { x: TensorInfo; segmentIds: TensorInfo };
  const { numSegments } = attrs as unknown as UnsortedSegmentSumAttrs;
  check(x.dtype === 'float32' || x.dtype === 'int32', `UnsortedSegmentSum on wasm supports float32/int32, got ${x.dtype}`);
  const rows = util.sizeFromShape(segmentIds.shape);
  const inner = rows === 0 ? 0 : util.sizeFromShape(x.shape) / rows;
  const out = b.makeOutput([numSegments, ...x.shape.slice(segmentIds.shape.length)], x.dtype);
  const o = b.typedArrayFromHeap(out);
  const xv = b.typedArrayFromHeap(x);
  const ids = b.typedArrayFromHeap(segmentIds);
  o.fill(0);
  for (let i = 0; i < rows; i++) {
    const id = ids[i];
    if (id < 0 || id >= numSegments) continue; // TF drops out-of-range ids
    const d = id * inner, s = i * inner;
    for (let k = 0; k < inner; k++) o[d + k] += xv[s + k];
  }
  return out;
}

const kernels: Record<string, KernelFunc> = {
  [Conv2DBackpropFilter]: conv2dBackpropFilter,
  [Conv2DBackpropInput]: conv2dBackpropInput,
  [DepthwiseConv2dNativeBackpropFilter]: depthwiseBackpropFilter,
  [DepthwiseConv2dNativeBackpropInput]: depthwiseBackpropInput,
  [UnsortedSegmentSum]: unsortedSegmentSum,
  [Slice]: slice,
  [SplitV]: splitV,
  [Tile]: tile,
};

/**
 * Registers (once; later calls only update options) the kernels above for backend 'wasm',
 * replacing the stock Conv2DBackpropInput, Slice, SplitV and Tile. Call it any time after
 * importing @tensorflow/tfjs-backend-wasm, before or after the backend is ready.
 */
export function registerWasmTrainingKernels(opts: WasmTrainingOptions = {}): void {
  if (opts.preferStockWhenCheaper !== undefined) options.preferStockWhenCheaper = opts.preferStockWhenCheaper;
  for (const needed of [Conv2D, Transpose, DepthwiseConv2dNative, Sum, Slice, SplitV, Tile]) {
    if (getKernel(needed, BACKEND) === undefined) {
      throw new TintaError(ErrorCodes.BACKEND_UNAVAILABLE, `wasm kernel ${needed} is missing; import @tensorflow/tfjs-backend-wasm before registering training kernels`);
    }
  }
  for (const [name, kernelFunc] of Object.entries(kernels)) {
    const current = getKernel(name, BACKEND);
    if (current?.kernelFunc === kernelFunc) continue;
    if (current !== undefined) {
      if (!stock.has(name)) stock.set(name, current);
      unregisterKernel(name, BACKEND); // re-registering would only log a warning
    }
    // Keep the stock setup (its cwrap) so the fallbacks work even if the backend initialises later.
    const original = stock.get(name);
    registerKernel({ kernelName: name, backendName: BACKEND, kernelFunc, setupFunc: original?.setupFunc, disposeFunc: original?.disposeFunc });
  }
}

/** The wasm backend's original kernel of that name (before registerWasmTrainingKernels replaced it), for comparisons. */
export function stockWasmKernel(name: string): KernelConfig | undefined {
  if (stock.has(name)) return stock.get(name);
  const current = getKernel(name, BACKEND);
  return current !== undefined && current.kernelFunc !== kernels[name] ? current : undefined;
}
