// The agent's proxy-cache against real sites on loopback, driven with curl: retry on
// the next site when the best one resets before the headers, RFC 9111 caching (max-age,
// Vary, ETag revalidation) by undici's cache, proxy header rules, and the refusals that
// keep it from being an open proxy.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import net from 'node:net';
import { Registry } from 'prom-client';
import { ProxyConfigSchema } from '../../agent/proxy/config.js';
import { createProxy, type Proxy } from '../../agent/proxy/proxy.js';
import { silentLogger } from '../../shared/log.js';
import type { Catalogue, Result } from '../../shared/protocol.js';
import { startBadServer, type BadServer } from '../helpers/bad-server.js';
import { curl } from '../helpers/curl.js';
import { freeTcpPort } from '../helpers/net.js';
import { startOriginSite, type OriginSite } from '../helpers/origin-site.js';

const WWW = 'www.example.test';
const CDN = 'cdn.example.test';
const PROXY_HOST = '127.3.0.10';
let bad: BadServer;
let good: OriginSite;
let proxy: Proxy;
let port: number;
let proxyPort: number;
const registry = new Registry();

function result(service: string, site: string, address: string, ok: boolean, totalMs: number): Result {
  return {
    service, site, address, ok, status: ok ? 200 : null, connectMs: ok ? 0.1 : null, tlsMs: null,
    ttfbMs: ok ? totalMs / 2 : null, totalMs: ok ? totalMs : null, bytes: ok ? 27 : 0, error: ok ? null : 'reset',
  };
}

/** The agent's latest round: site a (misbehaving) measured fastest, b second. */
function measure(): void {
  for (let i = 0; i < 3; i++) {
    proxy.observe(result(WWW, 'a', '127.3.0.1', true, 1));
    proxy.observe(result(WWW, 'b', '127.3.0.2', true, 20));
    proxy.observe(result(CDN, 'b', '127.3.0.2', true, 20));
  }
}

const url = (service: string, path: string): string[] =>
  ['--resolve', `${service}:${proxyPort}:${PROXY_HOST}`, `http://${service}:${proxyPort}${path}`];

beforeAll(async () => {
  port = await freeTcpPort('127.3.0.1');
  bad = await startBadServer({ host: '127.3.0.1', port, expectHost: WWW });
  good = await startOriginSite('b', '127.3.0.2', port);
  const config = ProxyConfigSchema.parse({
    listen: [`${PROXY_HOST}:0`], services: [WWW, CDN, 'empty.example.test'], maxBodyBytes: 1024, cache: { maxMiB: 8 },
  });
  proxy = createProxy({ config, agentId: 'pop-test', log: silentLogger() });
  await proxy.attachMetrics(registry);
  await proxy.start();
  proxyPort = Number(proxy.addresses().http[0]?.split(':')[1]);
  const probe = { scheme: 'http' as const, port, path: '/ok', expectStatus: [200], timeoutMs: 2000 };
  const catalogue: Catalogue = {
    v: 1, ts: Date.now(), services: [
      { name: WWW, probe, sites: [{ id: 'a', address: '127.3.0.1' }, { id: 'b', address: '127.3.0.2' }] },
      { name: CDN, probe, sites: [{ id: 'b', address: '127.3.0.2' }] },
    ],
  };
  proxy.setCatalogue(catalogue);
  measure();
});

afterAll(async () => {
  await proxy?.close();
  await Promise.all([bad?.close(), good?.close()]);
});

