// The fresh-hit fast path: the one case RFC 9111 §4.2 calls "fresh, serve as is",
// read straight from undici's own MemoryCacheStore (the instance its cache interceptor
// writes) without a dispatch through the interceptor. Nothing here stores, evicts,
// validates or matches Vary: the key is built with undici's own helpers (makeCacheKey,
// normalizeHeaders, exactly as lib/interceptor/cache.js does), the store's get() does
// the Vary match, and every case that is not plainly fresh returns undefined so the
// request takes the interceptor path. What is served (status, headers incl. `age`
// computed as the interceptor does, body) is what sendCachedValue would hand over.
import { createRequire } from 'node:module';
import type { cacheStores } from 'undici';

type MemoryStore = InstanceType<typeof cacheStores.MemoryCacheStore>;
type HeaderValue = string | string[] | undefined;
type Headers = Record<string, HeaderValue>;

interface CacheKey { origin: string; method: string; path: string; headers: Record<string, string | string[]> }
interface StoredResult {
  statusCode: number;
  statusMessage: string;
  headers: Record<string, string | string[]>;
  body?: unknown;
  cacheControlDirectives?: Record<string, unknown>;
  cachedAt: number;
  staleAt: number;
  deleteAt: number;
}

const require = createRequire(import.meta.url);
// undici's package.json has no "exports" map: its internal helpers load like any module file.
const undiciCache = require('undici/lib/util/cache.js') as {
  makeCacheKey(opts: { origin: string; method: string; path: string; headers: Headers }): CacheKey;
  normalizeHeaders(opts: { headers: Headers }): Record<string, string | string[]>;
};

export interface FreshHit {
  statusCode: number;
  statusMessage: string;
  /** The stored headers plus `age`, in the interceptor's order ({ ...stored, age }). */
  headers: Record<string, string | string[]>;
  chunks: readonly Buffer[];
  /** Body bytes (bytesFromCache). */
  bytes: number;
}

/** Request fields that make the interceptor (or RFC 9111) do more than serve a fresh entry as is. */
function requestNeedsInterceptor(h: Headers): boolean {
  if (h['cache-control'] !== undefined || h.pragma !== undefined || h.authorization !== undefined || h.range !== undefined) return true;
  for (const k in h) if (k.charCodeAt(0) === 105 /* i */ && k.charCodeAt(1) === 102 /* f */ && k.charCodeAt(2) === 45 /* - */) return true;
  return false;
}

/**
 * The stored response when a shared cache may serve it without contacting the origin
 * (RFC 9111 §4.2) and undici's interceptor would serve it the same way; else undefined.
 * `clientHeaders`: the client's request fields (for the exclusions); `upstreamHeaders`:
 * the fields the interceptor would see (its Vary match reads them).
 */
export function freshHit(store: MemoryStore, origin: string, path: string, clientHeaders: Headers, upstreamHeaders: Headers): FreshHit | undefined {
  if (requestNeedsInterceptor(clientHeaders)) return undefined;
  const key = undiciCache.makeCacheKey({ origin, method: 'GET', path, headers: undiciCache.normalizeHeaders({ headers: upstreamHeaders }) });
  const result = store.get(key) as StoredResult | undefined;
  if (!result || !Array.isArray(result.body)) return undefined;
  // The interceptor drops a shared entry with Set-Cookie (and deletes it): its path.
  if (Object.hasOwn(result.headers, 'set-cookie')) return undefined;
  const now = Date.now();
  if (now > result.deleteAt || now >= result.staleAt) return undefined;
  const cc = result.cacheControlDirectives ?? {};
  // no-cache (qualified or not), no-store, private: never served without the interceptor.
  if (cc['no-cache'] !== undefined || cc['no-store'] !== undefined || cc.private !== undefined) return undefined;
  const age = Math.round((now - result.cachedAt) / 1000);
  const chunks = result.body as Buffer[];
  let bytes = 0;
  for (const c of chunks) bytes += c.length;
  return {
    statusCode: result.statusCode,
    statusMessage: result.statusMessage,
    headers: { ...result.headers, age: String(age) },
    chunks,
    bytes,
  };
}
