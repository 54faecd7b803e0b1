// The retained service catalogue (`vantage/v1/config/services`) agents probe from.
// probe.host is omitted when unset: agents then use the service name as Host/SNI.
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
        sites: s.sites.map((site) => (site.drained ? { id: site.id, address: site.address, drained: true } : { id: site.id, address: site.address })),
      };
    }),
  };
}