describe('forwarding to the best site', () => {
  it('sends to the site measured best, with the service Host', async () => {
    expect(proxy.upstreams.order(WWW).map((s) => s.id)).toEqual(['a', 'b']);
    const r = await curl(url(WWW, '/ok'));
    expect(r.status).toBe(200);
    expect(r.body).toContain('hello vantage'); // bad-server answers /ok only for Host www.example.test
    expect(r.headers['x-vantage-site']).toBe('a');
    expect(r.headers.via).toBe('1.1 vantage-pop-test');
  });

  it('a reset before the response headers is served from the next site, once', async () => {
    const retries = proxy.metrics.totals.retries;
    const r = await curl(url(WWW, '/reset-early'));
    expect(r.status).toBe(200);
    expect(r.body).toBe('site b /reset-early\n');
    expect(r.headers['x-vantage-site']).toBe('b');
    expect(bad.hits.get('/reset-early')).toBe(1);
    expect(proxy.metrics.totals.retries).toBe(retries + 1);
    // The failed site sinks until its next good probe: the next request goes to b at once.
    const again = await curl(url(WWW, '/close-early'));
    expect(again.status).toBe(200);
    expect(bad.hits.get('/close-early')).toBeUndefined();
    measure();
    expect(proxy.upstreams.order(WWW)[0]?.id).toBe('a');
  });

  it('does not retry a request with a body: 502', async () => {
    const retries = proxy.metrics.totals.retries;
    const r = await curl(['-X', 'POST', '--data', 'x=1', ...url(WWW, '/reset-early')]);
    expect(r.status).toBe(502);
    expect(r.body).toMatch(/upstream failed/);
    expect(proxy.metrics.totals.retries).toBe(retries);
    measure();
  });

  it('cuts the client connection when the site resets mid-body, and caches nothing', async () => {
    const r = await curl(url(WWW, '/reset'));
    expect(r.status).toBe(200);
    expect(r.exit).toBe(18); // curl: partial file — never a short "complete" response
    const again = await curl(url(WWW, '/reset'));
    expect(again.headers['x-vantage-cache']).toBe('miss');
    measure();
  });

  it('streams a slow body: the first bytes reach the client before the site has sent the rest', async () => {
    const t0 = Date.now();
    const { firstMs, totalMs, bytes } = await new Promise<{ firstMs: number; totalMs: number; bytes: number }>((resolve, reject) => {
      const req = http.get({ host: PROXY_HOST, port: proxyPort, path: '/slow-body?ms=1500', headers: { host: WWW } }, (res) => {
        let first = 0;
        let n = 0;
        res.on('data', (c: Buffer) => { if (!first) first = Date.now() - t0; n += c.length; });
        res.on('end', () => resolve({ firstMs: first, totalMs: Date.now() - t0, bytes: n }));
      });
      req.on('error', reject);
    });
    expect(bytes).toBe(2000);
    expect(totalMs).toBeGreaterThanOrEqual(1500);
    expect(firstMs).toBeLessThan(totalMs - 1000);
  });

  it('answers 504 when the site sends no headers within upstreamTimeoutMs', async () => {
    const config = ProxyConfigSchema.parse({ listen: [`${PROXY_HOST}:0`], services: [WWW], upstreamTimeoutMs: 300 });
    const p = createProxy({ config, agentId: 'pop-timeout', log: silentLogger() });
    p.setCatalogue({ v: 1, ts: Date.now(), services: [{ name: WWW, probe: { scheme: 'http', port, path: '/ok', expectStatus: [200], timeoutMs: 2000 }, sites: [{ id: 'a', address: '127.3.0.1' }] }] });
    await p.start();
    try {
      const pp = p.addresses().http[0]?.split(':')[1];
      const t0 = Date.now();
      const r = await curl(['--resolve', `${WWW}:${pp}:${PROXY_HOST}`, `http://${WWW}:${pp}/hang`]);
      expect(r.status).toBe(504);
      expect(Date.now() - t0).toBeLessThan(4000);
    } finally {
      await p.close();
    }
  });

  it('answers 503 for a served service the catalogue does not list yet, and reports it down', async () => {
    const r = await curl(url('empty.example.test', '/'));
    expect(r.status).toBe(503);
    expect(proxy.health()).toEqual({ healthy: true, down: ['empty.example.test'] });
    expect(proxy.announce()).toEqual({ addresses: [PROXY_HOST], services: [WWW, CDN, 'empty.example.test'] });
  });
});

