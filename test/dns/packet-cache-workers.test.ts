// The packet cache on DNS worker threads (the default deployment): hits on both workers'
// sockets are counted in the summed stats, /metrics and the main table's per-answer-key
// counts, and a table change shipped as a delta empties each worker's cache. Worker
// threads load the compiled dist/ (run `npx tsc -p tsconfig.json` first).
import packet from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { createDnsWorkers, type DnsWorkers } from '../../selector/dns/workers.js';
import { TrackedAnswerTable, TrackedMapper } from '../../selector/dns/snapshot.js';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import { PrefixClientMapper } from '../../selector/mapping/mapper.js';
import { createSelectorMetrics } from '../../selector/admin/metrics.js';
import { packetCacheTestable, query, udpA } from '../helpers/dns-client.js';
import { selectorConfig, SERVICE, until } from '../helpers/fixtures.js';

const CACHE = packetCacheTestable();

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

const MSG = packet.encode(query(SERVICE, 'A', { ecs: '203.0.113.0/24' }));

/** The same query bytes from a new socket (another source port: either worker's socket). */
async function ask(port: number): Promise<string> {
  return (await udpA(port, MSG))[0] ?? '';
}

async function many(port: number, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i += 20) out.push(...await Promise.all(Array.from({ length: Math.min(20, n - i) }, () => ask(port))));
  return out;
}

function start(packetCache?: boolean): { dns: DnsWorkers; table: TrackedAnswerTable } {
  const table = new TrackedAnswerTable();
  table.setService(SERVICE, 30);
  table.setAnswer(SERVICE, DEFAULT_KEY, ['192.0.2.1']);
  table.countQueries(SERVICE, true);
  const cfg = selectorConfig();
  const dns = createDnsWorkers({
    dns: { ...cfg.dns, packetCache }, table, mapper: new TrackedMapper(new PrefixClientMapper()), workers: 2, services: [SERVICE],
    mapperModule: new URL('../../selector/mapping/mapper.js', import.meta.url).href, mapperExport: 'PrefixClientMapper',
  });
  open.push(dns);
  return { dns, table };
}

async function metric(dns: DnsWorkers, line: string): Promise<number> {
  const reg = createSelectorMetrics({
    dns: () => dns.stats(), ingest: () => undefined, agentStates: () => new Map(), recomputations: () => 0,
    dbWriteErrors: () => 0, committedResults: () => 0, siteIds: () => new Map(),
  });
  const found = (await reg.metrics()).split('\n').find((l) => l.startsWith(`${line} `));
  return Number(found?.split(' ')[1] ?? NaN);
}

describe.skipIf(!CACHE)('packet cache on dns.workers: 2', () => {
  it('counts every hit in the summed stats, /metrics and the per-answer-key counts', async () => {
    const { dns, table } = start();
    await dns.start();
    const port = dns.addresses()[0]?.port as number;
    const N = 300;
    expect(new Set(await many(port, N))).toEqual(new Set(['192.0.2.1']));
    const s = await until(() => { const x = dns.stats(); return x.udpQueries >= N && x; }, 3000, 'summed counters');
    expect(s.udpQueries).toBe(N);
    expect(s.queries).toBe(N);
    // Misses only in the first two rounds of 20 (a query is cached on its second sighting,
    // after JS answered its recvmmsg batch): every later query was answered in C.
    expect(s.packetCacheHits).toBeGreaterThanOrEqual(N - 40);
    expect(s.byRcode).toEqual({ NOERROR: N });
    expect(await metric(dns, 'vantage_selector_dns_packets_total{transport="udp"}')).toBe(N);
    expect(await metric(dns, 'vantage_selector_dns_responses_total{rcode="NOERROR"}')).toBe(N);
    expect(await metric(dns, 'vantage_selector_dns_queries_total{qtype="A"}')).toBe(N);
    expect(await metric(dns, `vantage_selector_dns_answers_total{service="${SERVICE}",site="192.0.2.1"}`)).toBe(N);
    await until(() => table.queryCounts(SERVICE).get(DEFAULT_KEY) === N, 3000, 'counts merged from the workers');
  });

  it('a delta empties each worker cache: after the change no worker serves the old answer', async () => {
    const { dns, table } = start();
    await dns.start();
    const port = dns.addresses()[0]?.port as number;
    expect(new Set(await many(port, 60))).toEqual(new Set(['192.0.2.1']));
    await until(() => dns.stats().packetCacheHits > 0, 3000, 'cache hits');
    table.setAnswer(SERVICE, DEFAULT_KEY, ['192.0.2.9']);
    // The delta is posted at the end of this turn; once a worker answers anew, it stays new.
    await new Promise((r) => setTimeout(r, 0));
    const deadline = Date.now() + 3000;
    let after = await many(port, 40);
    while (after.some((a) => a !== '192.0.2.9') && Date.now() < deadline) after = await many(port, 40);
    expect(new Set(after)).toEqual(new Set(['192.0.2.9']));
    expect(new Set(await many(port, 100))).toEqual(new Set(['192.0.2.9']));
  });

  it('a query sent after the turn of a change gets the new answer, every time (the readers answer hits off the JS thread)', async () => {
    const { dns, table } = start();
    await dns.start();
    const port = dns.addresses()[0]?.port as number;
    await many(port, 40);
    await until(() => dns.stats().packetCacheHits > 0, 3000, 'cache hits');
    for (let i = 0; i < 30; i++) {
      const next = `192.0.2.${10 + (i % 2)}`;
      table.setAnswer(SERVICE, DEFAULT_KEY, [next]);
      // The delta is posted at the end of this turn. No waiting for the workers to apply it:
      // the first query sent after the turn must see the change.
      await new Promise((r) => setTimeout(r, 0));
      expect(await ask(port)).toBe(next);
      expect(await many(port, 4)).toEqual(Array(4).fill(next)); // cached again meanwhile, then hits
    }
    expect(dns.stats().packetCacheHits).toBeGreaterThan(0);
  });

  it('dns.packetCache: false turns it off', async () => {
    const { dns } = start(false);
    await dns.start();
    const port = dns.addresses()[0]?.port as number;
    await many(port, 40);
    const s = await until(() => { const x = dns.stats(); return x.udpQueries >= 40 && x; }, 3000, 'counters');
    expect(s.packetCacheHits).toBe(0);
  });
});
