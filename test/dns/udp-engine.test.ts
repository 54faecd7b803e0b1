// The UDP engine choice: the native batch engine (recvmmsg/sendmmsg) is used when built,
// answers bursts larger than one batch, frees its port on close, and keeps the same
// counters and rate limiting as node:dgram. The other DNS tests run on both engines
// (vitest.config.ts, project udp-dgram).
import { existsSync } from 'node:fs';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import * as packet from 'dns-packet';
import { createDnsServer } from '../../selector/dns/index.js';
import { MemoryAnswerTable } from '../../selector/dns/answer-table.js';
import { PrefixClientMapper } from '../../selector/mapping/mapper.js';
import { ConfigError } from '../../shared/errors.js';
import { addressesOf, query, udpQuery } from '../helpers/dns-client.js';
import { dnsConfig, startWorld, type World } from './helpers.js';

const BUILT = existsSync(fileURLToPath(new URL('../../native/udp-batch/build/Release/udp_batch.node', import.meta.url)));
const open: World[] = [];
afterAll(async () => { await Promise.all(open.splice(0).map((w) => w.server.close())); });

async function world(over: Parameters<typeof startWorld>[0]): Promise<World> {
  const w = await startWorld(over);
  open.push(w);
  return w;
}

/** `n` queries (ids 0..n-1) from `sockets` sockets sent at once; responses by id. */
async function burst(port: number, n: number, sockets: number, waitMs = 1500): Promise<Map<number, Buffer>> {
  const got = new Map<number, Buffer>();
  const socks = Array.from({ length: sockets }, () => dgram.createSocket('udp4'));
  await Promise.all(socks.map((s) => new Promise<void>((r) => s.bind(0, '127.0.0.1', r))));
  const done = new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, waitMs);
    for (const s of socks) {
      s.on('message', (m) => {
        got.set(m.readUInt16BE(0), m);
        if (got.size === n) { clearTimeout(timer); resolve(); }
      });
    }
  });
  // Waves of 150: more than two batches each, below what the default receive buffer
  // (~256 small datagrams) holds, so the kernel drops none.
  for (let i = 0; i < n; i++) {
    socks[i % sockets]!.send(packet.encode(query('www.example.test', 'A', { id: i, ecs: '198.51.100.0/24' })), port, '127.0.0.1');
    if (i % 150 === 149) await new Promise((r) => setTimeout(r, 20));
  }
  await done;
  for (const s of socks) s.close();
  return got;
}

describe('udpEngine', () => {
  it(`auto picks ${BUILT ? 'batch (the addon is built)' : 'dgram (the addon is not built)'}`, async () => {
    const w = await world({ udpEngine: 'auto' });
    expect(w.server.udpEngine).toBe(BUILT ? 'batch' : 'dgram');
    const raw = await udpQuery(w.port, packet.encode(query('www.example.test', 'A', { ecs: '198.51.100.0/24' })));
    expect(addressesOf(packet.decode(raw!))[0]).toBe('192.0.2.2');
    expect(w.server.stats()).toMatchObject({ udpEngine: BUILT ? 'batch' : 'dgram', udpQueries: 1, queries: 1, dropped: 0 });
  });

  it('dgram is used when asked for', async () => {
    const w = await world({ udpEngine: 'dgram' });
    expect(w.server.udpEngine).toBe('dgram');
    expect(w.server.stats().udpEngine).toBe('dgram');
  });

  it.skipIf(BUILT)('batch without the addon is a config error naming the key', () => {
    expect(() => createDnsServer({ dns: dnsConfig({ udpEngine: 'batch' }), table: new MemoryAnswerTable(), mapper: new PrefixClientMapper() }))
      .toThrow(ConfigError);
  });

  it.runIf(BUILT)('batch with cluster-shared sockets is a config error; auto falls back to dgram', () => {
    const base = { table: new MemoryAnswerTable(), mapper: new PrefixClientMapper(), clusterShared: true };
    expect(() => createDnsServer({ ...base, dns: dnsConfig({ udpEngine: 'batch' }) })).toThrow(/dns\.udpEngine: batch: not available/);
    expect(createDnsServer({ ...base, dns: dnsConfig({ udpEngine: 'auto' }) }).udpEngine).toBe('dgram');
  });
});

describe.runIf(BUILT)('batch engine', () => {
  it('answers a burst of 600 queries (more than one 64-datagram batch) from 6 sockets, each to its sender', async () => {
    const w = await world({ udpEngine: 'batch' });
    const got = await burst(w.port, 600, 6);
    expect(got.size).toBe(600);
    for (const [id, m] of got) {
      const d = packet.decode(m);
      expect(d.id).toBe(id);
      expect(addressesOf(d)[0]).toBe('192.0.2.2');
    }
    expect(w.server.stats().udpQueries).toBe(600);
    expect(w.server.stats().queries).toBe(600);
  });

  it('a taken explicit port fails with EADDRINUSE; a closed server frees its port', async () => {
    const taken = dgram.createSocket('udp4');
    await new Promise<void>((r) => taken.bind(0, '127.0.0.1', r));
    const port = taken.address().port;
    const s = createDnsServer({ dns: dnsConfig({ udpEngine: 'batch', listen: [{ host: '127.0.0.1', port }] }), table: new MemoryAnswerTable(), mapper: new PrefixClientMapper() });
    await expect(s.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
    taken.close();

    const a = await startWorld({ udpEngine: 'batch', listen: [{ host: '127.0.0.1', port }] });
    expect(a.port).toBe(port);
    await a.server.close();
    const b = await world({ udpEngine: 'batch', listen: [{ host: '127.0.0.1', port }] });
    const raw = await udpQuery(port, packet.encode(query('same.example.test', 'A')));
    expect(addressesOf(packet.decode(raw!))).toEqual(['192.0.2.9']);
    expect(b.server.stats().udpQueries).toBe(1);
  });

  it('counters and rate limiting are the same as with dgram', async () => {
    const outcome = async (udpEngine: 'batch' | 'dgram'): Promise<unknown> => {
      const w = await world({ udpEngine, rateLimit: 5 });
      const got = await burst(w.port, 20, 1, 600);
      const tc = [...got.values()].filter((m) => (m[2]! & 0x02) !== 0).length;
      const { udpEngine: _e, ...stats } = w.server.stats();
      return { answered: got.size, tc, stats };
    };
    const batch = await outcome('batch');
    const dgramResult = await outcome('dgram');
    expect(batch).toEqual(dgramResult);
    // 5 in the burst, then DROP/SLIP alternating for the 15 others (slip = 2).
    expect(batch).toMatchObject({ answered: 12, tc: 7, stats: { udpQueries: 20, rateLimited: 15, dropped: 8 } });
  });
});