describe('caching (undici cache, RFC 9111)', () => {
  it('serves a max-age response from the cache with an Age header', async () => {
    const first = await curl(url(CDN, '/cache?maxAge=60'));
    const second = await curl(url(CDN, '/cache?maxAge=60'));
    expect(first.status).toBe(200);
    expect(first.headers['x-vantage-cache']).toBe('miss');
    expect(second.status).toBe(200);
    expect(second.headers['x-vantage-cache']).toBe('hit');
    expect(second.headers.age).toMatch(/^\d+$/);
    expect(second.body).toBe(first.body);
    expect(good.hits.get('/cache')).toBe(1);
  });

  it('keeps one entry per Vary value', async () => {
    const en = await curl(['-H', 'Accept-Language: en', ...url(CDN, '/vary')]);
    const fr = await curl(['-H', 'Accept-Language: fr', ...url(CDN, '/vary')]);
    const en2 = await curl(['-H', 'Accept-Language: en', ...url(CDN, '/vary')]);
    expect([en.body, fr.body, en2.body]).toEqual(['lang=en\n', 'lang=fr\n', 'lang=en\n']);
    expect([en, fr, en2].map((r) => r.headers['x-vantage-cache'])).toEqual(['miss', 'miss', 'hit']);
    expect(good.hits.get('/vary')).toBe(2);
  });

  it('revalidates a stale entry with If-None-Match and serves the cached body on 304', async () => {
    // Stale after 2 s; undici keeps it another freshness lifetime for revalidation.
    const first = await curl(url(CDN, '/cache?maxAge=2'));
    await new Promise((r) => setTimeout(r, 2300));
    const notModified = good.notModified;
    const second = await curl(url(CDN, '/cache?maxAge=2'));
    expect(second.status).toBe(200);
    expect(second.body).toBe(first.body);
    expect(second.headers['x-vantage-cache']).toBe('revalidated');
    expect(good.notModified).toBe(notModified + 1);
  });

  it('does not store no-store responses', async () => {
    await curl(url(CDN, '/nostore'));
    const r = await curl(url(CDN, '/nostore'));
    expect(r.headers['x-vantage-cache']).toBe('miss');
    expect(good.hits.get('/nostore')).toBe(2);
  });

  it('counts hits and misses on /metrics', async () => {
    const text = await registry.metrics();
    expect(text).toMatch(/vantage_agent_proxy_requests_total\{service="cdn.example.test",cache="hit"\} [1-9]/);
    expect(text).toMatch(/vantage_agent_proxy_retries_total\{service="www.example.test"\} 1/);
    expect(text).toMatch(/vantage_agent_proxy_upstream_errors_total\{service="www.example.test",site="a",code="[A-Z_]+"\} [1-9]/);
    expect(text).toMatch(/vantage_agent_proxy_cache_bytes [1-9]/);
  });
});

describe('proxy header rules (RFC 9110 §7.6)', () => {
  it('drops hop-by-hop fields and those named in Connection, adds Via', async () => {
    const r = await curl(['-H', 'Connection: keep-alive, X-Secret', '-H', 'X-Secret: 1', '-H', 'Proxy-Authorization: Basic eDp4',
      '-H', 'X-End-To-End: kept', ...url(CDN, '/echo')]);
    const seen = JSON.parse(r.body) as Record<string, string>;
    expect(seen['x-secret']).toBeUndefined();
    expect(seen['proxy-authorization']).toBeUndefined();
    expect(seen['x-end-to-end']).toBe('kept');
    expect(seen.via).toBe('1.1 vantage-pop-test');
    expect(seen.host).toBe(`${CDN}:${port}`);
    expect(seen['x-forwarded-for']).toBeUndefined();
  });
});

describe('X-Forwarded-For and loops', () => {
  it('appends the client address to X-Forwarded-For when enabled', async () => {
    const p = createProxy({ config: ProxyConfigSchema.parse({ listen: [`${PROXY_HOST}:0`], services: [CDN], xForwardedFor: true }), agentId: 'pop-xff', log: silentLogger() });
    p.setCatalogue({ v: 1, ts: Date.now(), services: [{ name: CDN, probe: { scheme: 'http', port, path: '/', expectStatus: [200], timeoutMs: 2000 }, sites: [{ id: 'b', address: '127.3.0.2' }] }] });
    await p.start();
    try {
      const pp = p.addresses().http[0]?.split(':')[1];
      const r = await curl(['-H', 'X-Forwarded-For: 203.0.113.5', '--resolve', `${CDN}:${pp}:${PROXY_HOST}`, `http://${CDN}:${pp}/echo`]);
      expect(JSON.parse(r.body)['x-forwarded-for']).toBe('203.0.113.5, 127.0.0.1');
    } finally {
      await p.close();
    }
  });

  it('answers 508 to a request that already went through this proxy', async () => {
    const r = await curl(['-H', 'Via: 1.1 vantage-pop-test', ...url(CDN, '/echo')]);
    expect(r.status).toBe(508);
    const looped = await curl(['-H', 'Via: 1.0 fred, 1.1 vantage-pop-test (Vantage)', ...url(CDN, '/echo')]);
    expect(looped.status).toBe(508);
    const other = await curl(['-H', 'Via: 1.1 some-cdn, 1.1 vantage-pop-test2', ...url(CDN, '/echo')]);
    expect(JSON.parse(other.body).via).toBe('1.1 some-cdn, 1.1 vantage-pop-test2, 1.1 vantage-pop-test');
  });
});

