// Hand-written decoder for the parts of a DNS query the selector needs: header, the one
// question, and the OPT RR with its Client Subnet option. It fills a reusable object
// and never throws on bad input; the outcome is a parse status.
import { wireKeyOf } from './names.js';

export const RCODE = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 } as const;
export const TYPE = { A: 1, NS: 2, SOA: 6, HINFO: 13, AAAA: 28, OPT: 41, IXFR: 251, AXFR: 252, ANY: 255 } as const;
export const CLASS_IN = 1;
export const CLASS_ANY = 255;
export const OPT_ECS = 8;

/** Parse outcome: DROP = not even a header (or a response): send nothing. */
export const Parse = { OK: 0, DROP: 1, FORMERR: 2, NOTIMP: 3, BADVERS: 4 } as const;
export type ParseStatus = (typeof Parse)[keyof typeof Parse];

export interface Query {
  id: number;
  flags: number;
  /** Offset just past the question's name (its root byte). */
  nameEnd: number;
  /** The question name's lookup key: lower-cased wire form as latin1 (names.ts); '' until a question is read. */
  key: string;
  /** Offset just past QTYPE/QCLASS; 0 when the question could not be read. */
  questionEnd: number;
  qtype: number;
  qclass: number;
  /** Label start offsets of the question name (absolute), `labelCount` used. */
  labels: number[];
  labelCount: number;
  edns: boolean;
  udpSize: number;
  ednsVersion: number;
  /** The DO bit (RFC 3225), copied to the response's OPT. */
  dnssecOk: boolean;
  ecs: boolean;
  ecsFamily: 4 | 6;
  ecsSource: number;
  /** ECS address bytes, zero-padded to 4 or 16. */
  ecsAddress: Uint8Array;
  /** Offset and length of the ECS address bytes in the message, for the echo. */
  ecsAddrOffset: number;
  ecsAddrLen: number;
}

export function newQuery(): Query {
  return {
    id: 0, flags: 0, nameEnd: 0, key: '', questionEnd: 0, qtype: 0, qclass: 0, labels: new Array<number>(128).fill(0), labelCount: 0,
    edns: false, udpSize: 512, ednsVersion: 0, dnssecOk: false,
    ecs: false, ecsFamily: 4, ecsSource: 0, ecsAddress: new Uint8Array(16), ecsAddrOffset: 0, ecsAddrLen: 0,
  };
}

/** Skips a possibly compressed name; returns the offset after it or -1. */
function skipName(msg: Uint8Array, off: number): number {
  const len = msg.length;
  for (let hops = 0; hops < 128; hops++) {
    if (off >= len) return -1;
    const b = msg[off] as number;
    if (b === 0) return off + 1;
    if ((b & 0xc0) === 0xc0) return off + 2 <= len ? off + 2 : -1;
    if (b & 0xc0) return -1; // 0x40/0x80 label types are obsolete (RFC 6891 §5)
    off += 1 + b;
  }
  return -1;
}

function u16(msg: Uint8Array, off: number): number {
  return ((msg[off] as number) << 8) | (msg[off + 1] as number);
}

/**
 * Validates an ECS option (RFC 7871 §6) at [off, off+optLen) into `q`; false → FORMERR.
 */
function parseEcs(msg: Uint8Array, off: number, optLen: number, q: Query): boolean {
  if (optLen < 4) return false;
  const family = u16(msg, off);
  const source = msg[off + 2] as number;
  const scope = msg[off + 3] as number;
  if (family !== 1 && family !== 2) return false;
  const maxBits = family === 1 ? 32 : 128;
  if (source > maxBits) return false;
  // §7.1.2 / §6: SCOPE PREFIX-LENGTH MUST be 0 in queries.
  if (scope !== 0) return false;
  const addrLen = optLen - 4;
  // §6: ADDRESS must be exactly ceil(SOURCE/8) bytes, with bits past SOURCE zero.
  if (addrLen !== (source + 7) >> 3) return false;
  const rem = source & 7;
  if (rem !== 0 && ((msg[off + 4 + addrLen - 1] as number) & (0xff >> rem)) !== 0) return false;
  q.ecs = true;
  q.ecsFamily = family === 1 ? 4 : 6;
  q.ecsSource = source;
  q.ecsAddrOffset = off + 4;
  q.ecsAddrLen = addrLen;
  const a = q.ecsAddress;
  a.fill(0);
  for (let i = 0; i < addrLen; i++) a[i] = msg[off + 4 + i] as number;
  return true;
}

