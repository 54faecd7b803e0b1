// Replicas: several selectors with the same catalogue on one real Mosquitto. Each
// ingests everything and ranks on its own (same answers for the same client); a drain,
// site or prefix change made on either is published on the retained catalogue topic
// and applied by the other within 2 s; a replica restarted from an older state does not
// win with its old catalogue; a different static catalogue is counted as a conflict;
// a repeated (agent, seq) is dropped.
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSelector, type Selector } from '../../selector/selector.js';
import type { SelectorConfig } from '../../selector/config.js';
import { agentTopic, CATALOGUE_TOPIC } from '../../shared/protocol.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { watch } from '../helpers/mqtt-watch.js';
import { queryA } from '../helpers/dns-client.js';
import { announce, metrics, result, selectorConfig, SERVICE, SITES, until } from '../helpers/fixtures.js';

let broker: MosquittoHandle;
let agent: MqttClient;
const open: Selector[] = [];
let cfgA: Readonly<SelectorConfig>;
let a: Selector;
let b: Selector;
const POP = { ip: '198.51.100.0', length: 24 };

async function start(cfg: Readonly<SelectorConfig>): Promise<Selector> {
  const s = createSelector(cfg);
  open.push(s);
  await s.start();
  return s;
}

async function api(s: Selector, method: string, path: string, body?: unknown): Promise<{ status: number; json: unknown; text: string }> {
  const addr = s.adminAddress() as { host: string; port: number };
  const res = await fetch(`http://${addr.host}:${addr.port}${path}`, { method, headers: body ? { 'content-type': 'application/json' } : {}, body: body ? JSON.stringify(body) : undefined });
  const text = await res.text();
  return { status: res.status, text, json: text.startsWith('{') || text.startsWith('[') ? JSON.parse(text) : undefined };
}

const answer = async (s: Selector, client: { ip: string; length: number } | undefined = POP) =>
  (await queryA('127.0.0.1', s.dnsAddresses()[0]?.port as number, SERVICE, client)).addresses;
const siteDrained = (s: Selector, id: string) => s.engine()?.serviceList()[0]?.sites.find((x) => x.id === id)?.drained;

beforeAll(async () => {
  broker = await startMosquitto();
  cfgA = selectorConfig({ mqtt: { url: broker.url } });
  a = await start(cfgA);
  b = await start(selectorConfig({ mqtt: { url: broker.url } }));
  agent = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
}, 30_000);

afterAll(async () => {
  await agent?.endAsync(true);
  for (const s of open) await s.close();
  await broker?.stop();
});

