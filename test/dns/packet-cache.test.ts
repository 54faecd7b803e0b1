// The batch engine's packet cache (dns.packetCache, native/udp-batch/packet_cache.h): a
// repeated query is answered in C with exactly the bytes the JS path wrote (new ID), keyed
// by the query bytes and the source address; every table/mapper change empties it before
// the next datagram; every hit is still counted (stats, /metrics, per-answer-key counts).
import dgram from 'node:dgram';
import * as packet from 'dns-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import { digRaw, packetCacheTestable, query } from '../helpers/dns-client.js';
import { startWorld, type World } from './helpers.js';

const CACHE = packetCacheTestable();

/** Sends `msg` from a socket bound to `from` (the source address is part of the key); the reply bytes. */
function send(port: number, msg: Buffer, from = '127.0.0.1'): Promise<Buffer> {
  const sock = dgram.createSocket(from.includes(':') ? 'udp6' : 'udp4');
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { sock.close(); reject(new Error('no UDP answer')); }, 2000);
    sock.on('message', (m) => { clearTimeout(timer); sock.close(); resolve(m); });
    sock.bind(0, from, () => sock.send(msg, port, from.includes(':') ? '::1' : '127.0.0.1'));
  });
}

const withId = (b: Buffer, id: number): Buffer => { const c = Buffer.from(b); c.writeUInt16BE(id, 0); return c; };
const encode = (...args: Parameters<typeof query>): Buffer => packet.encode(query(...args));
const addrs = (b: Buffer): string[] => (packet.decode(b).answers ?? []).flatMap((a) => (a.type === 'A' || a.type === 'AAAA' ? [String(a.data)] : []));

// name, type, options: mixed case, ECS v4/v6 with several source prefixes, EDNS sizes, no EDNS.
const CASES: [string, packet.RecordType, Parameters<typeof query>[2]][] = [
  ['www.example.test', 'A', { ecs: '198.51.100.0/24' }],
  ['www.example.test', 'A', { ecs: '198.51.7.0/24' }],
  ['www.example.test', 'A', { ecs: '203.0.113.0/24' }],
  ['www.example.test', 'A', { ecs: '198.51.100.0/0' }],
  ['WwW.ExAmPlE.tEsT', 'A', { ecs: '198.51.100.0/24' }],
  ['www.EXAMPLE.test', 'AAAA', { ecs: '2001:db8:1::/48' }],
  ['www.example.test', 'AAAA', { ecs: '2001:db8::/32' }],
  ['www.example.test', 'AAAA', { ecs: '2001:db8:2::/56' }],
  ['www.example.test', 'A', {}],
  ['www.example.test', 'A', { edns: true, udpSize: 512 }],
  ['www.example.test', 'A', { edns: true, udpSize: 4096 }],
  ['example.test', 'SOA', { edns: true }],
  ['Example.Test', 'NS', {}],
  ['example.test', 'ANY' as packet.RecordType, { edns: true }],
  ['www.example.test', 'ANY' as packet.RecordType, {}],
  ['nope.example.test', 'A', { ecs: '192.0.2.0/24' }],
  ['v4only.deep.example.test', 'AAAA', { edns: true }],
  ['deep.example.test', 'A', {}],
  ['planned.example.test', 'A', { ecs: '198.51.100.0/24' }],
  ['same.example.test', 'A', { ecs: '198.51.100.0/24' }],
  ['www.example.test', 'TXT', { ecs: '198.51.100.0/24' }],
];

