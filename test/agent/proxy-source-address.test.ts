// Regression: the proxy's upstream connections must leave from the agent's bindAddress
// (the path its probes measured). undici's buildConnector ignored its own localAddress
// option (each connect call's unset one overrode it), so they left from 127.0.0.1.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { ProxyConfigSchema } from '../../agent/proxy/config.js';
import { createProxy, type Proxy } from '../../agent/proxy/proxy.js';
import { silentLogger } from '../../shared/log.js';

const SERVICE = 'www.example.test';
const SITE = '127.3.1.1';
const BIND = '127.3.1.9';
let site: http.Server;
let proxy: Proxy;
const sources: string[] = [];

beforeAll(async () => {
  site = http.createServer((req, res) => {
    sources.push(req.socket.remoteAddress ?? '');
    res.writeHead(200, { 'cache-control': 'no-store', 'content-length': 2 });
    res.end('ok');
  });
  await new Promise<void>((resolve) => site.listen(0, SITE, resolve));
  const port = (site.address() as AddressInfo).port;
  proxy = createProxy({ config: ProxyConfigSchema.parse({ listen: ['127.3.1.10:0'], services: [SERVICE] }), agentId: 'src-test', log: silentLogger(), localAddress: BIND });
  proxy.setCatalogue({ v: 1, ts: Date.now(), services: [{ name: SERVICE, probe: { scheme: 'http', port, path: '/', expectStatus: [200], timeoutMs: 1000 }, sites: [{ id: 'a', address: SITE }] }] });
  proxy.observe({ service: SERVICE, site: 'a', address: SITE, ok: true, status: 200, connectMs: 0.1, tlsMs: null, ttfbMs: 1, totalMs: 1, bytes: 2, error: null });
  await proxy.start();
});

afterAll(async () => {
  await proxy.close();
  await new Promise<void>((resolve) => site.close(() => resolve()));
});

describe('proxy upstream source address', () => {
  it('connects to the site from the agent bindAddress', async () => {
    const res = await request(`http://${proxy.addresses().http[0]}/x`, { headers: { host: SERVICE } });
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('ok');
    expect(sources).toEqual([BIND]);
  });
});
