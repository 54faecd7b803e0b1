// `explain` without a socket: encode the A query a client (or its resolver, with ECS)
// would send, run it through the same parser and decision function as the packet
// path, and report the Resolution as plain values. No second implementation to drift.
import { bitsOf, maskBytes, type Family } from '../../shared/prefix.js';
import type { ClientMatch } from './contract.js';
import { nameToWire } from './names.js';
import { newResolution, type ResolveFn, type ResolutionKind, type Resolution, type Source } from './resolution.js';
import { OPT_ECS, Parse, RCODE, TYPE, newQuery, parseQuery } from './wire.js';

/** The client asking: an address, or an ECS prefix (`sourceLength` bits) sent by a resolver. */
export interface DecideClient {
  family: Family;
  bytes: Uint8Array;
  /** ECS SOURCE PREFIX-LENGTH; absent: the client's full address. */
  sourceLength?: number;
  /** Send the client as ECS (default: when `sourceLength` is given). Without ECS the client is the packet source. */
  ecs?: boolean;
}

/** What the query path decides for a name and client, for `explain`. */
export interface Decision {
  rcode: 'NOERROR' | 'NXDOMAIN' | 'REFUSED' | 'FORMERR' | 'SERVFAIL' | 'NOTIMP';
  zone?: string;
  kind: ResolutionKind;
  service?: string;
  uniform?: boolean;
  match?: ClientMatch;
  /** ECS scope the response would carry. */
  scope: number;
  /** The precomputed answer chosen (all its addresses, both families) and its TTL. */
  answer?: { key: string; addresses: readonly string[]; ttl: number };
}

const RCODE_NAMES: Record<number, Decision['rcode']> = {
  [RCODE.NOERROR]: 'NOERROR', [RCODE.FORMERR]: 'FORMERR', [RCODE.SERVFAIL]: 'SERVFAIL',
  [RCODE.NXDOMAIN]: 'NXDOMAIN', [RCODE.NOTIMP]: 'NOTIMP', [RCODE.REFUSED]: 'REFUSED',
};

/** The query bytes for `name` A IN (RD clear), with an OPT carrying ECS when `ecs` is given; undefined for a name DNS cannot carry. */
export function encodeQuery(name: string, ecs?: { family: Family; bytes: Uint8Array; sourceLength: number }): Buffer | undefined {
  const labels = name.replace(/\.$/, '').split('.');
  if (name !== '.' && name !== '' && labels.some((l) => l.length === 0 || l.length > 63)) return undefined;
  const wire = Buffer.from(nameToWire(name), 'latin1');
  if (wire.length > 255) return undefined;
  const header = Buffer.from([0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, ecs ? 1 : 0]);
  const question = Buffer.from([0, TYPE.A, 0, 1]);
  if (!ecs) return Buffer.concat([header, wire, question]);
  // RFC 7871 §6: FAMILY, SOURCE, SCOPE 0, ADDRESS cut to whole bytes with the bits past SOURCE zero.
  const len = Math.max(0, Math.min(ecs.sourceLength, bitsOf(ecs.family)));
  const addr = maskBytes(ecs.bytes, len, ecs.family).subarray(0, (len + 7) >> 3);
  const opt = Buffer.alloc(11 + 8 + addr.length);
  opt.writeUInt16BE(TYPE.OPT, 1);
  opt.writeUInt16BE(1232, 3);
  opt.writeUInt16BE(8 + addr.length, 9);
  opt.writeUInt16BE(OPT_ECS, 11);
  opt.writeUInt16BE(4 + addr.length, 13);
  opt.writeUInt16BE(ecs.family === 4 ? 1 : 2, 15);
  opt[17] = len;
  Buffer.from(addr).copy(opt, 19);
  return Buffer.concat([header, wire, question, opt]);
}

/** Runs `resolve` on the query `client` would send (through `source`, default the client itself). */
export function decide(resolve: ResolveFn, name: string, client: DecideClient, source: Source = client): Decision {
  const ecs = client.ecs ?? client.sourceLength !== undefined;
  const msg = encodeQuery(name, ecs ? { family: client.family, bytes: client.bytes, sourceLength: client.sourceLength ?? bitsOf(client.family) } : undefined);
  const q = newQuery();
  if (!msg || parseQuery(msg, q) !== Parse.OK) return { rcode: 'FORMERR', kind: 'formerr', scope: 0 };
  const r = newResolution();
  // Without ECS the client is the packet's source (a stub asking directly).
  resolve(q, ecs ? source : { family: client.family, bytes: client.bytes }, r, true);
  return toDecision(r);
}

function toDecision(r: Resolution): Decision {
  const d: Decision = { rcode: RCODE_NAMES[r.rcode] ?? 'SERVFAIL', kind: r.kind, scope: r.scope < 0 ? 0 : r.scope };
  if (r.zone !== undefined) d.zone = r.zone;
  if (r.service !== undefined) {
    d.service = r.service;
    d.uniform = r.uniform;
  }
  if (r.match) d.match = r.match;
  if (r.chosen) d.answer = { key: r.chosen.key, addresses: r.chosen.addresses, ttl: answerTtl(r) };
  return d;
}

/** The TTL the response's A records carry (read from the bytes written), else the answer's TTL. */
function answerTtl(r: Resolution): number {
  const { ptr, body, count } = r.answer;
  if (!body || count === 0) return r.ttl;
  return body.readUInt32BE(ptr ? 4 : 6);
}
