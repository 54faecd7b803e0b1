// The DNS server over real UDP sockets: every rcode path, flags, 0x20, EDNS, ECS echo.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as packet from 'dns-packet';
import { addressesOf, ecsOf, query, udp, udpQuery } from '../helpers/dns-client.js';
import { startWorld, type World } from './helpers.js';

let w: World;
beforeAll(async () => { w = await startWorld(); });
afterAll(async () => { await w.server.close(); });

const AA = 0x0400;
const TC = 0x0200;
const RD = 0x0100;
const RA = 0x0080;

describe('authoritative answers', () => {
  const cases: { name: string; type: packet.RecordType; rcode: string; answers: number; authority: number; first?: string }[] = [
    { name: 'www.example.test', type: 'A', rcode: 'NOERROR', answers: 2, authority: 0, first: '192.0.2.3' },
    { name: 'www.example.test', type: 'AAAA', rcode: 'NOERROR', answers: 0, authority: 1 }, // default has no IPv6: NODATA
    { name: 'www.example.test', type: 'MX', rcode: 'NOERROR', answers: 0, authority: 1 },
    { name: 'www.example.test', type: 'TXT', rcode: 'NOERROR', answers: 0, authority: 1 },
    { name: 'example.test', type: 'SOA', rcode: 'NOERROR', answers: 1, authority: 0 },
    { name: 'example.test', type: 'NS', rcode: 'NOERROR', answers: 2, authority: 0 },
    { name: 'example.test', type: 'A', rcode: 'NOERROR', answers: 0, authority: 1 },
    { name: 'planned.example.test', type: 'A', rcode: 'NOERROR', answers: 0, authority: 1 },
    { name: 'deep.example.test', type: 'A', rcode: 'NOERROR', answers: 0, authority: 1 }, // empty non-terminal (RFC 8020)
    { name: 'v4only.deep.example.test', type: 'A', rcode: 'NOERROR', answers: 1, authority: 0, first: '192.0.2.7' },
    { name: 'nope.example.test', type: 'A', rcode: 'NXDOMAIN', answers: 0, authority: 1 },
    { name: 'a.b.www.example.test', type: 'A', rcode: 'NXDOMAIN', answers: 0, authority: 1 },
    { name: 'example.org', type: 'A', rcode: 'REFUSED', answers: 0, authority: 0 },
    { name: 'test', type: 'SOA', rcode: 'REFUSED', answers: 0, authority: 0 },
    { name: 'example.test', type: 'AXFR', rcode: 'REFUSED', answers: 0, authority: 0 },
  ];
  it.each(cases)('$name $type → $rcode', async (c) => {
    const r = await udp(w.port, query(c.name, c.type));
    expect(r.rcode).toBe(c.rcode);
    expect(r.id).toBe(4242);
    expect(r.answers).toHaveLength(c.answers);
    expect(r.authorities).toHaveLength(c.authority);
    const aa = c.rcode === 'REFUSED' ? 0 : AA;
    expect((r.flags ?? 0) & (AA | RD | RA | TC)).toBe(aa | RD);
    if (c.first) expect(addressesOf(r)[0]).toBe(c.first);
    if (c.authority) {
      const soa = r.authorities?.[0] as packet.Answer & { data: { mname: string; rname: string; serial: number; minimum: number } };
      expect(soa.type).toBe('SOA');
      expect(soa.name.toLowerCase()).toBe('example.test');
      expect(soa.data.serial).toBe(2026112501);
      expect(soa.ttl).toBe(60); // RFC 2308: min(SOA ttl 3600, minimum 60)
    }
  });

  it('SOA at the apex carries the configured fields and zone TTL', async () => {
    const r = await udp(w.port, query('example.test', 'SOA'));
    const soa = r.answers?.[0] as packet.Answer & { data: Record<string, unknown> };
    expect(soa.ttl).toBe(3600);
    expect(soa.data).toMatchObject({ mname: 'ns1.example.test', rname: 'hostmaster.example.test', serial: 2026112501, refresh: 3600, retry: 600, expire: 604800, minimum: 60 });
    const ns = await udp(w.port, query('example.test', 'NS'));
    expect(ns.answers?.map((a) => (a as { data: string }).data)).toEqual(['ns1.example.test', 'ns2.example.test']);
  });

  it('A answers use the service TTL and the precomputed order', async () => {
    const r = await udp(w.port, query('www.example.test', 'A'));
    expect(r.answers?.map((a) => a.ttl)).toEqual([30, 30]);
    expect(addressesOf(r)).toEqual(['192.0.2.3', '192.0.2.1']);
  });

  it('echoes the question byte-exact (0x20 mixed case)', async () => {
    const q = packet.encode(query('wWw.ExAmPlE.TeSt', 'A'));
    const raw = await udpQuery(w.port, q);
    expect(raw).toBeDefined();
    const qEnd = 12 + 'wWw.ExAmPlE.TeSt'.length + 2 + 4;
    expect(raw?.subarray(12, qEnd).equals(q.subarray(12, qEnd))).toBe(true);
    expect(addressesOf(packet.decode(raw as Buffer))).toEqual(['192.0.2.3', '192.0.2.1']);
  });

  it('answers ANY minimally with one HINFO "RFC8482" (RFC 8482)', async () => {
    const r = await udp(w.port, query('www.example.test', 'ANY'));
    expect(r.rcode).toBe('NOERROR');
    expect(r.answers).toHaveLength(1);
    expect(r.answers?.[0]).toMatchObject({ type: 'HINFO', ttl: 30, data: { cpu: 'RFC8482', os: '' } });
    const nx = await udp(w.port, query('nope.example.test', 'ANY'));
    expect(nx.rcode).toBe('NXDOMAIN');
  });

  it('class ANY is answered like IN; CHAOS is REFUSED', async () => {
    const anyClass = await udp(w.port, { ...query('www.example.test', 'A'), questions: [{ name: 'www.example.test', type: 'A', class: 'ANY' }] });
    expect(anyClass.rcode).toBe('NOERROR');
    const ch = await udp(w.port, { ...query('version.bind', 'TXT'), questions: [{ name: 'version.bind', type: 'TXT', class: 'CH' }] });
    expect(ch.rcode).toBe('REFUSED');
  });
});

