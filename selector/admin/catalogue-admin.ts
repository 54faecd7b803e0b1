// Operator changes made through the admin API: services, sites, drains and static
// prefixes, persisted in SQLite. selector.yaml stays the source of truth for what it
// lists (its rows are re-synced at start), so removing a configured service or site
// here is refused; drains are operator state and survive the re-sync (kept in
// admin_drains and re-applied at start).
import { VantageError } from '../../shared/errors.js';
import { parsePrefix, formatAddress } from '../../shared/prefix.js';
import { ServiceConfigSchema, SiteConfigSchema, zoneOf, type ZoneConfig } from '../config.js';
import type { ClientMapFeeder } from '../mapping/feeder.js';
import type { Store } from '../store/store.js';

/** An operator error with the HTTP status the admin API answers with. */
export class AdminError extends VantageError {
  constructor(readonly status: number, message: string) {
    super('ADMIN_ERR', message);
    this.name = 'AdminError';
  }
}

const DRAINS_SQL = `CREATE TABLE IF NOT EXISTS admin_drains (
  service TEXT NOT NULL, site TEXT NOT NULL, drained INTEGER NOT NULL, ts INTEGER NOT NULL, PRIMARY KEY (service, site))`;

function zodMessage(err: unknown): string {
  const issues = (err as { issues?: { path: PropertyKey[]; message: string }[] }).issues;
  const first = issues?.[0];
  return first ? `${first.path.map(String).join('.') || 'body'}: ${first.message}` : String(err);
}

function normPrefix(text: string): string {
  try {
    const p = parsePrefix(text);
    return `${formatAddress(p.family, p.bytes)}/${p.length}`;
  } catch {
    throw new AdminError(400, `invalid prefix "${text}"`);
  }
}

/** Admin-added prefixes grouped per agent, for ClientMapFeeder.setConfigured. */
function adminPrefixes(store: Store): { agent: string; prefixes: string[] }[] {
  const by = new Map<string, string[]>();
  for (const r of store.db.prepare(`SELECT prefix, agent FROM prefixes WHERE source = 'admin'`).all() as { prefix: string; agent: string }[]) {
    let list = by.get(r.agent);
    if (!list) by.set(r.agent, (list = []));
    list.push(r.prefix);
  }
  return [...by].map(([agent, prefixes]) => ({ agent, prefixes }));
}

/** At start, after the config sync: re-applies drains and loads admin prefixes into the feeder. */
export function loadAdminState(store: Store, feeder: ClientMapFeeder, configured: readonly { agent: string; prefixes: readonly string[] }[]): void {
  store.db.exec(DRAINS_SQL);
  for (const d of store.db.prepare('SELECT service, site, drained FROM admin_drains').all() as { service: string; site: string; drained: number }[]) {
    store.setDrained(d.service, d.site, d.drained === 1);
  }
  feeder.setConfigured([...configured, ...adminPrefixes(store)]);
}

export class CatalogueAdmin {
  constructor(
    private readonly store: Store,
    private readonly zones: readonly ZoneConfig[],
    private readonly feeder: ClientMapFeeder,
    private readonly configured: readonly { agent: string; prefixes: readonly string[] }[],
  ) {
    store.db.exec(DRAINS_SQL);
  }

  private serviceSource(name: string): string {
    const r = this.store.db.prepare('SELECT source FROM services WHERE name = ?').get(name) as { source: string } | undefined;
    if (!r) throw new AdminError(404, `unknown service "${name}"`);
    return r.source;
  }

  addService(body: unknown): string {
    let svc;
    try {
      svc = ServiceConfigSchema.parse(body);
    } catch (err) {
      throw new AdminError(400, zodMessage(err));
    }
    if (!zoneOf(this.zones, svc.name)) throw new AdminError(400, `"${svc.name}" is not inside any dns.zones entry`);
    if (this.store.db.prepare('SELECT 1 FROM services WHERE name = ?').get(svc.name)) throw new AdminError(409, `service "${svc.name}" already exists`);
    this.store.upsertService({ ...svc, sites: svc.sites.map((s) => ({ ...s })) }, 'admin');
    return svc.name;
  }

