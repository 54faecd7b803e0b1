// Operator changes to the catalogue and the client map: services, sites, drains and
// admin prefixes. Checks each request (schema, zone, source) and answers with an HTTP
// status; the rows are the store's (store/catalogue.ts, store/store.ts). Used by the
// admin API in the running daemon (with the live ClientMapFeeder) and by the CLI on
// the database file while the selector is stopped (no feeder; the next start loads it).
// selector.yaml stays the source of truth for what it lists: removing a configured
// service or site here is refused; drains are operator state and survive restarts.
import { AdminError } from '../../shared/errors.js';
import { parsePrefix, formatAddress } from '../../shared/prefix.js';
import { AGENT_ID_RE } from '../../shared/protocol.js';
import { serviceSettings, type SettingRejection } from '../../shared/catalogue-settings.js';
import { ServiceConfigSchema, SiteConfigSchema, zoneOf, type ZoneConfig } from '../config.js';
import type { ClientMapFeeder } from '../mapping/feeder.js';
import type { ServiceRecord, Store } from '../store/store.js';

// AdminError lives in the one error table; re-exported for the admin files that import it from here.
export { AdminError };

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

/** At start, after the config sync: re-applies drains and loads admin prefixes into the feeder. */
export function loadAdminState(store: Store, feeder: ClientMapFeeder, configured: readonly { agent: string; prefixes: readonly string[] }[]): void {
  store.applyDrains();
  feeder.setConfigured([...configured, ...store.adminPrefixes()]);
}

export class CatalogueAdmin {
  constructor(
    private readonly store: Store,
    private readonly zones: readonly ZoneConfig[],
    /** The daemon's feeder; undefined on a stopped selector's database file. */
    private readonly feeder: ClientMapFeeder | undefined,
    private readonly configured: readonly { agent: string; prefixes: readonly string[] }[],
  ) {}

  private serviceSource(name: string): string {
    const source = this.store.serviceSource(name);
    if (!source) throw new AdminError(404, `unknown service "${name}"`);
    return source;
  }

  addService(body: unknown): string {
    let svc;
    try {
      svc = ServiceConfigSchema.parse(body);
    } catch (err) {
      throw new AdminError(400, zodMessage(err));
    }
    if (!zoneOf(this.zones, svc.name)) throw new AdminError(400, `"${svc.name}" is not inside any dns.zones entry`);
    if (this.store.serviceSource(svc.name)) throw new AdminError(409, `service "${svc.name}" already exists`);
    this.store.upsertService({ ...svc, sites: svc.sites.map((s) => ({ ...s })) }, 'admin');
    return svc.name;
  }

  /**
   * `services set`: changes answer settings (ttl, answers, policy, answerSet, ttlUnsettled
   * — null = back to ttl/4 —, mode) of an operator-added service; the others stay.
   */
  updateSettings(name: string, body: unknown): void {
    const mine = this.store.loadServices().find((s) => s.name === name);
    if (!mine) throw new AdminError(404, `unknown service "${name}"`);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new AdminError(400, 'body: expected a JSON object of settings');
    const allowed = ['ttl', 'answers', 'policy', 'answerSet', 'ttlUnsettled', 'mode'];
    const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
    if (unknown.length) throw new AdminError(400, `${unknown[0]}: not a service setting (${allowed.join(', ')})`);
    if (!Object.keys(body).length) throw new AdminError(400, 'body: no setting given');
    const rejected: SettingRejection[] = [];
    const settings = serviceSettings({ ...(body as Record<string, unknown>), name }, rejected);
    if (rejected[0]) throw new AdminError(400, rejected[0].message);
    const next = { ...mine, ...settings };
    if ((body as { ttlUnsettled?: unknown }).ttlUnsettled === null) next.ttlUnsettled = null;
    if (next.ttlUnsettled != null && next.ttlUnsettled > next.ttl) throw new AdminError(400, `ttlUnsettled: ${next.ttlUnsettled} is longer than ttl ${next.ttl}`);
    this.setSettings(next);
  }

  /** Replaces the answer settings of an operator-added service (replicas: a newer catalogue's). */
  setSettings(svc: ServiceRecord): void {
    if (this.serviceSource(svc.name) === 'config') throw new AdminError(409, `service "${svc.name}" is defined in selector.yaml; change it there`);
    this.store.upsertService(svc, 'admin');
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
    if (this.store.siteSource(service, site.id)) throw new AdminError(409, `site "${site.id}" already exists in ${service}`);
    this.store.addSite(service, site);
    return site.id;
  }

  private siteSource(service: string, site: string): string {
    this.serviceSource(service);
    const source = this.store.siteSource(service, site);
    if (!source) throw new AdminError(404, `unknown site "${site}" in ${service}`);
    return source;
  }

  removeSite(service: string, site: string): void {
    if (this.siteSource(service, site) === 'config') throw new AdminError(409, `site "${site}" of ${service} is defined in selector.yaml; remove it there or drain it`);
    this.store.removeSite(service, site);
  }

  setDrained(service: string, site: string, drained: boolean): void {
    this.siteSource(service, site);
    this.store.drainSite(service, site, drained);
  }

  addPrefix(prefixText: string, agent: string): string {
    if (!AGENT_ID_RE.test(agent)) throw new AdminError(400, `invalid agent id "${agent}"`);
    const prefix = normPrefix(prefixText);
    const taken = this.store.prefixOwners(prefix).find((r) => r.source !== 'announced');
    if (taken) throw new AdminError(409, `prefix ${prefix} is already mapped to ${taken.agent} (${taken.source})`);
    this.store.addAdminPrefix(prefix, agent);
    this.applyPrefixes();
    return prefix;
  }

  removePrefix(prefixText: string): void {
    const prefix = normPrefix(prefixText);
    const rows = this.store.prefixOwners(prefix);
    if (!rows.length) throw new AdminError(404, `unknown prefix ${prefix}`);
    if (!rows.some((r) => r.source === 'admin')) {
      const r = rows[0] as { agent: string; source: string };
      throw new AdminError(409, r.source === 'static'
        ? `prefix ${prefix} is configured in selector.yaml; remove it there`
        : `prefix ${prefix} is announced by agent ${r.agent}; change the agent's prefixes`);
    }
    this.store.removeAdminPrefix(prefix);
    this.applyPrefixes();
  }

  /** Reloads selector.yaml's and the admin prefixes into the live client map (no-op on a file). */
  applyPrefixes(): void {
    if (!this.feeder) return;
    this.feeder.setConfigured([...this.configured, ...this.store.adminPrefixes()]);
    this.feeder.apply();
  }
}