describe('header errors', () => {
  function header(id: number, flags: number, qd: number): Buffer {
    const b = Buffer.alloc(12);
    b.writeUInt16BE(id, 0);
    b.writeUInt16BE(flags, 2);
    b.writeUInt16BE(qd, 4);
    return b;
  }
  const question = packet.encode(query('www.example.test')).subarray(12);

  it.each([
    { what: 'opcode NOTIFY', msg: () => Buffer.concat([header(7, 4 << 11, 1), question]), rcode: 4 },
    { what: 'opcode STATUS', msg: () => Buffer.concat([header(7, 2 << 11, 1), question]), rcode: 4 },
    { what: 'qdcount 0', msg: () => header(7, 0x0100, 0), rcode: 1 },
    { what: 'qdcount 2', msg: () => Buffer.concat([header(7, 0, 2), question, question]), rcode: 1 },
    { what: 'truncated question', msg: () => Buffer.concat([header(7, 0, 1), question.subarray(0, 5)]), rcode: 1 },
    { what: 'label > 63', msg: () => Buffer.concat([header(7, 0, 1), Buffer.from([64]), Buffer.alloc(64, 97), Buffer.from([0, 0, 1, 0, 1])]), rcode: 1 },
    { what: 'compression pointer in question', msg: () => Buffer.concat([header(7, 0, 1), Buffer.from([0xc0, 0x0c, 0, 1, 0, 1])]), rcode: 1 },
    { what: 'qtype OPT', msg: () => Buffer.concat([header(7, 0, 1), question.subarray(0, question.length - 4), Buffer.from([0, 41, 0, 1])]), rcode: 1 },
  ])('$what → rcode $rcode', async ({ msg, rcode }) => {
    const raw = await udpQuery(w.port, msg());
    expect(raw).toBeDefined();
    const r = raw as Buffer;
    expect(r.readUInt16BE(0)).toBe(7);
    expect(r[2]! & 0x80).toBe(0x80);
    expect(r[3]! & 0x0f).toBe(rcode);
  });

  it.each([
    { what: 'short packet', msg: Buffer.from([1, 2, 3]) },
    { what: 'empty packet', msg: Buffer.alloc(0) },
    { what: 'a response (QR=1)', msg: Buffer.concat([header(9, 0x8000, 1), question]) },
  ])('drops $what', async ({ msg }) => {
    const before = w.server.stats().dropped;
    expect(await udpQuery(w.port, msg, 300)).toBeUndefined();
    expect(w.server.stats().dropped).toBe(before + 1);
  });
});

describe('EDNS(0)', () => {
  it('echoes OPT with our UDP size 1232 and the DO bit', async () => {
    const q = query('www.example.test', 'A', { udpSize: 4096 });
    (q.additionals?.[0] as { flags: number }).flags = packet.DNSSEC_OK;
    const r = await udp(w.port, q);
    const opt = r.additionals?.find((a) => a.type === 'OPT') as { udpPayloadSize: number; flags: number; extendedRcode: number; ednsVersion: number };
    expect(opt.udpPayloadSize).toBe(1232);
    expect(opt.flags & packet.DNSSEC_OK).toBe(packet.DNSSEC_OK);
    expect(opt.ednsVersion).toBe(0);
  });

  it('no OPT in the response when the query had none', async () => {
    const r = await udp(w.port, query('www.example.test'));
    expect(r.additionals).toHaveLength(0);
  });

  it('BADVERS (extended rcode 16) for version 1', async () => {
    const q = query('www.example.test', 'A', { edns: true });
    (q.additionals?.[0] as { ednsVersion?: number }).ednsVersion = 1;
    const raw = await udpQuery(w.port, packet.encode(q));
    const r = packet.decode(raw as Buffer);
    expect(r.answers).toHaveLength(0);
    expect(raw![3]! & 0x0f).toBe(0);
    const opt = r.additionals?.find((a) => a.type === 'OPT') as { extendedRcode: number; ednsVersion: number };
    expect(opt.extendedRcode).toBe(1); // 16 >> 4
    expect(opt.ednsVersion).toBe(0);
    expect(w.server.stats().byRcode.BADVERS).toBeGreaterThanOrEqual(1);
  });

  it('FORMERR for two OPT records', async () => {
    const q = query('www.example.test', 'A', { edns: true });
    q.additionals = [...(q.additionals ?? []), ...(q.additionals ?? [])];
    const r = await udp(w.port, q);
    expect(r.rcode).toBe('FORMERR');
  });

  it('FORMERR for an OPT whose owner is not root', async () => {
    const base = packet.encode(query('www.example.test', 'A'));
    base.writeUInt16BE(1, 10);
    const opt = Buffer.from([1, 0x78, 0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    const raw = await udpQuery(w.port, Buffer.concat([base, opt]));
    expect(raw![3]! & 0x0f).toBe(1);
  });
});
