// Issue #11: a service declared only on the backbone is answered by the LBs with the
// backbone's settings (ttl, answers, policy, answerSet, ttlUnsettled; site capacity),
// both by the LB itself and by the backbone from the LB's pushed rankings; an LB with
// `uplink.catalogue: false` keeps its own. Invalid settings are dropped and counted,
// the rest applied; what was applied survives a restart (SQLite).
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { applyBackboneCatalogue } from '../../selector/uplink/catalogue-sync.js';
import { Store } from '../../selector/store/store.js';
import type { SettingRejection } from '../../shared/catalogue-settings.js';
import { CATALOGUE_TOPIC, parseCatalogue, type Catalogue } from '../../shared/protocol.js';
import { createSelector } from '../../selector/selector.js';
import { selectorConfig, SITES, tmpDb, until } from '../helpers/fixtures.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { watch } from '../helpers/mqtt-watch.js';
import { addrs, bootBackbone, bootLb, eventually, query, resetSeqs, round, SERVICE, type Closer } from './helpers.js';

const open: Closer[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  resetSeqs();
});

const ISP = '198.51.100.0/24';
/** The backbone's declaration: nothing of it is configured on the LBs. */
const DECLARED = {
  name: SERVICE, ttl: 7, ttlUnsettled: 7, answers: 1, policy: 'availability', answerSet: 'ordered', probe: { port: 8080 },
  sites: SITES.map((s, i) => (i === 0 ? { ...s, capacity: { share: 0.5 }, cost: 3 } : s)),
};
const probe = { scheme: 'http', port: 8080, path: '/', expectStatus: [200], timeoutMs: 3000 } as const;

