// EDNS Client Subnet (RFC 7871) over real UDP: mapping, echo, scope with nested prefixes,
// FORMERR for malformed options, and the truncation paths.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as packet from 'dns-packet';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import { addressesOf, ecsOf, query, udp, udpQuery } from '../helpers/dns-client.js';
import { startWorld, type World } from './helpers.js';

let w: World;
beforeAll(async () => {
  w = await startWorld();
  w.table.setService('big.example.test', 30);
  w.table.setAnswer('big.example.test', DEFAULT_KEY, Array.from({ length: 40 }, (_, i) => `2001:db8:ffff::${i + 1}`));
});
afterAll(async () => { await w.server.close(); });

describe('ECS mapping and scope', () => {
  const cases = [
    // agent-b's /24 inside agent-a's /16.
    { ecs: '198.51.100.0/24', type: 'A', first: '192.0.2.2', scope: 24 },
    { ecs: '198.51.100.77/32', type: 'A', first: '192.0.2.2', scope: 24 },
    // The neighbouring /24 inside the /16: agent-a, and the scope must exclude agent-b's /24.
    { ecs: '198.51.101.0/24', type: 'A', first: '192.0.2.1', scope: 24 },
    { ecs: '198.51.7.0/24', type: 'A', first: '192.0.2.1', scope: 18 }, // 7 and 100 share bit 16
    { ecs: '198.51.200.0/24', type: 'A', first: '192.0.2.1', scope: 17 },
    // Outside every prefix: default; scope covers only the prefix-free block.
    { ecs: '203.0.113.0/24', type: 'A', first: '192.0.2.3', scope: 5 },
    // SOURCE PREFIX-LENGTH 0: the client's address is not to be used → scope 0.
    { ecs: '0.0.0.0/0', type: 'A', first: '192.0.2.3', scope: 0 },
    { ecs: '2001:db8:1::/48', type: 'AAAA', first: '2001:db8:ffff::2', scope: 48 },
    { ecs: '2001:db8:2::/48', type: 'AAAA', first: '2001:db8:ffff::1', scope: 47 },
    { ecs: '2001:db8:8000::/48', type: 'AAAA', first: '2001:db8:ffff::1', scope: 33 },
    // IPv6 ECS on an A query still maps by the IPv6 client.
    { ecs: '2001:db8:1::/56', type: 'A', first: '192.0.2.2', scope: 48 },
  ] as const;
  it.each(cases)('$ecs $type → $first scope $scope', async (c) => {
    const r = await udp(w.port, query('www.example.test', c.type, { ecs: c.ecs }));
    expect(r.rcode).toBe('NOERROR');
    expect(addressesOf(r)[0]).toBe(c.first);
    const e = ecsOf(r);
    const [ip, len] = c.ecs.split('/');
    expect(e?.sourcePrefixLength).toBe(Number(len));
    expect(e?.scopePrefixLength).toBe(c.scope);
    if (Number(len) > 0 && ip) expect(e?.ip.split(/[.:]/)[0]).toBe(ip.split(/[.:]/)[0]);
  });

  it('a /24 next to a nested /24 never gets scope 16 or less', async () => {
    for (let third = 90; third < 110; third++) {
      const r = await udp(w.port, query('www.example.test', 'A', { ecs: `198.51.${third}.0/24` }));
      const scope = ecsOf(r)?.scopePrefixLength ?? -1;
      expect(scope).toBeGreaterThan(16);
      expect(addressesOf(r)[0]).toBe(third === 100 ? '192.0.2.2' : '192.0.2.1');
    }
  });

  it.each([
    { name: 'same.example.test', type: 'A' as const, rcode: 'NOERROR' }, // uniform answers
    { name: 'example.test', type: 'SOA' as const, rcode: 'NOERROR' },
    { name: 'example.test', type: 'NS' as const, rcode: 'NOERROR' },
    { name: 'nope.example.test', type: 'A' as const, rcode: 'NXDOMAIN' },
    { name: 'www.example.test', type: 'MX' as const, rcode: 'NOERROR' },
    { name: 'example.org', type: 'A' as const, rcode: 'REFUSED' },
  ])('scope 0 for answers not depending on the client: $name $type', async (c) => {
    const r = await udp(w.port, query(c.name, c.type, { ecs: '198.51.100.0/24' }));
    expect(r.rcode).toBe(c.rcode);
    expect(ecsOf(r)).toMatchObject({ sourcePrefixLength: 24, scopePrefixLength: 0, ip: '198.51.100.0' });
  });

  it('without ECS the packet source maps (resolver, then default), and no ECS is echoed', async () => {
    const before = await udp(w.port, query('www.example.test', 'A', { edns: true }));
    expect(addressesOf(before)[0]).toBe('192.0.2.3');
    expect(ecsOf(before)).toBeUndefined();
    w.mapper.setResolvers([{ address: '127.0.0.1', agent: 'agent-b' }]);
    try {
      expect(addressesOf(await udp(w.port, query('www.example.test', 'A')))[0]).toBe('192.0.2.2');
      // The ECS prefix wins over the resolver.
      expect(addressesOf(await udp(w.port, query('www.example.test', 'A', { ecs: '198.51.7.0/24' })))[0]).toBe('192.0.2.1');
      w.mapper.setAgentStates(new Map([['agent-a', 'stale'], ['agent-b', 'fresh']]));
      // Stale agent-a's prefix is skipped straight to the default (not the resolver).
      expect(addressesOf(await udp(w.port, query('www.example.test', 'A', { ecs: '198.51.7.0/24' })))[0]).toBe('192.0.2.3');
      // A client outside every prefix still maps by its resolver.
      expect(addressesOf(await udp(w.port, query('www.example.test', 'A', { ecs: '203.0.113.0/24' })))[0]).toBe('192.0.2.2');
      w.mapper.setAgentStates(new Map([['agent-a', 'stale'], ['agent-b', 'offline']]));
      expect(addressesOf(await udp(w.port, query('www.example.test', 'A', { ecs: '198.51.7.0/24' })))[0]).toBe('192.0.2.3');
    } finally {
      w.mapper.setResolvers([]);
      w.mapper.setAgentStates(new Map([['agent-a', 'fresh'], ['agent-b', 'fresh']]));
    }
  });

  it('decide() explains the same choice without a packet', () => {
    const d = w.server.decide('WWW.example.test.', { family: 4, bytes: Uint8Array.from([198, 51, 100, 0]), sourceLength: 24 });
    expect(d).toMatchObject({ rcode: 'NOERROR', zone: 'example.test', kind: 'service', scope: 24, match: { key: 'agent-b', via: 'prefix', prefix: '198.51.100.0/24' }, answer: { key: 'agent-b', addresses: ['192.0.2.2', '192.0.2.1', '2001:db8:ffff::2'], ttl: 30 } });
    expect(w.server.decide('x.example.test', { family: 4, bytes: Uint8Array.from([1, 2, 3, 4]) })).toMatchObject({ rcode: 'NXDOMAIN', kind: 'nxdomain' });
    expect(w.server.decide('example.org', { family: 4, bytes: Uint8Array.from([1, 2, 3, 4]) })).toMatchObject({ rcode: 'REFUSED' });
  });
});

