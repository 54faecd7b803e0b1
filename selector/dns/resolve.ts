// The selector's decision function: zone, name and client → rcode, references to the
// precomputed RR bytes (answer table, zone apex records) and the ECS scope. The packet
// writer (responder.ts) and `explain` (decide.ts) both call it, so they cannot drift.
import { DEFAULT_KEY, type ClientMapper } from './contract.js';
import { zoneOf, type ZoneConfig } from './config.js';
import type { WireAnswer, WireAnswerTable, WireService } from './answer-table.js';
import { bitsOf } from '../../shared/prefix.js';
import { CLASS_ANY, CLASS_IN, RCODE, TYPE, type Query } from './wire.js';
import { nameToWire, wireToName } from './names.js';
import { buildZone, buildZones, rrBody, startSerial, type ZoneData } from './zones.js';
import { clearResolution, setSection, type ResolveFn, type Resolution, type Source } from './resolution.js';

export interface ResolverOptions {
  zones: readonly ZoneConfig[];
  table: WireAnswerTable;
  mapper: ClientMapper;
  /** Service names known before any answer exists: NODATA instead of NXDOMAIN for them. */
  services?: readonly string[];
  /** SOA serial for zones without one (default: start time in seconds). */
  serial?: number;
  /**
   * An LB's delegated child names (DESIGN.md "Federation"): the parent delegates
   * `{label}.{service}` to this server, which is then authoritative for it as a zone of
   * its own: SOA (owner `{label}.{service}`, the parent zone's timers and hostmaster) and
   * NS (`ns`) at that name, and that SOA in negative answers at and under it.
   */
  child?: ChildZones;
}

export interface ChildZones {
  label: string;
  /** The LB's name servers as the parent delegates to them (uplink.nameservers). */
  ns: readonly string[];
}

/** Most child zones kept (one per service; bounded like the service-zone cache). */
const MAX_CHILD_ZONES = 100_000;

// RFC 8482 §4.2: answer ANY with one synthesized HINFO, CPU "RFC8482", OS "".
const HINFO_RDATA = Buffer.from([7, ...Buffer.from('RFC8482'), 0]);
/** Owner pointer to the question name (offset 12, RFC 1035 §4.1.4). */
const PTR_QUESTION = 0xc00c;

