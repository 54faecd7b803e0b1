// The LB's federation payloads (DESIGN.md "Federation"), built from what the LB knows:
// its configured identity, the client map (configured + announced prefixes and
// resolvers per agent) and the answer table's per-agent answer lists.
import { PROTOCOL_VERSION } from '../../shared/protocol.js';
import type { LbMap, LbRankings, LbStatus } from '../../shared/lb-protocol.js';
import { DEFAULT_KEY } from '../dns/contract.js';
import type { WireAnswerTable } from '../dns/answer-table.js';
import { nameToWire } from '../dns/names.js';
import type { UplinkConfig } from './config.js';

/** Prefixes and resolvers per agent, as the LB's client mapper uses them. */
export type AgentMap = ReadonlyMap<string, { prefixes: readonly string[]; resolvers: readonly string[] }>;

export function labelOf(cfg: UplinkConfig): string {
  return cfg.label ?? cfg.id;
}

export function buildLbMap(cfg: UplinkConfig, agents: AgentMap, nowMs: number): LbMap {
  const prefixes = new Set<string>();
  const resolvers = new Set<string>();
  for (const a of agents.values()) {
    for (const p of a.prefixes) prefixes.add(p);
    for (const r of a.resolvers) resolvers.add(r);
  }
  return {
    v: PROTOCOL_VERSION, lb: cfg.id, label: labelOf(cfg),
    nameservers: cfg.nameservers.map((n) => ({ name: n.name, address: n.address })),
    resolvers: [...resolvers], prefixes: [...prefixes], ts: nowMs,
  };
}

export function buildLbStatus(cfg: UplinkConfig, state: 'online' | 'offline', nowMs: number): LbStatus {
  return { v: PROTOCOL_VERSION, lb: cfg.id, state, ts: nowMs };
}

/**
 * Every service's answer lists: the default (aggregate) and one per agent that has its own
 * answer, with that agent's prefixes and resolvers so the backbone maps clients the same way.
 */
export function buildLbRankings(
  cfg: UplinkConfig, services: readonly string[], table: WireAnswerTable, agents: AgentMap, seq: number, nowMs: number,
): LbRankings {
  return {
    v: PROTOCOL_VERSION, lb: cfg.id, seq, ts: nowMs, intervalS: cfg.intervalS,
    services: services.flatMap((name) => {
      const svc = table.lookupWire(nameToWire(name));
      if (!svc) return [];
      const byAgent: LbRankings['services'][number]['byAgent'] = [];
      for (const [key, ans] of svc.answers) {
        if (key === DEFAULT_KEY) continue;
        const a = agents.get(key);
        if (!a || (a.prefixes.length === 0 && a.resolvers.length === 0)) continue; // unreachable by any client
        byAgent.push({ agent: key, prefixes: [...a.prefixes], resolvers: [...a.resolvers], addresses: [...ans.addresses] });
      }
      return [{ name: svc.name, ttl: svc.ttl, default: [...(svc.answers.get(DEFAULT_KEY)?.addresses ?? [])], byAgent }];
    }),
  };
}
