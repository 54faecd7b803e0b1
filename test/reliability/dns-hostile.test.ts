// Hostile DNS input, by category (fast-check): each class of malformed packet gets exactly
// the outcome the design allows (FORMERR, NOTIMP, REFUSED or dropped), through the pure
// answer path for volume and through the real UDP socket with valid queries interleaved.
// Also "not an amplifier": ANY is minimal and no UDP response exceeds the client's size.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import * as packet from 'dns-packet';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import { addressesOf, query, udp, udpQuery } from '../helpers/dns-client.js';
import { startWorld, type World } from '../dns/helpers.js';

let w: World;
beforeAll(async () => {
  w = await startWorld();
  // 40 IPv6 addresses: 40 × 28 bytes of answers, more than 512 or 1232 bytes with ECS.
  w.table.setService('big.example.test', 30);
  w.table.setAnswer('big.example.test', DEFAULT_KEY, Array.from({ length: 40 }, (_, i) => `2001:db8:ffff::${(i + 1).toString(16)}`));
});
afterAll(async () => { await w.server.close(); });

const FORMERR = 1;
const NOTIMP = 4;
const REFUSED = 5;
type Outcome = number | 'drop';

const src = Uint8Array.from([127, 0, 0, 1]);

function header(id: number, flags: number, qd: number, an = 0, ns = 0, ar = 0): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16BE(id, 0);
  b.writeUInt16BE(flags, 2);
  b.writeUInt16BE(qd, 4);
  b.writeUInt16BE(an, 6);
  b.writeUInt16BE(ns, 8);
  b.writeUInt16BE(ar, 10);
  return b;
}

/** The question `www.example.test` with a given type and class. */
function question(qtype = 1, qclass = 1, name = 'www.example.test'): Buffer {
  const parts = name.split('.').map((l) => Buffer.concat([Buffer.from([l.length]), Buffer.from(l)]));
  const tail = Buffer.alloc(4);
  tail.writeUInt16BE(qtype, 0);
  tail.writeUInt16BE(qclass, 2);
  return Buffer.concat([...parts, Buffer.from([0]), tail]);
}

/** An OPT RR (owner root) carrying the given raw options. */
function opt(options: Buffer = Buffer.alloc(0), udpSize = 1232): Buffer {
  const rr = Buffer.alloc(11);
  rr[0] = 0;
  rr.writeUInt16BE(41, 1);
  rr.writeUInt16BE(udpSize, 3);
  rr.writeUInt16BE(options.length, 9);
  return Buffer.concat([rr, options]);
}

function ecsOption(family: number, source: number, scope: number, addr: Buffer): Buffer {
  const o = Buffer.alloc(8);
  o.writeUInt16BE(8, 0);
  o.writeUInt16BE(4 + addr.length, 2);
  o.writeUInt16BE(family, 4);
  o[6] = source;
  o[7] = scope;
  return Buffer.concat([o, addr]);
}

/** A resource record whose owner name is the given raw bytes (pointers and all). */
function rrWithOwner(owner: Buffer): Buffer {
  return Buffer.concat([owner, Buffer.from([0, 1, 0, 1, 0, 0, 0, 30, 0, 4, 192, 0, 2, 1])]);
}

const id = fc.integer({ min: 0, max: 0xffff });
const rd = fc.constantFrom(0, 0x0100);

