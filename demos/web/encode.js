// The video tab's download: colorized frames encoded with WebCodecs (VP8, else VP9) as they come,
// each stamped index / fps, and written as WebM (webm.js). Why not MediaRecorder on the canvas's
// captureStream(): it stamps frames with the wall clock, so a video colorized at 2 frames/s would
// play at that speed, and pacing a replay in real time on a busy page gives uneven frames. Here
// the timing is exact, encoding runs as fast as the encoder can, and only the small encoded
// frames are kept in memory. Needs VideoEncoder (Chromium 94+, Firefox 130+, Safari 26+).
import { webmParts } from './webm.js';

// Codec strings WebCodecs knows, in order of preference, with WebM's name for each.
const CODECS = [['vp8', 'vp8'], ['vp09.00.10.08', 'vp9']];

/** Why WebM cannot be written here, or null when it can. */
export async function webmUnsupported(width, height) {
  if (typeof VideoEncoder === 'undefined') return 'this browser has no WebCodecs VideoEncoder';
  for (const [codec] of CODECS) {
    const r = await VideoEncoder.isConfigSupported({ codec, width, height }).catch(() => null);
    if (r?.supported) return null;
  }
  return 'this browser encodes neither VP8 nor VP9';
}

/** A WebM encoder of width x height frames at `fps`: add(source, index) each frame in order, then finish() -> Blob. */
export async function openWebmEncoder({ width, height, fps }) {
  const frameDuration = 1e6 / fps; // µs
  let chosen = null;
  for (const [codec, name] of CODECS) {
    // Enough bits that the small frames of the demo keep their colours (about 0.5 bit per pixel).
    const config = { codec, width, height, framerate: fps, bitrate: Math.max(1_000_000, Math.round(width * height * fps * 0.5)), latencyMode: 'quality' };
    const r = await VideoEncoder.isConfigSupported(config).catch(() => null);
    if (r?.supported) {
      chosen = { config, name };
      break;
    }
  }
  if (!chosen) throw new Error('this browser encodes neither VP8 nor VP9 (WebCodecs)');
  const chunks = [];
  let failure = null;
  const encoder = new VideoEncoder({
    output: (chunk) => {
      const data = new Uint8Array(chunk.byteLength);
      chunk.copyTo(data);
      chunks.push({ data, timestamp: chunk.timestamp, key: chunk.type === 'key' });
    },
    error: (e) => {
      failure = e;
    },
  });
  encoder.configure(chosen.config);
  // A keyframe every two seconds: each starts a cluster, so players can seek.
  const keyEvery = Math.max(1, Math.round(2 * fps));
  let added = 0;
  return {
    codec: chosen.name,
    /** Encodes `source` (a canvas, ImageBitmap or VideoFrame) as frame `index`. */
    add(source, index) {
      if (failure) throw failure;
      const frame = new VideoFrame(source, { timestamp: Math.round(index * frameDuration), duration: Math.round(frameDuration) });
      try {
        encoder.encode(frame, { keyFrame: added % keyEvery === 0 });
      } finally {
        frame.close();
      }
      added++;
    },
    /** Frames added so far. */
    get frames() {
      return added;
    },
    /** Waits for the encoder and returns the WebM file. */
    async finish() {
      if (encoder.state !== 'closed') await encoder.flush();
      if (failure) throw failure;
      if (chunks.length === 0) throw new Error('no frames were encoded');
      chunks.sort((a, b) => a.timestamp - b.timestamp);
      return new Blob(webmParts({ width, height, codec: chosen.name, frames: chunks, frameDuration }), { type: 'video/webm' });
    },
    close() {
      if (encoder.state !== 'closed') encoder.close();
    },
  };
}
