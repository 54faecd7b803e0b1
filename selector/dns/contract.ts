// Contracts between the selector's parts. The ranking side (ingest → ranking) writes
// answers and the client map; the DNS side only reads them on the query path.
import type { Family } from '../../shared/prefix.js';

/** Key of the aggregate answer used when no fresh agent is mapped to a client. */
export const DEFAULT_KEY = '*';

/** How a client was mapped to an answer key (for `explain` and debugging). */
export type MatchVia = 'prefix' | 'resolver' | 'default';

export interface ClientMatch {
  /** Agent id, or DEFAULT_KEY. */
  key: string;
  /** ECS scope prefix length that keeps caches from reusing the answer for a client mapped elsewhere. */
  scope: number;
  via: MatchVia;
  /** The prefix that matched (text), when via is 'prefix' or a stale agent's prefix was skipped. */
  prefix?: string;
  /** The agent the prefix or resolver pointed at, even if it was skipped. */
  agent?: string;
  /** Why a matched agent was skipped (`stale`, `offline`, `unknown`). */
  skipped?: string;
}

/** Maps a client to an agent: LPM on prefixes, then resolver address, then default. */
export interface ClientMapper {
  /**
   * `client` is the ECS address (first `sourceLength` bits significant) or the packet
   * source address with full length; `source` is the packet's source address.
   */
  map(family: Family, client: Uint8Array, sourceLength: number, sourceFamily: Family, source: Uint8Array): ClientMatch;
  /** Replaces the prefix → agent map (configured + announced prefixes). Configured wins on conflict. */
  setPrefixes(entries: Iterable<{ prefix: string; agent: string }>): void;
  /** Replaces the resolver address → agent map. */
  setResolvers(entries: Iterable<{ address: string; agent: string }>): void;
  /** Agents whose data is fresh and usable; others are skipped (state given for explain). */
  setAgentStates(states: ReadonlyMap<string, 'fresh' | 'stale' | 'offline'>): void;
}

/** Precomputed answers per (service, key); A and AAAA are split from one ordered list. */
export interface AnswerTable {
  setService(name: string, ttl: number): void;
  removeService(name: string): void;
  /**
   * `addresses` best first (the A set and the AAAA set, in any interleaving: each family
   * keeps its own order); encodes wire bytes once. `ttl` overrides the service's TTL for
   * this answer (a shorter TTL while the answer is unsettled); omitted = the service TTL.
   */
  setAnswer(name: string, key: string, addresses: readonly string[], ttl?: number): void;
  /** Drops every per-agent answer of the service not in `keys` (agents gone). */
  retainKeys(name: string, keys: ReadonlySet<string>): void;
  /** The answer the DNS path would use for (name, key), falling back to DEFAULT_KEY. */
  getAnswer(name: string, key: string): { key: string; addresses: readonly string[]; ttl: number } | undefined;
  /** True when every key of the service has the same answer (ECS scope 0). */
  isUniform(name: string): boolean;
  services(): string[];
  /**
   * Counts the service's A/AAAA queries per answer key (the agent a client maps to, or
   * DEFAULT_KEY) for demand estimates; a counted service is never uniform, so every
   * query is mapped. Off by default.
   */
  countQueries?(name: string, on: boolean): void;
  /** Cumulative A/AAAA queries per answer key since counting was turned on (empty when off). */
  queryCounts?(name: string): ReadonlyMap<string, number>;
}
