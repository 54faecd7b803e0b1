// The backbone's query path (DESIGN.md "A query at the backbone"), in front of the
// standard responder: for A/AAAA at a service name it maps the client to an LB (Fig. 3
// table: LPM on prefixes, then the resolver address) and copies pre-encoded bytes —
// that LB's pushed answer for the client (push), the CNAME + delegation (refer), or
// the aggregate / catalogue order (fallback). `{label}.{service}` is answered as the
// LB's second name server or referred. Everything else (apex, NXDOMAIN, FORMERR...) is
// the standard responder's. Nothing here ranks, allocates tables or touches SQLite.
import { bitsOf, type Family } from '../../shared/prefix.js';
import { DEFAULT_KEY, type ClientMatch } from '../dns/contract.js';
import type { ZoneConfig } from '../dns/config.js';
import type { WireAnswer, WireAnswerTable, WireService } from '../dns/answer-table.js';
import type { Responder, SizeLimit } from '../dns/responder.js';
import { CLASS_ANY, CLASS_IN, Parse, RCODE, TYPE, newQuery, parseQuery } from '../dns/wire.js';
import { wireKeyOf } from '../dns/names.js';
import { buildZones, type ZoneData } from '../dns/zones.js';
import type { BackboneTables, ChildZone, LbView } from './tables.js';
import { writeResponse, type Out } from './response.js';

export interface BackboneResponderOptions {
  inner: Responder;
  tables: BackboneTables;
  /** The backbone's own answers (its catalogue, fail-open order without agents). */
  own: WireAnswerTable;
  zones: readonly ZoneConfig[];
  mode: 'push' | 'refer';
  /** True when the backbone lists itself in every delegation: it answers `{label}.{service}`. */
  secondary: boolean;
}

export interface BackboneCounts {
  /** Clients of no LB answered from the aggregate / catalogue order. */
  aggregate: number;
  catalogue: number;
}