export function createResolver(opts: ResolverOptions): ResolveFn {
  const serial = opts.serial ?? startSerial();
  const zones = buildZones(opts.zones, serial);
  const known = new Set((opts.services ?? []).map(nameToWire));
  const { table, mapper } = opts;
  const serviceZones = new Map<string, { zone: ZoneData; at: number }>();
  const hinfo = new Map<number, Buffer>();
  const child = opts.child;
  // "\x05isp-a": a suffix starting with it is `{label}.{rest}`.
  const childLabel = child ? nameToWire(child.label).slice(0, -1) : '';
  const childZones = new Map<string, ZoneData>();

  /** The child zone at `suffix` = `{label}.{service}` while `{service}` is a service here. */
  function childZone(suffix: string): ZoneData | undefined {
    if (!child || !suffix.startsWith(childLabel) || !table.lookupWire(suffix.substring(childLabel.length))) return undefined;
    let zone = childZones.get(suffix);
    if (zone) return zone;
    const name = wireToName(suffix);
    const parent = zoneOf(opts.zones, name);
    if (!parent || childZones.size >= MAX_CHILD_ZONES) return undefined;
    zone = buildZone({ ...parent, name, ns: [...child.ns] }, serial);
    childZones.set(suffix, zone);
    return zone;
  }

  function findZone(q: Query): { zone: ZoneData; at: number } | undefined {
    const key = q.key;
    for (let i = 0; i < q.labelCount; i++) {
      const start = (q.labels[i] as number) - 12;
      const suffix = start === 0 ? key : key.substring(start);
      const zone = (child && childZone(suffix)) || zones.get(suffix);
      if (zone) return { zone, at: q.labels[i] as number };
    }
    return undefined;
  }

  function pick(svc: WireService, key: string): WireAnswer | undefined {
    return svc.answers.get(key) ?? svc.answers.get(DEFAULT_KEY);
  }

  function negative(r: Resolution, rcode: number, zone: ZoneData, apexAt: number, scope: number): void {
    // RFC 2308 §3: NXDOMAIN and NODATA carry the zone's SOA in authority.
    r.rcode = rcode;
    r.aa = true;
    r.scope = scope;
    setSection(r.authority, 0xc000 | apexAt, zone.soaNegativeBody, 1);
  }

  function serviceAnswer(q: Query, source: Source, r: Resolution, svc: WireService, zone: ZoneData, apexAt: number, explain: boolean): void {
    let wire: WireAnswer | undefined;
    let scope = 0;
    r.uniform = svc.uniform;
    if (!svc.uniform || explain) {
      const m = q.ecs
        ? mapper.map(q.ecsFamily, q.ecsAddress, q.ecsSource, source.family, source.bytes)
        : mapper.map(source.family, source.bytes, bitsOf(source.family), source.family, source.bytes);
      r.match = m;
      if (!svc.uniform) {
        // RFC 7871 §7.1.2: SOURCE PREFIX-LENGTH 0 means "do not use my address": scope 0.
        scope = q.ecs && q.ecsSource === 0 ? 0 : m.scope;
        wire = pick(svc, m.key);
        // Demand per answer key for capacity-aware services (ranking/capacity.ts); explain does not count.
        if (svc.counts && !explain) {
          svc.counts.set(m.key, (svc.counts.get(m.key) ?? 0) + 1);
          r.counted = svc.counts;
          r.countedKey = m.key;
        }
      }
    }
    if (svc.uniform) wire = pick(svc, DEFAULT_KEY) ?? svc.answers.values().next().value;
    r.chosen = wire;
    r.ttl = wire ? svc.ttl : 0;
    const isA = q.qtype === TYPE.A;
    const count = wire ? (isA ? wire.aCount : wire.aaaaCount) : 0;
    if (!wire || count === 0) return negative(r, RCODE.NOERROR, zone, apexAt, scope);
    r.rcode = RCODE.NOERROR;
    r.aa = true;
    r.scope = scope;
    setSection(r.answer, 0, isA ? wire.a : wire.aaaa, count);
    r.label = isA ? wire.aLabel : wire.aaaaLabel;
  }

  return function resolve(q: Query, source: Source, r: Resolution, explain = false): void {
    clearResolution(r, RCODE.REFUSED, 0);
    if (q.qclass !== CLASS_IN && q.qclass !== CLASS_ANY) return;
    if (q.qtype === TYPE.OPT) { // RFC 6891 §6.1.1
      clearResolution(r, RCODE.FORMERR);
      r.kind = 'formerr';
      return;
    }
    const key = q.key;
    const found = serviceZones.get(key) ?? findZone(q);
    if (!found) return;
    const { zone, at } = found;
    r.zone = zone.name;
    // Zone transfers are not offered.
    const qtype = q.qtype;
    if (qtype === TYPE.AXFR || qtype === TYPE.IXFR) return;
    const svc = table.lookupWire(key);
    // A name's zone and apex offset never change: remember them for service names.
    if (svc && serviceZones.size < 100_000) serviceZones.set(key, found);
    const apex = at === 12;
    r.kind = svc ? 'service' : apex ? 'apex' : 'nxdomain';
    if (svc) r.service = svc.name;
    if (svc && (qtype === TYPE.A || qtype === TYPE.AAAA)) return serviceAnswer(q, source, r, svc, zone, at, explain);
    if (svc) r.uniform = svc.uniform;
    r.rcode = RCODE.NOERROR;
    r.aa = true;
    if (qtype === TYPE.ANY && (svc || apex)) {
      const ttl = svc ? svc.ttl : zone.ttl;
      let body = hinfo.get(ttl);
      if (!body) hinfo.set(ttl, body = rrBody(TYPE.HINFO, ttl, HINFO_RDATA));
      return setSection(r.answer, PTR_QUESTION, body, 1);
    }
    if (apex && qtype === TYPE.SOA) return setSection(r.answer, PTR_QUESTION, zone.soaAnswerBody, 1);
    if (apex && qtype === TYPE.NS) return setSection(r.answer, 0, zone.nsAnswer, zone.nsCount);
    if (svc || apex) return negative(r, RCODE.NOERROR, zone, at, 0);
    if (known.has(key) || table.isEmptyNonTerminal(key)) {
      r.kind = 'empty-non-terminal';
      return negative(r, RCODE.NOERROR, zone, at, 0);
    }
    negative(r, RCODE.NXDOMAIN, zone, at, 0);
  };
}
