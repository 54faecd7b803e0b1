// DNS on worker threads (issue #12): a selector with dns.workers: 2 answers over UDP (two
// sockets on one port, SO_REUSEPORT) and TCP (worker 0), a new ranking reaches every worker,
// explain and stats see one server, and close stops the threads. Worker threads load the
// compiled dist/ (run `npx tsc -p tsconfig.json` first; npm test does).
import dgram from 'node:dgram';
import { Worker } from 'node:worker_threads';
import packet from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { createSelector, type Selector } from '../../selector/selector.js';
import { loadUdpBatch } from '../../selector/dns/udp-batch.js';
import { createDnsWorkers } from '../../selector/dns/workers.js';
import { TrackedAnswerTable, TrackedMapper } from '../../selector/dns/snapshot.js';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import { PrefixClientMapper } from '../../selector/mapping/mapper.js';
import { query, tcpClient, frame, udpA } from '../helpers/dns-client.js';
import { feedNyc, selectorConfig, SERVICE, until } from '../helpers/fixtures.js';

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

// The batch-engine cases need the addon; the udp-dgram project (vitest.config.ts) runs only the dgram case.
const BATCH = loadUdpBatch() !== undefined && process.env.VANTAGE_TEST_UDP_ENGINE !== 'dgram';

const NYC = { ip: '198.51.100.0', length: 24 };

/** Polls an async condition (fixtures' until() takes a synchronous one). */
async function eventually<T>(fn: () => Promise<T | false>, timeoutMs: number, what: string): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function boot(workers: number, udpEngine?: 'dgram'): Promise<{ sel: Selector; port: number }> {
  const cfg = selectorConfig();
  const sel = createSelector({ ...cfg, dns: { ...cfg.dns, workers, udpEngine } });
  open.push(sel);
  await sel.start();
  return { sel, port: sel.dnsAddresses()[0]?.port as number };
}

/** One A query with ECS from its own socket (a new source port each time: another 4-tuple). */
function ask(port: number, ecs = NYC): Promise<string[]> {
  return udpA(port, packet.encode(query(SERVICE, 'A', { ecs: `${ecs.ip}/${ecs.length}` })));
}

const feed = (sel: Selector, agentMs: [number, number, number], seq: number): Promise<void> => feedNyc(sel.mqttAddress()?.port as number, agentMs, seq);

describe.skipIf(!BATCH)('dns.workers: 2', () => {
  it('answers UDP on every worker and TCP, ships new rankings to every worker, sums counters, stops on close', async () => {
    const { sel, port } = await boot(2);
    expect(sel.dnsStats()?.udpEngine).toBe('batch');
    await feed(sel, [10, 80, 200], 1);
    await until(() => sel.agentStates().get('pop-nyc') === 'fresh', 5000, 'pop-nyc fresh');
    // Many queries, so both workers' sockets get some (each datagram goes to a random one).
    const first = await eventually(async () => {
      const got = await Promise.all(Array.from({ length: 40 }, () => ask(port)));
      return got.every((a) => a[0] === '127.2.0.1') && got;
    }, 5000, 'nyc answer on every worker');
    expect(first).toHaveLength(40);

    // A new ranking: eu-west becomes much better for pop-nyc; every worker must serve it.
    await feed(sel, [300, 5, 200], 2);
    await feed(sel, [300, 5, 200], 3);
    await feed(sel, [300, 5, 200], 4);
    await until(() => sel.table.getAnswer(SERVICE, 'pop-nyc')?.addresses[0] === '127.2.0.2', 5000, 'main table re-ranked');
    const after = await eventually(async () => {
      const got = await Promise.all(Array.from({ length: 40 }, () => ask(port)));
      return got.every((a) => a[0] === '127.2.0.2') && got;
    }, 5000, 'new ranking on every worker');
    expect(after).toHaveLength(40);

    // TCP (worker 0) answers the same.
    const tcp = await tcpClient(port);
    tcp.sock.write(frame(packet.encode(query(SERVICE, 'A', { id: 7, ecs: '198.51.100.0/24' }))));
    const [reply] = await tcp.next(1);
    const decoded = packet.decode(reply as Buffer);
    expect(decoded.id).toBe(7);
    expect((decoded.answers ?? []).map((a) => a.data)[0]).toBe('127.2.0.2');
    tcp.sock.destroy();

    // stats() is the sum of the workers' counters (and /metrics reads stats()).
    const stats = await until(() => {
      const s = sel.dnsStats();
      return s && s.udpQueries >= 80 && s.tcpQueries >= 1 && s;
    }, 10_000, 'summed counters'); // workers post their counters once a second; slower under the suite's load
    expect(stats.queries).toBe(stats.udpQueries + stats.tcpQueries);
    expect(stats.internalErrors).toBe(0);

    await sel.close();
    open.splice(open.indexOf(sel), 1);
    // Closed: nothing answers on the port any more.
    await expect(ask(port)).rejects.toThrow('no UDP answer');
  });
});

