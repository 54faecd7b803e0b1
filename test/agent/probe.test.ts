import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { probe, type ProbeTarget } from '../../agent/probe.js';
import { parseResult } from '../../shared/protocol.js';
import { startBadServer, type BadServer } from '../helpers/bad-server.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';

const NAME = 'www.example.test';
let http: BadServer;
let https: BadServer;
let selfSigned: BadServer;
let certs: TestCerts;
let closedPort: number;

function target(server: BadServer, path: string, extra: Partial<ProbeTarget> = {}): ProbeTarget {
  return {
    service: NAME, site: 'site-a', address: server.host, scheme: 'http', port: server.port, path,
    expectStatus: [200], timeoutMs: 2000, ...extra,
  };
}

beforeAll(async () => {
  certs = makeTestCerts([NAME]);
  http = await startBadServer({ host: '127.2.1.1', expectHost: NAME });
  https = await startBadServer({ host: '127.2.1.2', expectHost: NAME, tls: { key: certs.key, cert: certs.cert } });
  selfSigned = await startBadServer({ host: '127.2.1.3', tls: { key: certs.selfSignedKey, cert: certs.selfSignedCert } });
  // A port that was just free on 127.2.1.4: nothing listens there.
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.2.1.4', r));
  closedPort = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
});

afterAll(async () => {
  await Promise.all([http?.close(), https?.close(), selfSigned?.close()]);
  certs?.cleanup();
});

