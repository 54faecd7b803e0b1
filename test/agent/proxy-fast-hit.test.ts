// The fresh-hit fast path (agent/proxy/fast-hit.ts) against a real site on loopback:
// a proxy with `cache.fastHits` on and one with it off serve the same hit with the same
// status, header fields (in order) and body; Vary entries are never crossed; stale,
// no-cache, conditional / Cache-Control / Pragma / Authorization requests and HEAD go to
// undici's interceptor; hits are counted alike on both paths.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ProxyConfigSchema } from '../../agent/proxy/config.js';
import { createProxy, type Proxy } from '../../agent/proxy/proxy.js';
import { silentLogger } from '../../shared/log.js';

const SVC = 'www.example.test';
const SITE_HOST = '127.3.1.1';
const PROXY_HOST = '127.3.1.10';
let site: http.Server;
let sitePort: number;
let fast: Proxy;
let slow: Proxy;
const seen = new Map<string, number>();
let notModified = 0;

interface Got { status: number; message: string; raw: string[]; body: string }

function get(p: Proxy, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Got> {
  const port = Number(p.addresses().http[0]?.split(':')[1]);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: PROXY_HOST, port, path, method, agent: false, headers: { host: SVC, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, message: res.statusMessage ?? '', raw: res.rawHeaders, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

const header = (g: Got, name: string): string | undefined => {
  const i = g.raw.findIndex((v, j) => j % 2 === 0 && v.toLowerCase() === name);
  return i < 0 ? undefined : g.raw[i + 1];
};

/** Header fields in order, the volatile ones (Date, Age) by name only. */
const shape = (g: Got): string[] =>
  g.raw.map((v, i) => (i % 2 === 1 && ['date', 'age'].includes((g.raw[i - 1] ?? '').toLowerCase()) ? '*' : v));

async function startProxy(fastHits: boolean): Promise<Proxy> {
  const config = ProxyConfigSchema.parse({ listen: [`${PROXY_HOST}:0`], services: [SVC], cache: { maxMiB: 8, fastHits } });
  const p = createProxy({ config, agentId: 'pop-fast', log: silentLogger() });
  await p.start();
  p.setCatalogue({
    v: 1, ts: Date.now(), services: [{
      name: SVC, probe: { scheme: 'http', port: sitePort, path: '/', expectStatus: [200], timeoutMs: 2000 }, sites: [{ id: 's1', address: SITE_HOST }],
    }],
  });
  for (let i = 0; i < 3; i++) {
    p.observe({ service: SVC, site: 's1', address: SITE_HOST, ok: true, status: 200, connectMs: 0.1, tlsMs: null, ttfbMs: 1, totalMs: 2, bytes: 10, error: null });
  }
  return p;
}

beforeAll(async () => {
  site = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    seen.set(url.pathname, (seen.get(url.pathname) ?? 0) + 1);
    req.resume();
    const maxAge = Number(url.searchParams.get('maxAge') ?? 60);
    const cc = url.pathname === '/nocache' ? `no-cache, max-age=${maxAge}` : `max-age=${maxAge}`;
    if (req.headers['if-none-match'] === '"v1"') {
      notModified++;
      res.writeHead(304, { etag: '"v1"', 'cache-control': cc });
      res.end();
      return;
    }
    const body = url.pathname === '/vary' ? `lang=${req.headers['accept-language'] ?? ''}\n` : `body of ${url.pathname}${url.search}\n`.repeat(50);
    const headers: Record<string, string | string[]> = {
      'content-type': 'text/plain', 'content-length': String(Buffer.byteLength(body)), 'cache-control': cc, etag: '"v1"',
      'last-modified': 'Tue, 01 Dec 2026 00:00:00 GMT', 'x-multi': ['a', 'b'], connection: 'x-hop', 'x-hop': 'dropped',
    };
    if (url.pathname === '/vary') headers.vary = 'Accept-Language';
    res.writeHead(200, 'Fine', headers);
    res.end(body);
  });
  await new Promise<void>((resolve) => site.listen(0, SITE_HOST, resolve));
  sitePort = (site.address() as AddressInfo).port;
  [fast, slow] = await Promise.all([startProxy(true), startProxy(false)]);
});

afterAll(async () => {
  await Promise.all([fast?.close(), slow?.close()]);
  site?.closeAllConnections();
  await new Promise<void>((resolve) => (site ? site.close(() => resolve()) : resolve()));
});

describe('fresh-hit fast path', () => {
  it('serves a fresh hit exactly as the interceptor path does, and counts it alike', async () => {
    const path = '/same?maxAge=60';
    const [fMiss, sMiss] = [await get(fast, path), await get(slow, path)];
    expect([fMiss, sMiss].map((g) => header(g, 'x-vantage-cache'))).toEqual(['miss', 'miss']);
    const before = { f: { ...fast.metrics.totals }, s: { ...slow.metrics.totals }, fast: fast.metrics.fastHits };
    const f = await get(fast, path);
    const s = await get(slow, path);
    expect(fast.metrics.fastHits).toBe(before.fast + 1);
    expect(slow.metrics.fastHits).toBe(0);
    expect(seen.get('/same')).toBe(2);
    expect(f.status).toBe(200);
    expect(f.message).toBe('Fine');
    expect(header(f, 'x-vantage-cache')).toBe('hit');
    expect(header(f, 'via')).toBe('1.1 vantage-pop-fast');
    expect(header(f, 'age')).toMatch(/^\d+$/);
    expect(header(f, 'x-hop')).toBeUndefined();
    expect([f.status, f.message, f.body]).toEqual([s.status, s.message, s.body]);
    expect(shape(f)).toEqual(shape(s));
    expect(f.body).toBe(fMiss.body);
    for (const [p, b] of [[fast, before.f], [slow, before.s]] as const) {
      expect(p.metrics.totals.hits).toBe(b.hits + 1);
      expect(p.metrics.totals.requests).toBe(b.requests + 1);
      expect(p.metrics.totals.bytesFromCache).toBe(b.bytesFromCache + Buffer.byteLength(f.body));
    }
  });

  it('keeps Vary entries apart: two Accept-Language values, two entries, never crossed', async () => {
    const n = fast.metrics.fastHits;
    const en = await get(fast, '/vary', { 'accept-language': 'en' });
    const fr = await get(fast, '/vary', { 'accept-language': 'fr' });
    const en2 = await get(fast, '/vary', { 'accept-language': 'en' });
    const fr2 = await get(fast, '/vary', { 'accept-language': 'fr' });
    const none = await get(fast, '/vary');
    expect([en, fr, en2, fr2, none].map((g) => g.body)).toEqual(['lang=en\n', 'lang=fr\n', 'lang=en\n', 'lang=fr\n', 'lang=\n']);
    expect([en, fr, en2, fr2, none].map((g) => header(g, 'x-vantage-cache'))).toEqual(['miss', 'miss', 'hit', 'hit', 'miss']);
    expect(fast.metrics.fastHits).toBe(n + 2);
    expect(seen.get('/vary')).toBe(3);
  });

  it('leaves a stale entry to the interceptor: revalidated with ETag, 304 from the site', async () => {
    const first = await get(fast, '/stale?maxAge=1');
    await new Promise((r) => setTimeout(r, 1300));
    const n = fast.metrics.fastHits;
    const nm = notModified;
    const second = await get(fast, '/stale?maxAge=1');
    expect(header(second, 'x-vantage-cache')).toBe('revalidated');
    expect(second.body).toBe(first.body);
    expect(notModified).toBe(nm + 1);
    expect(fast.metrics.fastHits).toBe(n);
  });

  it('never fast-serves a no-cache response', async () => {
    await get(fast, '/nocache');
    const n = fast.metrics.fastHits;
    const nm = notModified;
    const again = await get(fast, '/nocache');
    expect(header(again, 'x-vantage-cache')).toBe('revalidated');
    expect(notModified).toBe(nm + 1);
    expect(fast.metrics.fastHits).toBe(n);
  });

  it('sends requests with Cache-Control, Pragma, If-*, Authorization or Range, and HEAD, through the interceptor', async () => {
    const special: [string, Record<string, string>, string][] = [
      ['cc', { 'cache-control': 'no-cache' }, 'GET'],
      ['pragma', { pragma: 'no-cache' }, 'GET'],
      ['inm', { 'if-none-match': '"v1"' }, 'GET'],
      ['ims', { 'if-modified-since': 'Tue, 01 Dec 2026 00:00:00 GMT' }, 'GET'],
      ['auth', { authorization: 'Bearer x' }, 'GET'],
      ['range', { range: 'bytes=0-3' }, 'GET'],
      ['head', {}, 'HEAD'],
    ];
    const outcomes: Record<string, string | undefined> = {};
    for (const [name, headers, method] of special) {
      const path = `/plain-${name}?maxAge=60`;
      expect(header(await get(fast, path), 'x-vantage-cache')).toBe('miss');
      const n = fast.metrics.fastHits;
      const nm = notModified;
      const r = await get(fast, path, headers, method);
      outcomes[name] = header(r, 'x-vantage-cache');
      expect(fast.metrics.fastHits, name).toBe(n);
      if (name === 'cc' || name === 'pragma') expect(notModified, name).toBe(nm + 1); // the interceptor revalidated
      if (name === 'head') expect(r.body).toBe('');
    }
    expect(outcomes.cc).toBe('revalidated');
    expect(outcomes.pragma).toBe('revalidated');
    // The same kind of entry, asked plainly, is a fast hit.
    await get(fast, '/plain-control?maxAge=60');
    const n = fast.metrics.fastHits;
    expect(header(await get(fast, '/plain-control?maxAge=60'), 'x-vantage-cache')).toBe('hit');
    expect(fast.metrics.fastHits).toBe(n + 1);
  });

  it('with cache.fastHits: false every hit goes through the interceptor', async () => {
    await get(slow, '/off?maxAge=60');
    const hit = await get(slow, '/off?maxAge=60');
    expect(header(hit, 'x-vantage-cache')).toBe('hit');
    expect(slow.metrics.fastHits).toBe(0);
  });
});
