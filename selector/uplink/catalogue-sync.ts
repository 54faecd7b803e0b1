// DESIGN.md ¶0039: services and sites are declared once, on the backbone. An LB with
// `uplink.catalogue: true` stores the backbone's catalogue as its own services (its own
// selector.yaml wins for a service it lists), remembers which ones came from the
// backbone so it can drop them when the backbone does, and then republishes its
// catalogue to its agents as usual. The answer settings travel with the catalogue
// (shared/catalogue-settings.ts): ttl, answers, policy, answerSet, ttlUnsettled, mode,
// and per site cost, weight, capacity. A setting the catalogue lacks is the default (as
// in selector.yaml); one with an invalid value (counted by the caller) keeps the LB's
// previous value, else the default.
import { serviceSettings, siteSettings, type SettingRejection } from '../../shared/catalogue-settings.js';
import type { Catalogue } from '../../shared/protocol.js';
import type { ServiceRecord, SiteRecord, Store } from '../store/store.js';

const TABLE_SQL = 'CREATE TABLE IF NOT EXISTS uplink_services (name TEXT PRIMARY KEY)';
/** What an LB uses for what the catalogue does not carry (the service config defaults). */
const DEFAULTS = { ttl: 30, answers: 2, policy: 'latency', answerSet: 'band', mode: 'sites', cost: 0, weight: 1 } as const;

/** The LB's record of one catalogue service: the catalogue's valid settings; an invalid one keeps the previous value; an absent one is the default. */
export function recordFromCatalogue(svc: Catalogue['services'][number], name: string, prev: ServiceRecord | undefined, rejected: SettingRejection[]): ServiceRecord {
  const st = serviceSettings(svc, rejected);
  const prevSites = new Map(prev?.sites.map((s) => [s.id, s]));
  const sites = svc.sites.map((s): SiteRecord => {
    const ss = siteSettings(name, s, rejected);
    const old = prevSites.get(s.id);
    const capacity = ss.capacity ?? (s.capacity === undefined ? undefined : old?.capacity);
    return {
      id: s.id, address: s.address, ...(s.addresses ? { addresses: [...s.addresses] } : {}),
      cost: ss.cost ?? (s.cost === undefined ? undefined : old?.cost) ?? DEFAULTS.cost,
      weight: ss.weight ?? (s.weight === undefined ? undefined : old?.weight) ?? DEFAULTS.weight, drained: s.drained === true,
      ...(capacity ? { capacity } : {}),
    };
  });
  // Absent = the default (what the backbone's selector.yaml left unset); invalid = the previous value.
  const raw = svc as Record<string, unknown>;
  const setting = <K extends 'ttl' | 'answers' | 'policy' | 'answerSet' | 'mode'>(key: K): NonNullable<ServiceRecord[K]> =>
    (st[key] ?? (raw[key] === undefined ? undefined : prev?.[key]) ?? DEFAULTS[key]) as NonNullable<ServiceRecord[K]>;
  const ttl = setting('ttl');
  const ttlUnsettled = st.ttlUnsettled ?? (svc.ttlUnsettled === undefined ? null : prev?.ttlUnsettled ?? null);
  return {
    name, ttl, answers: setting('answers'), policy: setting('policy'), answerSet: setting('answerSet'), mode: setting('mode'),
    // Never longer than ttl (the config rule); null = ttl/4, at least 5 s.
    ttlUnsettled: ttlUnsettled !== null && ttlUnsettled > ttl ? null : ttlUnsettled,
    probe: svc.probe, sites,
  };
}

/**
 * Applies the catalogue to the store; true when the LB's services changed. Invalid
 * settings are appended to `rejected` (the service is applied without them).
 */
export function applyBackboneCatalogue(store: Store, cat: Catalogue, configured: ReadonlySet<string>, rejected: SettingRejection[] = []): boolean {
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
      const record = recordFromCatalogue(svc, name, prev, rejected);
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