/** Each arbitrary yields a hostile packet and the outcomes allowed for it. */
const hostile: Record<string, fc.Arbitrary<{ msg: Buffer; allowed: Outcome[] }>> = {
  'truncated header': fc.uint8Array({ maxLength: 11 }).map((b) => ({ msg: Buffer.from(b), allowed: ['drop'] })),
  'QR bit set': fc.tuple(id, fc.integer({ min: 0, max: 0x7fff })).map(([i, f]) => ({ msg: Buffer.concat([header(i, 0x8000 | f, 1), question()]), allowed: ['drop'] })),
  'unknown opcode': fc.tuple(id, fc.integer({ min: 1, max: 15 }), rd).map(([i, op, r]) => ({ msg: Buffer.concat([header(i, (op << 11) | r, 1), question()]), allowed: [NOTIMP] })),
  'qdcount that lies': fc.tuple(id, fc.integer({ min: 2, max: 0xffff })).map(([i, qd]) => ({ msg: Buffer.concat([header(i, 0, qd), question()]), allowed: [FORMERR] })),
  'qdcount 0': id.map((i) => ({ msg: header(i, 0, 0), allowed: [FORMERR] })),
  'ancount/arcount that lie': fc.tuple(id, fc.integer({ min: 1, max: 0xffff }), fc.integer({ min: 0, max: 0xffff })).map(([i, an, ar]) => ({ msg: Buffer.concat([header(i, 0, 1, an, 0, ar), question()]), allowed: [FORMERR] })),
  'label > 63': fc.tuple(id, fc.integer({ min: 64, max: 191 })).map(([i, l]) => ({ msg: Buffer.concat([header(i, 0, 1), Buffer.from([l]), Buffer.alloc(l, 97), Buffer.from([0, 0, 1, 0, 1])]), allowed: [FORMERR] })),
  'name > 255 bytes': fc.tuple(id, fc.integer({ min: 5, max: 8 })).map(([i, n]) => {
    const labels = Array.from({ length: n }, () => Buffer.concat([Buffer.from([60]), Buffer.alloc(60, 98)]));
    return { msg: Buffer.concat([header(i, 0, 1), ...labels, Buffer.from([0, 0, 1, 0, 1])]), allowed: [FORMERR] };
  }),
  'name running past the end': fc.tuple(id, fc.integer({ min: 1, max: 63 }), fc.nat(62)).map(([i, l, have]) => ({ msg: Buffer.concat([header(i, 0, 1), Buffer.from([l]), Buffer.alloc(Math.min(have, l - 1), 99)]), allowed: [FORMERR] })),
  'compression pointer in the question (loop, forward, overrun)': fc.tuple(id, fc.integer({ min: 0, max: 0x3fff })).map(([i, target]) => ({ msg: Buffer.concat([header(i, 0, 1), Buffer.from([0xc0 | (target >> 8), target & 0xff, 0, 1, 0, 1])]), allowed: [FORMERR] })),
  'pointer abuse in additional records': fc.tuple(id, fc.integer({ min: 0, max: 0x3fff }), fc.constantFrom('loop', 'forward', 'overrun', 'chain')).map(([i, target, kind]) => {
    const q = question();
    const at = 12 + q.length; // where the RR's owner starts
    const owner = kind === 'loop' ? Buffer.from([0xc0 | (at >> 8), at & 0xff])
      : kind === 'forward' ? Buffer.from([0xc0, Math.min(0xff, at + 2 + (target % 20))])
        : kind === 'chain' ? Buffer.from([3, 102, 111, 111, 0xc0 | (at >> 8), at & 0xff])
          : Buffer.from([0xc0 | (target >> 8), target & 0xff]);
    // Outcome: the owner is skipped without following pointers; a bogus owner on a
    // non-OPT RR is harmless (answered normally), an overrun RR is FORMERR.
    const rr = kind === 'overrun' ? owner : rrWithOwner(owner);
    return { msg: Buffer.concat([header(i, 0, 1, 0, 0, 1), q, rr]), allowed: kind === 'overrun' ? [FORMERR] : [0] };
  }),
  'repeated OPT': fc.tuple(id, fc.integer({ min: 2, max: 5 })).map(([i, n]) => ({ msg: Buffer.concat([header(i, 0, 1, 0, 0, n), question(), ...Array.from({ length: n }, () => opt())]), allowed: [FORMERR] })),
  'malformed ECS': fc.tuple(id, fc.constantFrom(0, 3, 0xffff), fc.integer({ min: 0, max: 255 }), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 20 })).map(([i, fam, source, scope, addr]) => ({
    // Family 0/3/65535 is invalid whatever follows (RFC 7871 §6).
    msg: Buffer.concat([header(i, 0, 1, 0, 0, 1), question(), opt(ecsOption(fam, source, scope, Buffer.from(addr)))]), allowed: [FORMERR],
  })),
  'ECS with source too long, scope set, or address length wrong': fc.tuple(id, fc.constantFrom('source', 'scope', 'len', 'bits')).map(([i, kind]) => {
    const o = kind === 'source' ? ecsOption(1, 33, 0, Buffer.alloc(5))
      : kind === 'scope' ? ecsOption(1, 24, 8, Buffer.from([198, 51, 100]))
        : kind === 'len' ? ecsOption(1, 24, 0, Buffer.from([198, 51, 100, 0]))
          : ecsOption(1, 20, 0, Buffer.from([198, 51, 101]));
    return { msg: Buffer.concat([header(i, 0, 1, 0, 0, 1), question(), opt(o)]), allowed: [FORMERR] };
  }),
  'option length overrunning the OPT': fc.tuple(id, fc.integer({ min: 5, max: 0xffff })).map(([i, olen]) => {
    const o = Buffer.from([0, 8, olen >> 8, olen & 0xff, 0, 1, 24, 0]);
    return { msg: Buffer.concat([header(i, 0, 1, 0, 0, 1), question(), opt(o)]), allowed: [FORMERR] };
  }),
  'unknown class': fc.tuple(id, fc.integer({ min: 2, max: 0xffff }).filter((c) => c !== 255)).map(([i, c]) => ({ msg: Buffer.concat([header(i, 0, 1), question(1, c)]), allowed: [REFUSED] })),
  'name outside every zone': fc.tuple(id, fc.stringMatching(/^[a-z]{1,10}$/)).map(([i, l]) => ({ msg: Buffer.concat([header(i, 0, 1), question(1, 1, `${l}.invalid`)]), allowed: [REFUSED] })),
  'zone transfer': fc.tuple(id, fc.constantFrom(251, 252)).map(([i, t]) => ({ msg: Buffer.concat([header(i, 0, 1), question(t, 1, 'example.test')]), allowed: [REFUSED] })),
};

