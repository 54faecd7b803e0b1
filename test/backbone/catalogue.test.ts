// ¶0039: services and sites declared once, on the backbone, reach every LB and their
// agents (the LB republishes the catalogue on its own broker); a service removed on the
// backbone goes from the LBs too. And push mode's fallback to a referral when an online
// LB's rankings go stale.
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { lbTopic } from '../../shared/lb-protocol.js';
import { CATALOGUE_TOPIC, parseCatalogue } from '../../shared/protocol.js';
import { until } from '../helpers/fixtures.js';
import { watch } from '../helpers/mqtt-watch.js';
import { bootBackbone, bootLb, query, resetSeqs, SERVICE, type Closer } from './helpers.js';

const open: Closer[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  resetSeqs();
});

async function admin(base: string, method: string, path: string, body?: unknown): Promise<number> {
  const res = await fetch(`${base}${path}`, { method, headers: { 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return res.status;
}

describe('catalogue flow backbone → LBs → agents', () => {
  it('a service added or removed on the backbone reaches both LBs and their agents', async () => {
    const bb = await bootBackbone(open);
    const a = await bootLb(open, bb, 'isp-a');
    const b = await bootLb(open, bb, 'isp-b');
    // What an agent of LB b sees: the retained catalogue on LB b's own broker.
    const agentView = await watch(`mqtt://127.0.0.1:${b.sel.mqttAddress()?.port}`, CATALOGUE_TOPIC);
    open.push(agentView);
    const http = bb.adminAddress() as { host: string; port: number };
    const base = `http://${http.host}:${http.port}`;
    const shop = { name: 'shop.example.test', probe: { port: 8443, scheme: 'https', path: '/health' }, sites: [{ id: 'fra', address: '127.2.0.7' }, { id: 'sin', address: '127.2.0.8' }] };
    expect(await admin(base, 'POST', '/api/services', shop)).toBe(201);
    for (const lb of [a, b]) await until(() => lb.sel.engine()?.serviceList().some((s) => s.name === 'shop.example.test'), 5000, 'shop at the LB');
    const seen = await agentView.waitFor((m) => m.payload.includes('shop.example.test'), 5000, 'catalogue with shop at the agents of LB b');
    const cat = parseCatalogue(seen.payload);
    expect(cat.services.find((s) => s.name === 'shop.example.test')).toEqual({
      name: 'shop.example.test', probe: { scheme: 'https', port: 8443, path: '/health', expectStatus: [200], timeoutMs: 3000 },
      sites: [{ id: 'fra', address: '127.2.0.7', cost: 0, weight: 1 }, { id: 'sin', address: '127.2.0.8', cost: 0, weight: 1 }],
      // The answer settings travel too (optional, additive fields; agents ignore them).
      ttl: 30, answers: 2, policy: 'latency', answerSet: 'band', mode: 'sites',
    });
    // The LB answers it (fail-open, catalogue order) before any measurement.
    expect((await query(a.dnsPort, 'shop.example.test')).answers.map((x) => x.data)).toEqual(['127.2.0.7', '127.2.0.8']);
    expect(await admin(base, 'DELETE', '/api/services/shop.example.test')).toBe(200);
    for (const lb of [a, b]) await until(() => !lb.sel.engine()?.serviceList().some((s) => s.name === 'shop.example.test'), 5000, 'shop gone at the LB');
    await agentView.waitFor((m) => m.at > seen.at && !m.payload.includes('shop.example.test') && m.payload.includes(SERVICE), 5000, 'catalogue without shop');
  });

  it('push mode: an online LB whose rankings go stale is referred to instead of answered from old rankings', async () => {
    const bb = await bootBackbone(open);
    // A hand-driven LB: one rankings message with intervalS 1, then silence (still online).
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${bb.mqttAddress()?.port}`, { reconnectPeriod: 0 });
    open.push({ close: () => c.endAsync() });
    const now = Date.now();
    await c.publishAsync(lbTopic('isp-x', 'status'), JSON.stringify({ v: 1, lb: 'isp-x', state: 'online', ts: now }), { qos: 1, retain: true });
    await c.publishAsync(lbTopic('isp-x', 'map'), JSON.stringify({ v: 1, lb: 'isp-x', label: 'x', nameservers: [{ name: 'ns.x.example.test', address: '127.0.5.3' }], resolvers: [], prefixes: ['198.51.100.0/24'], ts: now }), { qos: 1, retain: true });
    await c.publishAsync(lbTopic('isp-x', 'rankings'), JSON.stringify({ v: 1, lb: 'isp-x', seq: 1, ts: now, intervalS: 1, services: [{ name: SERVICE, ttl: 20, default: ['127.2.0.3'], byAgent: [] }] }), { qos: 1, retain: true });
    const views = bb.backbone()?.tables.views;
    await until(() => views?.get('isp-x')?.pushFresh, 5000, 'isp-x fresh');
    const port = bb.dnsAddresses()[0]?.port as number;
    const fresh = await query(port, SERVICE, { ecs: '198.51.100.0/24' });
    expect(fresh.answers).toMatchObject([{ type: 'A', data: '127.2.0.3', ttl: 20 }]);
    // 3 × intervalS 1 s without a push: stale, so a referral to the (online) LB.
    await until(() => views?.get('isp-x')?.pushFresh === false, 8000, 'isp-x stale');
    const stale = await query(port, SERVICE, { ecs: '198.51.100.0/24' });
    expect(stale.answers).toMatchObject([{ type: 'CNAME', data: `x.${SERVICE}` }]);
    // Clients of no LB: no fresh LB left, so the backbone's own catalogue order.
    expect((await query(port, SERVICE, { ecs: '192.0.2.0/24' })).answers.map((x) => x.data)).toEqual(['127.2.0.1', '127.2.0.2', '127.2.0.3']);
  });
});
