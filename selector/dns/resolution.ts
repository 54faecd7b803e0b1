// The contract between a decision function and the packet writer: resolve(query, source)
// fills a Resolution (rcode, flags, references to pre-encoded RR bytes per section, ECS
// scope, and what was matched); the writer (responder.ts) turns it into wire bytes and
// `explain` (decide.ts) into a Decision. The selector's resolve is resolve.ts; another
// query path (the backbone) plugs its own into createDnsServer({ resolve }).
import type { Family } from '../../shared/prefix.js';
import type { ClientMatch } from './contract.js';
import type { Query } from './wire.js';

/** One section of the response: pre-encoded RRs, written as they are. */
export interface Section {
  /** Owner pointer written before `body` (0 = none: `body` carries its own owner). */
  ptr: number;
  /** RR bytes from TYPE on when `ptr` is set, whole RRs otherwise; undefined = empty section. */
  body: Buffer | undefined;
  /** Number of RRs in `body`. */
  count: number;
}

/** Where the packet came from (the transport's peer address). */
export interface Source {
  family: Family;
  bytes: Uint8Array;
}

export type ResolutionKind = 'service' | 'apex' | 'empty-non-terminal' | 'nxdomain' | 'refused' | 'formerr';

/** What the query path decided for one question. Filled in place: valid until the next resolve(). */
export interface Resolution {
  /** RCODE (extended values such as BADVERS are split by the writer into header and OPT). */
  rcode: number;
  /** Authoritative answer (AA). */
  aa: boolean;
  /** ECS SCOPE PREFIX-LENGTH to echo (RFC 7871 §7.2.1); -1 = no ECS option in the response. */
  scope: number;
  answer: Section;
  authority: Section;
  additional: Section;
  /** What the name turned out to be (for explain). */
  kind: ResolutionKind;
  /** The zone the name is in. */
  zone: string | undefined;
  /** The service asked for, when the name is one. */
  service: string | undefined;
  /** True when the service's answer does not depend on the client (scope 0). */
  uniform: boolean;
  /** How the client was mapped (A/AAAA at a service name; always when `explain` asked). */
  match: ClientMatch | undefined;
  /** The precomputed answer chosen for the client: its key and every address in it. */
  chosen: { readonly key: string; readonly addresses: readonly string[] } | undefined;
  /** TTL of the chosen answer's records (0 when none). */
  ttl: number;
  /** Stats label the writer counts when it sends this answer ('' = none). */
  label: string;
  /**
   * The per-answer-key query counts (capacity demand) this query was counted in, and the
   * key: a packet-cache hit for the same query is counted there too (udp-batch.ts).
   */
  counted: Map<string, number> | undefined;
  countedKey: string;
}

/**
 * A decision function. `explain` = also map the client when the answer does not
 * depend on it (so explain can say how it was mapped); never changes the answer.
 * Must not keep `q` or `source`; may throw (the writer answers SERVFAIL).
 */
export type ResolveFn = (q: Query, source: Source, out: Resolution, explain?: boolean) => void;

export function newSection(): Section {
  return { ptr: 0, body: undefined, count: 0 };
}

export function newResolution(): Resolution {
  return {
    rcode: 0, aa: false, scope: -1, answer: newSection(), authority: newSection(), additional: newSection(),
    kind: 'refused', zone: undefined, service: undefined, uniform: false, match: undefined, chosen: undefined, ttl: 0, label: '',
    counted: undefined, countedKey: '',
  };
}

/** Resets `r` to an empty, non-authoritative response with `rcode` and no ECS echo. */
export function clearResolution(r: Resolution, rcode: number, scope = -1): Resolution {
  r.rcode = rcode;
  r.aa = false;
  r.scope = scope;
  r.answer.body = undefined;
  r.authority.body = undefined;
  r.additional.body = undefined;
  r.kind = 'refused';
  r.zone = undefined;
  r.service = undefined;
  r.uniform = false;
  r.match = undefined;
  r.chosen = undefined;
  r.ttl = 0;
  r.label = '';
  r.counted = undefined;
  return r;
}

/** Points `s` at `count` RRs in `body`, with owner pointer `ptr` (0 = none). */
export function setSection(s: Section, ptr: number, body: Buffer, count: number): void {
  s.ptr = ptr;
  s.body = body;
  s.count = count;
}
