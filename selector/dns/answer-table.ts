// Precomputed DNS answers per (service, key). Ranking writes here when results change;
// the DNS query path only reads the encoded RR bytes and copies them into a response.
import { DEFAULT_KEY, type AnswerTable } from './contract.js';
import { parseAddress } from '../../shared/prefix.js';
import { VantageError } from '../../shared/errors.js';
import { nameToWire } from './names.js';

const TYPE_A = 1;
const TYPE_AAAA = 28;
const CLASS_IN = 1;

/** One encoded answer: A and AAAA RRsets with the owner name as a pointer to the question. */
export interface WireAnswer {
  readonly key: string;
  readonly addresses: readonly string[];
  /** TTL set for this answer only (unsettled), or undefined: the service TTL. */
  readonly ttlOverride: number | undefined;
  /** The TTL encoded in the RRs. */
  readonly ttl: number;
  /** Concatenated A RRs (owner = 0xC00C, RFC 1035 §4.1.4 compression). */
  readonly a: Buffer;
  readonly aCount: number;
  readonly aaaa: Buffer;
  readonly aaaaCount: number;
  /** Stats label `service addr` of the first A / AAAA address ('' when none). */
  readonly aLabel: string;
  readonly aaaaLabel: string;
}

export interface WireService {
  readonly name: string;
  readonly ttl: number;
  readonly answers: ReadonlyMap<string, WireAnswer>;
  readonly uniform: boolean;
  /** Queries per answer key, bumped on the query path when counting is on (countQueries). */
  readonly counts: Map<string, number> | undefined;
}

/** An AnswerTable the DNS server can read wire bytes from, keyed by the wire form of a name. */
export interface WireAnswerTable extends AnswerTable {
  /** `wireKey` is the lower-cased wire-format name (labels + root byte) as a latin1 string. */
  lookupWire(wireKey: string): WireService | undefined;
  /** True when `wireKey` is an empty non-terminal above a service name (RFC 8020: NODATA, not NXDOMAIN). */
  isEmptyNonTerminal(wireKey: string): boolean;
}

/** A service's answers as given to setService/setAnswer (`ttl` = the per-answer override). */
export interface ServiceSnapshot {
  name: string;
  ttl: number;
  answers: { key: string; addresses: readonly string[]; ttl: number | undefined }[];
}

interface ServiceEntry {
  name: string;
  ttl: number;
  answers: Map<string, WireAnswer>;
  uniform: boolean;
  counts: Map<string, number> | undefined;
}

function encodeRRs(addrs: readonly Uint8Array[], type: number, ttl: number): Buffer {
  const rdlen = type === TYPE_A ? 4 : 16;
  const rrLen = 12 + rdlen;
  const buf = Buffer.alloc(addrs.length * rrLen);
  addrs.forEach((bytes, i) => {
    const o = i * rrLen;
    buf.writeUInt16BE(0xc00c, o);
    buf.writeUInt16BE(type, o + 2);
    buf.writeUInt16BE(CLASS_IN, o + 4);
    buf.writeUInt32BE(ttl >>> 0, o + 6);
    buf.writeUInt16BE(rdlen, o + 10);
    buf.set(bytes, o + 12);
  });
  return buf;
}