describe.skipIf(!BATCH)('createDnsWorkers', () => {
  it('spreads UDP over both workers (SO_REUSEPORT) and every worker applies table and mapper deltas', async () => {
    const table = new TrackedAnswerTable();
    const mapper = new TrackedMapper(new PrefixClientMapper());
    table.setService(SERVICE, 30);
    table.setAnswer(SERVICE, DEFAULT_KEY, ['192.0.2.1']);
    const cfg = selectorConfig();
    const dns = createDnsWorkers({
      dns: cfg.dns, table, mapper, workers: 2, services: [SERVICE],
      mapperModule: new URL('../../selector/mapping/mapper.js', import.meta.url).href, mapperExport: 'PrefixClientMapper',
    });
    open.push(dns);
    await dns.start();
    const port = dns.addresses()[0]?.port as number;
    expect(await ask(port)).toEqual(['192.0.2.1']);
    // Changes after start: a new default answer, an agent with a prefix (mapper delta).
    table.setAnswer(SERVICE, DEFAULT_KEY, ['192.0.2.2']);
    table.setAnswer(SERVICE, 'pop-nyc', ['192.0.2.3']);
    mapper.setPrefixes([{ prefix: '198.51.100.0/24', agent: 'pop-nyc' }]);
    mapper.setAgentStates(new Map([['pop-nyc', 'fresh']]));
    const ok = await eventually(async () => {
      const nyc = await Promise.all(Array.from({ length: 40 }, () => ask(port)));
      const other = await Promise.all(Array.from({ length: 40 }, () => ask(port, { ip: '192.0.2.0', length: 24 })));
      return nyc.every((a) => a[0] === '192.0.2.3') && other.every((a) => a[0] === '192.0.2.2');
    }, 5000, 'deltas on every worker');
    expect(ok).toBe(true);
    const per = await until(() => {
      const w = dns.workerStats();
      return w.length === 2 && w.every((s) => s.udpQueries > 0) && w;
    }, 3000, 'both workers counted UDP queries');
    expect(dns.stats().udpQueries).toBe(per[0]!.udpQueries + per[1]!.udpQueries);
    expect(per[1]!.tcpConnections + per[1]!.tcpQueries).toBe(0);
    // explain on the main thread sees the same table and mapper.
    expect(dns.decide(SERVICE, { family: 4, bytes: new Uint8Array([198, 51, 100, 7]) }).answer?.addresses).toEqual(['192.0.2.3']);
  });
});

describe.skipIf(!BATCH)('createDnsWorkers start failures', () => {
  it('a taken port fails start with DNS_ERR_WORKER naming EADDRINUSE (after close() awaited the workers)', async () => {
    const taken = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => taken.bind(0, '127.0.0.1', resolve));
    open.push({ close: () => new Promise<void>((resolve) => taken.close(() => resolve())) });
    const cfg = selectorConfig();
    const dns = createDnsWorkers({
      dns: { ...cfg.dns, listen: [{ host: '127.0.0.1', port: taken.address().port }] }, table: new TrackedAnswerTable(),
      mapper: new TrackedMapper(new PrefixClientMapper()), workers: 2,
      mapperModule: new URL('../../selector/mapping/mapper.js', import.meta.url).href, mapperExport: 'PrefixClientMapper',
    });
    await expect(dns.start()).rejects.toMatchObject({ code: 'DNS_ERR_WORKER', message: expect.stringContaining('EADDRINUSE') });
    expect(dns.addresses()).toEqual([]);
  });
});

describe.skipIf(!BATCH)('udp-batch addon in a worker thread', () => {
  it('a worker terminated while its batch socket is open does not crash the process (regression: segfault)', async () => {
    // The env cleanup hook closes the socket; before, libuv called a close callback in the
    // addon after Node had unloaded it from the ending thread.
    const server = new URL('../../dist/selector/dns/server.js', import.meta.url).href;
    const code = `
      const { parentPort } = require('node:worker_threads');
      import(${JSON.stringify(server)}).then(async ({ createDnsServer }) => {
        const s = createDnsServer({ dns: { listen: [{ host: '127.0.0.1', port: 0 }], zones: [], maxTcpConnections: 1, tcpIdleTimeoutMs: 1000, rateLimit: 0, udpEngine: 'batch' }, resolve: () => {} });
        await s.start();
        parentPort.postMessage(s.addresses()[0].port);
      });`;
    for (let i = 0; i < 3; i++) {
      const w = new Worker(code, { eval: true });
      const port = await new Promise<number>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); });
      expect(port).toBeGreaterThan(0);
      expect(await w.terminate()).toBe(1);
    }
  });
});

describe('dns.workers with node:dgram', () => {
  it('runs one worker thread (no SO_REUSEPORT in dgram) and answers UDP and TCP', async () => {
    const { sel, port } = await boot(2, 'dgram');
    expect(sel.dnsStats()?.udpEngine).toBe('dgram');
    await feed(sel, [10, 80, 200], 1);
    await until(() => sel.agentStates().get('pop-nyc') === 'fresh', 5000, 'pop-nyc fresh');
    const got = await eventually(async () => {
      const a = await ask(port);
      return a[0] === '127.2.0.1' && a;
    }, 5000, 'nyc answer');
    expect(got[0]).toBe('127.2.0.1');
    const tcp = await tcpClient(port);
    tcp.sock.write(frame(packet.encode(query(SERVICE, 'A', { id: 9 }))));
    const [reply] = await tcp.next(1);
    expect(packet.decode(reply as Buffer).id).toBe(9);
    tcp.sock.destroy();
  });
});
