// The whole selector booted from a config on free ports: embedded aedes, SQLite,
// ranking, and the DNS server queried over real UDP with ECS from POP prefixes.
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { createSelector, type Selector } from '../../selector/selector.js';
import { agentTopic, CATALOGUE_TOPIC } from '../../shared/protocol.js';
import { queryA } from '../helpers/dns-client.js';
import { announce, metrics, result, selectorConfig, SERVICE, until } from '../helpers/fixtures.js';

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

async function boot(cfg = selectorConfig()): Promise<{ sel: Selector; dnsPort: number; client: MqttClient }> {
  const sel = createSelector(cfg);
  open.push(sel);
  await sel.start();
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${sel.mqttAddress()?.port}`, { reconnectPeriod: 0 });
  open.push({ close: () => client.endAsync() });
  const dnsPort = sel.dnsAddresses()[0]?.port as number;
  return { sel, dnsPort, client };
}

const NYC = { ip: '198.51.100.0', length: 24 };
const LON = { ip: '203.0.113.0', length: 24 };

describe('selector', () => {
  it('publishes the retained catalogue at start', async () => {
    const { client } = await boot();
    const got = new Promise<string>((resolve) => client.on('message', (_t, p) => resolve(p.toString())));
    await client.subscribeAsync(CATALOGUE_TOPIC, { qos: 1 });
    const cat = JSON.parse(await got);
    expect(cat.v).toBe(1);
    expect(cat.services).toEqual([{
      name: SERVICE,
      probe: { scheme: 'http', port: 8080, path: '/', expectStatus: [200], timeoutMs: 3000 },
      sites: [{ id: 'us-east', address: '127.2.0.1' }, { id: 'eu-west', address: '127.2.0.2' }, { id: 'ap-south', address: '127.2.0.3' }].map((x) => ({ ...x, cost: 0, weight: 1 })),
      // Answer settings (optional, additive): LBs and replicas apply them, agents ignore them.
      ttl: 30, answers: 3, policy: 'latency', answerSet: 'ordered', mode: 'sites',
    }]);
  });

  it("answers each POP's clients with that agent's best site first, others with the aggregate", async () => {
    const { sel, dnsPort, client } = await boot();
    await client.publishAsync(agentTopic('pop-nyc', 'announce'), announce('pop-nyc', ['198.51.100.0/24']), { qos: 1, retain: true });
    await client.publishAsync(agentTopic('pop-lon', 'announce'), announce('pop-lon', ['203.0.113.0/24']), { qos: 1, retain: true });
    await client.publishAsync(agentTopic('pop-nyc', 'metrics'), metrics('pop-nyc', 1, [result('us-east', 10), result('eu-west', 80), result('ap-south', 200)]), { qos: 1 });
    await client.publishAsync(agentTopic('pop-lon', 'metrics'), metrics('pop-lon', 1, [result('us-east', 90), result('eu-west', 8), result('ap-south', 150)]), { qos: 1 });
    await until(() => sel.ingestCounters()?.accepted.metrics === 2, 5000, 'metrics');
    await until(() => sel.agentStates().get('pop-lon') === 'fresh', 5000, 'pop-lon fresh');
    const nyc = await queryA('127.0.0.1', dnsPort, SERVICE, NYC);
    const lon = await queryA('127.0.0.1', dnsPort, SERVICE, LON);
    expect(nyc.addresses).toEqual(['127.2.0.1', '127.2.0.2', '127.2.0.3']);
    expect(nyc.scope).toBe(24);
    expect(lon.addresses).toEqual(['127.2.0.2', '127.2.0.1', '127.2.0.3']);
    // Unmapped client: aggregate (median of both agents' medians: us-east 50, eu-west 44, ap-south 175).
    const other = await queryA('127.0.0.1', dnsPort, SERVICE, { ip: '192.0.2.0', length: 24 });
    expect(other.addresses).toEqual(['127.2.0.2', '127.2.0.1', '127.2.0.3']);
  });

  it('fails over when a site fails twice, and records the decision', async () => {
    const { sel, dnsPort, client } = await boot();
    await client.publishAsync(agentTopic('pop-nyc', 'announce'), announce('pop-nyc', ['198.51.100.0/24']), { qos: 1 });
    let seq = 1;
    const round = (us: number | null) => client.publishAsync(agentTopic('pop-nyc', 'metrics'),
      metrics('pop-nyc', seq++, [result('us-east', us), result('eu-west', 40), result('ap-south', 60)]), { qos: 1 });
    await round(10);
    await until(() => sel.ingestCounters()?.accepted.metrics === 1, 5000, 'first round');
    expect((await queryA('127.0.0.1', dnsPort, SERVICE, NYC)).addresses[0]).toBe('127.2.0.1');
    await round(null);
    await until(() => sel.ingestCounters()?.accepted.metrics === 2, 5000, 'second round');
    // One failure: still up; the failure share penalises it (10 × (1 + 4 × 0.5) = 30 < 40), still first.
    expect((await queryA('127.0.0.1', dnsPort, SERVICE, NYC)).addresses).toEqual(['127.2.0.1', '127.2.0.2', '127.2.0.3']);
    await round(null);
    await until(() => sel.ingestCounters()?.accepted.metrics === 3, 5000, 'third round');
    expect((await queryA('127.0.0.1', dnsPort, SERVICE, NYC)).addresses).toEqual(['127.2.0.2', '127.2.0.3']);
    sel.flush();
    const events = sel.store()?.listEvents(0).map((e) => [e.kind, e.agent, e.site]);
    expect(events).toContainEqual(['site_down', 'pop-nyc', 'us-east']);
    expect(events).toContainEqual(['first_changed', 'pop-nyc', 'eu-west']);
    // Two successes bring it back.
    await round(10);
    await round(10);
    await until(() => sel.ingestCounters()?.accepted.metrics === 5, 5000, 'recovery rounds');
    expect((await queryA('127.0.0.1', dnsPort, SERVICE, NYC)).addresses).toContain('127.2.0.1');
  });

  it('answers from stored measurements right after a restart', async () => {
    const cfg = selectorConfig();
    const first = await boot(cfg);
    await first.client.publishAsync(agentTopic('pop-nyc', 'announce'), announce('pop-nyc', ['198.51.100.0/24']), { qos: 1 });
    await first.client.publishAsync(agentTopic('pop-nyc', 'metrics'), metrics('pop-nyc', 7, [result('us-east', 90), result('eu-west', 70), result('ap-south', 5)]), { qos: 1 });
    await until(() => first.sel.ingestCounters()?.accepted.metrics === 1, 5000, 'metrics');
    expect((await queryA('127.0.0.1', first.dnsPort, SERVICE, NYC)).addresses[0]).toBe('127.2.0.3');
    for (const o of open.splice(0).reverse()) await o.close();

    const sel = createSelector(cfg);
    open.push(sel);
    await sel.start();
    // No MQTT traffic after the restart: the answer comes from SQLite.
    const reply = await queryA('127.0.0.1', sel.dnsAddresses()[0]?.port as number, SERVICE, NYC);
    expect(reply.addresses).toEqual(['127.2.0.3', '127.2.0.2', '127.2.0.1']);
    expect(sel.agentStates().get('pop-nyc')).toBe('fresh');
    // Replay protection survives the restart too.
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${sel.mqttAddress()?.port}`, { reconnectPeriod: 0 });
    open.push({ close: () => c.endAsync() });
    await c.publishAsync(agentTopic('pop-nyc', 'metrics'), metrics('pop-nyc', 7, [result('us-east', 1)]), { qos: 1 });
    await until(() => sel.ingestCounters()?.rejected.stale_seq === 1, 5000, 'stale_seq');
  });

  it('treats an agent whose last will (stamped at its connect, before its metrics) says offline as gone', async () => {
    const { sel, dnsPort, client } = await boot();
    await client.publishAsync(agentTopic('pop-nyc', 'announce'), announce('pop-nyc', ['198.51.100.0/24']), { qos: 1 });
    await client.publishAsync(agentTopic('pop-nyc', 'metrics'), metrics('pop-nyc', 1, [result('us-east', 90), result('eu-west', 70), result('ap-south', 5)]), { qos: 1 });
    await until(() => sel.agentStates().get('pop-nyc') === 'fresh', 5000, 'fresh');
    expect((await queryA('127.0.0.1', dnsPort, SERVICE, NYC)).addresses[0]).toBe('127.2.0.3');
    await client.publishAsync(agentTopic('pop-nyc', 'status'), JSON.stringify({ v: 1, agent: 'pop-nyc', state: 'offline', ts: Date.now() - 60_000 }), { qos: 1 });
    await until(() => sel.agentStates().get('pop-nyc') === 'offline', 5000, 'offline');
    // No fresh agent left: configured order, ECS scope from the prefix table.
    expect((await queryA('127.0.0.1', dnsPort, SERVICE, NYC)).addresses).toEqual(['127.2.0.1', '127.2.0.2', '127.2.0.3']);
  });

  it('an agent whose metrics stop goes stale after staleIntervals × intervalS; its clients fall back', async () => {
    const { sel, dnsPort, client } = await boot(selectorConfig({ ranking: { staleIntervals: 1 } }));
    await client.publishAsync(agentTopic('pop-nyc', 'announce'), announce('pop-nyc', ['198.51.100.0/24']), { qos: 1 });
    await client.publishAsync(agentTopic('pop-nyc', 'metrics'),
      metrics('pop-nyc', 1, [result('us-east', 90), result('eu-west', 70), result('ap-south', 5)], { intervalS: 1 }), { qos: 1 });
    await until(() => sel.agentStates().get('pop-nyc') === 'fresh', 5000, 'fresh');
    expect((await queryA('127.0.0.1', dnsPort, SERVICE, NYC)).addresses[0]).toBe('127.2.0.3');
    await until(() => sel.agentStates().get('pop-nyc') === 'stale', 4000, 'stale');
    expect((await queryA('127.0.0.1', dnsPort, SERVICE, NYC)).addresses).toEqual(['127.2.0.1', '127.2.0.2', '127.2.0.3']);
    sel.flush();
    expect(sel.store()?.listEvents(0).filter((e) => e.agent === 'pop-nyc' && e.kind.startsWith('agent_')).map((e) => e.kind))
      .toEqual(['agent_online', 'agent_stale']);
  });

  it('maps a client without ECS by its resolver address; configured prefixes win over announced ones', async () => {
    const cfg = selectorConfig({ prefixes: [{ agent: 'pop-lon', prefixes: ['198.51.100.0/24'] }] });
    const { sel, dnsPort, client } = await boot(cfg);
    await client.publishAsync(agentTopic('pop-nyc', 'announce'), announce('pop-nyc', ['198.51.100.0/24'], ['127.0.0.1']), { qos: 1 });
    await client.publishAsync(agentTopic('pop-nyc', 'metrics'), metrics('pop-nyc', 1, [result('us-east', 9), result('eu-west', 70), result('ap-south', 50)]), { qos: 1 });
    await client.publishAsync(agentTopic('pop-lon', 'metrics'), metrics('pop-lon', 1, [result('us-east', 90), result('eu-west', 7), result('ap-south', 50)]), { qos: 1 });
    await until(() => sel.agentStates().get('pop-lon') === 'fresh' && sel.agentStates().get('pop-nyc') === 'fresh', 5000, 'both fresh');
    // No ECS: the packet comes from 127.0.0.1, pop-nyc's announced resolver.
    expect((await queryA('127.0.0.1', dnsPort, SERVICE)).addresses[0]).toBe('127.2.0.1');
    // ECS in 198.51.100.0/24: configured for pop-lon, although pop-nyc announced it too.
    expect((await queryA('127.0.0.1', dnsPort, SERVICE, NYC)).addresses[0]).toBe('127.2.0.2');
  });

  it('republishes the catalogue and re-ranks after a service change (drained site)', async () => {
    const { sel, dnsPort, client } = await boot();
    await client.publishAsync(agentTopic('pop-nyc', 'announce'), announce('pop-nyc', ['198.51.100.0/24']), { qos: 1 });
    await client.publishAsync(agentTopic('pop-nyc', 'metrics'), metrics('pop-nyc', 1, [result('us-east', 9), result('eu-west', 70), result('ap-south', 50)]), { qos: 1 });
    await until(() => sel.agentStates().get('pop-nyc') === 'fresh', 5000, 'fresh');
    const catalogues: { services: { sites: { id: string; drained?: boolean }[] }[] }[] = [];
    client.on('message', (_t, p) => catalogues.push(JSON.parse(p.toString())));
    await client.subscribeAsync(CATALOGUE_TOPIC, { qos: 1 });
    await until(() => catalogues.length === 1, 3000, 'retained catalogue');
    sel.store()?.setDrained(SERVICE, 'us-east', true);
    await sel.servicesChanged();
    await until(() => catalogues.length === 2, 3000, 'republished catalogue');
    expect(catalogues[1]?.services[0]?.sites[0]).toEqual({ id: 'us-east', address: '127.2.0.1', drained: true, cost: 0, weight: 1 });
    expect((await queryA('127.0.0.1', dnsPort, SERVICE, NYC)).addresses).toEqual(['127.2.0.3', '127.2.0.2']);
    expect(sel.engine()?.explain(SERVICE, 'pop-nyc')?.explanation.sites[0]).toMatchObject({ id: 'us-east', state: 'drained', formula: 'excluded: drained' });
  });
});