describe('never an open proxy; bounded requests', () => {
  it('refuses absolute-form requests for other hosts (403)', async () => {
    const r = await curl(['-x', `http://${PROXY_HOST}:${proxyPort}`, 'http://elsewhere.example.org/']);
    expect(r.status).toBe(403);
  });

  it('serves absolute-form requests for its own services', async () => {
    const r = await curl(['-x', `http://${PROXY_HOST}:${proxyPort}`, `http://${CDN}:${port}/cache?maxAge=60`]);
    expect(r.status).toBe(200);
    expect(r.headers['x-vantage-cache']).toBe('hit');
  });

  it('refuses an unknown Host (403)', async () => {
    const r = await curl(['-H', 'Host: elsewhere.example.org', `http://${PROXY_HOST}:${proxyPort}/`]);
    expect(r.status).toBe(403);
  });

  it('refuses CONNECT (405)', async () => {
    const line = await new Promise<string>((resolve, reject) => {
      const s = net.connect(proxyPort, PROXY_HOST, () => s.write(`CONNECT elsewhere.example.org:443 HTTP/1.1\r\nHost: elsewhere.example.org:443\r\n\r\n`));
      let buf = '';
      s.on('data', (c) => { buf += c.toString('latin1'); });
      s.on('end', () => resolve(buf.split('\r\n')[0] ?? ''));
      s.on('error', reject);
    });
    expect(line).toBe('HTTP/1.1 405 Method Not Allowed');
  });

  it('answers 431 to an oversized header block and 413 to an oversized body', async () => {
    const big = await curl(['-H', `X-Big: ${'a'.repeat(20_000)}`, ...url(CDN, '/echo')]);
    expect(big.status).toBe(431);
    const body = await curl(['--data-binary', 'x'.repeat(2000), ...url(CDN, '/echo')]);
    expect(body.status).toBe(413);
    const chunked = await curl(['-H', 'Transfer-Encoding: chunked', '--data-binary', 'x'.repeat(2000), ...url(CDN, '/echo')]);
    expect(chunked.status).toBe(413);
  });

  it('survives clients that vanish mid-upload and mid-download', async () => {
    const raw = (text: string, afterMs: number): Promise<void> => new Promise((resolve) => {
      const s = net.connect(proxyPort, PROXY_HOST, () => {
        s.write(text);
        setTimeout(() => { s.resetAndDestroy(); resolve(); }, afterMs);
      });
      s.on('error', () => resolve());
    });
    await raw(`POST /echo HTTP/1.1\r\nHost: ${CDN}\r\nTransfer-Encoding: chunked\r\n\r\n10\r\n0123456789abcdef\r\n`, 50);
    await raw(`GET /big?bytes=5000000 HTTP/1.1\r\nHost: ${WWW}\r\n\r\n`, 50);
    const r = await curl(url(CDN, '/cache?maxAge=60'));
    expect(r.status).toBe(200);
  });

  it('closes a client that sends no request in time (slowloris)', async () => {
    const short = ProxyConfigSchema.parse({ listen: [`${PROXY_HOST}:0`], services: [CDN], clientTimeoutMs: 300 });
    const p = createProxy({ config: short, agentId: 'pop-slow', log: silentLogger() });
    await p.start();
    try {
      const sp = Number(p.addresses().http[0]?.split(':')[1]);
      const t0 = Date.now();
      const reply = await new Promise<string>((resolve) => {
        const s = net.connect(sp, PROXY_HOST, () => s.write('GET / HTTP/1.1\r\nHost: cdn.example.test\r\n'));
        let buf = '';
        s.on('data', (c) => { buf += c.toString('latin1'); });
        s.on('close', () => resolve(buf));
        s.on('error', () => undefined);
      });
      expect(Date.now() - t0).toBeLessThan(5000);
      expect(reply === '' || reply.startsWith('HTTP/1.1 408')).toBe(true);
    } finally {
      await p.close();
    }
  });
});
