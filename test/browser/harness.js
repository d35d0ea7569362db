// Runs in the browser (test pages, direct and Vite-built): loads a colorizer with the options the
// test passes, colorizes the fixture photo (raw RGBA) and returns what the test checks, with the
// output pixels as base64. Plain JavaScript: served as is, and bundled as is by Vite.

function toBase64(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Colorizes the fixture photo (raw RGBA, width x height) with createColorizer(options). */
export async function run(createColorizer, { width, height, ...options }) {
  const events = [];
  const t0 = performance.now();
  let colorizer;
  try {
    colorizer = await createColorizer({ model: '/fixture/model.onnx', cache: false, ...options, onProgress: (e) => events.push(e) });
  } catch (e) {
    return { error: { name: e?.name, code: e?.code, message: String(e?.message ?? e) }, events };
  }
  const loadMs = performance.now() - t0;
  try {
    const res = await fetch(`/fixture/photo-${width}x${height}.rgba`);
    const data = new Uint8ClampedArray(await res.arrayBuffer());
    const t1 = performance.now();
    const r = await colorizer.colorize({ data, width, height });
    const colorizeMs = performance.now() - t1;
    return {
      provider: colorizer.provider,
      resultProvider: r.provider,
      inWorker: colorizer.inWorker,
      width: r.width,
      height: r.height,
      rgba: toBase64(new Uint8Array(r.rgba().buffer, r.rgba().byteOffset, r.rgba().byteLength)),
      imageData: r.toImageData() instanceof ImageData,
      crossOriginIsolated: globalThis.crossOriginIsolated === true,
      events,
      ms: { load: loadMs, colorize: colorizeMs },
    };
  } catch (e) {
    return { error: { name: e?.name, code: e?.code, message: String(e?.message ?? e) }, events };
  } finally {
    await colorizer.dispose();
  }
}