describe('catalogue answer settings backbone → LB', () => {
  it('the LB answers with the backbone ttl/answers/policy, republishes them to its agents, and the backbone pushes that ttl', async () => {
    const bb = await bootBackbone(open, { mode: 'push' }, { services: [DECLARED] });
    const a = await bootLb(open, bb, 'isp-a');
    const agentView = await watch(`mqtt://127.0.0.1:${a.sel.mqttAddress()?.port}`, CATALOGUE_TOPIC);
    open.push(agentView);
    const svc = await until(() => a.sel.engine()?.serviceList().find((s) => s.name === SERVICE && s.ttl === 7), 5000, 'settings at the LB');
    expect(svc).toMatchObject({ ttl: 7, ttlUnsettled: 7, answers: 1, policy: 'availability', answerSet: 'ordered', mode: 'sites' });
    expect(svc.sites[0]).toMatchObject({ id: 'us-east', cost: 3, capacity: { share: 0.5 } });
    // The LB's agents get the settings too (they ignore them; a replica of the LB would apply them).
    const seen = await agentView.waitFor((m) => m.payload.includes('"ttl":7'), 5000, 'settings in the LB catalogue');
    expect(parseCatalogue(seen.payload).services[0]).toMatchObject({ ttl: 7, answers: 1, policy: 'availability' });
    // Measured: pop-a sees eu-west fastest but us-east never failing; availability puts us-east first.
    for (let i = 0; i < 3; i++) await round(a, 'pop-a', [ISP], { 'us-east': 40, 'eu-west': i === 0 ? null : 5, 'ap-south': 60 });
    await eventually(async () => addrs(await query(a.dnsPort, SERVICE, { ecs: ISP })).join() === '127.2.0.1', 5000, 'LB answer');
    const lb = await query(a.dnsPort, SERVICE, { ecs: ISP });
    expect(lb.answers).toMatchObject([{ type: 'A', data: '127.2.0.1', ttl: 7 }]);
    expect(a.sel.engine()?.explain(SERVICE, 'pop-a')?.explanation.policy).toBe('availability');
    // {label}.{service} answers the same.
    expect((await query(a.dnsPort, `isp-a.${SERVICE}`, { ecs: ISP })).answers).toMatchObject([{ data: '127.2.0.1', ttl: 7 }]);
    // The backbone answers that LB's clients from its pushed rankings: the declared TTL.
    const port = bb.dnsAddresses()[0]?.port as number;
    await eventually(async () => addrs(await query(port, SERVICE, { ecs: ISP })).join() === '127.2.0.1', 5000, 'backbone push answer');
    expect((await query(port, SERVICE, { ecs: ISP })).answers).toMatchObject([{ type: 'A', data: '127.2.0.1', ttl: 7 }]);
  });

  it('an LB with uplink.catalogue: false keeps its own settings', async () => {
    const bb = await bootBackbone(open, {}, { services: [DECLARED] });
    const own = { name: SERVICE, ttl: 30, answers: 3, probe: { port: 8080 }, sites: SITES };
    const b = await bootLb(open, bb, 'isp-b', { catalogue: false }, { services: [own] });
    await new Promise((r) => setTimeout(r, 500)); // a catalogue would have arrived by now
    expect(b.sel.engine()?.serviceList().find((s) => s.name === SERVICE)).toMatchObject({ ttl: 30, answers: 3, policy: 'latency' });
    expect((await query(b.dnsPort, SERVICE)).answers).toMatchObject([{ ttl: 30 }, { ttl: 30 }, { ttl: 30 }]);
  });

  it('an LB counts invalid settings of a catalogue on its uplink and applies the rest (never crashes)', async () => {
    // The "backbone" is a bare Mosquitto here, so the test can write any catalogue on it.
    const broker = await startMosquitto();
    open.push({ close: () => broker.stop() });
    const c = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
    open.push({ close: () => c.endAsync() });
    const publish = (svc: Record<string, unknown>, site: Record<string, unknown>) => c.publishAsync(CATALOGUE_TOPIC, JSON.stringify({
      v: 1, ts: Date.now(), services: [{ name: SERVICE, probe, sites: [{ id: 'us-east', address: '127.2.0.1', ...site }], ...svc }],
    }), { qos: 1, retain: true });
    await publish({ ttl: 7, policy: 'availability' }, { capacity: { share: 0.5 } });
    const lb = createSelector(selectorConfig({ services: [], uplink: { url: broker.url, id: 'isp-a', nameservers: [{ name: 'ns.isp-a.example.test', address: '127.0.5.1' }] } }));
    open.push(lb);
    await lb.start();
    const svc = () => lb.engine()?.serviceList().find((s) => s.name === SERVICE);
    await until(() => svc()?.ttl === 7, 5000, 'first catalogue applied');
    await publish({ ttl: 9, policy: 'fastest' }, { capacity: 'lots' });
    await until(() => svc()?.ttl === 9, 5000, 'the valid part of the second applied');
    expect(lb.uplink()?.counters.settingsRejected).toEqual({ policy: 1, capacity: 1 });
    // The settings the catalogue got wrong keep their previous values.
    expect(svc()).toMatchObject({ ttl: 9, policy: 'availability', sites: [{ id: 'us-east', capacity: { share: 0.5 } }] });
    expect((await query(lb.dnsAddresses()[0]?.port as number, SERVICE)).answers[0]?.ttl).toBe(9);
  });

  it('invalid settings are dropped and counted, the rest applied; applied settings persist in SQLite', () => {
    const db = tmpDb();
    const store = new Store(db);
    const cat = (svc: Record<string, unknown>): Catalogue => parseCatalogue({
      v: 1, ts: 1, services: [{ name: SERVICE, probe, sites: [{ id: 'us-east', address: '127.2.0.1', capacity: { rps: 50 } }], ...svc }],
    });
    const rejected: SettingRejection[] = [];
    expect(applyBackboneCatalogue(store, cat({ ttl: 7, policy: 'cost', mode: 'proxy' }), new Set(), rejected)).toBe(true);
    expect(rejected).toEqual([]);
    // An invalid policy and ttl: the LB keeps its previous ones, takes the valid answers.
    expect(applyBackboneCatalogue(store, cat({ ttl: -3, answers: 1, policy: 'fastest', mode: 'proxy' }), new Set(), rejected)).toBe(true);
    expect(rejected.map((r) => r.reason).sort()).toEqual(['policy', 'ttl']);
    store.close();
    const reopened = new Store(db);
    open.push({ close: () => reopened.close() });
    expect(reopened.loadServices()[0]).toMatchObject({ ttl: 7, answers: 1, policy: 'cost', mode: 'proxy', sites: [{ id: 'us-east', capacity: { rps: 50 } }] });
    // A catalogue that no longer sets the capacity / mode: back to none / sites.
    expect(applyBackboneCatalogue(reopened, parseCatalogue({ v: 1, ts: 2, services: [{ name: SERVICE, probe, sites: [{ id: 'us-east', address: '127.2.0.1' }], mode: 'sites' }] }), new Set())).toBe(true);
    expect(reopened.loadServices()[0]?.sites[0]?.capacity).toBeUndefined();
    expect(reopened.loadServices()[0]?.mode).toBe('sites');
  });
});
