// DNS over TCP (RFC 7766) against the real server: framing, pipelining, partial
// frames, 0-length frame, idle timeout, connection cap; and dig over UDP and TCP.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as packet from 'dns-packet';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import { addressesOf, digRaw, frame, query, tcpClient } from '../helpers/dns-client.js';
import { startWorld, type World } from './helpers.js';

let w: World;
let small: World;
beforeAll(async () => {
  w = await startWorld();
  w.table.setService('big.example.test', 30);
  w.table.setAnswer('big.example.test', DEFAULT_KEY, Array.from({ length: 40 }, (_, i) => `2001:db8:ffff::${i + 1}`));
  small = await startWorld({ tcpIdleTimeoutMs: 300, maxTcpConnections: 2 });
});
afterAll(async () => {
  await w.server.close();
  await small.server.close();
});

describe('TCP', () => {
  it('answers several pipelined queries sent in one write, matched by ID', async () => {
    const c = await tcpClient(w.port);
    const names = ['www.example.test', 'example.test', 'nope.example.test', 'example.org', 'big.example.test'];
    const types: packet.RecordType[] = ['A', 'SOA', 'A', 'A', 'AAAA'];
    c.sock.write(Buffer.concat(names.map((n, i) => frame(packet.encode(query(n, types[i], { id: 100 + i }))))));
    const got = (await c.next(names.length)).map((b) => packet.decode(b));
    c.sock.destroy();
    const byId = new Map(got.map((r) => [r.id, r]));
    expect([...byId.keys()].sort()).toEqual([100, 101, 102, 103, 104]);
    expect(byId.get(100)?.rcode).toBe('NOERROR');
    expect(addressesOf(byId.get(100)!)[0]).toBe('192.0.2.3');
    expect(byId.get(101)?.answers?.[0]?.type).toBe('SOA');
    expect(byId.get(102)?.rcode).toBe('NXDOMAIN');
    expect(byId.get(103)?.rcode).toBe('REFUSED');
    // Over TCP the 40-address answer is not truncated.
    expect(byId.get(104)?.answers).toHaveLength(40);
    expect((byId.get(104)?.flags ?? 0) & 0x0200).toBe(0);
  });

  it('reassembles frames split across writes (byte by byte)', async () => {
    const c = await tcpClient(w.port);
    const bytes = Buffer.concat([frame(packet.encode(query('www.example.test', 'A', { id: 7 }))), frame(packet.encode(query('www.example.test', 'A', { id: 8 })))]);
    for (const b of bytes) {
      c.sock.write(Buffer.from([b]));
      await new Promise((r) => setImmediate(r));
    }
    const got = (await c.next(2)).map((b) => packet.decode(b).id);
    c.sock.destroy();
    expect(got).toEqual([7, 8]);
  });

  it('a 0-length frame closes the connection', async () => {
    const c = await tcpClient(w.port);
    c.sock.write(Buffer.concat([frame(packet.encode(query('www.example.test', 'A', { id: 9 }))), Buffer.from([0, 0])]));
    const got = await c.next(1);
    await c.closed;
    expect(got.map((b) => packet.decode(b).id)).toEqual([9]);
  });

  it('malformed TCP messages get FORMERR and the connection keeps working', async () => {
    const c = await tcpClient(w.port);
    const bad = Buffer.alloc(14);
    bad.writeUInt16BE(55, 0);
    bad.writeUInt16BE(1, 4);
    c.sock.write(Buffer.concat([frame(bad), frame(packet.encode(query('www.example.test', 'A', { id: 56 })))]));
    const got = await c.next(2);
    c.sock.destroy();
    expect(got.map((b) => [b.readUInt16BE(0), b[3]! & 0x0f])).toEqual([[55, 1], [56, 0]]);
  });

  it('closes idle connections after tcpIdleTimeoutMs', async () => {
    const before = small.server.stats().tcpTimeouts;
    const c = await tcpClient(small.port);
    const t0 = Date.now();
    await c.closed;
    const elapsed = Date.now() - t0;
    expect(elapsed).toBeGreaterThanOrEqual(250);
    expect(elapsed).toBeLessThan(2000);
    expect(small.server.stats().tcpTimeouts).toBe(before + 1);
  });

  it('past maxTcpConnections the idlest connection makes room for the new one', async () => {
    const a = await tcpClient(small.port);
    const b = await tcpClient(small.port);
    b.sock.write(frame(packet.encode(query('www.example.test', 'A', { id: 3 }))));
    expect((await b.next(1)).length).toBe(1);
    const before = small.server.stats().tcpRejected;
    const c = await tcpClient(small.port);
    // a has been idle longest (b just sent a query): a is closed, b and c answer.
    await a.closed;
    expect(small.server.stats().tcpRejected).toBe(before + 1);
    b.sock.write(frame(packet.encode(query('www.example.test', 'A', { id: 1 }))));
    c.sock.write(frame(packet.encode(query('www.example.test', 'A', { id: 2 }))));
    expect((await b.next(1)).length).toBe(1);
    expect((await c.next(1)).length).toBe(1);
    b.sock.destroy();
    c.sock.destroy();
  });
});

describe('dig', () => {
  const dig = (...args: string[]): Promise<string> => digRaw(w.port, ...args);

  it.each([
    { args: ['www.example.test', 'A', '+subnet=198.51.100.0/24'], status: 'NOERROR', first: '192.0.2.2', scope: '198.51.100.0/24/24' },
    { args: ['www.example.test', 'A', '+subnet=198.51.101.0/24'], status: 'NOERROR', first: '192.0.2.1', scope: '198.51.101.0/24/24' },
    { args: ['www.example.test', 'A', '+subnet=203.0.113.0/24'], status: 'NOERROR', first: '192.0.2.3', scope: '203.0.113.0/24/5' },
    { args: ['www.example.test', 'A', '+tcp', '+subnet=198.51.100.0/24'], status: 'NOERROR', first: '192.0.2.2', scope: '198.51.100.0/24/24' },
    { args: ['nope.example.test', 'A'], status: 'NXDOMAIN' },
    { args: ['example.org', 'A'], status: 'REFUSED' },
    { args: ['example.test', 'SOA', '+tcp'], status: 'NOERROR' },
  ])('dig $args → $status', async (c) => {
    const out = await dig(...c.args, '+norec');
    expect(out).toContain(`status: ${c.status}`);
    // AA on authoritative answers, never RA; REFUSED is not authoritative.
    expect(out).toMatch(c.status === 'REFUSED' ? /flags: qr;/ : /flags: qr aa;/);
    if (c.first) expect(out).toMatch(new RegExp(`IN\\s+A\\s+${c.first.replace(/\./g, '\\.')}\\n`));
    if (c.scope) expect(out).toContain(`CLIENT-SUBNET: ${c.scope}`);
  });

  it('dig +short keeps the precomputed order', async () => {
    expect((await dig('www.example.test', '+short', '+subnet=198.51.100.0/24')).trim().split('\n')).toEqual(['192.0.2.2', '192.0.2.1']);
  });

  it('dig falls back to TCP on a truncated answer', async () => {
    const out = await dig('big.example.test', 'AAAA', '+noedns', '+ignore');
    expect(out).toMatch(/flags: qr aa tc/);
    const full = await dig('big.example.test', 'AAAA', '+noedns');
    expect(full).toContain('ANSWER: 40');
  });
});
