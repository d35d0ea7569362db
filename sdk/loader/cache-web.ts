/** A model cache on the Cache API (browsers, Deno): one Response per model URL. */
import type { ModelCache } from './cache.ts';

/** Name of the Cache API cache tinta uses. */
export const WEB_CACHE_NAME = 'tinta-models';

/** A ModelCache in the Cache API cache `name`. */
export function cacheApiCache(name: string = WEB_CACHE_NAME): ModelCache {
  let opened: Promise<Cache> | undefined;
  const open = (): Promise<Cache> => (opened ??= caches.open(name));
  return {
    async match(key: string): Promise<Uint8Array | undefined> {
      const res = await (await open()).match(key);
      return res ? new Uint8Array(await res.arrayBuffer()) : undefined;
    },
    async put(key: string, bytes: Uint8Array): Promise<void> {
      // Cache.put stores the whole response or nothing.
      const body = new Uint8Array(bytes); // a copy: the Response may outlive a transferred buffer
      await (await open()).put(key, new Response(body, { headers: { 'content-type': 'application/octet-stream' } }));
    },
  };
}
