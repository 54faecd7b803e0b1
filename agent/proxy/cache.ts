// The proxy's HTTP cache is undici's own (RFC 9111: Cache-Control incl. s-maxage and
// private for a shared cache, Vary, validation with ETag / Last-Modified, Age) over its
// in-memory store, bounded by proxy.cache.maxMiB — no cache logic of our own. The store
// is wrapped only to hand each hit's stored chunks over as a CachedBody (cached-body.ts)
// instead of letting the interceptor build a Readable.from() per hit.
import type { Writable } from 'node:stream';
import { cacheStores, interceptors, type Dispatcher } from 'undici';
import { CachedBody } from './cached-body.js';
import type { ProxyConfig } from './config.js';

const MiB = 1_048_576;

export interface ProxyCache {
  /** The dispatcher to send requests through (the cache in front of `inner`, or `inner` when disabled). */
  dispatcher: Dispatcher;
  size(): number;
  maxBytes: number;
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
  return { dispatcher, size: () => (store as unknown as { size: number }).size, maxBytes };
}
