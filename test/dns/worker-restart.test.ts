// A DNS worker thread that stops after start is started again (issue #12): while it is
// down the other worker's SO_REUSEPORT socket takes every flow, the restarted worker gets
// the full snapshot (changes made while it was down included), worker 0 brings TCP back,
// the restart counter moves and summed counters never go back. Workers load dist/
// (`npx tsc -p tsconfig.json` first).
import packet from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { loadUdpBatch } from '../../selector/dns/udp-batch.js';
import { createDnsWorkers, type DnsWorkers } from '../../selector/dns/workers.js';
import { TrackedAnswerTable, TrackedMapper } from '../../selector/dns/snapshot.js';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import { PrefixClientMapper } from '../../selector/mapping/mapper.js';
import { createSelectorMetrics } from '../../selector/admin/metrics.js';
import { dig, frame, query, tcpClient, udpA } from '../helpers/dns-client.js';
import { selectorConfig, SERVICE, until } from '../helpers/fixtures.js';

const BATCH = loadUdpBatch() !== undefined && process.env.VANTAGE_TEST_UDP_ENGINE !== 'dgram';

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

/** One A query from a new socket (another source port: another SO_REUSEPORT hash); undefined if unanswered. */
async function ask(port: number): Promise<string | undefined> {
  const a = await udpA(port, packet.encode(query(SERVICE, 'A')), 1500).catch(() => undefined);
  return a === undefined ? undefined : a[0] ?? '';
}

/** Polls an async condition (fixtures' until() takes a synchronous one). */
async function eventually(fn: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const many = (port: number, n = 40): Promise<(string | undefined)[]> => Promise.all(Array.from({ length: n }, () => ask(port)));

function start(table: TrackedAnswerTable, udpEngine?: 'dgram'): DnsWorkers {
  const cfg = selectorConfig();
  const dns = createDnsWorkers({
    dns: { ...cfg.dns, udpEngine }, table, mapper: new TrackedMapper(new PrefixClientMapper()), workers: 2, services: [SERVICE],
    mapperModule: new URL('../../selector/mapping/mapper.js', import.meta.url).href, mapperExport: 'PrefixClientMapper',
  });
  open.push(dns);
  return dns;
}

function world(): TrackedAnswerTable {
  const table = new TrackedAnswerTable();
  table.setService(SERVICE, 30);
  table.setAnswer(SERVICE, DEFAULT_KEY, ['192.0.2.1']);
  return table;
}

async function restartsMetric(dns: DnsWorkers): Promise<string | undefined> {
  const reg = createSelectorMetrics({
    dns: () => dns.stats(), ingest: () => undefined, agentStates: () => new Map(), recomputations: () => 0,
    dbWriteErrors: () => 0, committedResults: () => 0, siteIds: () => new Map(),
  });
  return (await reg.metrics()).split('\n').find((l) => l.startsWith('vantage_selector_dns_worker_restarts_total '));
}

describe.skipIf(!BATCH)('DNS worker restart', () => {
  it('a terminated worker is restarted with the current table; the other answers meanwhile; TCP comes back with worker 0', async () => {
    const table = world();
    const dns = start(table);
    await dns.start();
    const port = dns.addresses()[0]?.port as number;
    expect(await many(port)).toEqual(Array(40).fill('192.0.2.1'));
    const served = await until(() => {
      const w = dns.workerStats();
      return w.length === 2 && w.every((s) => s.udpQueries > 0) && dns.stats().udpQueries;
    }, 3000, 'both workers counted');

    // Worker 1 dies; a change is made while it is down.
    const [, w1] = dns.threads();
    expect(await w1!.terminate()).toBe(1);
    table.setAnswer(SERVICE, DEFAULT_KEY, ['192.0.2.7']);
    // Its socket left the SO_REUSEPORT group: every flow reaches worker 0, none is lost.
    expect(await many(port)).toEqual(Array(40).fill('192.0.2.7'));
    // Counters of the dead thread stay in the sum.
    expect(dns.stats().udpQueries).toBeGreaterThanOrEqual(served);

    await until(() => dns.threads().length === 2 && dns.workerStats().length === 2, 5000, 'worker 1 restarted');
    expect(dns.stats().workerRestarts).toBe(1);
    expect(await restartsMetric(dns)).toBe('vantage_selector_dns_worker_restarts_total 1');
    // Both threads serve again, the restarted one from the full snapshot (the change included).
    const before = dns.workerStats().map((s) => s.udpQueries);
    await eventually(async () => (await many(port)).every((a) => a === '192.0.2.7'), 5000, 'answers after restart');
    await until(() => dns.workerStats().every((s, i) => s.udpQueries > (before[i] ?? 0)), 3000, 'both workers answer again');

    // Worker 0 (TCP) dies: UDP goes on on worker 1, TCP is back once worker 0 is restarted.
    const [w0] = dns.threads();
    await w0!.terminate();
    expect(await many(port, 20)).toEqual(Array(20).fill('192.0.2.7'));
    await until(() => dns.stats().workerRestarts === 2 && dns.threads().length === 2 && dns.workerStats().length === 2, 5000, 'worker 0 restarted');
    const tcp = await tcpClient(port);
    tcp.sock.write(frame(packet.encode(query(SERVICE, 'A', { id: 11 }))));
    const [reply] = await tcp.next(1);
    const r = packet.decode(reply as Buffer);
    expect(r.id).toBe(11);
    expect((r.answers ?? []).flatMap((a) => (a.type === 'A' ? [a.data] : []))).toEqual(['192.0.2.7']);
    tcp.sock.destroy();
    const d = await dig(port, SERVICE);
    expect(d.status).toBe('NOERROR');
    expect(d.addresses).toEqual(['192.0.2.7']);
  });

  it('close() during a pending restart stops everything (no thread started after close)', async () => {
    const dns = start(world());
    await dns.start();
    await dns.threads()[1]!.terminate();
    await dns.close();
    open.splice(open.indexOf(dns), 1);
    await new Promise((r) => setTimeout(r, 300)); // past the first backoff (100 ms)
    expect(dns.threads()).toEqual([]);
    expect(dns.stats().workerRestarts).toBe(0);
  });
});

describe('DNS worker restart with node:dgram', () => {
  it('with node:dgram (one worker, no SO_REUSEPORT) the restarted worker binds the same port again', async () => {
    const dns = start(world(), 'dgram');
    await dns.start();
    const port = dns.addresses()[0]?.port as number;
    expect(await ask(port)).toBe('192.0.2.1');
    await dns.threads()[0]!.terminate();
    await until(() => dns.threads().length === 1 && dns.stats().workerRestarts === 1, 5000, 'restarted');
    await eventually(async () => (await ask(port)) === '192.0.2.1', 5000, 'answers after restart');
  });
});
