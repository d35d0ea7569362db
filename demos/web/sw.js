// The web demo's service worker: on install it stores the page, the SDK, ONNX Runtime's files and
// the model in a cache named by their version; then it answers from that cache first, so the demo
// works offline after the first visit. Its scope is '/', so the SDK's module worker and ORT's
// thread workers (under /dist/ and /ort/) are served from the cache too.

// The demo server (demos/serve.ts, demos/precache.ts) replaces the next line with the real list.
const PRECACHE = { version: 'unbuilt', urls: [] };
const CACHE = `tinta-demo-${PRECACHE.version}`;

self.addEventListener('install', (event) => {
  event.waitUntil(
    (async () => {
      const cache = await caches.open(CACHE);
      // All or nothing: addAll fails (and so does the install) if any file is missing.
      await cache.addAll(PRECACHE.urls.map((url) => new Request(url, { cache: 'reload' })));
      await self.skipWaiting();
    })(),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) {
        if (key.startsWith('tinta-demo-') && key !== CACHE) await caches.delete(key);
      }
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  // Range requests (media) and other origins go to the network untouched.
  if (request.method !== 'GET' || url.origin !== self.location.origin || request.headers.has('range')) return;
  event.respondWith(
    (async () => {
      const cache = await caches.open(CACHE);
      // Pages are stored without their query (?backend=wasm opens the same page).
      const hit = await cache.match(request, { ignoreSearch: request.mode === 'navigate' });
      if (hit) return hit;
      const response = await fetch(request);
      // Files first used later (another model, the embed demo) are kept for next time.
      if (response.ok && response.type === 'basic' && url.pathname !== '/sw.js') {
        event.waitUntil(cache.put(request, response.clone()).catch(() => undefined));
      }
      return response;
    })(),
  );
});
