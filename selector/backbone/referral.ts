// Pre-encoded referral sections (DESIGN.md "Federation", refer mode), built once per
// (service, LB) when a map changes, so the query path only copies bytes:
//   ANSWER      {service} CNAME {label}.{service}          TTL referralTtl
//   AUTHORITY   {label}.{service} NS {each name server}     TTL delegationTtl
//   ADDITIONAL  glue A/AAAA of each name server             TTL delegationTtl
// Names are compressed against the question (RFC 1035 §4.1.4), which always sits at
// offset 12 with the service name's length, so every pointer is known in advance.
import { parseAddress } from '../../shared/prefix.js';
import { nameToBytes } from '../dns/names.js';
import { CLASS_IN, TYPE } from '../dns/wire.js';
import type { Nameserver } from './config.js';

const TYPE_CNAME = 5;

/** Answer/authority/additional bodies with their record counts. */
export interface Sections {
  an: Buffer;
  anCount: number;
  ns: Buffer;
  nsCount: number;
  ar: Buffer;
  arCount: number;
}

function rr(owner: Buffer, type: number, ttl: number, rdata: Buffer): Buffer {
  const head = Buffer.alloc(10);
  head.writeUInt16BE(type, 0);
  head.writeUInt16BE(CLASS_IN, 2);
  head.writeUInt32BE(ttl >>> 0, 4);
  head.writeUInt16BE(rdata.length, 8);
  return Buffer.concat([owner, head, rdata]);
}

function pointer(offset: number): Buffer {
  return Buffer.from([0xc0 | (offset >> 8), offset & 0xff]);
}

/**
 * NS + glue for the delegation of the name at `ownerOffset`, appended after `before`
 * bytes of message (so the glue owners can point at the NS RDATA names).
 */
function delegation(ownerOffset: number, before: number, nameservers: readonly Nameserver[], ttl: number): Omit<Sections, 'an' | 'anCount'> {
  const nsParts: Buffer[] = [];
  const glue: Buffer[] = [];
  let at = before;
  for (const n of nameservers) {
    const name = nameToBytes(n.name);
    const rec = rr(pointer(ownerOffset), TYPE.NS, ttl, name);
    const nameAt = at + 2 + 10; // owner pointer + fixed RR fields
    at += rec.length;
    nsParts.push(rec);
    const addr = parseAddress(n.address);
    glue.push(rr(pointer(nameAt), addr.family === 4 ? TYPE.A : TYPE.AAAA, ttl, Buffer.from(addr.bytes)));
  }
  return { ns: Buffer.concat(nsParts), nsCount: nsParts.length, ar: Buffer.concat(glue), arCount: glue.length };
}

/** The CNAME + delegation answering `{service}` for an LB; `serviceWireLength` includes the root byte. */
export function buildReferral(serviceWireLength: number, label: string, nameservers: readonly Nameserver[], referralTtl: number, delegationTtl: number): Sections {
  const qEnd = 12 + serviceWireLength + 4;
  // RDATA: the label, then a pointer to the service name in the question.
  const target = Buffer.concat([Buffer.from([label.length]), Buffer.from(label, 'latin1'), pointer(12)]);
  const an = rr(pointer(12), TYPE_CNAME, referralTtl, target);
  const targetAt = qEnd + 2 + 10;
  return { an, anCount: 1, ...delegation(targetAt, qEnd + an.length, nameservers, delegationTtl) };
}

/** A plain referral (no answer) for a query whose name is `{label}.{service}` itself. */
export function buildChildReferral(childWireLength: number, nameservers: readonly Nameserver[], delegationTtl: number): Sections {
  const qEnd = 12 + childWireLength + 4;
  return { an: Buffer.alloc(0), anCount: 0, ...delegation(12, qEnd, nameservers, delegationTtl) };
}
