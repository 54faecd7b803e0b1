// Capacity (issue #10 §3) with DNS on worker threads (issue #12): each worker counts queries
// per answer key and posts them every second to the main thread, where ranking reads the
// demand; the planner's move reaches every worker. Before, any site capacity put DNS back
// in the main loop. Workers load dist/ (`npx tsc -p tsconfig.json` first).
import packet from 'dns-packet';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { createSelector, type Selector } from '../../selector/selector.js';
import { loadUdpBatch } from '../../selector/dns/udp-batch.js';
import { agentTopic } from '../../shared/protocol.js';
import { query, udpA } from '../helpers/dns-client.js';
import { announce, metrics, result, selectorRaw, SERVICE, SITES, until } from '../helpers/fixtures.js';
import { parseSelectorConfig } from '../../selector/config.js';

const BATCH = loadUdpBatch() !== undefined && process.env.VANTAGE_TEST_UDP_ENGINE !== 'dgram';
const NYC = '198.51.100.0/24';
const LON = '203.0.113.0/24';

const open: Selector[] = [];
afterEach(async () => {
  for (const s of open.splice(0)) await s.close();
});

/** First A address for a client of `ecs`, from a new source port each time (reaches both workers). */
async function ask(port: number, ecs: string): Promise<string> {
  return (await udpA(port, packet.encode(query(SERVICE, 'A', { ecs }))))[0] ?? '';
}

async function publish(sel: Selector, seq: number): Promise<void> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${sel.mqttAddress()?.port}`, { reconnectPeriod: 0 });
  try {
    if (seq === 1) {
      await c.publishAsync(agentTopic('pop-nyc', 'announce'), announce('pop-nyc', [NYC]), { qos: 1, retain: true });
      await c.publishAsync(agentTopic('pop-lon', 'announce'), announce('pop-lon', [LON]), { qos: 1, retain: true });
    }
    // Both prefer us-east; moving costs pop-nyc 5 ms (eu-west), pop-lon 90 ms.
    await c.publishAsync(agentTopic('pop-nyc', 'metrics'), metrics('pop-nyc', seq, [result('us-east', 10), result('eu-west', 15), result('ap-south', 200)]), { qos: 1 });
    await c.publishAsync(agentTopic('pop-lon', 'metrics'), metrics('pop-lon', seq, [result('us-east', 10), result('eu-west', 100), result('ap-south', 200)]), { qos: 1 });
  } finally {
    await c.endAsync();
  }
}

describe.skipIf(!BATCH)('capacity with dns.workers: 2', () => {
  it('counts every query once on the main thread and moves the cheapest agent off a full site on every worker', async () => {
    const raw = selectorRaw();
    const svc = (raw.services as Record<string, unknown>[])[0] as Record<string, unknown>;
    const sites = SITES.map((s) => (s.id === 'us-east' ? { ...s, capacity: { share: 0.5 } } : s));
    const cfg = parseSelectorConfig({ ...raw, services: [{ ...svc, sites }] });
    const sel = createSelector({ ...cfg, dns: { ...cfg.dns, workers: 2 } });
    open.push(sel);
    await sel.start();
    expect(sel.dnsStats()?.workerRestarts).toBe(0); // set only by the worker threads' engine: DNS is not in the main loop
    const port = sel.dnsAddresses()[0]?.port as number;
    await publish(sel, 1);
    await until(() => sel.agentStates().get('pop-lon') === 'fresh' && sel.table.getAnswer(SERVICE, 'pop-lon'), 5000, 'agents ranked');
    // Before any demand both get us-east.
    expect(await ask(port, NYC)).toBe('127.2.0.1');
    expect(await ask(port, LON)).toBe('127.2.0.1');

    // Equal demand from both POPs' clients, over both workers' sockets.
    const sent = 30;
    await Promise.all(Array.from({ length: sent }, () => ask(port, NYC)));
    await Promise.all(Array.from({ length: sent }, () => ask(port, LON)));
    // Every query is counted exactly once (summed over the workers), within a second or so.
    const counts = await until(() => {
      const c = sel.table.queryCounts(SERVICE);
      return (c.get('pop-nyc') ?? 0) >= sent + 1 && (c.get('pop-lon') ?? 0) >= sent + 1 && c;
    }, 4000, 'counts posted by the workers');
    expect(counts.get('pop-nyc')).toBe(sent + 1);
    expect(counts.get('pop-lon')).toBe(sent + 1);
    const perWorker = sel.dnsStats();
    expect(perWorker?.udpQueries).toBeGreaterThanOrEqual(2 * sent + 2);

    // The next round replans with that demand: us-east (share 0.5) is over, pop-nyc moves.
    await new Promise((r) => setTimeout(r, 1100)); // the demand estimate needs two rounds ≥ 1 s apart
    await publish(sel, 2);
    await until(() => sel.table.getAnswer(SERVICE, 'pop-nyc')?.addresses[0] === '127.2.0.2', 5000, 'pop-nyc moved');
    const nyc = await Promise.all(Array.from({ length: 20 }, () => ask(port, NYC)));
    const lon = await Promise.all(Array.from({ length: 20 }, () => ask(port, LON)));
    expect(new Set(nyc)).toEqual(new Set(['127.2.0.2']));
    expect(new Set(lon)).toEqual(new Set(['127.2.0.1']));
  });
});
