// Cache hits through undici's cache interceptor with the CachedBody hand-over
// (agent/proxy/cached-body.ts): a body stored as many chunks comes back whole and in
// order, a paused reader gets the rest on resume (backpressure), HEAD passes by the
// cache, an abort reports an error, and a revalidated (304) entry still replays its body.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool, type Dispatcher } from 'undici';
import { createProxyCache } from '../../agent/proxy/cache.js';

const BIG = Buffer.alloc(1 << 20);
for (let i = 0; i < BIG.length; i++) BIG[i] = i % 251;
let server: http.Server;
let pool: Pool;
let cache: Dispatcher;
let originHits = 0;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    originHits++;
    if (req.url === '/stale' && req.headers['if-none-match'] === '"s1"') { res.writeHead(304, { etag: '"s1"', 'cache-control': 'max-age=0' }); res.end(); return; }
    const cc = req.url === '/stale' ? 'max-age=0' : 'max-age=60';
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG.length, 'cache-control': cc, etag: '"s1"' });
    // Many small writes: the store keeps the body as many chunks.
    for (let off = 0; off < BIG.length; off += 16_384) res.write(BIG.subarray(off, off + 16_384));
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  cache = createProxyCache(pool, { maxMiB: 8, maxEntryMiB: 5, maxEntries: 100, fastHits: false }).dispatcher;
});

afterAll(async () => {
  await pool.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

interface Got { status: number; headers: Record<string, unknown>; body: Buffer; chunks: number; error?: Error }

/** One dispatch; `pauseMs` pauses after every chunk for that long (a slow client). */
function get(path: string, o: { method?: 'GET' | 'HEAD'; pauseMs?: number; abortAfter?: number } = {}): Promise<Got> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    let status = 0;
    let headers: Record<string, unknown> = {};
    cache.dispatch({ origin: 'http://www.example.test', path, method: o.method ?? 'GET', headers: { host: 'www.example.test' } }, {
      onRequestStart() {},
      onResponseStart(_c, s, h) { status = s; headers = h as Record<string, unknown>; },
      onResponseData(c, chunk) {
        parts.push(Buffer.from(chunk));
        if (o.abortAfter !== undefined && parts.length >= o.abortAfter) { c.abort(new Error('client went away')); return; }
        if (o.pauseMs) { c.pause(); setTimeout(() => c.resume(), o.pauseMs); }
      },
      onResponseEnd() { resolve({ status, headers, body: Buffer.concat(parts), chunks: parts.length }); },
      onResponseError(_c, error) { resolve({ status, headers, body: Buffer.concat(parts), chunks: parts.length, error }); },
    });
  });
}

describe('cache hits with CachedBody', { timeout: 10_000 }, () => {
  it('serves a many-chunk body whole and in order, from the cache the second time', async () => {
    const first = await get('/big');
    expect(first.body.equals(BIG)).toBe(true);
    const before = originHits;
    const hit = await get('/big');
    expect(originHits).toBe(before);
    expect(hit.headers.age).toBeDefined();
    // undici stores without hop-by-hop fields (the site sent Connection and Keep-Alive): a hit has none.
    expect(first.headers.connection).toBe('keep-alive');
    expect(hit.headers.connection).toBeUndefined();
    expect(hit.headers['keep-alive']).toBeUndefined();
    expect(hit.headers.etag).toBe('"s1"');
    expect(hit.chunks).toBeGreaterThan(1);
    expect(hit.body.equals(BIG)).toBe(true);
  });

  it('a paused reader gets every chunk after resume (backpressure)', async () => {
    const hit = await get('/big', { pauseMs: 1 });
    expect(hit.error).toBeUndefined();
    expect(hit.body.equals(BIG)).toBe(true);
  });

  it('HEAD is sent to the site (only GET is cached) and ends without a body', async () => {
    const before = originHits;
    const head = await get('/big', { method: 'HEAD' });
    expect(originHits).toBe(before + 1);
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
  });

  it('an abort mid-body reports an error, not an end', async () => {
    const cut = await get('/big', { abortAfter: 2 });
    expect(cut.error?.message).toBe('client went away');
    expect(cut.body.length).toBeLessThan(BIG.length);
  });

  it('a stale entry revalidated with 304 replays the stored body', async () => {
    await get('/stale');
    const before = originHits;
    const again = await get('/stale');
    expect(originHits).toBe(before + 1);
    expect(again.status).toBe(200);
    expect(again.body.equals(BIG)).toBe(true);
  });
});
