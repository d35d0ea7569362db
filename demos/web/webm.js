// A small WebM (Matroska) writer for the video tab's download: one video track of VP8 or VP9
// frames that WebCodecs encoded, each at its exact timestamp. MediaRecorder would stamp frames
// with the wall clock, which is wrong when colorizing is slower than the video (see encode.js).
// Layout: EBML header, then a Segment of Info, Tracks, Cues and one Cluster per keyframe.

const te = new TextEncoder();

// Element IDs (their length marker is part of the ID, as in the Matroska spec).
const ID = {
  EBML: 0x1a45dfa3, EBMLVersion: 0x4286, EBMLReadVersion: 0x42f7, EBMLMaxIDLength: 0x42f2, EBMLMaxSizeLength: 0x42f3,
  DocType: 0x4282, DocTypeVersion: 0x4287, DocTypeReadVersion: 0x4285,
  Segment: 0x18538067, Info: 0x1549a966, TimecodeScale: 0x2ad7b1, Duration: 0x4489, MuxingApp: 0x4d80, WritingApp: 0x5741,
  Tracks: 0x1654ae6b, TrackEntry: 0xae, TrackNumber: 0xd7, TrackUID: 0x73c5, TrackType: 0x83, FlagLacing: 0x9c,
  DefaultDuration: 0x23e383, CodecID: 0x86, Video: 0xe0, PixelWidth: 0xb0, PixelHeight: 0xba,
  Cues: 0x1c53bb6b, CuePoint: 0xbb, CueTime: 0xb3, CueTrackPositions: 0xb7, CueTrack: 0xf7, CueClusterPosition: 0xf1,
  Cluster: 0x1f43b675, Timecode: 0xe7, SimpleBlock: 0xa3,
};

/** Big-endian bytes of a non-negative integer, `len` bytes (default: as few as it needs, at least 1). */
function uintBytes(n, len) {
  let k = len ?? 1;
  if (len === undefined) while (k < 8 && n >= 2 ** (8 * k)) k++;
  const out = new Uint8Array(k);
  for (let i = k - 1, v = n; i >= 0; i--, v = Math.floor(v / 256)) out[i] = v % 256;
  return out;
}

/** An EBML variable-length size: the shortest form (all-ones values are reserved for "unknown"). */
function sizeBytes(n) {
  let len = 1;
  while (len < 8 && n >= 2 ** (7 * len) - 1) len++;
  const out = uintBytes(n, len);
  out[0] |= 0x80 >> (len - 1);
  return out;
}

const idBytes = (id) => uintBytes(id);
const byteLength = (parts) => parts.reduce((s, p) => s + p.length, 0);

/** An element as a list of byte arrays (kept apart so frame data is never copied). */
function element(id, children) {
  return [idBytes(id), sizeBytes(byteLength(children)), ...children];
}

const uintEl = (id, n, len) => element(id, [uintBytes(n, len)]);
const strEl = (id, s) => element(id, [te.encode(s)]);
function floatEl(id, x) {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setFloat64(0, x);
  return element(id, [b]);
}

/**
 * The parts of a WebM file (for `new Blob(parts, { type: 'video/webm' })`).
 * `frames`: [{ data: Uint8Array, timestamp (µs), key: boolean }] in decode order, the first a keyframe;
 * `codec`: 'vp8' or 'vp9'; `frameDuration` in µs (the last frame's length, and the track's frame rate).
 */
export function webmParts({ width, height, codec, frames, frameDuration }) {
  if (!frames.length || !frames[0].key) throw new Error('a WebM file needs frames, the first one a keyframe');
  const codecId = { vp8: 'V_VP8', vp9: 'V_VP9' }[codec];
  if (!codecId) throw new Error(`unsupported codec ${codec}`);
  const ms = (us) => Math.round(us / 1000);

  const header = element(ID.EBML, [
    ...uintEl(ID.EBMLVersion, 1), ...uintEl(ID.EBMLReadVersion, 1), ...uintEl(ID.EBMLMaxIDLength, 4), ...uintEl(ID.EBMLMaxSizeLength, 8),
    ...strEl(ID.DocType, 'webm'), ...uintEl(ID.DocTypeVersion, 4), ...uintEl(ID.DocTypeReadVersion, 2),
  ]);
  const last = frames[frames.length - 1];
  const info = element(ID.Info, [
    ...uintEl(ID.TimecodeScale, 1_000_000), // timecodes in milliseconds
    ...floatEl(ID.Duration, (last.timestamp + frameDuration) / 1000),
    ...strEl(ID.MuxingApp, 'tinta demo'), ...strEl(ID.WritingApp, 'tinta demo'),
  ]);
  const tracks = element(ID.Tracks, element(ID.TrackEntry, [
    ...uintEl(ID.TrackNumber, 1), ...uintEl(ID.TrackUID, 1), ...uintEl(ID.TrackType, 1), ...uintEl(ID.FlagLacing, 0),
    ...uintEl(ID.DefaultDuration, Math.round(frameDuration * 1000)), ...strEl(ID.CodecID, codecId),
    ...element(ID.Video, [...uintEl(ID.PixelWidth, width), ...uintEl(ID.PixelHeight, height)]),
  ]));

  // A cluster starts at every keyframe, and before a block's time offset would overflow its int16.
  const clusters = [];
  for (const f of frames) {
    const t = ms(f.timestamp);
    const open = clusters[clusters.length - 1];
    if (!open || f.key || t - open.time > 32_767) clusters.push({ time: t, blocks: [] });
    const c = clusters[clusters.length - 1];
    const head = new Uint8Array(4);
    head[0] = 0x81; // track 1
    new DataView(head.buffer).setInt16(1, t - c.time);
    head[3] = f.key ? 0x80 : 0;
    c.blocks.push(...element(ID.SimpleBlock, [head, f.data]));
  }
  const clusterParts = clusters.map((c) => element(ID.Cluster, [...uintEl(ID.Timecode, c.time), ...c.blocks]));

  // Cues (one per cluster) before the clusters, so players can seek at once. Positions are
  // fixed 8-byte numbers, so the Cues' size is known before the positions are.
  const cues = (positions) => element(ID.Cues, clusters.flatMap((c, i) => element(ID.CuePoint, [
    ...uintEl(ID.CueTime, c.time),
    ...element(ID.CueTrackPositions, [...uintEl(ID.CueTrack, 1), ...uintEl(ID.CueClusterPosition, positions[i], 8)]),
  ])));
  let at = byteLength(info) + byteLength(tracks) + byteLength(cues(clusters.map(() => 0)));
  const positions = clusterParts.map((p) => {
    const here = at;
    at += byteLength(p);
    return here; // relative to the start of the Segment's data, as Matroska wants
  });
  const segment = element(ID.Segment, [...info, ...tracks, ...cues(positions), ...clusterParts.flat()]);
  return [...header, ...segment];
}