describe.skipIf(!CACHE)('packet cache', () => {
  let cached: World;
  let plain: World;
  beforeAll(async () => {
    cached = await startWorld({}, { packetCache: true });
    plain = await startWorld({}, { packetCache: false });
    // 127.0.0.2 maps to agent-a by its source address (no ECS): the answer depends on it.
    for (const w of [cached, plain]) {
      w.mapper.setPrefixes([
        { prefix: '198.51.0.0/16', agent: 'agent-a' }, { prefix: '198.51.100.0/24', agent: 'agent-b' },
        { prefix: '2001:db8::/32', agent: 'agent-a' }, { prefix: '2001:db8:1::/48', agent: 'agent-b' },
        { prefix: '127.0.0.2/32', agent: 'agent-a' },
      ]);
    }
    cached.server.invalidateCache?.();
  });
  afterAll(async () => {
    await cached.server.close();
    await plain.server.close();
  });

  it('is on only when asked for (batch engine, no rate limit)', async () => {
    expect(cached.server.packetCache).toBe(true);
    expect(plain.server.packetCache).toBe(false);
    const limited = await startWorld({ rateLimit: 100 }, { packetCache: true });
    const off = await startWorld({ packetCache: false }, { packetCache: true });
    try {
      expect(limited.server.packetCache).toBe(false);
      expect(off.server.packetCache).toBe(false);
    } finally {
      await limited.server.close();
      await off.server.close();
    }
  });

  it('a hit is byte for byte the uncached answer with the new ID', async () => {
    const hitsBefore = cached.server.stats().packetCacheHits;
    let n = 0;
    for (const from of ['127.0.0.1', '127.0.0.2']) {
      for (const [name, type, opts] of CASES) {
        const msg = encode(name, type, { ...opts, id: 100 });
        const want = await send(plain.port, msg, from);
        // Cached on its second sighting (the doorkeeper), served from the cache from the third.
        const miss = await send(cached.port, msg, from);
        const second = await send(cached.port, withId(msg, 0x1111), from);
        const hit = await send(cached.port, withId(msg, 0xbeef), from);
        expect(miss.toString('hex'), `${name} ${type} from ${from}`).toBe(want.toString('hex'));
        expect(withId(second, 100).toString('hex')).toBe(want.toString('hex'));
        expect(hit.readUInt16BE(0)).toBe(0xbeef);
        expect(withId(hit, 100).toString('hex'), `${name} ${type} from ${from} (hit)`).toBe(want.toString('hex'));
        n++;
      }
    }
    // One hit per case: the third query of each (same bytes, new ID) came from the cache.
    expect(cached.server.stats().packetCacheHits - hitsBefore).toBe(n);
    // The source address is part of the key: same bytes, other client, other answer.
    const msg = encode('www.example.test', 'A', { id: 5 });
    for (let i = 0; i < 3; i++) {
      expect(addrs(await send(cached.port, msg, '127.0.0.1'))[0]).toBe('192.0.2.3');
      expect(addrs(await send(cached.port, msg, '127.0.0.2'))[0]).toBe('192.0.2.1');
    }
  });

  it('IPv6 clients: keyed by their 16-byte address, hits equal to the JS answer', async () => {
    const v6 = await startWorld({ listen: [{ host: '::1', port: 0 }] }, { packetCache: true });
    const v6plain = await startWorld({ listen: [{ host: '::1', port: 0 }] }, { packetCache: false });
    try {
      const msg = encode('www.example.test', 'AAAA', { id: 9, ecs: '2001:db8:1::/48' });
      const want = await send(v6plain.port, msg, '::1');
      for (let i = 0; i < 3; i++) expect((await send(v6.port, msg, '::1')).toString('hex')).toBe(want.toString('hex'));
      expect(v6.server.stats().packetCacheHits).toBe(1);
    } finally {
      await v6.server.close();
      await v6plain.server.close();
    }
  });

  it('dig answers (cookies off, so its queries repeat) are the same cached and uncached', async () => {
    const strip = (s: string): string => s.split('\n').filter((l) => !/id: \d+|Query time|SERVER:|WHEN:|<<>> DiG/.test(l)).join('\n');
    const runs: string[][] = [
      ['wWw.example.TEST', 'A', '+subnet=198.51.100.7/24'], ['www.example.test', 'AAAA', '+subnet=2001:db8:1::/48'],
      ['www.example.test', 'A', '+noedns'], ['www.example.test', 'A', '+bufsize=800', '+subnet=203.0.113.0/24'],
      ['nope.example.test', 'A'], ['example.test', 'SOA'], ['example.test', 'NS'], ['www.example.test', 'ANY', '+notcp'], // dig sends ANY over TCP unless told
    ];
    const hitsBefore = cached.server.stats().packetCacheHits;
    for (const args of runs) {
      const a = [...args, '+norec', '+nocookie'];
      const want = strip(await digRaw(plain.port, ...a));
      for (let i = 0; i < 3; i++) expect(strip(await digRaw(cached.port, ...a))).toBe(want);
    }
    expect(cached.server.stats().packetCacheHits - hitsBefore).toBe(runs.length);
  });

  it('a table or mapper change: the very next query gets the new answer', async () => {
    const msg = encode('www.example.test', 'A', { ecs: '203.0.113.0/24' });
    expect(addrs(await send(cached.port, msg))[0]).toBe('192.0.2.3');
    expect(addrs(await send(cached.port, msg))[0]).toBe('192.0.2.3');
    // Cached now (second sighting). Without the invalidation the cached bytes are still
    // served (this is what it guards).
    cached.table.setAnswer('www.example.test', DEFAULT_KEY, ['192.0.2.77']);
    expect(addrs(await send(cached.port, msg))[0]).toBe('192.0.2.3');
    cached.server.invalidateCache?.();
    expect(addrs(await send(cached.port, msg))[0]).toBe('192.0.2.77');
    cached.mapper.setPrefixes([{ prefix: '203.0.113.0/24', agent: 'agent-b' }]);
    cached.server.invalidateCache?.();
    expect(addrs(await send(cached.port, msg))[0]).toBe('192.0.2.2');
  });

  it('every hit is counted: rcodes, qtypes, answers and per-answer-key demand', async () => {
    const w = await startWorld({}, { packetCache: true });
    try {
      w.table.countQueries('www.example.test', true);
      w.server.invalidateCache?.();
      const a = encode('www.example.test', 'A', { ecs: '198.51.100.0/24' });
      const nx = encode('nope.example.test', 'A', { ecs: '198.51.100.0/24' });
      for (let i = 0; i < 30; i++) await send(w.port, withId(a, i));
      for (let i = 0; i < 10; i++) await send(w.port, withId(nx, i));
      const s = w.server.stats();
      expect(s.packetCacheHits).toBe(36); // all but the first two of each (doorkeeper)
      expect(s.queries).toBe(40);
      expect(s.udpQueries).toBe(40);
      expect(s.byRcode).toEqual({ NOERROR: 30, NXDOMAIN: 10 });
      expect(s.byQtype).toEqual({ A: 40 });
      expect(s.answers).toEqual({ 'www.example.test': { '192.0.2.2': 30 } });
      expect(Object.fromEntries(w.table.queryCounts('www.example.test'))).toEqual({ 'agent-b': 30 });
    } finally {
      await w.server.close();
    }
  });

  it('not cached: malformed, truncated, REFUSED', async () => {
    const hitsBefore = cached.server.stats().packetCacheHits;
    const refused = encode('other.invalid', 'A');
    const formerr = Buffer.from(encode('www.example.test', 'A')).subarray(0, 20); // cut inside the question
    const big = encode('www.example.test', 'A', { edns: false }); // no EDNS: 512 bytes max
    cached.table.setAnswer('www.example.test', DEFAULT_KEY, Array.from({ length: 40 }, (_, i) => `192.0.2.${i + 1}`));
    cached.server.invalidateCache?.();
    for (let i = 0; i < 3; i++) {
      expect((await send(cached.port, refused))[3]! & 0x0f).toBe(5); // REFUSED
      expect((await send(cached.port, formerr))[3]! & 0x0f).toBe(1);
      expect(packet.decode(await send(cached.port, big)).flag_tc).toBe(true);
    }
    expect(cached.server.stats().packetCacheHits - hitsBefore).toBe(0);
  });
});
