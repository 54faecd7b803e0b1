// Applies another replica's catalogue to this selector's database: the operator state
// (drains, services/sites/prefixes added through the admin API) follows the newer
// catalogue; what selector.yaml lists stays (config is the source of truth for it), so
// an item the two disagree on is skipped and reported as a conflict.
import { serviceSettings, siteSettings, type SettingRejection } from '../../shared/catalogue-settings.js';
import type { Catalogue } from '../../shared/protocol.js';
import type { CatalogueAdmin } from '../admin/catalogue-admin.js';
import type { ServiceRecord, Store } from '../store/store.js';

export interface ApplyOutcome {
  /** Changes made here. */
  changes: string[];
  /** Items skipped because this replica's selector.yaml says otherwise, or invalid here. */
  conflicts: string[];
  /** Answer settings dropped as invalid (the rest of the catalogue is applied). */
  rejected: SettingRejection[];
}

type Source = 'config' | 'admin';

function sources(store: Store): { services: Map<string, Source>; sites: Map<string, Source> } {
  const services = new Map<string, Source>();
  for (const r of store.db.prepare('SELECT name, source FROM services').all() as { name: string; source: Source }[]) services.set(r.name, r.source);
  const sites = new Map<string, Source>();
  for (const r of store.db.prepare('SELECT service, id, source FROM sites').all() as { service: string; id: string; source: Source }[]) sites.set(`${r.service}\u0000${r.id}`, r.source);
  return { services, sites };
}

/** Admin-added prefixes (published in the catalogue's `prefixes`). */
export function adminPrefixList(store: Store): { prefix: string; agent: string }[] {
  return store.db.prepare(`SELECT prefix, agent FROM prefixes WHERE source = 'admin' ORDER BY prefix`).all() as { prefix: string; agent: string }[];
}

/** The answer settings of a service and its sites, for comparison. */
function settingsKey(s: ServiceRecord): string {
  return JSON.stringify([s.ttl, s.answers, s.policy, s.answerSet ?? 'band', s.ttlUnsettled ?? null, s.mode ?? 'sites',
    s.sites.map((x) => [x.id, x.cost, x.weight, x.capacity ?? null])]);
}

export function applyCatalogue(store: Store, admin: CatalogueAdmin, remote: Catalogue): ApplyOutcome {
  const out: ApplyOutcome = { changes: [], conflicts: [], rejected: [] };
  const attempt = (what: string, fn: () => void): void => {
    try {
      fn();
      out.changes.push(what);
    } catch (err) {
      out.conflicts.push(`${what}: ${(err as Error).message}`);
    }
  };
  const src = sources(store);
  const local = new Map(store.loadServices().map((s) => [s.name, s]));
  const remoteNames = new Set<string>();
  for (const svc of remote.services) {
    remoteNames.add(svc.name);
    const mine = local.get(svc.name);
    const settings = serviceSettings(svc, out.rejected);
    const sites = svc.sites.map((x) => ({ id: x.id, address: x.address, ...(x.addresses ? { addresses: x.addresses } : {}), drained: x.drained ?? false, ...siteSettings(svc.name, x, out.rejected) }));
    if (!mine) {
      attempt(`service ${svc.name} added`, () => admin.addService({ name: svc.name, ...settings, probe: svc.probe, sites }));
      continue;
    }
    // Settings of an operator-added service follow the newer catalogue; selector.yaml's stay.
    if (src.services.get(svc.name) === 'admin') {
      const theirs = new Map(svc.sites.map((x, i) => [x.id, { raw: x, site: sites[i] as (typeof sites)[number] }]));
      // Absent = the default, as in applyBackboneCatalogue (a publisher leaves ttlUnsettled out when unset).
      const next: ServiceRecord = {
        ...mine, answerSet: 'band', mode: 'sites', ttlUnsettled: svc.ttlUnsettled === undefined ? null : mine.ttlUnsettled, ...settings,
        sites: mine.sites.map((x) => {
          const t = theirs.get(x.id);
          if (!t) return x;
          const capacity = t.site.capacity ?? (t.raw.capacity === undefined ? undefined : x.capacity);
          const { capacity: _old, ...rest } = x;
          return {
            ...rest, cost: t.site.cost ?? (t.raw.cost === undefined ? 0 : x.cost), weight: t.site.weight ?? (t.raw.weight === undefined ? 1 : x.weight),
            ...(capacity ? { capacity } : {}),
          };
        }),
      };
      if (next.ttlUnsettled != null && next.ttlUnsettled > next.ttl) next.ttlUnsettled = null;
      const changed = settingsKey(next) !== settingsKey(mine);
      if (changed) attempt(`service ${svc.name} settings`, () => admin.setSettings(next));
    }
    const mySites = new Map(mine.sites.map((x) => [x.id, x]));
    for (const site of sites) {
      const have = mySites.get(site.id);
      if (!have) {
        attempt(`site ${svc.name}/${site.id} added`, () => admin.addSite(svc.name, site));
      } else if (have.address !== site.address) {
        out.conflicts.push(`site ${svc.name}/${site.id}: address ${have.address} here, ${site.address} there`);
      } else if (have.drained !== site.drained) {
        attempt(`site ${svc.name}/${site.id} ${site.drained ? 'drained' : 'undrained'}`, () => admin.setDrained(svc.name, site.id, site.drained));
      }
    }
    const remoteSites = new Set(sites.map((x) => x.id));
    for (const id of mySites.keys()) {
      if (remoteSites.has(id)) continue;
      if (src.sites.get(`${svc.name}\u0000${id}`) === 'admin') attempt(`site ${svc.name}/${id} removed`, () => admin.removeSite(svc.name, id));
      else out.conflicts.push(`site ${svc.name}/${id} is in selector.yaml here, not there`);
    }
  }
  for (const name of local.keys()) {
    if (remoteNames.has(name)) continue;
    if (src.services.get(name) === 'admin') attempt(`service ${name} removed`, () => admin.removeService(name));
    else out.conflicts.push(`service ${name} is in selector.yaml here, not there`);
  }
  if (remote.prefixes) {
    const want = new Map(remote.prefixes.map((p) => [p.prefix, p.agent]));
    for (const p of adminPrefixList(store)) {
      if (want.get(p.prefix) !== p.agent) attempt(`prefix ${p.prefix} removed`, () => admin.removePrefix(p.prefix));
    }
    const have = new Map(adminPrefixList(store).map((p) => [p.prefix, p.agent]));
    for (const [prefix, agent] of want) {
      if (!have.has(prefix)) attempt(`prefix ${prefix} → ${agent} added`, () => admin.addPrefix(prefix, agent));
    }
  }
  return out;
}