export function createBackboneResponder(opts: BackboneResponderOptions): Responder & { counts: BackboneCounts } {
  const { inner, tables, own } = opts;
  const counters = inner.counters;
  const zones = [...buildZones(opts.zones).values()];
  const q = newQuery();
  const out: Out = { an: undefined, anCount: 0, ns: undefined, nsCount: 0, nsPtr: 0, ar: undefined, arCount: 0 };
  const counts: BackboneCounts = { aggregate: 0, catalogue: 0 };
  const push = opts.mode === 'push';

  function zoneOf(key: string): { zone: ZoneData; apexAt: number } | undefined {
    let best: ZoneData | undefined;
    for (const z of zones) if (key.endsWith(z.wireKey) && (!best || z.wireKey.length > best.wireKey.length)) best = z;
    return best && { zone: best, apexAt: 12 + key.length - best.wireKey.length };
  }

  function mapClient(srcFamily: Family, src: Uint8Array, mapper: { map: (...a: [Family, Uint8Array, number, Family, Uint8Array]) => ClientMatch }): ClientMatch {
    return q.ecs
      ? mapper.map(q.ecsFamily, q.ecsAddress, q.ecsSource, srcFamily, src)
      : mapper.map(srcFamily, src, bitsOf(srcFamily), srcFamily, src);
  }

  function send(msg: Buffer, rcode: number, aa: boolean, scope: number, limit: SizeLimit): Buffer {
    counters.queries++;
    counters.countQtype(q.qtype);
    // RFC 7871 §7.1.2: SOURCE PREFIX-LENGTH 0 asks for an answer that does not depend on the address.
    const s = q.ecs && q.ecsSource === 0 ? 0 : scope;
    return writeResponse(msg, q, out, rcode, aa, s, limit, counters);
  }

  /** A/AAAA from `wire`, else NODATA with the SOA of `child` (at the question) or of the zone `key` is in. */
  function addresses(msg: Buffer, wire: WireAnswer | undefined, key: string, scope: number, limit: SizeLimit, child?: ChildZone): Buffer {
    const isA = q.qtype === TYPE.A;
    const count = wire ? (isA ? wire.aCount : wire.aaaaCount) : 0;
    out.ns = out.ar = undefined;
    if (!wire || count === 0) {
      // NODATA with the zone's SOA (RFC 2308 §2.2): the name exists, this type does not.
      const z = child ? { zone: child.zone, apexAt: 12 } : zoneOf(key);
      out.an = undefined;
      if (z) {
        out.ns = z.zone.soaNegativeBody;
        out.nsPtr = 0xc000 | z.apexAt;
        out.nsCount = 1;
      }
      return send(msg, RCODE.NOERROR, true, scope, limit);
    }
    out.an = isA ? wire.a : wire.aaaa;
    out.anCount = count;
    counters.countAnswer(isA ? wire.aLabel : wire.aaaaLabel);
    return send(msg, RCODE.NOERROR, true, scope, limit);
  }

  function pick(svc: WireService | undefined, key: string): WireAnswer | undefined {
    return svc ? svc.answers.get(key) ?? svc.answers.get(DEFAULT_KEY) : undefined;
  }

  /** The LB's pushed answer for this client; undefined when the LB has none for the name. */
  function pushed(v: LbView, key: string, srcFamily: Family, src: Uint8Array): { wire: WireAnswer; scope: number } | undefined {
    const svc = v.table.lookupWire(key);
    if (!svc) return undefined;
    if (svc.uniform) {
      const wire = pick(svc, DEFAULT_KEY);
      return wire && { wire, scope: 0 };
    }
    const m = mapClient(srcFamily, src, v.mapper);
    const wire = pick(svc, m.key);
    return wire && { wire, scope: m.scope };
  }

  /** Aggregate of the fresh LBs, else the backbone's own catalogue-order answer. */
  function fallback(key: string): WireAnswer | undefined {
    const agg = pick(tables.aggregate.lookupWire(key), DEFAULT_KEY);
    if (agg) { counts.aggregate++; return agg; }
    counts.catalogue++;
    return pick(own.lookupWire(key), DEFAULT_KEY);
  }

  function serviceAnswer(msg: Buffer, key: string, srcFamily: Family, src: Uint8Array, limit: SizeLimit): Buffer {
    const m = mapClient(srcFamily, src, tables.lbMapper);
    const v = m.key === DEFAULT_KEY ? undefined : tables.views.get(m.key);
    if (v) {
      if (push && v.pushFresh) {
        const p = pushed(v, key, srcFamily, src);
        if (p) {
          v.counts.push++;
          return addresses(msg, p.wire, key, Math.max(m.scope, p.scope), limit);
        }
      }
      const ref = v.online ? v.referrals.get(key) : undefined;
      if (ref) {
        v.counts.refer++;
        out.an = ref.an; out.anCount = ref.anCount;
        out.ns = ref.ns; out.nsCount = ref.nsCount; out.nsPtr = 0;
        out.ar = ref.ar; out.arCount = ref.arCount;
        return send(msg, RCODE.NOERROR, true, m.scope, limit);
      }
    }
    if (m.agent !== undefined) { const gone = tables.views.get(m.agent); if (gone) gone.counts.fallback++; }
    return addresses(msg, fallback(key), key, m.scope, limit);
  }

  function childAnswer(msg: Buffer, key: string, v: LbView, srcFamily: Family, src: Uint8Array, limit: SizeLimit): Buffer | undefined {
    v.counts.child++;
    if (!opts.secondary) {
      // A parent refers (RFC 1034 §4.3.2 step 3b): NS + glue in authority/additional, AA clear.
      const ref = v.childReferrals.get(key);
      if (!ref) return inner.answer(msg, srcFamily, src, limit);
      out.an = undefined;
      out.ns = ref.ns; out.nsCount = ref.nsCount; out.nsPtr = 0;
      out.ar = ref.ar; out.arCount = ref.arCount;
      return send(msg, RCODE.NOERROR, false, 0, limit);
    }
    // The second name server of the child zone: its SOA and NS as the LB gives them (same owner).
    const cz = v.childZones.get(key);
    if (q.qtype !== TYPE.A && q.qtype !== TYPE.AAAA) {
      out.an = undefined;
      out.ns = out.ar = undefined;
      // RFC 8482 §4.1: ANY may be answered with one RRset that exists: the SOA.
      if (cz && (q.qtype === TYPE.SOA || q.qtype === TYPE.ANY)) { out.an = cz.soaAnswer; out.anCount = 1; return send(msg, RCODE.NOERROR, true, 0, limit); }
      if (cz && q.qtype === TYPE.NS) { out.an = cz.zone.nsAnswer; out.anCount = cz.zone.nsCount; return send(msg, RCODE.NOERROR, true, 0, limit); }
      return addresses(msg, undefined, key, 0, limit, cz);
    }
    // The LB's last pushed view while it is recent (a dead LB's clients keep their own
    // ranking for up to the stale threshold), then the aggregate.
    const p = v.recent ? pushed(v, key, srcFamily, src) : undefined;
    if (p) return addresses(msg, p.wire, key, p.scope, limit, cz);
    const parent = key.substring(1 + key.charCodeAt(0));
    return addresses(msg, fallback(parent), key, 0, limit, cz);
  }

  /** A name under `{label}.{service}` (secondary only): NXDOMAIN with the child zone's SOA. */
  function underChild(msg: Buffer, key: string, limit: SizeLimit): Buffer | undefined {
    for (let i = 1; i < q.labelCount - 1; i++) {
      const start = (q.labels[i] as number) - 12;
      const len = key.charCodeAt(start);
      const v = tables.byLabel.get(key.substring(start + 1, start + 1 + len));
      const cz = v?.childZones.get(key.substring(start));
      if (!cz) continue;
      out.an = out.ar = undefined;
      out.ns = cz.zone.soaNegativeBody; out.nsCount = 1; out.nsPtr = 0xc000 | (start + 12);
      return send(msg, RCODE.NXDOMAIN, true, 0, limit);
    }
    return undefined;
  }

  function answer(msg: Buffer, srcFamily: Family, src: Uint8Array, limit: SizeLimit): Buffer | undefined {
    try {
      if (parseQuery(msg, q) !== Parse.OK || (q.qclass !== CLASS_IN && q.qclass !== CLASS_ANY)) return inner.answer(msg, srcFamily, src, limit);
      const key = wireKeyOf(msg, 12, q.nameEnd);
      const isAddr = q.qtype === TYPE.A || q.qtype === TYPE.AAAA;
      if (own.lookupWire(key)) return isAddr ? serviceAnswer(msg, key, srcFamily, src, limit) : inner.answer(msg, srcFamily, src, limit);
      const ns = tables.glue.lookupWire(key);
      if (ns && zoneOf(key)) {
        // A delegation's name server inside our zone: its address (A/AAAA), NODATA for other types.
        out.an = undefined;
        return addresses(msg, isAddr ? pick(ns, DEFAULT_KEY) : undefined, key, 0, limit);
      }
      if (q.labelCount >= 2 && q.qtype !== TYPE.AXFR && q.qtype !== TYPE.IXFR) {
        const first = key.charCodeAt(0);
        const v = tables.byLabel.get(key.substring(1, 1 + first));
        if (v && own.lookupWire(key.substring(1 + first))) return childAnswer(msg, key, v, srcFamily, src, limit);
        if (opts.secondary && q.labelCount >= 3) {
          const r = underChild(msg, key, limit);
          if (r) return r;
        }
      }
      return inner.answer(msg, srcFamily, src, limit);
    } catch {
      counters.internalErrors++;
      return inner.answer(msg, srcFamily, src, limit);
    }
  }

  // The server's contract (dns/responder.ts): `reserve` bytes in front (TCP's length
  // prefix), or the response written into the batch engine's slot.
  function answerReserved(msg: Buffer, srcFamily: Family, src: Uint8Array, limit: SizeLimit, reserve = 0): Buffer | undefined {
    const r = answer(msg, srcFamily, src, limit);
    if (!r || reserve === 0) return r;
    const framed = Buffer.allocUnsafe(reserve + r.length);
    r.copy(framed, reserve);
    return framed;
  }

  function answerInto(msg: Buffer, srcFamily: Family, src: Uint8Array, limit: SizeLimit, slot: Buffer): number {
    const r = answer(msg, srcFamily, src, limit);
    if (!r) return 0;
    // UDP responses are at most the EDNS limit (≤ 1232 bytes): they always fit the slot.
    if (r.length > slot.length) return inner.answerInto(msg, srcFamily, src, limit, slot);
    r.copy(slot, 0);
    return r.length;
  }

  return { answer: answerReserved, answerInto, decide: inner.decide, resolve: inner.resolve, counters, counts };
}