function encodeAnswer(service: string, key: string, addresses: readonly string[], serviceTtl: number, ttlOverride: number | undefined): WireAnswer {
  const ttl = ttlOverride ?? serviceTtl;
  const v4: Uint8Array[] = [];
  const v6: Uint8Array[] = [];
  const v4Text: string[] = [];
  const v6Text: string[] = [];
  for (const text of addresses) {
    const { family, bytes } = parseAddress(text);
    (family === 4 ? v4 : v6).push(bytes);
    (family === 4 ? v4Text : v6Text).push(text);
  }
  return Object.freeze({
    key,
    addresses: Object.freeze([...addresses]),
    ttlOverride,
    ttl,
    a: encodeRRs(v4, TYPE_A, ttl),
    aCount: v4.length,
    aaaa: encodeRRs(v6, TYPE_AAAA, ttl),
    aaaaCount: v6.length,
    aLabel: v4Text[0] === undefined ? '' : `${service} ${v4Text[0]}`,
    aaaaLabel: v6Text[0] === undefined ? '' : `${service} ${v6Text[0]}`,
  });
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** In-memory AnswerTable; every write re-encodes only the entry it touches. */
export class MemoryAnswerTable implements WireAnswerTable {
  private readonly byName = new Map<string, ServiceEntry>();
  private readonly byWire = new Map<string, ServiceEntry>();
  private ents = new Set<string>();

  /** Each write returns whether it changed anything (DNS worker snapshots ship only changes). */
  setService(name: string, ttl: number): boolean {
    const lower = name.toLowerCase().replace(/\.$/, '');
    const entry = this.byName.get(lower);
    if (entry) {
      if (entry.ttl === ttl) return false;
      entry.ttl = ttl;
      for (const [key, ans] of entry.answers) entry.answers.set(key, encodeAnswer(lower, key, ans.addresses, ttl, ans.ttlOverride));
      return true;
    }
    const created: ServiceEntry = { name: lower, ttl, answers: new Map(), uniform: true, counts: undefined };
    this.byName.set(lower, created);
    this.byWire.set(nameToWire(lower), created);
    this.rebuildEnts();
    return true;
  }

  removeService(name: string): boolean {
    const lower = name.toLowerCase().replace(/\.$/, '');
    if (!this.byName.delete(lower)) return false;
    this.byWire.delete(nameToWire(lower));
    this.rebuildEnts();
    return true;
  }

  setAnswer(name: string, key: string, addresses: readonly string[], ttl?: number): boolean {
    if (ttl !== undefined && !(Number.isInteger(ttl) && ttl >= 0 && ttl <= 0x7fffffff)) {
      throw new VantageError('INTERNAL_ERR', `ttl ${ttl} for ${name}: expected an integer 0..2147483647`);
    }
    const entry = this.entry(name);
    const old = entry.answers.get(key);
    if (old && sameList(old.addresses, addresses) && old.ttlOverride === ttl) return false;
    entry.answers.set(key, encodeAnswer(entry.name, key, addresses, entry.ttl, ttl));
    entry.uniform = computeUniform(entry);
    return true;
  }

  retainKeys(name: string, keys: ReadonlySet<string>): boolean {
    const entry = this.entry(name);
    let changed = false;
    for (const key of [...entry.answers.keys()]) {
      if (key !== DEFAULT_KEY && !keys.has(key)) changed = entry.answers.delete(key) || changed;
    }
    if (changed) entry.uniform = computeUniform(entry);
    return changed;
  }

  getAnswer(name: string, key: string): { key: string; addresses: readonly string[]; ttl: number } | undefined {
    const entry = this.byName.get(name.toLowerCase().replace(/\.$/, ''));
    if (!entry) return undefined;
    const ans = entry.answers.get(key) ?? entry.answers.get(DEFAULT_KEY);
    return ans && { key: ans.key, addresses: ans.addresses, ttl: ans.ttl };
  }

  isUniform(name: string): boolean {
    return this.byName.get(name.toLowerCase().replace(/\.$/, ''))?.uniform ?? true;
  }

  services(): string[] {
    return [...this.byName.keys()];
  }

  /** The inputs of one service's answers (for DNS worker snapshots), or undefined when absent. */
  exportService(name: string): ServiceSnapshot | undefined {
    const entry = this.byName.get(name.toLowerCase().replace(/\.$/, ''));
    if (!entry) return undefined;
    const answers: ServiceSnapshot['answers'] = [];
    for (const a of entry.answers.values()) answers.push({ key: a.key, addresses: a.addresses, ttl: a.ttlOverride });
    return { name: entry.name, ttl: entry.ttl, answers };
  }

  countQueries(name: string, on: boolean): void {
    const entry = this.entry(name);
    if (on === (entry.counts !== undefined)) return;
    entry.counts = on ? new Map() : undefined;
    entry.uniform = computeUniform(entry);
  }

  queryCounts(name: string): ReadonlyMap<string, number> {
    return this.byName.get(name.toLowerCase().replace(/\.$/, ''))?.counts ?? new Map();
  }

  lookupWire(wireKey: string): WireService | undefined {
    return this.byWire.get(wireKey);
  }

  isEmptyNonTerminal(wireKey: string): boolean {
    return this.ents.has(wireKey);
  }

  private entry(name: string): ServiceEntry {
    const entry = this.byName.get(name.toLowerCase().replace(/\.$/, ''));
    if (!entry) throw new VantageError('INTERNAL_ERR', `unknown service "${name}": call setService first`);
    return entry;
  }

  private rebuildEnts(): void {
    const ents = new Set<string>();
    for (const name of this.byName.keys()) {
      const labels = name.split('.');
      for (let i = 1; i < labels.length; i++) {
        const parent = labels.slice(i).join('.');
        if (!this.byName.has(parent)) ents.add(nameToWire(parent));
      }
    }
    this.ents = ents;
  }
}

/**
 * Uniform when every key serves the same addresses and TTL: then the answer does not depend on
 * the client and ECS scope 0 lets caches share it (RFC 7871 §7.2.1).
 */
function computeUniform(entry: ServiceEntry): boolean {
  // Counted per answer key: every query must be mapped to its key.
  if (entry.counts) return false;
  let first: readonly string[] | undefined;
  let ttl: number | undefined;
  for (const ans of entry.answers.values()) {
    if (first === undefined) { first = ans.addresses; ttl = ans.ttl; }
    else if (!sameList(first, ans.addresses) || ans.ttl !== ttl) return false;
  }
  return true;
}
