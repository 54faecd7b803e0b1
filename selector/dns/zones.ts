// Precomputed apex records of the configured zones: SOA and NS RR bytes built once
// at start, so answering SOA/NS/NODATA/NXDOMAIN is a copy plus one name pointer.
import type { ZoneConfig } from './config.js';
import { nameToBytes, nameToWire } from './names.js';
import { CLASS_IN, TYPE } from './wire.js';

export interface ZoneData {
  readonly name: string;
  readonly wireKey: string;
  /** SOA RR from TYPE on (owner written per response), TTL = zone ttl: for SOA answers. */
  readonly soaAnswerBody: Buffer;
  /** Same with TTL = min(ttl, minimum): for the authority section of negative answers (RFC 2308 §5). */
  readonly soaNegativeBody: Buffer;
  /** NS RRs with owner 0xC00C (the apex question name). */
  readonly nsAnswer: Buffer;
  readonly nsCount: number;
  readonly ttl: number;
}

/** RR body after the owner name: TYPE, CLASS, TTL, RDLENGTH, RDATA. */
export function rrBody(type: number, ttl: number, rdata: Buffer): Buffer {
  const out = Buffer.alloc(10 + rdata.length);
  out.writeUInt16BE(type, 0);
  out.writeUInt16BE(CLASS_IN, 2);
  out.writeUInt32BE(ttl >>> 0, 4);
  out.writeUInt16BE(rdata.length, 8);
  rdata.copy(out, 10);
  return out;
}

const POINTER_TO_QUESTION = Buffer.from([0xc0, 0x0c]);

/** A serial for zones without one: seconds since the epoch at start (RFC 1982 arithmetic tolerates it). */
export function startSerial(nowMs = Date.now()): number {
  return Math.floor(nowMs / 1000) >>> 0;
}

export function buildZone(z: ZoneConfig, serial: number): ZoneData {
  const timers = Buffer.alloc(20);
  timers.writeUInt32BE((z.serial ?? serial) >>> 0, 0);
  timers.writeUInt32BE(z.refresh >>> 0, 4);
  timers.writeUInt32BE(z.retry >>> 0, 8);
  timers.writeUInt32BE(z.expire >>> 0, 12);
  timers.writeUInt32BE(z.minimum >>> 0, 16);
  // RFC 1035 §3.3.13: MNAME = primary NS, RNAME = hostmaster mailbox as a name.
  const soaRdata = Buffer.concat([nameToBytes(z.ns[0] as string), nameToBytes(z.hostmaster), timers]);
  const ns = z.ns.map((n) => Buffer.concat([POINTER_TO_QUESTION, rrBody(TYPE.NS, z.ttl, nameToBytes(n))]));
  return Object.freeze({
    name: z.name,
    wireKey: nameToWire(z.name),
    soaAnswerBody: rrBody(TYPE.SOA, z.ttl, soaRdata),
    soaNegativeBody: rrBody(TYPE.SOA, Math.min(z.ttl, z.minimum), soaRdata),
    nsAnswer: Buffer.concat(ns),
    nsCount: ns.length,
    ttl: z.ttl,
  });
}

export function buildZones(zones: readonly ZoneConfig[], serial = startSerial()): Map<string, ZoneData> {
  const map = new Map<string, ZoneData>();
  for (const z of zones) {
    const data = buildZone(z, serial);
    map.set(data.wireKey, data);
  }
  return map;
}
