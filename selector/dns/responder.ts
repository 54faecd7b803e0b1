// The packet writer: parse the header, question and OPT into one reusable Query, ask
// the decision function (resolve.ts, or another one given to createDnsServer), then
// write the response straight into the caller's buffer — the batch engine's slot, or
// an exact-size buffer with bytes reserved in front (TCP's length prefix). One catch
// turns any exception into SERVFAIL, counted and logged (rate-limited).
import type { Family } from '../../shared/prefix.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import { ArgumentError } from '../../shared/errors.js';
import { Parse, RCODE, TYPE, copyInto, newQuery, parseQuery, put16, type Query } from './wire.js';
import { clearResolution, newResolution, type ResolveFn, type Source } from './resolution.js';
import { createResolver, type ResolverOptions } from './resolve.js';
import { decide, type Decision, type DecideClient } from './decide.js';
import { DnsCounters } from './stats.js';
import { ThrottledErrorLog } from './error-log.js';

/** Our EDNS UDP payload size (DNS Flag Day 2020: avoids IP fragmentation). */
export const OUR_UDP_SIZE = 1232;
/** Max response size: a UDP byte count, or 'tcp' (64 KiB framing limit, RFC 7766 §8). */
export type SizeLimit = number | 'tcp';
const TCP_MAX = 65535;
/** `room` when the writer allocates the buffer itself (a small integer keeps the call monomorphic). */
const NO_ROOM_LIMIT = 0x3fffffff;

export interface ResponderOptions extends Partial<ResolverOptions> {
  /** The decision function; default: the selector's (resolve.ts) over zones, table and mapper. */
  resolve?: ResolveFn;
  counters?: DnsCounters;
  /** Where caught query-path exceptions are logged (at most one line per second). */
  log?: Logger;
}

export interface Responder {
  /** Response bytes (with `reserve` bytes left in front), or undefined when the packet must be dropped. Never throws. */
  answer(msg: Buffer, srcFamily: Family, src: Uint8Array, limit: SizeLimit, reserve?: number): Buffer | undefined;
  /**
   * Writes the response at out[0..]; returns its length, 0 when nothing is to be sent.
   * A response longer than `out` is cut to header + question + OPT with TC. Never throws.
   */
  answerInto(msg: Buffer, srcFamily: Family, src: Uint8Array, limit: SizeLimit, out: Buffer): number;
  /** The decision the query path would make for an A query for `name` from `client` (for `explain`). */
  decide(name: string, client: DecideClient, source?: Source): Decision;
  readonly resolve: ResolveFn;
  readonly counters: DnsCounters;
  /** What the last answerInto()/answer() wrote, for the packet cache (udp-batch.ts); overwritten by the next call. */
  readonly last?: LastAnswer;
}

/** A response the packet cache may keep, and what to count when it is served again. */
export interface LastAnswer {
  /** A plain query answered NOERROR or NXDOMAIN, not truncated, no exception. */
  cacheable: boolean;
  qtype: number;
  rcode: number;
  label: string;
  counted: Map<string, number> | undefined;
  countedKey: string;
}

