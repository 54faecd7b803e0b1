// The proxy's HTTPS listener: TLS terminated (and cached) for a service with a
// certificate in proxy.tls, passed through by SNI (uncached, to the best site, the next
// one when the first refuses) for a served service without one, closed for any other
// name. Plus the ClientHello reader against real and hostile bytes.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import tls from 'node:tls';
import fc from 'fast-check';
import { ProxyConfigSchema } from '../../agent/proxy/config.js';
import { createProxy, type Proxy } from '../../agent/proxy/proxy.js';
import { readSni } from '../../agent/proxy/sni.js';
import { silentLogger } from '../../shared/log.js';
import type { Result } from '../../shared/protocol.js';
import { startBadServer, type BadServer } from '../helpers/bad-server.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';
import { curl } from '../helpers/curl.js';
import { freeTcpPort } from '../helpers/net.js';

const WWW = 'www.example.test';
const PASS = 'pass.example.test';
const PROXY_HOST = '127.3.2.10';
let certs: TestCerts;
let sites: BadServer[] = [];
let proxy: Proxy;
let tlsPort: number;

const ok = (service: string, site: string, address: string, totalMs: number): Result => ({
  service, site, address, ok: true, status: 200, connectMs: 0.1, tlsMs: 0.5, ttfbMs: 1, totalMs, bytes: 27, error: null,
});

const url = (name: string, path: string): string[] =>
  ['--cacert', certs.caFile, '--resolve', `${name}:${tlsPort}:${PROXY_HOST}`, `https://${name}:${tlsPort}${path}`];

beforeAll(async () => {
  certs = makeTestCerts([WWW, PASS]);
  const port = await freeTcpPort('127.3.2.1');
  const tlsOpts = { key: certs.key, cert: certs.cert };
  sites = [await startBadServer({ host: '127.3.2.1', port, tls: tlsOpts }), await startBadServer({ host: '127.3.2.2', port, tls: tlsOpts })];
  const config = ProxyConfigSchema.parse({
    tlsListen: [`${PROXY_HOST}:0`], services: [WWW, PASS],
    tls: { [WWW]: { cert: `${certs.dir}/leaf.pem`, key: `${certs.dir}/leaf.key` } },
  });
  proxy = createProxy({ config, agentId: 'pop-tls', log: silentLogger(), ca: certs.ca });
  await proxy.start();
  tlsPort = Number(proxy.addresses().https[0]?.split(':')[1]);
  const probe = { scheme: 'https' as const, port, path: '/ok', expectStatus: [200], timeoutMs: 2000 };
  proxy.setCatalogue({ v: 1, ts: Date.now(), services: [
    { name: WWW, probe, sites: [{ id: 'a', address: '127.3.2.1' }, { id: 'b', address: '127.3.2.2' }] },
    // Site "gone" (nothing listens there) is measured best: the tunnel must move on to b.
    { name: PASS, probe, sites: [{ id: 'gone', address: '127.3.2.3' }, { id: 'b', address: '127.3.2.2' }] },
  ] });
  for (let i = 0; i < 3; i++) {
    proxy.observe(ok(WWW, 'a', '127.3.2.1', 1));
    proxy.observe(ok(WWW, 'b', '127.3.2.2', 5));
    proxy.observe(ok(PASS, 'gone', '127.3.2.3', 1));
    proxy.observe(ok(PASS, 'b', '127.3.2.2', 5));
  }
});

afterAll(async () => {
  await proxy?.close();
  await Promise.all(sites.map((s) => s.close()));
  certs?.cleanup();
});

describe('HTTPS listener', () => {
  it('terminates TLS for a service with a certificate and forwards over HTTPS to the best site', async () => {
    const r = await curl(url(WWW, '/ok'));
    expect(r.exit).toBe(0);
    expect(r.status).toBe(200);
    expect(r.body).toContain('hello vantage');
    expect(r.headers.via).toBe('1.1 vantage-pop-tls');
    expect(r.headers['x-vantage-site']).toBe('a');
    expect(sites[0]?.hits.get('/ok')).toBe(1);
  });

  it('passes TLS through by SNI for a service without a certificate, to the next site when the first refuses', async () => {
    const errors = proxy.metrics.totals.upstreamErrors;
    const misses = proxy.metrics.totals.misses;
    const r = await curl(url(PASS, '/ok'));
    expect(r.exit).toBe(0);
    expect(r.status).toBe(200);
    expect(r.body).toContain('hello vantage');
    expect(r.headers.via).toBeUndefined(); // end to end with the site: nothing added
    expect(proxy.metrics.totals.upstreamErrors).toBe(errors + 1);
    expect(sites[1]?.hits.get('/ok')).toBe(1);
    // Counted as a tunnel once the site closes (never as a cache miss: it cannot be cached).
    for (let i = 0; i < 50 && proxy.metrics.totals.tunnels === 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(proxy.metrics.totals).toMatchObject({ tunnels: 1, misses });
  });

  it('closes connections for another name or without SNI', async () => {
    const other = await curl(['-k', '--resolve', `other.example.test:${tlsPort}:${PROXY_HOST}`, `https://other.example.test:${tlsPort}/ok`]);
    expect(other.exit).toBe(35); // TLS handshake failed: the proxy closed
    const bare = await curl(['-k', `https://${PROXY_HOST}:${tlsPort}/ok`]);
    expect(bare.exit).toBe(35);
  });
});

describe('readSni', () => {
  it('reads the name from a real ClientHello, split at any byte', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.3.2.20', r));
    const hello = new Promise<Buffer>((resolve) => server.once('connection', (s) => s.once('data', (d: Buffer) => { resolve(d); s.destroy(); })));
    const c = tls.connect({ host: '127.3.2.20', port: (server.address() as net.AddressInfo).port, servername: 'WWW.Example.Test' });
    c.on('error', () => undefined);
    const bytes = await hello;
    server.close();
    expect(readSni(bytes)).toEqual({ kind: 'name', name: WWW });
    for (const cut of [0, 3, 5, 40, bytes.length - 1]) expect(readSni(bytes.subarray(0, cut)).kind).toBe('more');
  });

  it('never throws on hostile bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (raw) => {
      const b = Buffer.from(raw);
      // A well-formed record and handshake header around random contents, so the parser goes deep.
      if (b.length > 9) { b[0] = 0x16; b[1] = 0x03; b.writeUInt16BE(b.length - 5, 3); b[5] = 0x01; b.writeUIntBE(Math.min(b.length - 9, b[6]! * 4), 6, 3); }
      expect(['more', 'invalid', 'name']).toContain(readSni(b).kind);
    }), { numRuns: 2000 });
  });
});