  removeService(name: string): void {
    if (this.serviceSource(name) === 'config') throw new AdminError(409, `service "${name}" is defined in selector.yaml; remove it there`);
    this.store.removeService(name);
  }

  addSite(service: string, body: unknown): string {
    this.serviceSource(service);
    let site;
    try {
      site = SiteConfigSchema.parse(body);
    } catch (err) {
      throw new AdminError(400, zodMessage(err));
    }
    if (this.store.db.prepare('SELECT 1 FROM sites WHERE service = ? AND id = ?').get(service, site.id)) throw new AdminError(409, `site "${site.id}" already exists in ${service}`);
    const addresses = site.addresses.length > 1 ? JSON.stringify(site.addresses) : null;
    this.store.db.prepare(`INSERT INTO sites (service, id, address, cost, weight, drained, source, position, addresses)
      VALUES (?, ?, ?, ?, ?, ?, 'admin', (SELECT COALESCE(MAX(position), 0) + 1 FROM sites WHERE service = ?), ?)`)
      .run(service, site.id, site.address, site.cost, site.weight, site.drained ? 1 : 0, service, addresses);
    return site.id;
  }

  private siteSource(service: string, site: string): string {
    this.serviceSource(service);
    const r = this.store.db.prepare('SELECT source FROM sites WHERE service = ? AND id = ?').get(service, site) as { source: string } | undefined;
    if (!r) throw new AdminError(404, `unknown site "${site}" in ${service}`);
    return r.source;
  }

  removeSite(service: string, site: string): void {
    if (this.siteSource(service, site) === 'config') throw new AdminError(409, `site "${site}" of ${service} is defined in selector.yaml; remove it there or drain it`);
    this.store.db.prepare('DELETE FROM sites WHERE service = ? AND id = ?').run(service, site);
  }

  setDrained(service: string, site: string, drained: boolean): void {
    this.siteSource(service, site);
    this.store.db.transaction(() => {
      this.store.setDrained(service, site, drained);
      this.store.db.prepare('INSERT INTO admin_drains (service, site, drained, ts) VALUES (?, ?, ?, ?) ON CONFLICT(service, site) DO UPDATE SET drained = excluded.drained, ts = excluded.ts')
        .run(service, site, drained ? 1 : 0, Date.now());
    })();
  }

  addPrefix(prefixText: string, agent: string): string {
    if (!/^[a-z0-9][a-z0-9-]{0,62}$/.test(agent)) throw new AdminError(400, `invalid agent id "${agent}"`);
    const prefix = normPrefix(prefixText);
    const taken = this.store.db.prepare(`SELECT agent, source FROM prefixes WHERE prefix = ? AND source != 'announced'`).get(prefix) as { agent: string; source: string } | undefined;
    if (taken) throw new AdminError(409, `prefix ${prefix} is already mapped to ${taken.agent} (${taken.source})`);
    this.store.db.prepare(`INSERT INTO prefixes (prefix, agent, source) VALUES (?, ?, 'admin')`).run(prefix, agent);
    this.applyPrefixes();
    return prefix;
  }

  removePrefix(prefixText: string): void {
    const prefix = normPrefix(prefixText);
    const rows = this.store.db.prepare('SELECT agent, source FROM prefixes WHERE prefix = ?').all(prefix) as { agent: string; source: string }[];
    if (!rows.length) throw new AdminError(404, `unknown prefix ${prefix}`);
    if (!rows.some((r) => r.source === 'admin')) {
      const r = rows[0] as { agent: string; source: string };
      throw new AdminError(409, r.source === 'static'
        ? `prefix ${prefix} is configured in selector.yaml; remove it there`
        : `prefix ${prefix} is announced by agent ${r.agent}; change the agent's prefixes`);
    }
    this.store.db.prepare(`DELETE FROM prefixes WHERE prefix = ? AND source = 'admin'`).run(prefix);
    this.applyPrefixes();
  }

  private applyPrefixes(): void {
    this.feeder.setConfigured([...this.configured, ...adminPrefixes(this.store)]);
    this.feeder.apply();
  }
}
