// The agent against an in-process aedes broker: v1 payloads, catalogue re-planning,
// refused publishes, and the bounded queue while the broker is away.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import { Aedes } from 'aedes';
import { createAgent, type Agent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../agent/config.js';
import {
  CATALOGUE_TOPIC, agentTopic, parseAnnounce, parseMetrics, parseStatus, type Catalogue,
} from '../../shared/protocol.js';
import { startBadServer, type BadServer } from '../helpers/bad-server.js';
import { freeTcpPort } from '../helpers/net.js';
import { watch, type Watcher } from '../helpers/mqtt-watch.js';

interface Broker { url: string; port: number; aedes: Aedes; refused: string[]; close(): Promise<void> }

async function startAedes(port = 0, refuse?: (topic: string) => boolean): Promise<Broker> {
  const refused: string[] = [];
  const aedes = await Aedes.createBroker({
    authorizePublish: (client, packet, cb) => {
      if (client && refuse?.(packet.topic)) {
        refused.push(packet.topic);
        return cb(new Error('not allowed'));
      }
      cb(null);
    },
  });
  const server = net.createServer(aedes.handle);
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const bound = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${bound}`, port: bound, aedes, refused,
    close: async () => {
      await new Promise<void>((r) => aedes.close(() => r()));
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

function catalogue(site: BadServer, ids: string[]): Catalogue {
  return {
    v: 1, ts: Date.now(),
    services: [{
      name: 'www.example.test',
      probe: { scheme: 'http', port: site.port, path: '/ok', expectStatus: [200], timeoutMs: 400 },
      sites: ids.map((id, i) => ({ id, address: i === 0 ? site.host : '127.2.2.99' })),
    }],
  };
}

async function publishRetained(url: string, topic: string, payload: object): Promise<void> {
  const c = await mqtt.connectAsync(url, { protocolVersion: 4 });
  await c.publishAsync(topic, JSON.stringify(payload), { qos: 1, retain: true });
  await c.endAsync();
}

const agentConfig = (url: string, extra: object = {}) => parseAgentConfig({
  id: 'pop-test', pop: 'Test POP', mqtt: { url }, intervalS: 1, concurrency: 4,
  prefixes: ['198.51.100.0/24'], resolvers: ['192.0.2.53'], ...extra,
});

let site: BadServer;
let agent: Agent | undefined;
let watcher: Watcher | undefined;
const brokers: Broker[] = [];

beforeAll(async () => {
  site = await startBadServer({ host: '127.2.2.1' });
});
afterEach(async () => {
  await agent?.close();
  agent = undefined;
  await watcher?.close();
  watcher = undefined;
  while (brokers.length) await brokers.pop()?.close();
});
afterAll(async () => { await site?.close(); });

describe('agent with aedes', () => {
  it('publishes status, announce and per-round metrics in v1, and re-plans on catalogue change', async () => {
    const broker = await startAedes();
    brokers.push(broker);
    await publishRetained(broker.url, CATALOGUE_TOPIC, catalogue(site, ['a']));
    watcher = await watch(broker.url, 'vantage/v1/agents/#');
    agent = createAgent(agentConfig(broker.url));
    await agent.start();

    const status = await watcher.waitFor((m) => m.topic === agentTopic('pop-test', 'status'), 5000, 'status');
    expect(parseStatus(status.payload, { topicAgent: 'pop-test' }).state).toBe('online');
    const ann = parseAnnounce((await watcher.waitFor((m) => m.topic.endsWith('/announce'))).payload, { topicAgent: 'pop-test' });
    expect(ann).toMatchObject({ pop: 'Test POP', prefixes: ['198.51.100.0/24'], resolvers: ['192.0.2.53'] });
    expect(ann.addresses.length).toBeGreaterThan(0);

    const first = parseMetrics((await watcher.waitFor((m) => m.topic.endsWith('/metrics'), 5000)).payload, { topicAgent: 'pop-test' });
    expect(first.intervalS).toBe(1);
    expect(first.results).toHaveLength(1);
    expect(first.results[0]).toMatchObject({ site: 'a', address: '127.2.2.1', ok: true, status: 200, error: null });

    // A new catalogue with a second (dead) site: later rounds probe both, no restart.
    await publishRetained(broker.url, CATALOGUE_TOPIC, catalogue(site, ['a', 'b']));
    const two = await watcher.waitFor((m) => m.topic.endsWith('/metrics') && parseMetrics(m.payload).results.length === 2, 5000, 'two-site round');
    const results = parseMetrics(two.payload).results;
    expect(results.find((r) => r.site === 'b')).toMatchObject({ ok: false, address: '127.2.2.99', error: 'refused' });

    const seqs = watcher.on(agentTopic('pop-test', 'metrics')).map((m) => parseMetrics(m.payload).seq);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]).toBe((seqs[i - 1] as number) + 1);
    expect(agent.stats().published).toBeGreaterThanOrEqual(2);
  });

  it('drops a publish the broker refuses after a bounded number of attempts', async () => {
    const broker = await startAedes(0, (t) => t.endsWith('/metrics'));
    brokers.push(broker);
    await publishRetained(broker.url, CATALOGUE_TOPIC, catalogue(site, ['a']));
    agent = createAgent(agentConfig(broker.url, { intervalS: 5 }), { reconnectMinMs: 50, reconnectMaxMs: 100, maxAttempts: 3 });
    await agent.start();
    const deadline = Date.now() + 8000;
    while (agent.stats().rejected < 1 && Date.now() < deadline) await sleep(50);
    expect(agent.stats().rejected).toBe(1);
    // Exactly maxAttempts tries for that one message: no endless re-send loop.
    await sleep(500);
    expect(broker.refused.filter((t) => t.endsWith('/metrics'))).toHaveLength(3);
    expect(agent.stats().queueDepth).toBe(0);
  });

  it('queues rounds while the broker is down (bounded, oldest dropped) and delivers them after it starts', async () => {
    const port = await freeTcpPort('127.0.0.1');
    const url = `mqtt://127.0.0.1:${port}`;
    const metricsPort = await freeTcpPort('127.0.0.1');
    agent = createAgent(agentConfig(url, { queueMax: 2, http: { listen: `127.0.0.1:${metricsPort}` } }), { reconnectMinMs: 100, reconnectMaxMs: 200 });
    await agent.start();
    // No broker, so no catalogue yet: start one just to hand the catalogue over.
    let broker = await startAedes(port);
    await publishRetained(url, CATALOGUE_TOPIC, catalogue(site, ['a']));
    const t0 = Date.now();
    while (agent.stats().published < 1 && Date.now() - t0 < 5000) await sleep(50);
    expect(agent.stats().published).toBeGreaterThanOrEqual(1);
    await broker.close();
    const downAt = Date.now();
    while (Date.now() - downAt < 4200) await sleep(100);
    const s = agent.stats();
    expect(s.connected).toBe(false);
    expect(s.queueDepth).toBe(2);
    expect(s.dropped).toBeGreaterThanOrEqual(1);
    // Exposed as a Prometheus counter; scraping twice does not count a drop twice.
    for (let scrape = 0; scrape < 2; scrape++) {
      const text = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(text).toMatch(/^# TYPE vantage_agent_messages_dropped_total counter$/m);
      const dropped = Number(/^vantage_agent_messages_dropped_total (\d+)$/m.exec(text)?.[1]);
      expect(dropped).toBeGreaterThanOrEqual(s.dropped + s.rejected);
      expect(dropped).toBe(agent.stats().dropped + agent.stats().rejected);
    }

    broker = await startAedes(port);
    brokers.push(broker);
    watcher = await watch(url, agentTopic('pop-test', 'metrics'));
    const upAt = Date.now();
    const late = await watcher.waitFor((m) => parseMetrics(m.payload).ts < upAt, 5000, 'a round made while the broker was down');
    expect(parseMetrics(late.payload).ts).toBeGreaterThan(downAt);
    await watcher.waitFor((m) => parseMetrics(m.payload).ts > upAt, 5000, 'a fresh round');
    expect(agent.stats().queueDepth).toBeLessThanOrEqual(1);
  });

  it('serves Prometheus /metrics on http.listen', async () => {
    const broker = await startAedes();
    brokers.push(broker);
    await publishRetained(broker.url, CATALOGUE_TOPIC, catalogue(site, ['a', 'b']));
    const port = await freeTcpPort('127.0.0.1');
    agent = createAgent(agentConfig(broker.url, { http: { listen: `127.0.0.1:${port}` } }));
    await agent.start();
    const t0 = Date.now();
    while (agent.stats().rounds < 1 && Date.now() - t0 < 5000) await sleep(50);
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    expect(text).toMatch(/^vantage_agent_probes_total 2$/m);
    expect(text).toMatch(/^vantage_agent_probe_failures_total\{error="refused"\} 1$/m);
    expect(text).toMatch(/^vantage_agent_broker_connected 1$/m);
    expect(text).toMatch(/^vantage_agent_probe_duration_seconds_count\{site="a",phase="total"\} 1$/m);
    expect((await fetch(`http://127.0.0.1:${port}/other`)).status).toBe(404);
  });
});
