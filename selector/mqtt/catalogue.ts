// The retained service catalogue (`vantage/v1/config/services`) agents probe from.
// probe.host is omitted when unset: agents then use the service name as Host/SNI.
// A dual-stack site carries `address` (its first) and the optional `addresses` (all).
// The answer settings (ttl, answers, policy, answerSet, ttlUnsettled, mode; per site
// cost, weight, capacity) always travel (optional, additive: agents ignore them), so an
// LB serving a backbone's catalogue answers with the backbone's settings. The optional
// replica fields (rev, origin, configHash, prefixes) let other selectors on the same
// topic apply this catalogue.
import { PROTOCOL_VERSION, type Catalogue } from '../../shared/protocol.js';
import type { ServiceRecord } from '../store/store.js';

export interface ReplicaFields {
  rev: number;
  origin: string;
  configHash: string;
  prefixes: { prefix: string; agent: string }[];
}

export function buildCatalogue(services: readonly ServiceRecord[], nowMs: number, replica?: ReplicaFields): Catalogue {
  const out: Catalogue = {
    v: PROTOCOL_VERSION,
    ts: nowMs,
    services: services.map((s) => {
      const { host, ...probe } = s.probe;
      return {
        name: s.name,
        probe: host === undefined ? probe : { ...probe, host },
        sites: s.sites.map((site) => {
          // `addresses` only for multi-address sites: older agents read `address` and ignore it.
          const multi = site.addresses && site.addresses.length > 1 ? { addresses: [...site.addresses] } : {};
          const base = site.drained ? { id: site.id, address: site.address, ...multi, drained: true } : { id: site.id, address: site.address, ...multi };
          return { ...base, cost: site.cost, weight: site.weight, ...(site.capacity ? { capacity: { ...site.capacity } } : {}) };
        }),
        ttl: s.ttl, answers: s.answers, policy: s.policy, answerSet: s.answerSet ?? 'band',
        ...(s.ttlUnsettled != null ? { ttlUnsettled: s.ttlUnsettled } : {}),
        mode: s.mode ?? 'sites',
      };
    }),
  };
  return replica ? { ...out, rev: replica.rev, origin: replica.origin, configHash: replica.configHash, prefixes: replica.prefixes } : out;
}
