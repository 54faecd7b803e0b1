// The packet cache with DNS on the selector's own event loop (dns.workers: 0): the
// selector's table and mapper report every change, so a new ranking is served by the very
// next query although the old answer was cached.
import packet from 'dns-packet';
import { afterEach, describe, expect, it } from 'vitest';
import { createSelector, type Selector } from '../../selector/selector.js';
import { packetCacheTestable, query, udpA } from '../helpers/dns-client.js';
import { feedNyc, selectorConfig, SERVICE, until } from '../helpers/fixtures.js';

const CACHE = packetCacheTestable();

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

const MSG = packet.encode(query(SERVICE, 'A', { ecs: '198.51.100.0/24' }));

async function ask(port: number): Promise<string> {
  return (await udpA(port, MSG))[0] ?? '';
}

const feed = (sel: Selector, agentMs: [number, number, number], seq: number): Promise<void> => feedNyc(sel.mqttAddress()?.port as number, agentMs, seq);

async function boot(packetCache?: boolean): Promise<{ sel: Selector; port: number }> {
  const cfg = selectorConfig();
  const sel = createSelector({ ...cfg, dns: { ...cfg.dns, workers: 0, packetCache } });
  open.push(sel);
  await sel.start();
  return { sel, port: sel.dnsAddresses()[0]?.port as number };
}

describe.skipIf(!CACHE)('packet cache with dns.workers: 0', () => {
  it('a new ranking is the very next answer, though the old one was cached', async () => {
    const { sel, port } = await boot();
    await feed(sel, [10, 80, 200], 1);
    await until(() => sel.table.getAnswer(SERVICE, 'pop-nyc')?.addresses[0] === '127.2.0.1', 5000, 'ranked');
    for (let i = 0; i < 5; i++) expect(await ask(port)).toBe('127.2.0.1');
    const hits = sel.dnsStats()?.packetCacheHits ?? 0;
    expect(hits).toBeGreaterThanOrEqual(3); // cached on the second sighting
    await feed(sel, [300, 5, 200], 2);
    await feed(sel, [300, 5, 200], 3);
    await feed(sel, [300, 5, 200], 4);
    await until(() => sel.table.getAnswer(SERVICE, 'pop-nyc')?.addresses[0] === '127.2.0.2', 5000, 're-ranked');
    // The table changed on this thread: the cache was emptied before this query arrived.
    expect(await ask(port)).toBe('127.2.0.2');
    expect(await ask(port)).toBe('127.2.0.2');
    const s = sel.dnsStats();
    expect(s?.packetCacheHits).toBe(hits + 1);
    expect(s?.udpQueries).toBe(7);
  });

  it('dns.packetCache: false: no cache on the loop either', async () => {
    const { sel, port } = await boot(false);
    await ask(port);
    await ask(port);
    expect(sel.dnsStats()?.packetCacheHits).toBe(0);
  });
});