/** A query for www.example.test A whose OPT carries `ecs` as raw option bytes. */
function rawEcsQuery(ecs: number[]): Buffer {
  const base = packet.encode(query('www.example.test', 'A'));
  base.writeUInt16BE(1, 10);
  const opt = Buffer.alloc(11 + 4 + ecs.length);
  opt.writeUInt16BE(41, 1);
  opt.writeUInt16BE(1232, 3);
  opt.writeUInt16BE(4 + ecs.length, 9);
  opt.writeUInt16BE(8, 11);
  opt.writeUInt16BE(ecs.length, 13);
  Buffer.from(ecs).copy(opt, 15);
  return Buffer.concat([base, opt]);
}

describe('malformed ECS → FORMERR (RFC 7871 §6)', () => {
  it.each([
    { what: 'family 3', ecs: [0, 3, 24, 0, 198, 51, 100] },
    { what: 'family 0', ecs: [0, 0, 0, 0] },
    { what: 'IPv4 source 33', ecs: [0, 1, 33, 0, 198, 51, 100, 0, 0] },
    { what: 'IPv6 source 129', ecs: [0, 2, 129, 0, ...new Array<number>(17).fill(0)] },
    { what: 'address longer than the prefix', ecs: [0, 1, 24, 0, 198, 51, 100, 0] },
    { what: 'address shorter than the prefix', ecs: [0, 1, 24, 0, 198, 51] },
    { what: 'bits set past the prefix', ecs: [0, 1, 23, 0, 198, 51, 101] },
    { what: 'non-zero scope in a query', ecs: [0, 1, 24, 16, 198, 51, 100] },
    { what: 'option shorter than 4 bytes', ecs: [0, 1] },
  ])('$what', async ({ ecs }) => {
    const raw = await udpQuery(w.port, rawEcsQuery(ecs));
    expect(raw).toBeDefined();
    expect(raw![3]! & 0x0f).toBe(1);
    expect(raw!.readUInt16BE(6)).toBe(0);
  });

  it('a well-formed raw ECS still answers (control)', async () => {
    const raw = await udpQuery(w.port, rawEcsQuery([0, 1, 24, 0, 198, 51, 100]));
    expect(raw![3]! & 0x0f).toBe(0);
    expect(addressesOf(packet.decode(raw!))[0]).toBe('192.0.2.2');
  });
});

describe('UDP size and truncation', () => {
  it.each([
    { what: 'no EDNS: 512', opts: {}, tc: true },
    { what: 'EDNS 600', opts: { udpSize: 600 }, tc: true },
    { what: 'EDNS 256 counts as 512', opts: { udpSize: 256 }, tc: true },
    { what: 'EDNS 1232', opts: { udpSize: 1232 }, tc: false },
    { what: 'EDNS 4096 (capped at our 1232, still fits)', opts: { udpSize: 4096 }, tc: false },
  ])('$what → TC=$tc', async ({ opts, tc }) => {
    const raw = await udpQuery(w.port, packet.encode(query('big.example.test', 'AAAA', opts)));
    const r = packet.decode(raw!);
    expect(Boolean((r.flags ?? 0) & 0x0200)).toBe(tc);
    expect(r.questions).toHaveLength(1);
    expect(r.answers).toHaveLength(tc ? 0 : 40);
    expect(raw!.length).toBeLessThanOrEqual('udpSize' in opts ? Math.max(512, Math.min(opts.udpSize as number, 1232)) : 512);
  });
});
