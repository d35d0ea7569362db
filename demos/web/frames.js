// Frames from a <video> element, at a chosen rate and size, as ImageData. Two ways:
// - 'play': the video plays (muted) and requestVideoFrameCallback hands over each frame the
//   browser presents; the video pauses while a frame is being colorized (back-pressure). Fast on
//   long videos: frames are decoded in order once. A sample time whose frame went by unseen (the
//   callback came late on a busy page, or the source has fewer frames than asked) is sought.
// - 'seek': currentTime is set for each frame and 'seeked' awaited. Deterministic, works in
//   every browser, but each seek decodes from the last keyframe (slow on long-GOP files).
// Frame i is the one on screen at (i + 0.5) / fps when seeking, and the first one presented in
// [(i - 0.5) / fps, (i + 0.5) / fps) when playing: both give frame i of a video made at that rate,
// even when its timestamps jitter by up to half a frame (as MediaRecorder's do).

/** The frame size for a video of w x h shrunk to `maxSide` (never enlarged), both sides even (video codecs want that). */
export function frameSize(w, h, maxSide) {
  const scale = Math.min(1, maxSide / Math.max(w, h));
  const even = (x) => Math.max(2, 2 * Math.round((x * scale) / 2));
  return { width: even(w), height: even(h) };
}

function once(target, event, signal) {
  return new Promise((resolve, reject) => {
    const done = (e) => {
      target.removeEventListener(event, done);
      target.removeEventListener('error', failed);
      signal?.removeEventListener('abort', aborted);
      resolve(e);
    };
    const failed = () => {
      target.removeEventListener(event, done);
      signal?.removeEventListener('abort', aborted);
      reject(new Error(`the video could not be read (${target.error?.message || 'decode error'})`));
    };
    const aborted = () => {
      target.removeEventListener(event, done);
      target.removeEventListener('error', failed);
      reject(signal.reason);
    };
    target.addEventListener(event, done, { once: true });
    target.addEventListener('error', failed, { once: true });
    signal?.addEventListener('abort', aborted, { once: true });
  });
}

async function seek(video, t, signal) {
  const seeked = once(video, 'seeked', signal);
  video.currentTime = t;
  await seeked;
}

/** The video's duration in seconds. Files recorded live (MediaRecorder) may say Infinity until the browser has seen their end. */
export async function knownDuration(video, signal) {
  if (Number.isFinite(video.duration)) return video.duration;
  await seek(video, 1e7, signal); // the browser clamps this to the real end and learns the duration
  if (!Number.isFinite(video.duration)) throw new Error('the video has no known length (a live stream?)');
  return video.duration;
}

/**
 * Draws the video's current frame at width x height. On a busy machine a seek can complete before
 * its frame is decoded, and drawing then draws nothing (the canvas stays transparent; video frames
 * are opaque), so it draws again until the frame is there, for up to `timeoutMs`.
 */
function grabber(video, width, height, signal, timeoutMs = 20_000) {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  return async () => {
    const t0 = performance.now();
    for (;;) {
      if (video.readyState >= HTMLMediaElement.HAVE_CURRENT_DATA) {
        ctx.clearRect(0, 0, width, height);
        ctx.drawImage(video, 0, 0, width, height);
        const image = ctx.getImageData(0, 0, width, height);
        if (image.data[3] !== 0) return image;
      }
      signal?.throwIfAborted();
      if (video.error) throw new Error(`the video could not be read (${video.error.message || 'decode error'})`);
      if (performance.now() - t0 > timeoutMs) throw new Error(`the frame at ${video.currentTime.toFixed(3)} s was not decoded within ${timeoutMs / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  };
}

async function* seekFrames(video, { fps, count, duration, width, height, signal }, stats) {
  const grab = grabber(video, width, height, signal);
  for (let i = 0; i < count; i++) {
    // Stay just inside the end: seeking to the duration itself may show nothing new.
    await seek(video, Math.min((i + 0.5) / fps, Math.max(0, duration - 1e-3)), signal);
    stats.sought++;
    yield { index: i, time: video.currentTime, image: await grab() };
  }
}

/** Plays `video` until the browser presents a new frame, then pauses on it: that frame's metadata, or null at the end. */
function nextPresented(video) {
  return new Promise((resolve, reject) => {
    let handle = 0;
    const ended = () => {
      video.cancelVideoFrameCallback(handle);
      resolve(null);
    };
    video.addEventListener('ended', ended, { once: true });
    handle = video.requestVideoFrameCallback((_now, meta) => {
      video.removeEventListener('ended', ended);
      // Pause before anything else: this frame stays on screen while it is drawn and colorized.
      video.pause();
      resolve(meta);
    });
    video.play().catch(reject);
  });
}

async function* playFrames(video, { fps, count, duration, width, height, signal }, stats) {
  const grab = grabber(video, width, height, signal);
  const bySeeking = async (i) => {
    await seek(video, Math.min((i + 0.5) / fps, Math.max(0, duration - 1e-3)), signal);
    stats.sought++;
    return { index: i, time: video.currentTime, image: await grab() };
  };
  // The frame on screen at 0 is never announced by requestVideoFrameCallback: take it by seeking.
  yield await bySeeking(0);
  let index = 1;
  try {
    while (index < count && !video.ended) { // play() on an ended video would start it over
      signal?.throwIfAborted();
      const meta = await nextPresented(video);
      if (!meta) break;
      if (meta.mediaTime < (index - 0.5) / fps) continue;
      if (meta.mediaTime < (index + 0.5) / fps) {
        stats.played++;
        yield { index: index++, time: meta.mediaTime, image: await grab() };
      } else {
        // This frame is past sample time `index`: its frame went by unseen (the page was busy and
        // the callback came late, or the source has fewer frames than the chosen rate). Seek to it.
        yield await bySeeking(index++);
      }
    }
    // Sample times after the last frame presented (the video ended first).
    while (index < count) yield await bySeeking(index++);
  } finally {
    video.pause();
  }
}

/**
 * Frames of `video` (metadata loaded) at `fps`, `width` x `height`: { mode, count, duration,
 * frames, stats } where `frames` yields `count` frames { index, time, image } in order and
 * `stats` counts those taken while playing and by seeking. mode 'auto' plays where
 * requestVideoFrameCallback exists, else seeks.
 */
export async function videoFrames(video, { mode = 'auto', fps, width, height, signal }) {
  const duration = await knownDuration(video, signal);
  const count = Math.max(1, Math.ceil(duration * fps - 1e-3));
  const canPlay = 'requestVideoFrameCallback' in HTMLVideoElement.prototype;
  const used = mode === 'seek' || !canPlay ? 'seek' : 'play';
  const o = { fps, count, duration, width, height, signal };
  const stats = { played: 0, sought: 0 };
  return { mode: used, count, duration, stats, frames: used === 'seek' ? seekFrames(video, o, stats) : playFrames(video, o, stats) };
}
