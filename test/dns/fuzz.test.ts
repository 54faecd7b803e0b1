// Random and mutated packets never crash or stall the server; valid queries keep being
// answered. The pure path is hammered directly, then a sample goes over real UDP/TCP.
// Any exception would still come back as a well-formed SERVFAIL (the catch-all), so each
// property also asserts that nothing was caught: internalErrors stays 0.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import * as packet from 'dns-packet';
import { addressesOf, frame, query, tcpClient, udp, udpQuery } from '../helpers/dns-client.js';
import { startWorld, type World } from './helpers.js';

let w: World;
beforeAll(async () => { w = await startWorld(); });
afterAll(async () => { await w.server.close(); });

const valid = packet.encode(query('www.example.test', 'A', { ecs: '198.51.100.0/24' }));
const src = Uint8Array.from([127, 0, 0, 1]);

/** The pure path's answer, asserting that nothing was thrown (and caught) inside for `msg`. */
function answer(msg: Buffer, limit: number | 'tcp'): Buffer | undefined {
  const before = w.server.stats().internalErrors;
  const resp = w.server.answer(msg, 4, src, limit);
  expect(w.server.stats().internalErrors - before, `caught an exception for ${msg.toString('hex')}`).toBe(0);
  return resp;
}

/** The answer must be undefined or a response (QR=1) with the query's ID, decodable at least as a header. */
function checkResponse(msg: Buffer, resp: Buffer | undefined): void {
  if (!resp) return;
  expect(resp.length).toBeGreaterThanOrEqual(12);
  expect(resp.readUInt16BE(0)).toBe(msg.readUInt16BE(0));
  expect(resp[2]! & 0x80).toBe(0x80);
  expect(resp.length).toBeLessThanOrEqual(1232);
}

describe('fuzz', () => {
  it('random bytes through the pure path: no throw, well-formed header', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 600 }), (bytes) => {
      const msg = Buffer.from(bytes);
      checkResponse(msg, answer(msg, 1232));
    }), { numRuns: 3000 });
  });

  it('mutations of a valid ECS query through the pure path', () => {
    fc.assert(fc.property(fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), fc.nat(valid.length), (edits, cut) => {
      const msg = Buffer.from(valid);
      for (const [at, v] of edits) msg[at] = v;
      const m = cut > 12 ? msg.subarray(0, cut) : msg;
      checkResponse(m, answer(m, 'tcp'));
    }), { numRuns: 5000 });
  });

  it('a few thousand random datagrams over UDP and junk over TCP; valid queries still answered', async () => {
    const before = w.server.stats();
    for (let i = 0; i < 2000; i++) {
      const junk = randomBytes(i % 300);
      // Keep QR clear on half of them so they reach the parser rather than being dropped.
      if (junk.length > 2 && i % 2) junk[2] = junk[2]! & 0x7f;
      void udpQuery(w.port, junk, 50).catch(() => undefined);
      if (i % 200 === 0) expect(addressesOf(await udp(w.port, query('www.example.test', 'A', { ecs: '198.51.100.0/24' })))[0]).toBe('192.0.2.2');
    }
    const c = await tcpClient(w.port);
    c.sock.write(Buffer.concat([frame(randomBytes(40)), frame(Buffer.alloc(5)), frame(packet.encode(query('www.example.test', 'A', { id: 77 })))]));
    const got = await c.next(3);
    c.sock.destroy();
    expect(got.at(-1)?.readUInt16BE(0)).toBe(77);
    await new Promise((r) => setTimeout(r, 100));
    const after = w.server.stats();
    expect(after.queries - before.queries).toBeGreaterThanOrEqual(2000);
    expect(after.internalErrors).toBe(0);
    expect(addressesOf(await udp(w.port, query('www.example.test', 'A')))[0]).toBe('192.0.2.3');
  });
});