describe('probe over HTTP', () => {
  it('measures a complete response', async () => {
    const r = parseResult(await probe(target(http, '/ok', { expectBody: 'hello vantage' })));
    expect(r).toMatchObject({ ok: true, error: null, status: 200, bytes: 27, tlsMs: null, address: '127.2.1.1', site: 'site-a' });
    expect(r.connectMs).toBeGreaterThan(0);
    expect(r.ttfbMs!).toBeGreaterThanOrEqual(r.connectMs!);
    expect(r.totalMs!).toBeGreaterThanOrEqual(r.ttfbMs!);
    expect(r.totalMs!).toBeLessThan(1000);
  });

  it('counts a large body', async () => {
    const r = await probe(target(http, '/big?bytes=300000'));
    expect(r).toMatchObject({ ok: true, bytes: 300_000, status: 200 });
  });

  const cases: [string, string, Partial<ProbeTarget>, string, number | null][] = [
    ['500', '/status?code=500', {}, 'http_status', 500],
    ['unexpected 301', '/status?code=301', {}, 'http_status', 301],
    ['wrong Host → 421', '/ok', { host: 'other.example.test' }, 'http_status', 421],
    ['reset mid-body', '/reset', {}, 'reset', 200],
    ['reset before the response', '/reset-early', {}, 'reset', null],
    ['closed before the response', '/close-early', {}, 'reset', null],
    ['declared length not delivered', '/short', {}, 'truncated', 200],
    ['body without the expected text', '/ok', { expectBody: 'goodbye' }, 'body_mismatch', 200],
  ];
  it.each(cases)('%s → %s', async (_name, path, extra, error, status) => {
    const r = parseResult(await probe(target(http, path, extra)));
    expect(r.error).toBe(error);
    expect(r.ok).toBe(false);
    expect(r.status).toBe(status);
    expect(r.connectMs).toBeGreaterThan(0);
  });

  it('accepts a status listed in expectStatus', async () => {
    const r = await probe(target(http, '/status?code=301', { expectStatus: [200, 301] }));
    expect(r).toMatchObject({ ok: true, status: 301, error: null });
  });

  it('truncated keeps the bytes that arrived', async () => {
    const r = await probe(target(http, '/short'));
    expect(r.bytes).toBe(100);
    expect(r.totalMs).toBeNull();
  });

  it('slow headers within the deadline are fine and timed', async () => {
    const r = await probe(target(http, '/slow?ms=300'));
    expect(r.ok).toBe(true);
    expect(r.ttfbMs!).toBeGreaterThanOrEqual(290);
    expect(r.connectMs!).toBeLessThan(100);
  });

  it('never answering → timeout at timeoutMs', async () => {
    const t0 = Date.now();
    const r = parseResult(await probe(target(http, '/hang', { timeoutMs: 400 })));
    const took = Date.now() - t0;
    expect(r).toMatchObject({ ok: false, error: 'timeout', status: null, ttfbMs: null, totalMs: null });
    expect(r.connectMs).toBeGreaterThan(0);
    expect(took).toBeGreaterThanOrEqual(390);
    expect(took).toBeLessThan(1200);
  });

  it('slow body past the deadline → timeout with headers timed', async () => {
    const r = await probe(target(http, '/slow-body?ms=1500', { timeoutMs: 400 }));
    expect(r).toMatchObject({ ok: false, error: 'timeout', status: 200, bytes: 1000 });
    expect(r.ttfbMs).not.toBeNull();
  });

  it('closed port → refused', async () => {
    const r = parseResult(await probe({ ...target(http, '/ok'), address: '127.2.1.4', port: closedPort }));
    expect(r).toMatchObject({ ok: false, error: 'refused', connectMs: null, status: null, bytes: 0 });
  });

  it('source address that is not on this box → unreachable', async () => {
    const r = await probe(target(http, '/ok'), { localAddress: '192.0.2.1' });
    expect(r).toMatchObject({ ok: false, error: 'unreachable' });
  });

  it('binds to the given source address', async () => {
    const seen: string[] = [];
    const s = net.createServer((c) => { c.resume(); seen.push(c.remoteAddress ?? ''); c.end('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'); });
    await new Promise<void>((r) => s.listen(0, '127.2.1.5', r));
    const port = (s.address() as net.AddressInfo).port;
    const r = await probe({ ...target(http, '/'), address: '127.2.1.5', port }, { localAddress: '127.1.1.9' });
    await new Promise<void>((r2) => s.close(() => r2()));
    expect(r.ok).toBe(true);
    expect(seen).toEqual(['127.1.1.9']);
  });

  it('an outer abort ends the probe as timeout', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 150);
    const t0 = Date.now();
    const r = await probe(target(http, '/hang', { timeoutMs: 5000 }), { signal: ac.signal });
    expect(r.error).toBe('timeout');
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe('probe over HTTPS', () => {
  const tlsTarget = (server: BadServer, path: string, extra: Partial<ProbeTarget> = {}): ProbeTarget =>
    target(server, path, { scheme: 'https', ...extra });

  it('verifies the certificate against the service name with the custom CA', async () => {
    const r = parseResult(await probe(tlsTarget(https, '/ok'), { ca: certs.ca }));
    expect(r).toMatchObject({ ok: true, status: 200, error: null, bytes: 27 });
    expect(r.tlsMs).toBeGreaterThan(0);
    expect(r.ttfbMs!).toBeGreaterThanOrEqual(r.connectMs! + r.tlsMs!);
  });

  it('unknown CA → tls', async () => {
    const r = parseResult(await probe(tlsTarget(https, '/ok')));
    expect(r).toMatchObject({ ok: false, error: 'tls', status: null, tlsMs: null });
    expect(r.connectMs).toBeGreaterThan(0);
  });

  it('self-signed certificate → tls, even with the CA', async () => {
    const r = await probe(tlsTarget(selfSigned, '/ok'), { ca: certs.ca });
    expect(r).toMatchObject({ ok: false, error: 'tls' });
  });

  it('self-signed certificate trusted as CA → ok', async () => {
    const r = await probe(tlsTarget(selfSigned, '/ok'), { ca: certs.selfSignedCert });
    expect(r).toMatchObject({ ok: true, status: 200 });
  });

  it('certificate for another name → tls', async () => {
    const r = await probe(tlsTarget(https, '/ok', { host: 'other.example.test' }), { ca: certs.ca });
    expect(r).toMatchObject({ ok: false, error: 'tls' });
  });

  it('reset mid-body over TLS → reset', async () => {
    const r = await probe(tlsTarget(https, '/reset'), { ca: certs.ca });
    expect(r).toMatchObject({ ok: false, error: 'reset', status: 200 });
  });

  it('short body over TLS → truncated', async () => {
    const r = await probe(tlsTarget(https, '/short'), { ca: certs.ca });
    expect(r).toMatchObject({ ok: false, error: 'truncated', bytes: 100 });
  });

  it('a handshake that never completes → timeout, no tlsMs', async () => {
    const silent = net.createServer((c) => { c.resume(); c.on('error', () => undefined); });
    await new Promise<void>((r) => silent.listen(0, '127.2.1.6', r));
    const port = (silent.address() as net.AddressInfo).port;
    const r = await probe({ ...tlsTarget(https, '/ok', { timeoutMs: 300 }), address: '127.2.1.6', port }, { ca: certs.ca });
    silent.close();
    expect(r).toMatchObject({ ok: false, error: 'timeout', tlsMs: null, status: null });
    expect(r.connectMs).toBeGreaterThan(0);
  });

  it('hang over TLS → timeout', async () => {
    const r = await probe(tlsTarget(https, '/hang', { timeoutMs: 300 }), { ca: certs.ca });
    expect(r).toMatchObject({ ok: false, error: 'timeout' });
    expect(r.tlsMs).toBeGreaterThan(0);
  });
});
