// Hostile MQTT payloads against the whole selector (embedded aedes, SQLite, admin HTTP):
// each is rejected, counted by reason in Prometheus /metrics, never stored (SQLite row
// counts), and ingest keeps working for a good message sent afterwards.
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSelector, type Selector } from '../../selector/selector.js';
import { agentTopic, MAX_PAYLOAD_BYTES } from '../../shared/protocol.js';
import { announce, metrics, result, selectorConfig, until } from '../helpers/fixtures.js';

let sel: Selector;
let client: MqttClient;
let metricsUrl: string;

beforeAll(async () => {
  sel = createSelector(selectorConfig());
  await sel.start();
  client = await mqtt.connectAsync(`mqtt://127.0.0.1:${sel.mqttAddress()?.port}`, { reconnectPeriod: 0 });
  const http = sel.adminAddress() as { port: number };
  metricsUrl = `http://127.0.0.1:${http.port}/metrics`;
});
afterAll(async () => {
  await client?.endAsync();
  await sel?.close();
});

const M = agentTopic('pop-a', 'metrics');
const now = Date.now();
const good = result('us-east', 20);

function rows(table: string): number {
  sel.flush();
  return (sel.store()?.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
}

/** reason → payloads; every one must be counted under that reason. */
const HOSTILE: [string, string, string | Buffer][] = [
  ['json', M, '{not json'],
  ['json', M, '{"v":1,"agent":"pop-a","seq":5,"ts":NaN,"intervalS":10,"results":[]}'],
  ['json', M, '['.repeat(200_000) + ']'.repeat(200_000)],
  ['json', M, '"just a string"'],
  ['json', M, Buffer.from([0xff, 0xfe, 0x00, 0x7b])],
  ['version', M, JSON.stringify({ v: '1', agent: 'pop-a', seq: 5, ts: now, intervalS: 10, results: [] })],
  ['version', M, '{"agent":"pop-a"}'],
  ['schema', M, metrics('pop-a', 5, [], { seq: '5' })],
  ['schema', M, metrics('pop-a', 5, [], { seq: 5.5 })],
  ['schema', M, metrics('pop-a', 5, [], { seq: -1 })],
  ['schema', M, metrics('pop-a', 5, [], { ts: 'now' })],
  ['schema', M, metrics('pop-a', 5, [], { ts: -1 })],
  ['schema', M, metrics('pop-a', 5, [], { intervalS: 0 })],
  ['schema', M, metrics('pop-a', 5, [], { results: 'none' })],
  ['schema', M, metrics('pop-a', 5, [{ ...good, totalMs: 'NaN' } as never])],
  ['schema', M, metrics('pop-a', 5, [{ ...good, totalMs: -3 }])],
  ['schema', M, metrics('pop-a', 5, [{ ...good, totalMs: 1e12 }])],
  ['schema', M, metrics('pop-a', 5, [{ ...good, error: 'meltdown' } as never])],
  ['schema', M, metrics('pop-a', 5, [{ ...good, address: 'not-an-ip' }])],
  // Results hidden behind __proto__ must not be found through the prototype chain.
  ['schema', M, `{"v":1,"agent":"pop-a","seq":5,"ts":${now},"intervalS":10,"__proto__":{"results":[${JSON.stringify(good)}]}}`],
  ['agent_mismatch', M, metrics('pop-b', 5, [good])],
  ['future_ts', M, metrics('pop-a', 5, [good], { ts: now + 3_600_000 })],
  ['future_ts', M, metrics('pop-a', 5, [good], { ts: Number.MAX_SAFE_INTEGER })],
  ['old_ts', M, metrics('pop-a', 5, [good], { ts: 0 })],
  ['old_ts', M, metrics('pop-a', 5, [good], { ts: now - 30 * 86_400_000 })],
  ['oversize', M, Buffer.alloc(MAX_PAYLOAD_BYTES + 1, 0x20)],
  ['topic', 'vantage/v1/agents/POP-A/metrics', metrics('pop-a', 5, [good])],
  ['topic', 'vantage/v1/agents/pop-a/results', metrics('pop-a', 5, [good])],
  ['stale_seq', M, metrics('pop-a', 1, [good])],
  ['stale_seq', M, metrics('pop-a', 0, [good])],
  ['schema', agentTopic('pop-a', 'status'), JSON.stringify({ v: 1, agent: 'pop-a', state: 'zombie', ts: now })],
  ['schema', agentTopic('pop-a', 'announce'), announce('pop-a', ['300.1.1.0/24'])],
  ['agent_mismatch', agentTopic('pop-a', 'announce'), announce('pop-b', ['198.51.100.0/24'])],
];

describe('hostile MQTT payloads against the real selector', () => {
  it('a good message is accepted and stored (baseline)', async () => {
    await client.publishAsync(M, metrics('pop-a', 1, [result('us-east', 20), result('eu-west', 30), result('ap-south', 40)]), { qos: 1 });
    await until(() => sel.ingestCounters()?.accepted.metrics === 1, 5000, 'baseline accepted');
    expect(rows('results')).toBe(3);
  });

  it('every hostile payload is rejected, counted by reason in /metrics, and nothing is stored', async () => {
    const agentsBefore = rows('agents');
    const eventsBefore = rows('events');
    for (const [, topic, payload] of HOSTILE) await client.publishAsync(topic, payload, { qos: 1 });
    const want: Record<string, number> = {};
    for (const [reason] of HOSTILE) want[reason] = (want[reason] ?? 0) + 1;
    const total = HOSTILE.length;
    await until(() => Object.values(sel.ingestCounters()?.rejected ?? {}).reduce((a, b) => a + (b ?? 0), 0) >= total, 10_000, 'all rejected');
    expect(sel.ingestCounters()?.rejected).toEqual(want);
    expect(sel.ingestCounters()?.accepted).toEqual({ status: 0, announce: 0, metrics: 1 });
    const text = await (await fetch(metricsUrl)).text();
    for (const [reason, n] of Object.entries(want)) {
      expect(text).toContain(`vantage_selector_ingest_rejected_total{reason="${reason}"} ${n}`);
    }
    expect(rows('results')).toBe(3);
    expect(rows('agents')).toBe(agentsBefore);
    expect(rows('events')).toBe(eventsBefore);
  });

  it('results for unknown services/sites are dropped and counted; the rest of the message is stored', async () => {
    await client.publishAsync(M, metrics('pop-a', 10, [
      result('us-east', 25),
      result('us-east', 25, { service: 'evil.example.test' }),
      result('nowhere', 25),
      result('eu-west', 25, { address: '127.2.0.99' }),
    ]), { qos: 1 });
    await until(() => sel.ingestCounters()?.accepted.metrics === 2, 5000, 'mixed message accepted');
    expect(sel.ingestCounters()?.resultsRejected).toEqual({ unknown_service: 1, unknown_site: 1, address_mismatch: 1 });
    expect(rows('results')).toBe(4);
    const text = await (await fetch(metricsUrl)).text();
    expect(text).toContain('vantage_selector_ingest_results_rejected_total{reason="unknown_site"} 1');
  });

  it('a replay of an accepted message is rejected (stale_seq); a good one afterwards is stored', async () => {
    const replay = metrics('pop-a', 10, [result('us-east', 25)]);
    const before = sel.ingestCounters()?.rejected.stale_seq ?? 0;
    await client.publishAsync(M, replay, { qos: 1 });
    await until(() => (sel.ingestCounters()?.rejected.stale_seq ?? 0) === before + 1, 5000, 'replay rejected');
    await client.publishAsync(M, metrics('pop-a', 11, [result('us-east', 25), result('eu-west', 35)]), { qos: 1 });
    await until(() => sel.ingestCounters()?.accepted.metrics === 3, 5000, 'good message after abuse');
    expect(rows('results')).toBe(6);
    const { integrity_check } = sel.store()?.db.prepare('PRAGMA integrity_check').get() as { integrity_check: string };
    expect(integrity_check).toBe('ok');
  });
});
