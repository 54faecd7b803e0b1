// The DNS query path as a pure function of (packet, source, size limit): parse header,
// question and OPT; find the zone and service; one client lookup; copy precomputed RR
// bytes into a fresh buffer; patch ID, flags and ECS. Sockets live in server.ts.
import { DEFAULT_KEY, type ClientMapper, type ClientMatch } from './contract.js';
import type { ZoneConfig } from './config.js';
import type { WireAnswer, WireAnswerTable, WireService } from './answer-table.js';
import { bitsOf, type Family } from '../../shared/prefix.js';
import { CLASS_ANY, CLASS_IN, Parse, RCODE, TYPE, newQuery, parseQuery, type Query } from './wire.js';
import { nameToWire, wireKeyOf } from './names.js';
import { buildZones, rrBody, type ZoneData } from './zones.js';
import { DnsCounters } from './stats.js';

/** Our EDNS UDP payload size (DNS Flag Day 2020: avoids IP fragmentation). */
export const OUR_UDP_SIZE = 1232;
/** Max response size: a UDP byte count, or 'tcp' (64 KiB framing limit, RFC 7766 §8). */
export type SizeLimit = number | 'tcp';

export interface ResponderOptions {
  zones: readonly ZoneConfig[];
  table: WireAnswerTable;
  mapper: ClientMapper;
  /** Service names known before any answer exists: NODATA instead of NXDOMAIN for them. */
  services?: readonly string[];
  counters?: DnsCounters;
  /** SOA serial for zones without one (default: start time in seconds). */
  serial?: number;
}

/** What the query path would decide for a name and client, for `explain`. */
export interface Decision {
  rcode: 'NOERROR' | 'NXDOMAIN' | 'REFUSED';
  zone?: string;
  kind: 'service' | 'apex' | 'empty-non-terminal' | 'nxdomain' | 'refused';
  service?: string;
  uniform?: boolean;
  match?: ClientMatch;
  /** ECS scope the response would carry. */
  scope: number;
  answer?: { key: string; addresses: readonly string[]; ttl: number };
}

export interface Responder {
  /** Response bytes, or undefined when the packet must be dropped. Never throws. */
  answer(msg: Buffer, srcFamily: Family, src: Uint8Array, limit: SizeLimit): Buffer | undefined;
  decide(name: string, client: { family: Family; bytes: Uint8Array; sourceLength?: number }, source?: { family: Family; bytes: Uint8Array }): Decision;
  readonly counters: DnsCounters;
}

// RFC 8482 §4.2: answer ANY with one synthesized HINFO, CPU "RFC8482", OS "".
const HINFO_RDATA = Buffer.from([7, ...Buffer.from('RFC8482'), 0]);

/** Byte loop copy: for the few dozen bytes of a DNS message it beats Buffer#copy's native call. */
function copyInto(src: Uint8Array, dst: Uint8Array, at: number, start: number, end: number): number {
  for (let i = start; i < end; i++) dst[at++] = src[i] as number;
  return at;
}

function put16(buf: Uint8Array, at: number, v: number): number {
  buf[at] = v >>> 8;
  buf[at + 1] = v & 0xff;
  return at + 2;
}

interface Section {
  /** Owner pointer written before `body` (0 = none: body carries its owner). */
  ptr: number;
  body: Buffer | undefined;
  count: number;
}

