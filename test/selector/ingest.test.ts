// Ingest rejections, counted per reason, through the selector as it is wired for
// production (createSelector): its embedded aedes broker, a real mqtt.js publisher
// sending bad payloads, its SQLite store, and DNS answers read back over UDP. The
// not_enrolled case needs a broker that lets an unenrolled agent in: a real Mosquitto
// (external broker mode, anonymous allowed) in front of a selector with auth required.
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import type { IngestCounters } from '../../selector/mqtt/ingest.js';
import { createSelector, type Selector } from '../../selector/selector.js';
import type { Store } from '../../selector/store/store.js';
import { agentTopic } from '../../shared/protocol.js';
import { metrics, result, selectorConfig, SERVICE, until } from '../helpers/fixtures.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { queryA } from '../helpers/dns-client.js';

let sel: Selector;
let client: MqttClient;
const counters = (): IngestCounters => sel.ingestCounters() as IngestCounters;
const store = (): Store => sel.store() as Store;

beforeAll(async () => {
  sel = createSelector(selectorConfig());
  await sel.start();
  client = await mqtt.connectAsync(`mqtt://127.0.0.1:${sel.mqttAddress()?.port}`, { reconnectPeriod: 0 });
});

afterAll(async () => {
  await client?.endAsync();
  await sel?.close();
});

const M = (agent: string) => agentTopic(agent, 'metrics');
const now = Date.now();

describe('ingest over a real broker', () => {
  it('accepts a good metrics message, stores it, ranks it and answers DNS with it', async () => {
    await client.publishAsync(agentTopic('pop-a', 'announce'), JSON.stringify({ v: 1, agent: 'pop-a', pop: 'A', addresses: [], prefixes: ['198.51.100.0/24'], resolvers: [], ts: now }), { qos: 1 });
    await client.publishAsync(M('pop-a'), metrics('pop-a', 1, [result('us-east', 50), result('eu-west', 20), result('ap-south', 30)]), { qos: 1 });
    await until(() => counters().accepted.metrics === 1, 5000, 'metrics accepted');
    expect(sel.table.getAnswer(SERVICE, 'pop-a')?.addresses).toEqual(['127.2.0.2', '127.2.0.3', '127.2.0.1']);
    expect(sel.table.getAnswer(SERVICE, DEFAULT_KEY)?.addresses).toEqual(['127.2.0.2', '127.2.0.3', '127.2.0.1']);
    const reply = await queryA('127.0.0.1', sel.dnsAddresses()[0]?.port as number, SERVICE, { ip: '198.51.100.0', length: 24 });
    expect(reply.addresses).toEqual(['127.2.0.2', '127.2.0.3', '127.2.0.1']);
    sel.flush();
    const n = store().db.prepare('SELECT COUNT(*) AS n FROM results').get() as { n: number };
    expect(n.n).toBe(3);
    const roll = store().db.prepare(`SELECT samples, failures, total_sum FROM rollups WHERE site = 'eu-west'`).get();
    expect(roll).toEqual({ samples: 1, failures: 0, total_sum: 20 });
  });

  const cases: { reason: string; topic: string; payload: string | Buffer }[] = [
    { reason: 'json', topic: M('pop-a'), payload: '{not json' },
    { reason: 'version', topic: M('pop-a'), payload: metrics('pop-a', 10, [], { v: 2 }) },
    { reason: 'schema', topic: M('pop-a'), payload: JSON.stringify({ v: 1, agent: 'pop-a', seq: 11, ts: now, intervalS: 10 }) },
    { reason: 'schema', topic: M('pop-a'), payload: metrics('pop-a', 12, [result('us-east', -5)]) },
    { reason: 'agent_mismatch', topic: M('pop-a'), payload: metrics('pop-b', 13, []) },
    { reason: 'future_ts', topic: M('pop-a'), payload: metrics('pop-a', 14, [], { ts: now + 3_600_000 }) },
    { reason: 'old_ts', topic: M('pop-a'), payload: metrics('pop-a', 15, [], { ts: now - 49 * 3_600_000 }) },
    { reason: 'oversize', topic: M('pop-a'), payload: Buffer.alloc(4 * 1024 * 1024 + 1, 0x20) },
    { reason: 'topic', topic: 'vantage/v1/agents/pop-a/other', payload: '{}' },
    { reason: 'stale_seq', topic: M('pop-a'), payload: metrics('pop-a', 1, [result('us-east', 50)]) },
  ];
  it('rejects bad messages and counts each reason', async () => {
    for (const c of cases) await client.publishAsync(c.topic, c.payload, { qos: 1 });
    const want: Record<string, number> = {};
    for (const c of cases) want[c.reason] = (want[c.reason] ?? 0) + 1;
    await until(() => Object.values(counters().rejected).reduce((a, b) => a + (b ?? 0), 0) >= cases.length, 5000, 'rejections');
    expect(counters().rejected).toEqual(want);
    expect(counters().accepted.metrics).toBe(1);
  });

  it('drops results for unknown services/sites and impossible values, keeps the rest', async () => {
    await client.publishAsync(M('pop-a'), metrics('pop-a', 20, [
      result('us-east', 40),
      result('us-east', 40, { service: 'other.example.test' }),
      result('nowhere', 40),
      result('eu-west', 40, { address: '127.2.0.99' }),
      result('ap-south', 10, { ttfbMs: 30 }),
    ]), { qos: 1 });
    await until(() => counters().accepted.metrics === 2, 5000, 'second metrics');
    expect(counters().resultsRejected).toEqual({ unknown_service: 1, unknown_site: 1, address_mismatch: 1, impossible: 1 });
    expect(counters().results).toBe(4);
  });

  it('keeps per-agent order under backpressure: a burst beyond the queue high-water mark loses nothing to stale_seq', async () => {
    const before = counters().accepted.metrics;
    const results = Array.from({ length: 200 }, () => result('us-east', 10));
    const burst = Array.from({ length: 800 }, (_, i) =>
      client.publishAsync(M('pop-burst'), metrics('pop-burst', 1000 + i, results), { qos: 1 }));
    await Promise.all(burst);
    const staleBefore = counters().rejected.stale_seq ?? 0;
    await until(() => counters().accepted.metrics - before + (counters().rejected.stale_seq ?? 0) - staleBefore === 800, 100_000, 'burst handled');
    expect((counters().rejected.stale_seq ?? 0) - staleBefore).toBe(0);
    expect(counters().accepted.metrics - before).toBe(800);
  }, 120_000);
});

describe('ingest with auth required behind an external broker', () => {
  it('rejects an agent the broker let in but the selector never enrolled (not_enrolled)', async () => {
    const broker = await startMosquitto();
    const strict = createSelector(selectorConfig({ mqtt: { url: broker.url }, auth: { agents: 'required' } }));
    try {
      await strict.start();
      const c = await mqtt.connectAsync(broker.url, { reconnectPeriod: 0 });
      await c.publishAsync(M('pop-z'), metrics('pop-z', 1, [result('us-east', 10)]), { qos: 1 });
      await c.endAsync();
      await until(() => strict.ingestCounters()?.rejected.not_enrolled === 1, 5000, 'not_enrolled');
      expect(strict.ingestCounters()?.accepted.metrics).toBe(0);
      expect(strict.table.getAnswer(SERVICE, 'pop-z')?.key).toBe(DEFAULT_KEY);
    } finally {
      await strict.close();
      await broker.stop();
    }
  });
});
