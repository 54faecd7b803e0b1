// DESIGN.md ¶0039: services and sites are declared once, on the backbone. An LB with
// `uplink.catalogue: true` stores the backbone's catalogue as its own services (its own
// selector.yaml wins for a service it lists), remembers which ones came from the
// backbone so it can drop them when the backbone does, and then republishes its
// catalogue to its agents as usual.
import type { Catalogue } from '../../shared/protocol.js';
import type { ServiceRecord, Store } from '../store/store.js';

const TABLE_SQL = 'CREATE TABLE IF NOT EXISTS uplink_services (name TEXT PRIMARY KEY)';
/** What an LB uses for what the catalogue does not carry (the service config defaults). */
const DEFAULTS = { ttl: 30, answers: 2, policy: 'latency' } as const;

/** Applies the catalogue to the store; true when the LB's service list changed. */
export function applyBackboneCatalogue(store: Store, cat: Catalogue, configured: ReadonlySet<string>): boolean {
  store.db.exec(TABLE_SQL);
  const before = JSON.stringify(store.loadServices());
  const existing = new Map(store.loadServices().map((s) => [s.name, s]));
  const fromBackbone = new Set((store.db.prepare('SELECT name FROM uplink_services').all() as { name: string }[]).map((r) => r.name));
  store.db.transaction(() => {
    const listed = new Set<string>();
    for (const svc of cat.services) {
      const name = svc.name.toLowerCase().replace(/\.$/, '');
      listed.add(name);
      if (configured.has(name)) continue;
      const prev = existing.get(name);
      const record: ServiceRecord = {
        name, ttl: prev?.ttl ?? DEFAULTS.ttl, answers: prev?.answers ?? DEFAULTS.answers, policy: prev?.policy ?? DEFAULTS.policy,
        probe: svc.probe,
        sites: svc.sites.map((s) => ({ id: s.id, address: s.address, cost: 0, weight: 1, drained: s.drained === true })),
      };
      // Sites the backbone dropped go too: re-create the service from the catalogue.
      if (prev) store.removeService(name);
      store.upsertService(record, 'admin');
      store.db.prepare('INSERT OR IGNORE INTO uplink_services (name) VALUES (?)').run(name);
    }
    for (const name of fromBackbone) {
      if (listed.has(name) || configured.has(name)) continue;
      store.removeService(name);
      store.db.prepare('DELETE FROM uplink_services WHERE name = ?').run(name);
    }
  })();
  return JSON.stringify(store.loadServices()) !== before;
}
