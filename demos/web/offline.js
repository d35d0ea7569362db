// Offline use: registers the service worker (sw.js, scope '/', so it also serves the SDK's worker
// and ONNX Runtime's files) and says so once it controls the page. A service worker only becomes
// active after its install step has stored every file, so "ready" means the cache is complete.

/** Registers /sw.js and reports progress in `el` (data-ready="true" once offline use works). */
export async function registerOffline(el) {
  if (!('serviceWorker' in navigator)) {
    el.textContent = 'Offline use needs a secure page (https:// or localhost).';
    return;
  }
  try {
    el.textContent = 'Offline use: storing the page, the SDK and the model…';
    const registration = await navigator.serviceWorker.register('/sw.js', { scope: '/' });
    // An install that fails (a file could not be stored) ends 'redundant' and never becomes ready.
    const installing = registration.installing;
    installing?.addEventListener('statechange', () => {
      if (installing.state === 'redundant' && !navigator.serviceWorker.controller) {
        el.textContent = 'Offline use is unavailable: storing the files failed (see the console).';
      }
    });
    await navigator.serviceWorker.ready;
    if (!navigator.serviceWorker.controller) {
      await new Promise((resolve) => navigator.serviceWorker.addEventListener('controllerchange', resolve, { once: true }));
    }
    el.textContent = '✓ ready for offline use';
    el.dataset.ready = 'true';
  } catch (e) {
    el.textContent = `Offline use is unavailable: ${e?.message ?? e}`;
  }
}