export function createResponder(opts: ResponderOptions): Responder {
  const zones = buildZones(opts.zones, opts.serial);
  const known = new Set((opts.services ?? []).map(nameToWire));
  const { table, mapper } = opts;
  const counters = opts.counters ?? new DnsCounters();
  const q = newQuery();
  const an: Section = { ptr: 0, body: undefined, count: 0 };
  const ns: Section = { ptr: 0, body: undefined, count: 0 };
  const serviceZones = new Map<string, { zone: ZoneData; at: number }>();

  function findZone(key: string, labels: readonly number[], count: number, base: number): { zone: ZoneData; at: number } | undefined {
    for (let i = 0; i < count; i++) {
      const start = (labels[i] as number) - base;
      const zone = zones.get(start === 0 ? key : key.substring(start));
      if (zone) return { zone, at: labels[i] as number };
    }
    return undefined;
  }

  function pick(svc: WireService, key: string): WireAnswer | undefined {
    return svc.answers.get(key) ?? svc.answers.get(DEFAULT_KEY);
  }

  /** Writes the response for the query in `q` with the sections in `an`/`ns`. */
  function build(msg: Buffer, rcode: number, aa: boolean, scope: number, limit: SizeLimit): Buffer {
    const qEnd = q.questionEnd === 0 ? 12 : q.questionEnd;
    const echoEcs = q.ecs && scope >= 0;
    const optLen = q.edns ? 11 + (echoEcs ? 8 + q.ecsAddrLen : 0) : 0;
    const anLen = an.body ? an.body.length + (an.ptr ? 2 : 0) : 0;
    const nsLen = ns.body ? ns.body.length + (ns.ptr ? 2 : 0) : 0;
    let size = qEnd + anLen + nsLen + optLen;
    let tc = false;
    if (limit !== 'tcp') {
      // RFC 6891 §6.2.5: never exceed the requestor's size; without EDNS, 512 (RFC 1035).
      const max = q.edns ? Math.min(Math.max(q.udpSize, 512), Math.max(limit, 512)) : 512;
      if (size > max) {
        // RFC 2181 §9 / RFC 6891 §7: TC with header + question (+ OPT) so the client retries over TCP.
        tc = true;
        size = qEnd + optLen;
        counters.truncated++;
      }
    }
    const out = Buffer.allocUnsafe(size);
    copyInto(msg, out, 0, 0, qEnd);
    out[2] = 0x80 | ((msg[2] as number) & 0x79) | (aa ? 0x04 : 0) | (tc ? 0x02 : 0); // QR, opcode, AA, TC, RD
    out[3] = ((msg[3] as number) & 0x10) | (rcode & 0x0f); // RA=0 (no recursion), CD copied
    put16(out, 4, q.questionEnd === 0 ? 0 : 1);
    let o = qEnd;
    if (tc) {
      put16(out, 6, 0);
      put16(out, 8, 0);
    } else {
      put16(out, 6, an.body ? an.count : 0);
      put16(out, 8, ns.body ? ns.count : 0);
      if (an.body) {
        if (an.ptr) o = put16(out, o, an.ptr);
        o = copyInto(an.body, out, o, 0, an.body.length);
      }
      if (ns.body) {
        if (ns.ptr) o = put16(out, o, ns.ptr);
        o = copyInto(ns.body, out, o, 0, ns.body.length);
      }
    }
    put16(out, 10, q.edns ? 1 : 0);
    if (q.edns) {
      // RFC 6891 §6.1.2: OPT owner root, CLASS = our UDP size, TTL = ext-rcode|version|DO.
      out[o] = 0;
      o = put16(out, o + 1, TYPE.OPT);
      o = put16(out, o, OUR_UDP_SIZE);
      out[o++] = (rcode >> 4) & 0xff;
      out[o++] = 0;
      o = put16(out, o, q.dnssecOk ? 0x8000 : 0);
      o = put16(out, o, echoEcs ? 8 + q.ecsAddrLen : 0);
      if (echoEcs) {
        // RFC 7871 §7.2.1: echo FAMILY, SOURCE PREFIX-LENGTH and ADDRESS; set SCOPE.
        o = put16(out, o, 8);
        o = put16(out, o, 4 + q.ecsAddrLen);
        o = put16(out, o, q.ecsFamily === 4 ? 1 : 2);
        out[o++] = q.ecsSource;
        out[o++] = scope;
        copyInto(msg, out, o, q.ecsAddrOffset, q.ecsAddrOffset + q.ecsAddrLen);
      }
    }
    counters.rcodes[rcode] = (counters.rcodes[rcode] ?? 0) + 1;
    return out;
  }

  function respond(msg: Buffer, rcode: number, aa: boolean, scope: number, limit: SizeLimit): Buffer {
    an.body = undefined;
    ns.body = undefined;
    return build(msg, rcode, aa, scope, limit);
  }

  function negative(msg: Buffer, rcode: number, zone: ZoneData, apexAt: number, scope: number, limit: SizeLimit): Buffer {
    // RFC 2308 §3: NXDOMAIN and NODATA carry the zone's SOA in authority.
    an.body = undefined;
    ns.ptr = 0xc000 | apexAt;
    ns.body = zone.soaNegativeBody;
    ns.count = 1;
    return build(msg, rcode, true, scope, limit);
  }

  function anyAnswer(msg: Buffer, ttl: number, limit: SizeLimit): Buffer {
    an.ptr = 0xc00c;
    an.body = rrBody(TYPE.HINFO, ttl, HINFO_RDATA);
    an.count = 1;
    ns.body = undefined;
    return build(msg, RCODE.NOERROR, true, 0, limit);
  }

  function serviceAnswer(msg: Buffer, svc: WireService, zone: ZoneData, apexAt: number, srcFamily: Family, src: Uint8Array, limit: SizeLimit): Buffer {
    let wire: WireAnswer | undefined;
    let scope = 0;
    if (svc.uniform) {
      wire = pick(svc, DEFAULT_KEY) ?? svc.answers.values().next().value;
    } else {
      const m = q.ecs
        ? mapper.map(q.ecsFamily, q.ecsAddress, q.ecsSource, srcFamily, src)
        : mapper.map(srcFamily, src, bitsOf(srcFamily), srcFamily, src);
      // RFC 7871 §7.1.2: SOURCE PREFIX-LENGTH 0 means "do not use my address": scope 0.
      scope = q.ecs && q.ecsSource === 0 ? 0 : m.scope;
      wire = pick(svc, m.key);
      if (svc.counts) svc.counts.set(m.key, (svc.counts.get(m.key) ?? 0) + 1);
    }
    const isA = q.qtype === TYPE.A;
    const count = wire ? (isA ? wire.aCount : wire.aaaaCount) : 0;
    if (!wire || count === 0) return negative(msg, RCODE.NOERROR, zone, apexAt, scope, limit);
    an.ptr = 0;
    an.body = isA ? wire.a : wire.aaaa;
    an.count = count;
    ns.body = undefined;
    counters.countAnswer(isA ? wire.aLabel : wire.aaaaLabel);
    return build(msg, RCODE.NOERROR, true, scope, limit);
  }

  function handle(msg: Buffer, srcFamily: Family, src: Uint8Array, limit: SizeLimit): Buffer | undefined {
    const status = parseQuery(msg, q);
    if (status === Parse.DROP) {
      counters.dropped++;
      return undefined;
    }
    if (status === Parse.NOTIMP) { q.questionEnd = 0; q.edns = false; return respond(msg, RCODE.NOTIMP, false, -1, limit); }
    if (status === Parse.FORMERR) return respond(msg, RCODE.FORMERR, false, -1, limit);
    if (status === Parse.BADVERS) return respond(msg, RCODE.BADVERS, false, -1, limit);
    counters.countQtype(q.qtype);
    if (q.qclass !== CLASS_IN && q.qclass !== CLASS_ANY) return respond(msg, RCODE.REFUSED, false, 0, limit);
    if (q.qtype === TYPE.OPT) return respond(msg, RCODE.FORMERR, false, -1, limit); // RFC 6891 §6.1.1
    const key = wireKeyOf(msg, 12, q.nameEnd);
    const found = serviceZones.get(key) ?? findZone(key, q.labels, q.labelCount, 12);
    if (!found) return respond(msg, RCODE.REFUSED, false, 0, limit);
    // Zone transfers are not offered.
    if (q.qtype === TYPE.AXFR || q.qtype === TYPE.IXFR) return respond(msg, RCODE.REFUSED, false, 0, limit);
    const { zone, at } = found;
    const qtype = q.qtype;
    const svc = table.lookupWire(key);
    // A name's zone and apex offset never change: remember them for service names.
    if (svc && serviceZones.size < 100_000) serviceZones.set(key, found);
    if (svc && (qtype === TYPE.A || qtype === TYPE.AAAA)) return serviceAnswer(msg, svc, zone, at, srcFamily, src, limit);
    const apex = at === 12;
    if (qtype === TYPE.ANY && (svc || apex)) return anyAnswer(msg, svc ? svc.ttl : zone.ttl, limit);
    if (apex && qtype === TYPE.SOA) {
      an.ptr = 0xc00c;
      an.body = zone.soaAnswerBody;
      an.count = 1;
      ns.body = undefined;
      return build(msg, RCODE.NOERROR, true, 0, limit);
    }
    if (apex && qtype === TYPE.NS) {
      an.ptr = 0;
      an.body = zone.nsAnswer;
      an.count = zone.nsCount;
      ns.body = undefined;
      return build(msg, RCODE.NOERROR, true, 0, limit);
    }
    if (svc || apex || known.has(key) || table.isEmptyNonTerminal(key)) return negative(msg, RCODE.NOERROR, zone, at, 0, limit);
    return negative(msg, RCODE.NXDOMAIN, zone, at, 0, limit);
  }

  function answer(msg: Buffer, srcFamily: Family, src: Uint8Array, limit: SizeLimit): Buffer | undefined {
    counters.queries++;
    try {
      return handle(msg, srcFamily, src, limit);
    } catch {
      // One catch for the whole path (coredns' recover()): the client gets SERVFAIL.
      counters.errors++;
      return servfail(msg, counters);
    }
  }

  function decide(name: string, client: { family: Family; bytes: Uint8Array; sourceLength?: number }, source = client): Decision {
    const key = nameToWire(name);
    const labels: number[] = [];
    for (let i = 0; key.charCodeAt(i) !== 0; i += 1 + key.charCodeAt(i)) labels.push(i);
    const found = findZone(key, labels, labels.length, 0);
    if (!found) return { rcode: 'REFUSED', kind: 'refused', scope: 0 };
    const zone = found.zone.name;
    const svc = table.lookupWire(key);
    if (svc) {
      const sourceLength = client.sourceLength ?? bitsOf(client.family);
      const match = mapper.map(client.family, client.bytes, sourceLength, source.family, source.bytes);
      const key2 = svc.uniform ? DEFAULT_KEY : match.key;
      const scope = svc.uniform || sourceLength === 0 ? 0 : match.scope;
      const answer = table.getAnswer(svc.name, key2);
      return { rcode: 'NOERROR', zone, kind: 'service', service: svc.name, uniform: svc.uniform, match, scope, answer };
    }
    if (found.at === 0) return { rcode: 'NOERROR', zone, kind: 'apex', scope: 0 };
    if (known.has(key) || table.isEmptyNonTerminal(key)) return { rcode: 'NOERROR', zone, kind: 'empty-non-terminal', scope: 0 };
    return { rcode: 'NXDOMAIN', zone, kind: 'nxdomain', scope: 0 };
  }

  return { answer, decide, counters };
}

/** Header-only SERVFAIL for a packet whose handling threw; nothing for an unreadable one. */
function servfail(msg: Buffer, counters: DnsCounters): Buffer | undefined {
  if (msg.length < 12 || ((msg[2] as number) & 0x80)) return undefined;
  const out = Buffer.alloc(12);
  msg.copy(out, 0, 0, 4);
  out[2] = 0x80 | ((msg[2] as number) & 0x79);
  out[3] = RCODE.SERVFAIL;
  counters.rcodes[RCODE.SERVFAIL] = (counters.rcodes[RCODE.SERVFAIL] ?? 0) + 1;
  return out;
}

export type { Query };
