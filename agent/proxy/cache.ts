// The proxy's HTTP cache is undici's own (RFC 9111: Cache-Control incl. s-maxage and
// private for a shared cache, Vary, validation with ETag / Last-Modified, Age) over its
// in-memory store, bounded by proxy.cache.maxMiB — no cache logic of our own.
import { cacheStores, interceptors, type Dispatcher } from 'undici';
import type { ProxyConfig } from './config.js';

const MiB = 1_048_576;

export interface ProxyCache {
  /** The dispatcher to send requests through (the cache in front of `inner`, or `inner` when disabled). */
  dispatcher: Dispatcher;
  size(): number;
  maxBytes: number;
}

export function createProxyCache(inner: Dispatcher, config: Readonly<ProxyConfig['cache']>): ProxyCache {
  const maxBytes = config.maxMiB * MiB;
  if (maxBytes === 0) return { dispatcher: inner, size: () => 0, maxBytes };
  const store = new cacheStores.MemoryCacheStore({
    maxSize: maxBytes,
    maxEntrySize: Math.min(maxBytes, config.maxEntryMiB * MiB),
    maxCount: config.maxEntries,
  });
  const dispatcher = inner.compose(interceptors.cache({ store, methods: ['GET'], type: 'shared' }));
  // `size` exists on the store (lib/cache/memory-cache-store.js) but not in its .d.ts.
  return { dispatcher, size: () => (store as unknown as { size: number }).size, maxBytes };
}