/** Parses the OPT RR whose RDATA is at [off, off+rdlen). */
function parseOpt(msg: Uint8Array, klass: number, ttlHi: number, doWord: number, off: number, rdlen: number, q: Query): ParseStatus {
  q.edns = true;
  q.udpSize = klass < 512 ? 512 : klass; // RFC 6891 §6.2.5: values below 512 are treated as 512
  q.ednsVersion = ttlHi & 0xff;
  q.dnssecOk = (doWord & 0x8000) !== 0;
  if (q.ednsVersion !== 0) return Parse.BADVERS; // options of unknown versions are not parsed
  const end = off + rdlen;
  while (off < end) {
    if (off + 4 > end) return Parse.FORMERR;
    const code = u16(msg, off);
    const optLen = u16(msg, off + 2);
    off += 4;
    if (off + optLen > end) return Parse.FORMERR;
    if (code === OPT_ECS) {
      if (q.ecs) return Parse.FORMERR; // a second ECS option is ambiguous
      if (!parseEcs(msg, off, optLen, q)) return Parse.FORMERR;
    }
    off += optLen;
  }
  return Parse.OK;
}

/** Decodes `msg` into `q`. Every offset is bounds-checked; nothing throws. */
export function parseQuery(msg: Buffer, q: Query): ParseStatus {
  q.questionEnd = 0;
  q.key = '';
  q.labelCount = 0;
  q.edns = false;
  q.udpSize = 512;
  q.ednsVersion = 0;
  q.dnssecOk = false;
  q.ecs = false;
  const len = msg.length;
  if (len < 12) return Parse.DROP;
  q.id = u16(msg, 0);
  q.flags = u16(msg, 2);
  // A response (QR=1) is never answered: answering it could start a loop between two
  // servers when the source is spoofed (RFC 5452 spirit; BIND and NSD drop these).
  if (q.flags & 0x8000) return Parse.DROP;
  if ((q.flags >> 11) & 0xf) return Parse.NOTIMP;
  if (u16(msg, 4) !== 1) return Parse.FORMERR;
  // Question name: uncompressed (nothing earlier to point at), labels ≤ 63, name ≤ 255.
  let off = 12;
  let count = 0;
  for (;;) {
    if (off >= len) return Parse.FORMERR;
    const b = msg[off] as number;
    if (b === 0) break;
    if (b > 63 || count >= 127) return Parse.FORMERR;
    q.labels[count++] = off;
    off += 1 + b;
  }
  off += 1;
  if (off - 12 > 255 || off + 4 > len) return Parse.FORMERR;
  q.labelCount = count;
  q.nameEnd = off;
  q.qtype = u16(msg, off);
  q.qclass = u16(msg, off + 2);
  off += 4;
  q.questionEnd = off;
  q.key = wireKeyOf(msg, 12, q.nameEnd);
  // Answer and authority sections should be empty in a query; skip them if not.
  const skip = u16(msg, 6) + u16(msg, 8);
  const arcount = u16(msg, 10);
  let optSeen = false;
  let optStatus: ParseStatus = Parse.OK;
  for (let i = 0; i < skip + arcount; i++) {
    const nameStart = off;
    off = skipName(msg, off);
    if (off < 0 || off + 10 > len) return Parse.FORMERR;
    const type = u16(msg, off);
    const rdlen = u16(msg, off + 8);
    const rdata = off + 10;
    if (rdata + rdlen > len) return Parse.FORMERR;
    if (type === TYPE.OPT && i >= skip) {
      // RFC 6891 §6.1.1: more than one OPT → FORMERR; the OPT owner must be root.
      if (optSeen || msg[nameStart] !== 0) return Parse.FORMERR;
      optSeen = true;
      optStatus = parseOpt(msg, u16(msg, off + 2), u16(msg, off + 4), u16(msg, off + 6), rdata, rdlen, q);
      if (optStatus === Parse.FORMERR) return optStatus;
    }
    off = rdata + rdlen;
  }
  return optStatus;
}

/** Byte loop copy: for the few dozen bytes of a DNS message it beats Buffer#copy's native call. */
export function copyInto(src: Uint8Array, dst: Uint8Array, at: number, start: number, end: number): number {
  for (let i = start; i < end; i++) dst[at++] = src[i] as number;
  return at;
}

/** Writes a 16-bit big-endian value; returns the next offset. */
export function put16(buf: Uint8Array, at: number, v: number): number {
  buf[at] = v >>> 8;
  buf[at + 1] = v & 0xff;
  return at + 2;
}