function outcome(resp: Buffer | undefined): Outcome {
  return resp ? (resp[3] as number) & 0x0f : 'drop';
}

function checkOne(msg: Buffer, resp: Buffer | undefined, allowed: Outcome[]): void {
  expect(allowed).toContain(outcome(resp));
  expect(w.server.stats().internalErrors, 'an exception was caught on the query path').toBe(0);
  if (resp) {
    expect(resp.readUInt16BE(0)).toBe(msg.readUInt16BE(0));
    expect((resp[2] as number) & 0x80).toBe(0x80);
    expect(resp.length).toBeLessThanOrEqual(512);
  }
}

describe('hostile DNS packets: outcome per category', () => {
  for (const [name, arb] of Object.entries(hostile)) {
    it(`${name} (pure path)`, () => {
      fc.assert(fc.property(arb, ({ msg, allowed }) => checkOne(msg, w.server.answer(msg, 4, src, 512), allowed)), { numRuns: 300 });
    });
  }

  it('every category over real UDP, valid queries answered between them', async () => {
    const all = fc.oneof(...Object.values(hostile));
    const samples = fc.sample(all, { numRuns: 600, seed: 42 });
    const errorsBefore = w.server.stats().internalErrors;
    let valid = 0;
    for (let i = 0; i < samples.length; i += 20) {
      const batch = samples.slice(i, i + 20);
      const resps = await Promise.all(batch.map((s) => udpQuery(w.port, s.msg, s.allowed.includes('drop') ? 150 : 1000)));
      batch.forEach((s, j) => checkOne(s.msg, resps[j], s.allowed));
      const r = await udp(w.port, query('www.example.test', 'A', { ecs: '198.51.100.0/24', id: i }));
      expect(r.id).toBe(i);
      expect(addressesOf(r)[0]).toBe('192.0.2.2');
      valid++;
    }
    expect(valid).toBe(30);
    expect(w.server.stats().internalErrors).toBe(errorsBefore);
  });
});

describe('not an amplifier', () => {
  it('ANY gets one small HINFO (RFC 8482), whatever the name', async () => {
    for (const name of ['www.example.test', 'example.test', 'big.example.test']) {
      const raw = await udpQuery(w.port, packet.encode(query(name, 'ANY', { edns: true, udpSize: 4096 })));
      const r = packet.decode(raw as Buffer);
      expect(r.rcode).toBe('NOERROR');
      expect(r.answers?.map((a) => a.type)).toEqual(['HINFO']);
      expect((raw as Buffer).length).toBeLessThan(100);
    }
  });

  it('no UDP response is larger than the size the client advertised (min 512, max 1232)', async () => {
    const sizes = [undefined, 512, 600, 1000, 1232, 4096];
    for (const udpSize of sizes) {
      for (const type of ['A', 'AAAA'] as const) {
        const raw = await udpQuery(w.port, packet.encode(query('big.example.test', type, udpSize ? { udpSize } : {})));
        const limit = Math.min(1232, Math.max(512, udpSize ?? 512));
        expect(raw).toBeDefined();
        expect((raw as Buffer).length).toBeLessThanOrEqual(limit);
        if (type === 'AAAA' && limit < 40 * 28) expect(packet.decode(raw as Buffer).flag_tc).toBe(true);
      }
    }
  });

  it('pure path: any advertised size bounds the response', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff }), fc.constantFrom('A', 'AAAA', 'ANY', 'SOA', 'NS'), (size, type) => {
      const msg = packet.encode(query('big.example.test', type as packet.RecordType, { udpSize: Math.max(size, 1) }));
      const resp = w.server.answer(msg, 4, src, 1232) as Buffer;
      expect(resp.length).toBeLessThanOrEqual(Math.min(1232, Math.max(512, size)));
    }), { numRuns: 400 });
  });
});
