// The retained service catalogue (`vantage/v1/config/services`) agents probe from.
// probe.host is omitted when unset: agents then use the service name as Host/SNI.
// A dual-stack site carries `address` (its first) and the optional `addresses` (all).
import { PROTOCOL_VERSION, type Catalogue } from '../../shared/protocol.js';
import type { ServiceRecord } from '../store/store.js';

export function buildCatalogue(services: readonly ServiceRecord[], nowMs: number): Catalogue {
  return {
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
          return site.drained ? { id: site.id, address: site.address, ...multi, drained: true } : { id: site.id, address: site.address, ...multi };
        }),
      };
    }),
  };
}
