// The proxy's HTTP cache is undici's own (RFC 9111: Cache-Control incl. s-maxage and
// private for a shared cache, Vary, validation with ETag / Last-Modified, Age) over its
// in-memory store, bounded by proxy.cache.maxMiB — no cache logic of our own. The store
// is wrapped only to hand each hit's stored chunks over as a CachedBody (cached-body.ts)
// instead of letting the interceptor build a Readable.from() per hit.
// With `cache.fastHits` (default on), `fresh()` reads the same store for the one case
// RFC 9111 §4.2 calls "fresh, serve as is" (fast-hit.ts): keys, Vary, storage, eviction,
// validation and every other case stay undici's interceptor's.
import type { Writable } from 'node:stream';
import { cacheStores, interceptors, type Dispatcher } from 'undici';
import { CachedBody } from './cached-body.js';
import type { ProxyConfig } from './config.js';
import { freshHit, type FreshHit } from './fast-hit.js';

const MiB = 1_048_576;

export interface ProxyCache {
  /** The dispatcher to send requests through (the cache in front of `inner`, or `inner` when disabled). */
  dispatcher: Dispatcher;
  size(): number;
  maxBytes: number;
  /** A fresh stored response for a plain GET (fast-hit.ts), undefined → dispatch; absent when disabled. */
  fresh?: (origin: string, path: string, clientHeaders: Record<string, string | string[] | undefined>, upstreamHeaders: Record<string, string | string[] | undefined>) => FreshHit | undefined;
}

type MemoryStore = InstanceType<typeof cacheStores.MemoryCacheStore>;
type CacheKey = Parameters<MemoryStore['get']>[0];
type CacheValue = Parameters<MemoryStore['createWriteStream']>[1];
type GetResult = Exclude<ReturnType<MemoryStore['get']>, Promise<unknown> | undefined>;

/** undici's MemoryCacheStore, its hits' bodies (arrays of Buffers) handed over as CachedBody. */
class FastBodyStore {
  constructor(readonly inner: MemoryStore) {}

  get(key: CacheKey): GetResult | undefined {
    const result = this.inner.get(key) as GetResult | undefined;
    if (result && Array.isArray(result.body)) result.body = new CachedBody(result.body as Buffer[]) as unknown as GetResult['body'];
    return result;
  }

  createWriteStream(key: CacheKey, value: CacheValue): Writable | undefined {
    return this.inner.createWriteStream(key, value);
  }

  delete(key: CacheKey): void | Promise<void> {
    return this.inner.delete(key);
  }
}

export function createProxyCache(inner: Dispatcher, config: Readonly<ProxyConfig['cache']>): ProxyCache {
  const maxBytes = config.maxMiB * MiB;
  if (maxBytes === 0) return { dispatcher: inner, size: () => 0, maxBytes };
  const store = new cacheStores.MemoryCacheStore({
    maxSize: maxBytes,
    maxEntrySize: Math.min(maxBytes, config.maxEntryMiB * MiB),
    maxCount: config.maxEntries,
  });
  const dispatcher = inner.compose(interceptors.cache({ store: new FastBodyStore(store), methods: ['GET'], type: 'shared' }));
  // `size` exists on the store (lib/cache/memory-cache-store.js) but not in its .d.ts.
  const size = (): number => (store as unknown as { size: number }).size;
  if (config.fastHits === false) return { dispatcher, size, maxBytes };
  const fresh: ProxyCache['fresh'] = (origin, path, clientHeaders, upstreamHeaders) => freshHit(store, origin, path, clientHeaders, upstreamHeaders);
  return { dispatcher, size, maxBytes, fresh };
}
