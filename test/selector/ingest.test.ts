// Ingest rejections, counted per reason: a real embedded aedes broker, a real
// mqtt.js publisher sending bad payloads, a real SQLite store.
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryAnswerTable } from '../../selector/dns/answer-table.js';
import { createEmbeddedBroker } from '../../selector/mqtt/embedded-broker.js';
import type { MessageBus } from '../../selector/mqtt/bus.js';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import { Freshness } from '../../selector/ranking/freshness.js';
import { createIngest, type Ingest } from '../../selector/mqtt/ingest.js';
import { RankEngine } from '../../selector/ranking/engine.js';
import { ResultWriter } from '../../selector/store/results.js';
import { Store } from '../../selector/store/store.js';
import { silentLogger } from '../../shared/log.js';
import { agentTopic } from '../../shared/protocol.js';
import { metrics, result, selectorConfig, SERVICE, until } from './fixtures.js';

const cfg = selectorConfig();
let store: Store;
let writer: ResultWriter;
let ingest: Ingest;
let bus: MessageBus;
let client: MqttClient;
let engine: RankEngine;
const table = new MemoryAnswerTable();

beforeAll(async () => {
  store = new Store(cfg.db);
  store.syncConfigServices(cfg.services);
  writer = new ResultWriter(store);
  engine = new RankEngine({ ranking: cfg.ranking, table, event: (e) => writer.addEvent(e) });
  engine.setServices(store.loadServices());
  const freshness = new Freshness(cfg.ranking.staleIntervals);
  ingest = createIngest({
    store, writer, engine, freshness, authRequired: false, log: silentLogger(),
    onAnnounce: () => undefined,
    onAgentActivity: () => engine.setFresh(new Set([...freshness.evaluate(Date.now()).states].filter(([, s]) => s === 'fresh').map(([a]) => a))),
  });
  bus = createEmbeddedBroker({ mqtt: cfg.mqtt, authRequired: false, store, onMessage: ingest.handle, log: silentLogger() });
  await bus.start();
  const addr = bus.address();
  client = await mqtt.connectAsync(`mqtt://127.0.0.1:${addr?.port}`, { reconnectPeriod: 0 });
});

afterAll(async () => {
  await client?.endAsync();
  await bus?.close();
  engine?.close();
  writer?.close();
  store?.close();
});

const M = (agent: string) => agentTopic(agent, 'metrics');
const now = Date.now();

describe('ingest over a real broker', () => {
  it('accepts a good metrics message and ranks it', async () => {
    await client.publishAsync(M('pop-a'), metrics('pop-a', 1, [result('us-east', 50), result('eu-west', 20), result('ap-south', 30)]), { qos: 1 });
    await until(() => ingest.counters.accepted.metrics === 1, 5000, 'metrics accepted');
    expect(table.getAnswer(SERVICE, 'pop-a')?.addresses).toEqual(['127.2.0.2', '127.2.0.3', '127.2.0.1']);
    expect(table.getAnswer(SERVICE, DEFAULT_KEY)?.addresses).toEqual(['127.2.0.2', '127.2.0.3', '127.2.0.1']);
    writer.flush(true);
    const n = store.db.prepare('SELECT COUNT(*) AS n FROM results').get() as { n: number };
    expect(n.n).toBe(3);
    const roll = store.db.prepare(`SELECT samples, failures, total_sum FROM rollups WHERE site = 'eu-west'`).get();
    expect(roll).toEqual({ samples: 1, failures: 0, total_sum: 20 });
  });

  const cases: { reason: string; topic: string; payload: string | Buffer }[] = [
    { reason: 'json', topic: M('pop-a'), payload: '{not json' },
    { reason: 'version', topic: M('pop-a'), payload: metrics('pop-a', 10, [], { v: 2 }) },
    { reason: 'schema', topic: M('pop-a'), payload: JSON.stringify({ v: 1, agent: 'pop-a', seq: 11, ts: now, intervalS: 10 }) },
    { reason: 'schema', topic: M('pop-a'), payload: metrics('pop-a', 12, [result('us-east', -5)]) },
    { reason: 'agent_mismatch', topic: M('pop-a'), payload: metrics('pop-b', 13, []) },
    { reason: 'future_ts', topic: M('pop-a'), payload: metrics('pop-a', 14, [], { ts: now + 3_600_000 }) },
    { reason: 'oversize', topic: M('pop-a'), payload: Buffer.alloc(4 * 1024 * 1024 + 1, 0x20) },
    { reason: 'topic', topic: 'vantage/v1/agents/pop-a/other', payload: '{}' },
    { reason: 'stale_seq', topic: M('pop-a'), payload: metrics('pop-a', 1, [result('us-east', 50)]) },
  ];
  it('rejects bad messages and counts each reason', async () => {
    for (const c of cases) await client.publishAsync(c.topic, c.payload, { qos: 1 });
    const want: Record<string, number> = {};
    for (const c of cases) want[c.reason] = (want[c.reason] ?? 0) + 1;
    await until(() => Object.values(ingest.counters.rejected).reduce((a, b) => a + (b ?? 0), 0) >= cases.length, 5000, 'rejections');
    expect(ingest.counters.rejected).toEqual(want);
    expect(ingest.counters.accepted.metrics).toBe(1);
  });

  it('drops results for unknown services/sites and impossible values, keeps the rest', async () => {
    await client.publishAsync(M('pop-a'), metrics('pop-a', 20, [
      result('us-east', 40),
      result('us-east', 40, { service: 'other.example.test' }),
      result('nowhere', 40),
      result('eu-west', 40, { address: '127.2.0.99' }),
      result('ap-south', 10, { ttfbMs: 30 }),
    ]), { qos: 1 });
    await until(() => ingest.counters.accepted.metrics === 2, 5000, 'second metrics');
    expect(ingest.counters.resultsRejected).toEqual({ unknown_service: 1, unknown_site: 1, address_mismatch: 1, impossible: 1 });
    expect(ingest.counters.results).toBe(4);
  });

  it('rejects agents without credentials when auth is on (not_enrolled)', () => {
    const strict = createIngest({
      store, writer, engine: new RankEngine({ ranking: cfg.ranking, table: new MemoryAnswerTable(), event: () => undefined }),
      freshness: new Freshness(3), authRequired: true, log: silentLogger(), onAnnounce: () => undefined, onAgentActivity: () => undefined,
    });
    strict.handle(M('pop-z'), Buffer.from(metrics('pop-z', 1, [])));
    expect(strict.counters.rejected).toEqual({ not_enrolled: 1 });
  });

  it('keeps per-agent order under backpressure: a burst beyond the queue high-water mark loses nothing to stale_seq', async () => {
    const before = ingest.counters.accepted.metrics;
    const results = Array.from({ length: 200 }, () => result('us-east', 10));
    const burst = Array.from({ length: 800 }, (_, i) =>
      client.publishAsync(M('pop-burst'), metrics('pop-burst', 1000 + i, results), { qos: 1 }));
    await Promise.all(burst);
    const staleBefore = ingest.counters.rejected.stale_seq ?? 0;
    await until(() => ingest.counters.accepted.metrics - before + (ingest.counters.rejected.stale_seq ?? 0) - staleBefore === 800, 20_000, 'burst handled');
    expect((ingest.counters.rejected.stale_seq ?? 0) - staleBefore).toBe(0);
    expect(ingest.counters.accepted.metrics - before).toBe(800);
  });
});
