// Listening on several addresses (IPv4 + IPv6, port 0 → same port for UDP and TCP),
// response rate limiting, counters, and clean close.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as packet from 'dns-packet';
import { addressesOf, frame, query, tcpClient, udpQuery } from '../helpers/dns-client.js';
import { startWorld, type World } from './helpers.js';

describe('listen on IPv4 and IPv6', () => {
  let w: World;
  beforeAll(async () => { w = await startWorld({ listen: [{ host: '127.0.0.1', port: 0 }, { host: '::1', port: 0 }] }); });
  afterAll(async () => { await w.server.close(); });

  it('binds UDP and TCP on the same port for each address', () => {
    const addrs = w.server.addresses();
    expect(addrs.map((a) => [a.host, a.family])).toEqual([['127.0.0.1', 4], ['::1', 6]]);
    for (const a of addrs) expect(a.port).toBeGreaterThan(0);
  });

  it.each([
    { host: '127.0.0.1', idx: 0 },
    { host: '::1', idx: 1 },
  ])('answers over UDP and TCP on $host', async ({ host, idx }) => {
    const port = w.server.addresses()[idx]!.port;
    const raw = await udpQuery(port, packet.encode(query('www.example.test', 'A', { ecs: '2001:db8:1::/48' })), 1000, host);
    expect(addressesOf(packet.decode(raw!))[0]).toBe('192.0.2.2');
    const c = await tcpClient(port, host);
    c.sock.write(frame(packet.encode(query('www.example.test', 'AAAA', { id: 31, ecs: '2001:db8:1::/48' }))));
    const [resp] = await c.next(1);
    c.sock.destroy();
    expect(addressesOf(packet.decode(resp!))).toEqual(['2001:db8:ffff::2']);
  });

  it('maps a client by its IPv6 packet source when there is no ECS', async () => {
    w.mapper.setPrefixes([{ prefix: '::1/128', agent: 'agent-b' }]);
    try {
      const raw = await udpQuery(w.server.addresses()[1]!.port, packet.encode(query('www.example.test', 'A', { edns: true })), 1000, '::1');
      expect(addressesOf(packet.decode(raw!))[0]).toBe('192.0.2.2');
    } finally {
      w.mapper.setPrefixes([]);
    }
  });
});

describe('response rate limiting', () => {
  let w: World;
  beforeAll(async () => { w = await startWorld({ rateLimit: 5 }); });
  afterAll(async () => { await w.server.close(); });

  it('answers the burst, then drops or slips (TC) the excess for the same /24', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => udpQuery(w.port, packet.encode(query('www.example.test', 'A', { id: i })), 500)));
    const full = results.filter((r) => r && (r[2]! & 0x02) === 0);
    const slipped = results.filter((r) => r && (r[2]! & 0x02) !== 0);
    const dropped = results.filter((r) => !r);
    expect(full.length).toBeGreaterThanOrEqual(5);
    expect(full.length).toBeLessThanOrEqual(6);
    expect(slipped.length).toBeGreaterThan(0);
    expect(dropped.length).toBeGreaterThan(0);
    for (const s of slipped) {
      const d = packet.decode(s!);
      expect(d.answers).toHaveLength(0);
      expect(d.questions?.[0]?.name).toBe('www.example.test');
    }
    expect(w.server.stats().rateLimited).toBe(slipped.length + dropped.length);
  });

  it('TCP is not rate limited', async () => {
    const c = await tcpClient(w.port);
    c.sock.write(Buffer.concat(Array.from({ length: 10 }, (_, i) => frame(packet.encode(query('www.example.test', 'A', { id: 500 + i }))))));
    const got = await c.next(10);
    c.sock.destroy();
    expect(got).toHaveLength(10);
  });
});

describe('counters', () => {
  let w: World;
  beforeAll(async () => { w = await startWorld(); });
  afterAll(async () => { await w.server.close(); });

  it('counts queries by rcode and qtype, and answers by service and first address', async () => {
    await udpQuery(w.port, packet.encode(query('www.example.test', 'A', { ecs: '198.51.100.0/24' })));
    await udpQuery(w.port, packet.encode(query('www.example.test', 'A', { ecs: '198.51.100.0/24' })));
    await udpQuery(w.port, packet.encode(query('www.example.test', 'A')));
    await udpQuery(w.port, packet.encode(query('nope.example.test', 'MX')));
    await udpQuery(w.port, packet.encode(query('example.org', 'AAAA')));
    await udpQuery(w.port, Buffer.from([1, 2]), 200);
    const s = w.server.stats();
    expect(s).toMatchObject({
      queries: 6, udpQueries: 6, tcpQueries: 0, dropped: 1, internalErrors: 0, truncated: 0,
      byRcode: { NOERROR: 3, NXDOMAIN: 1, REFUSED: 1 },
      byQtype: { A: 3, MX: 1, AAAA: 1 },
      answers: { 'www.example.test': { '192.0.2.2': 2, '192.0.2.3': 1 } },
    });
  });

  it('close() ends open TCP connections and frees the port', async () => {
    const c = await tcpClient(w.port);
    await w.server.close();
    await c.closed;
    expect(w.server.addresses()).toEqual([]);
  });
});
