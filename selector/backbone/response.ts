// Writes a response from pre-encoded sections: header + the question copied from the
// query, answer / authority / additional bodies, and the OPT with the ECS echo. The
// same wire rules as selector/dns/responder.ts, plus an additional section (glue).
import type { DnsCounters } from '../dns/stats.js';
import { writeOpt, type SizeLimit } from '../dns/responder.js';
import { copyInto, put16, type Query } from '../dns/wire.js';

/** Sections of the response being written; `nsPtr` ≠ 0 is an owner pointer written before `ns`. */
export interface Out {
  an: Buffer | undefined;
  anCount: number;
  ns: Buffer | undefined;
  nsCount: number;
  nsPtr: number;
  ar: Buffer | undefined;
  arCount: number;
}

export function writeResponse(msg: Buffer, q: Query, out: Out, rcode: number, aa: boolean, scope: number, limit: SizeLimit, counters: DnsCounters): Buffer {
  const qEnd = q.questionEnd;
  const echoEcs = q.ecs && scope >= 0;
  const optLen = q.edns ? 11 + (echoEcs ? 8 + q.ecsAddrLen : 0) : 0;
  const anLen = out.an ? out.an.length : 0;
  const nsLen = out.ns ? out.ns.length + (out.nsPtr ? 2 : 0) : 0;
  const arLen = out.ar ? out.ar.length : 0;
  let size = qEnd + anLen + nsLen + arLen + optLen;
  let tc = false;
  if (limit !== 'tcp') {
    // RFC 6891 §6.2.5: never exceed the requestor's size; without EDNS, 512 (RFC 1035).
    const max = q.edns ? Math.min(Math.max(q.udpSize, 512), Math.max(limit, 512)) : 512;
    if (size > max) {
      tc = true; // RFC 2181 §9: TC with header + question (+ OPT); the client retries over TCP
      size = qEnd + optLen;
      counters.truncated++;
    }
  }
  const buf = Buffer.allocUnsafe(size);
  copyInto(msg, buf, 0, 0, qEnd);
  buf[2] = 0x80 | ((msg[2] as number) & 0x79) | (aa ? 0x04 : 0) | (tc ? 0x02 : 0); // QR, opcode, AA, TC, RD
  buf[3] = ((msg[3] as number) & 0x10) | (rcode & 0x0f); // RA=0, CD copied
  put16(buf, 4, 1);
  put16(buf, 6, tc || !out.an ? 0 : out.anCount);
  put16(buf, 8, tc || !out.ns ? 0 : out.nsCount);
  put16(buf, 10, (tc || !out.ar ? 0 : out.arCount) + (q.edns ? 1 : 0));
  let o = qEnd;
  if (!tc) {
    if (out.an) o = copyInto(out.an, buf, o, 0, out.an.length);
    if (out.ns) {
      if (out.nsPtr) o = put16(buf, o, out.nsPtr);
      o = copyInto(out.ns, buf, o, 0, out.ns.length);
    }
    if (out.ar) o = copyInto(out.ar, buf, o, 0, out.ar.length);
  }
  if (q.edns) writeOpt(msg, q, rcode, scope, buf, o);
  counters.rcodes[rcode] = (counters.rcodes[rcode] ?? 0) + 1;
  return buf;
}