describe('selector replicas on one broker', () => {
  it('each ingests every agent message and answers the same for the same client', async () => {
    await agent.publishAsync(agentTopic('pop-a', 'announce'), announce('pop-a', ['198.51.100.0/24']), { qos: 1, retain: true });
    for (let seq = 1; seq <= 3; seq++) {
      await agent.publishAsync(agentTopic('pop-a', 'metrics'), metrics('pop-a', seq, [result('us-east', 80), result('eu-west', 8), result('ap-south', 30)]), { qos: 1 });
    }
    for (const s of [a, b]) await until(() => s.ingestCounters()?.accepted.metrics === 3, 5000, 'three rounds on each replica');
    expect(await answer(a)).toEqual(['127.2.0.2', '127.2.0.3', '127.2.0.1']);
    expect(await answer(b)).toEqual(await answer(a));
    // A QoS 1 redelivery (same agent, same seq) is dropped by both.
    await agent.publishAsync(agentTopic('pop-a', 'metrics'), metrics('pop-a', 3, [result('us-east', 1), result('eu-west', 900), result('ap-south', 900)]), { qos: 1 });
    for (const s of [a, b]) await until(() => s.ingestCounters()?.rejected.stale_seq === 1, 5000, 'duplicate dropped');
    for (const s of [a, b]) expect(s.ingestCounters()?.accepted.metrics).toBe(3);
    expect(await answer(b)).toEqual(['127.2.0.2', '127.2.0.3', '127.2.0.1']);
  });

  it('a drain on one replica reaches the other within 2 s, and an undrain back', async () => {
    const r = await api(a, 'POST', `/api/services/${SERVICE}/sites/eu-west/drain`);
    expect(r.status).toBe(200);
    const t0 = Date.now();
    await until(() => siteDrained(b, 'eu-west') === true, 2000, 'drain on b');
    const ms = Date.now() - t0;
    expect(ms).toBeLessThan(2000);
    expect(await answer(b)).toEqual(['127.2.0.3', '127.2.0.1']);
    // Persisted on b: it survives b's restart (checked below through the DB row).
    const row = b.store()?.db.prepare('SELECT drained FROM admin_drains WHERE service = ? AND site = ?').get(SERVICE, 'eu-west') as { drained: number };
    expect(row.drained).toBe(1);
    await api(b, 'POST', `/api/services/${SERVICE}/sites/eu-west/undrain`);
    await until(() => siteDrained(a, 'eu-west') === false, 2000, 'undrain on a');
    expect(a.catalogueSync()?.version()).toEqual(b.catalogueSync()?.version());
  });

  it('sites and prefixes added through one replica are applied by the other', async () => {
    expect((await api(b, 'POST', `/api/services/${SERVICE}/sites`, { id: 'sa-east', address: '127.2.0.9', cost: 3 })).status).toBe(201);
    await until(() => a.engine()?.serviceList()[0]?.sites.some((x) => x.id === 'sa-east' && x.cost === 3), 2000, 'site on a');
    expect((await api(a, 'POST', '/api/prefixes', { prefix: '203.0.113.0/24', agent: 'pop-a' })).status).toBe(201);
    await until(() => ((b.store()?.db.prepare(`SELECT COUNT(*) AS n FROM prefixes WHERE prefix = '203.0.113.0/24' AND source = 'admin'`).get() as { n: number }).n === 1), 2000, 'prefix on b');
    // b maps that prefix to pop-a's ranking now, like a.
    const client = { ip: '203.0.113.0', length: 24 };
    expect(await answer(b, client)).toEqual(await answer(a, client));
    expect((await answer(b, client))[0]).toBe('127.2.0.2');
    expect((await api(a, 'DELETE', `/api/services/${SERVICE}/sites/sa-east`)).status).toBe(200);
    await until(() => !b.engine()?.serviceList()[0]?.sites.some((x) => x.id === 'sa-east'), 2000, 'site removed on b');
  });

  it('answer settings of an operator-added service reach the other replica, and so do later changes of them (issue #11)', async () => {
    const shop = {
      name: 'shop.example.test', ttl: 9, ttlUnsettled: 6, answers: 1, policy: 'cost', answerSet: 'ordered', mode: 'proxy', probe: { port: 8080 },
      sites: [{ id: 'fra', address: '127.2.0.7', cost: 2, capacity: { share: 0.5 } }, { id: 'sin', address: '127.2.0.8', weight: 2 }],
    };
    expect((await api(a, 'POST', '/api/services', shop)).status).toBe(201);
    const onB = () => b.engine()?.serviceList().find((x) => x.name === shop.name);
    await until(() => onB(), 2000, 'shop on b');
    expect(onB()).toMatchObject({ ttl: 9, ttlUnsettled: 6, answers: 1, policy: 'cost', answerSet: 'ordered', mode: 'proxy' });
    expect(onB()?.sites).toMatchObject([{ id: 'fra', cost: 2, weight: 1, capacity: { share: 0.5 } }, { id: 'sin', cost: 0, weight: 2 }]);
    // A settings change on a (as an LB makes when its backbone's catalogue changes) is applied by b.
    const store = a.store();
    const mine = store?.loadServices().find((x) => x.name === shop.name);
    if (!store || !mine) throw new Error('shop not on a');
    store.upsertService({ ...mine, ttl: 4, ttlUnsettled: null, policy: 'latency', mode: 'sites', sites: mine.sites.map(({ capacity: _c, ...x }) => x) }, 'admin');
    await a.servicesChanged();
    await until(() => onB()?.ttl === 4, 2000, 'settings change on b');
    expect(onB()).toMatchObject({ ttl: 4, ttlUnsettled: null, answers: 1, policy: 'latency', mode: 'sites' });
    expect(onB()?.sites[0]?.capacity).toBeUndefined();
    expect((await api(a, 'DELETE', `/api/services/${shop.name}`)).status).toBe(200);
    await until(() => !onB(), 2000, 'shop removed on b');
  });

  it('a replica restarted from an older state applies the newer retained catalogue instead of overwriting it', async () => {
    const idx = open.indexOf(a);
    await a.close();
    open.splice(idx, 1);
    await api(b, 'POST', `/api/services/${SERVICE}/sites/us-east/drain`);
    const want = b.catalogueSync()?.version();
    const bApplied = b.catalogueSync()?.counters.applied;
    a = await start(cfgA); // same DB: older revision
    await until(() => siteDrained(a, 'us-east') === true, 5000, 'drain made while a was down');
    expect(a.catalogueSync()?.version()).toEqual(want);
    const w = await watch(broker.url, CATALOGUE_TOPIC);
    const retained = JSON.parse((await w.waitFor((m) => m.retain, 5000, 'retained catalogue')).payload) as { rev: number; origin: string };
    await w.close();
    expect({ rev: retained.rev, origin: retained.origin }).toEqual(want);
    expect(a.catalogueSync()?.counters.applied).toBeGreaterThanOrEqual(1);
    // b never took a's old catalogue: it applied nothing, and still has the drain.
    expect(b.catalogueSync()?.counters.applied).toBe(bApplied);
    expect(siteDrained(b, 'us-east')).toBe(true);
  }, 20_000);

  it('a replica with a different static catalogue is counted and logged as a conflict', async () => {
    const c = await start(selectorConfig({
      mqtt: { url: broker.url },
      services: [{ name: SERVICE, answers: 3, probe: { port: 8080 }, sites: [...SITES, { id: 'local-only', address: '127.2.0.8' }] }],
    }));
    await until(() => (a.catalogueSync()?.counters.conflicts ?? 0) > 0 || (c.catalogueSync()?.counters.conflicts ?? 0) > 0, 5000, 'conflict counted');
    const metricsText = (await api(c, 'GET', '/metrics')).text + (await api(a, 'GET', '/metrics')).text;
    expect(metricsText).toMatch(/^vantage_selector_catalogue_sync_total\{outcome="conflicts"\} [1-9]/m);
    // The site only c's selector.yaml lists stays on c.
    expect(c.engine()?.serviceList()[0]?.sites.some((x) => x.id === 'local-only')).toBe(true);
  }, 20_000);

  it('an invalid or cleared catalogue on the broker is replaced by the current one (never crashes a replica)', async () => {
    const w = await watch(broker.url, CATALOGUE_TOPIC);
    const want = a.catalogueSync()?.version();
    const invalidBefore = (a.catalogueSync()?.counters.invalid ?? 0) + (b.catalogueSync()?.counters.invalid ?? 0);
    for (const payload of ['{"v":1,"ts":1,"services":"nope"}', 'not json', '']) {
      const n = w.seen.length;
      await agent.publishAsync(CATALOGUE_TOPIC, payload, { qos: 1, retain: true });
      // Our garbage, then the current catalogue again.
      const back = await w.waitFor((m) => w.seen.indexOf(m) > n && m.payload.startsWith('{"v":1') && m.payload.includes('"rev"'), 5000, 'catalogue republished');
      const cat = JSON.parse(back.payload) as { rev: number; origin: string };
      expect({ rev: cat.rev, origin: cat.origin }).toEqual(want);
    }
    await w.close();
    expect((a.catalogueSync()?.counters.invalid ?? 0) + (b.catalogueSync()?.counters.invalid ?? 0)).toBeGreaterThanOrEqual(invalidBefore + 2);
    expect(await answer(a)).toEqual(await answer(b));
  }, 20_000);
});
