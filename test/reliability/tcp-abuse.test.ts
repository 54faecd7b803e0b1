// TCP abuse against the real DNS server: partial frames that never complete, lengths of
// 0 and 65535 with no data, and 2,000 idle connections against a cap of 500. Open
// connections stay capped, idle ones time out, and UDP and fresh TCP clients are
// answered while the abuse is in place.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as packet from 'dns-packet';
import { startWorld, type World } from '../dns/helpers.js';
import { addressesOf, frame, query, tcpClient, udp } from '../helpers/dns-client.js';
import { until } from '../helpers/fixtures.js';

const CAP = 500;
// Long enough that the 2,000 connections of the flood are all open before the first of them
// idles out, even on a loaded machine (at 1,500 ms the timeout, not the cap, closed most of
// them under load and the eviction count fell short, on main too).
const IDLE_MS = 4000;
let w: World;
beforeAll(async () => { w = await startWorld({ maxTcpConnections: CAP, tcpIdleTimeoutMs: IDLE_MS }); });
afterAll(async () => { await w.server.close(); });

function connect(port: number): Promise<net.Socket> {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' });
    s.on('error', () => undefined);
    s.once('connect', () => resolve(s));
    s.once('close', () => resolve(s));
  });
}

async function validTcp(id: number): Promise<string[]> {
  const c = await tcpClient(w.port);
  c.sock.write(frame(packet.encode(query('www.example.test', 'A', { id, ecs: '198.51.100.0/24' }))));
  const [r] = await c.next(1, 2000);
  c.sock.destroy();
  expect(r).toBeDefined();
  const d = packet.decode(r as Buffer);
  expect(d.id).toBe(id);
  return addressesOf(d);
}

async function validUdp(): Promise<void> {
  expect(addressesOf(await udp(w.port, query('www.example.test', 'A', { ecs: '198.51.100.0/24' })))[0]).toBe('192.0.2.2');
}

describe('TCP abuse', () => {
  it('partial frame, 0 and 65535 lengths with no data: no answer, timed out, others unaffected', async () => {
    const before = w.server.stats();
    const partial = await connect(w.port);
    const q = frame(packet.encode(query('www.example.test')));
    partial.write(q.subarray(0, 9)); // length + part of the header, then silence
    const huge = await connect(w.port);
    huge.write(Buffer.from([0xff, 0xff]));
    const lone = await connect(w.port);
    lone.write(Buffer.from([0xff])); // half a length prefix
    const zero = await connect(w.port);
    zero.write(Buffer.from([0, 0]));
    const got: Buffer[] = [];
    for (const s of [partial, huge, lone, zero]) s.on('data', (d) => got.push(d));
    const closed = (s: net.Socket) => new Promise<number>((r) => { if (s.destroyed) r(Date.now()); else s.once('close', () => r(Date.now())); });
    const t0 = Date.now();
    // RFC 7766 §8: a 0-length message is not a query; the server closes at once.
    expect(await closed(zero) - t0).toBeLessThan(500);
    await validUdp();
    expect(await validTcp(11)).toEqual(['192.0.2.2', '192.0.2.1']);
    const ends = await Promise.all([partial, huge, lone].map(closed));
    for (const t of ends) {
      expect(t - t0).toBeGreaterThanOrEqual(IDLE_MS - 100);
      expect(t - t0).toBeLessThan(IDLE_MS + 1500);
    }
    expect(got).toEqual([]);
    expect(w.server.stats().tcpTimeouts - before.tcpTimeouts).toBe(3);
    expect(w.server.stats().internalErrors).toBe(0);
  });

  it('2,000 idle connections against a cap of 500: capped, timed out, UDP and new TCP clients answered', async () => {
    const before = w.server.stats();
    const socks: net.Socket[] = [];
    for (let i = 0; i < 2000; i += 100) {
      socks.push(...await Promise.all(Array.from({ length: 100 }, () => connect(w.port))));
    }
    // Under abuse: the server never holds more than the cap, and still answers.
    await until(() => w.server.stats().tcpOpen <= CAP, 3000, 'open connections back to the cap');
    expect(w.server.stats().tcpOpen).toBeLessThanOrEqual(CAP);
    for (let i = 0; i < 5; i++) {
      await validUdp();
      expect((await validTcp(100 + i))[0]).toBe('192.0.2.2');
      expect(w.server.stats().tcpOpen).toBeLessThanOrEqual(CAP);
    }
    const mid = w.server.stats();
    expect(mid.tcpConnections - before.tcpConnections).toBeGreaterThanOrEqual(2005);
    expect(mid.tcpRejected - before.tcpRejected).toBeGreaterThanOrEqual(1500);
    // The idle timeout empties the rest.
    await until(() => w.server.stats().tcpOpen === 0, IDLE_MS + 3000, 'idle connections timed out');
    expect(w.server.stats().tcpTimeouts - before.tcpTimeouts).toBeGreaterThanOrEqual(1);
    await until(() => socks.every((s) => s.destroyed || s.readableEnded), 3000, 'client sockets closed');
    for (const s of socks) s.destroy();
    expect(w.server.stats().internalErrors).toBe(0);
    await validUdp();
  });
});
