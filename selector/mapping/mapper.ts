// Client → agent mapping for the DNS path: longest-prefix match over client prefixes,
// then the packet source against announced resolver addresses, then DEFAULT_KEY.
import { DEFAULT_KEY, type ClientMapper, type ClientMatch } from '../dns/contract.js';
import { PrefixTable, parseAddress, parsePrefix, type Family } from '../../shared/prefix.js';

interface PrefixValue {
  readonly agent: string;
  readonly text: string;
}

export interface PrefixEntry {
  prefix: string;
  agent: string;
  /** Configured prefixes (selector.yaml) win over announced ones on conflict. */
  configured?: boolean;
}

type AgentState = 'fresh' | 'stale' | 'offline';

/** IPv4 resolver key as a number, IPv6 as hex; cheap and collision-free per family. */
function resolverKey(family: Family, bytes: Uint8Array): number | string {
  if (family === 4) return (((bytes[0] ?? 0) << 24) | ((bytes[1] ?? 0) << 16) | ((bytes[2] ?? 0) << 8) | (bytes[3] ?? 0)) >>> 0;
  return Buffer.from(bytes.buffer, bytes.byteOffset, 16).toString('hex');
}

export class PrefixClientMapper implements ClientMapper {
  private prefixes = new PrefixTable<PrefixValue>();
  private resolvers = new Map<number | string, string>();
  private states: ReadonlyMap<string, AgentState> = new Map();
  private hasPrefixes: Record<Family, boolean> = { 4: false, 6: false };

  map(family: Family, client: Uint8Array, sourceLength: number, sourceFamily: Family, source: Uint8Array): ClientMatch {
    // Scope comes from the trie: the widest block around the client where every
    // address gets the same LPM result, so nested prefixes of other agents are never
    // covered by a cached answer (RFC 7871 §7.3.1). No prefixes at all → scope 0.
    let scope = 0;
    if (this.hasPrefixes[family]) {
      const found = this.prefixes.lookup(family, client, sourceLength);
      scope = found.scope;
      const match = found.match;
      if (match) {
        const { agent, text } = match.value;
        const state = this.states.get(agent);
        if (state === 'fresh') return { key: agent, scope, via: 'prefix', prefix: text, agent };
        // DESIGN.md: a stale or offline agent's clients fall back to the default. The
        // prefix is the most specific knowledge we have, so the resolver is not tried.
        return { key: DEFAULT_KEY, scope, via: 'default', prefix: text, agent, skipped: state ?? 'unknown' };
      }
    }
    if (this.resolvers.size > 0) {
      const agent = this.resolvers.get(resolverKey(sourceFamily, source));
      if (agent !== undefined) {
        const state = this.states.get(agent);
        if (state === 'fresh') return { key: agent, scope, via: 'resolver', agent };
        return { key: DEFAULT_KEY, scope, via: 'default', agent, skipped: state ?? 'unknown' };
      }
    }
    return { key: DEFAULT_KEY, scope, via: 'default' };
  }

  /** Replaces the prefix map. Configured entries win; otherwise the first entry for a prefix wins. */
  setPrefixes(entries: Iterable<PrefixEntry>): void {
    const chosen = new Map<string, { family: Family; bytes: Uint8Array; length: number; value: PrefixValue; configured: boolean }>();
    for (const e of entries) {
      const p = parsePrefix(e.prefix);
      const configured = e.configured === true;
      const prev = chosen.get(p.text);
      if (prev && (prev.configured || !configured)) continue;
      chosen.set(p.text, { family: p.family, bytes: p.bytes, length: p.length, value: { agent: e.agent, text: p.text }, configured });
    }
    const table = new PrefixTable<PrefixValue>();
    const has: Record<Family, boolean> = { 4: false, 6: false };
    for (const c of chosen.values()) {
      table.set({ family: c.family, bytes: c.bytes, length: c.length, text: c.value.text }, c.value);
      has[c.family] = true;
    }
    // Swap whole tables so a query never sees a half-built map.
    this.prefixes = table;
    this.hasPrefixes = has;
  }

  setResolvers(entries: Iterable<{ address: string; agent: string }>): void {
    const map = new Map<number | string, string>();
    for (const e of entries) {
      const { family, bytes } = parseAddress(e.address);
      map.set(resolverKey(family, bytes), e.agent);
    }
    this.resolvers = map;
  }

  setAgentStates(states: ReadonlyMap<string, AgentState>): void {
    this.states = new Map(states);
  }

  /** Number of prefixes loaded (both families). */
  get prefixCount(): number {
    return this.prefixes.size;
  }
}