export function createResponder(opts: ResponderOptions): Responder {
  const resolve = opts.resolve ?? createResolver(requireTables(opts));
  const counters = opts.counters ?? new DnsCounters();
  const errorLog = new ThrottledErrorLog(opts.log ?? silentLogger(), 'dns query path threw: answered SERVFAIL');
  const q = newQuery();
  const r = newResolution();
  const source: Source = { family: 4, bytes: new Uint8Array(4) };
  // The prepared response: its size and whether it is cut to header + question (+ OPT).
  let tc = false;
  const last: LastAnswer = { cacheable: false, qtype: 0, rcode: 0, label: '', counted: undefined, countedKey: '' };

  /** Parses and decides; returns the response size, or -1 to drop. */
  function prepare(msg: Buffer, srcFamily: Family, src: Uint8Array, limit: SizeLimit, room: number): number {
    last.cacheable = false;
    const status = parseQuery(msg, q);
    if (status === Parse.DROP) {
      counters.dropped++;
      return -1;
    }
    if (status === Parse.NOTIMP) {
      q.questionEnd = 0;
      q.edns = false;
      clearResolution(r, RCODE.NOTIMP);
    } else if (status === Parse.FORMERR) {
      clearResolution(r, RCODE.FORMERR);
    } else if (status === Parse.BADVERS) {
      clearResolution(r, RCODE.BADVERS);
    } else {
      counters.countQtype(q.qtype);
      source.family = srcFamily;
      source.bytes = src;
      resolve(q, source, r);
      if (r.label) counters.countAnswer(r.label);
    }
    const qEnd = q.questionEnd === 0 ? 12 : q.questionEnd;
    const optLen = q.edns ? 11 + (q.ecs && r.scope >= 0 ? 8 + q.ecsAddrLen : 0) : 0;
    const full = qEnd + sectionLen(r.answer) + sectionLen(r.authority) + sectionLen(r.additional) + optLen;
    // RFC 6891 §6.2.5: never exceed the requestor's size; without EDNS, 512 (RFC 1035).
    let max = limit === 'tcp' ? TCP_MAX : q.edns ? Math.min(Math.max(q.udpSize, 512), Math.max(limit, 512)) : 512;
    if (room < max) max = room;
    tc = full > max;
    counters.rcodes[r.rcode] = (counters.rcodes[r.rcode] ?? 0) + 1;
    if (!tc) {
      if (status === Parse.OK && (r.rcode === RCODE.NOERROR || r.rcode === RCODE.NXDOMAIN)) {
        last.cacheable = true;
        last.qtype = q.qtype;
        last.rcode = r.rcode;
        last.label = r.label;
        last.counted = r.counted;
        last.countedKey = r.countedKey;
      }
      return full;
    }
    // RFC 2181 §9 / RFC 6891 §7: TC with header + question (+ OPT) so the client retries over TCP.
    counters.truncated++;
    return qEnd + optLen;
  }

  /** Writes the prepared response for `msg` at out[at..]. */
  function emit(msg: Buffer, out: Buffer, at: number): void {
    const qEnd = q.questionEnd === 0 ? 12 : q.questionEnd;
    const rcode = r.rcode;
    copyInto(msg, out, at, 0, qEnd);
    out[at + 2] = 0x80 | ((msg[2] as number) & 0x79) | (r.aa ? 0x04 : 0) | (tc ? 0x02 : 0); // QR, opcode, AA, TC, RD
    out[at + 3] = ((msg[3] as number) & 0x10) | (rcode & 0x0f); // RA=0 (no recursion), CD copied
    put16(out, at + 4, q.questionEnd === 0 ? 0 : 1);
    let o = at + qEnd;
    const { answer, authority, additional } = r;
    put16(out, at + 6, !tc && answer.body ? answer.count : 0);
    put16(out, at + 8, !tc && authority.body ? authority.count : 0);
    put16(out, at + 10, (!tc && additional.body ? additional.count : 0) + (q.edns ? 1 : 0));
    if (!tc) {
      o = writeSection(answer.ptr, answer.body, out, o);
      o = writeSection(authority.ptr, authority.body, out, o);
      o = writeSection(additional.ptr, additional.body, out, o);
    }
    if (q.edns) writeOpt(msg, q, rcode, r.scope, out, o);
  }

  function answerInto(msg: Buffer, srcFamily: Family, src: Uint8Array, limit: SizeLimit, out: Buffer): number {
    counters.queries++;
    try {
      const size = prepare(msg, srcFamily, src, limit, out.length);
      if (size < 0) return 0;
      emit(msg, out, 0);
      return size;
    } catch (err) {
      return servfail(msg, err, out, 0);
    }
  }

  function answer(msg: Buffer, srcFamily: Family, src: Uint8Array, limit: SizeLimit, reserve = 0): Buffer | undefined {
    counters.queries++;
    try {
      const size = prepare(msg, srcFamily, src, limit, NO_ROOM_LIMIT);
      if (size < 0) return undefined;
      const out = Buffer.allocUnsafe(reserve + size);
      emit(msg, out, reserve);
      return out;
    } catch (err) {
      const out = Buffer.allocUnsafe(reserve + 12);
      return servfail(msg, err, out, reserve) ? out : undefined;
    }
  }

  /** One catch for the whole path (coredns' recover()): a header-only SERVFAIL; returns its length (0: unreadable). */
  function servfail(msg: Buffer, err: unknown, out: Buffer, at: number): number {
    last.cacheable = false;
    counters.internalErrors++;
    // The packet that tripped it (hex, first 512 bytes), so the bug can be replayed.
    errorLog.report(err, () => ({ query: msg.toString('hex', 0, Math.min(msg.length, 512)) }));
    if (msg.length < 12 || ((msg[2] as number) & 0x80) || out.length < at + 12) return 0;
    copyInto(msg, out, at, 0, 4);
    out[at + 2] = 0x80 | ((msg[2] as number) & 0x79);
    out[at + 3] = RCODE.SERVFAIL;
    out.fill(0, at + 4, at + 12);
    counters.rcodes[RCODE.SERVFAIL] = (counters.rcodes[RCODE.SERVFAIL] ?? 0) + 1;
    return 12;
  }

  return {
    answer,
    answerInto,
    decide: (name, client, src) => decide(resolve, name, client, src),
    resolve,
    counters,
    last,
  };
}

function requireTables(opts: ResponderOptions): ResolverOptions {
  const { zones, table, mapper } = opts;
  if (!zones || !table || !mapper) throw new ArgumentError('createResponder: give resolve, or zones + table + mapper');
  return { zones, table, mapper, services: opts.services, serial: opts.serial, child: opts.child };
}

function sectionLen(s: { ptr: number; body: Buffer | undefined }): number {
  return s.body ? s.body.length + (s.ptr ? 2 : 0) : 0;
}

function writeSection(ptr: number, body: Buffer | undefined, out: Buffer, o: number): number {
  if (!body) return o;
  if (ptr) o = put16(out, o, ptr);
  return copyInto(body, out, o, 0, body.length);
}

/** RFC 6891 §6.1.2: OPT owner root, CLASS = our UDP size, TTL = ext-rcode|version|DO; ECS echoed when scope ≥ 0. */
export function writeOpt(msg: Buffer, q: Query, rcode: number, scope: number, out: Buffer, o: number): void {
  const echoEcs = q.ecs && scope >= 0;
  out[o] = 0;
  o = put16(out, o + 1, TYPE.OPT);
  o = put16(out, o, OUR_UDP_SIZE);
  out[o++] = (rcode >> 4) & 0xff;
  out[o++] = 0;
  o = put16(out, o, q.dnssecOk ? 0x8000 : 0);
  o = put16(out, o, echoEcs ? 8 + q.ecsAddrLen : 0);
  if (!echoEcs) return;
  // RFC 7871 §7.2.1: echo FAMILY, SOURCE PREFIX-LENGTH and ADDRESS; set SCOPE.
  o = put16(out, o, 8);
  o = put16(out, o, 4 + q.ecsAddrLen);
  o = put16(out, o, q.ecsFamily === 4 ? 1 : 2);
  out[o++] = q.ecsSource;
  out[o++] = scope;
  copyInto(msg, out, o, q.ecsAddrOffset, q.ecsAddrOffset + q.ecsAddrLen);
}

export type { Query };
export type { Decision };
