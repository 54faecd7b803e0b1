// The service catalogue in SQLite: services and sites from selector.yaml (source
// 'config', re-synced at every start) and those added by operators (source 'admin'),
// plus operator drains (admin_drains, re-applied after the sync). Typed methods only;
// the checks that turn bad requests into HTTP statuses live in admin/catalogue-admin.ts.
import type { ProbeSpec } from '../../shared/protocol.js';
import type { SiteSettings } from '../../shared/catalogue-settings.js';
import type { AnswerSetMode, Policy, ServiceConfig } from '../config.js';
import { StoreBase } from './database.js';

export interface SiteRecord {
  id: string;
  /** The first address (the one-address form). */
  address: string;
  /** Every address of the site, `address` first; absent = [address]. */
  addresses?: string[] | undefined;
  cost: number;
  weight: number;
  drained: boolean;
  /** Capacity (issue #10 §3): a share of the service's demand, or demand units; absent = none. */
  capacity?: SiteSettings['capacity'] | undefined;
}

export type ServiceMode = 'sites' | 'proxy';

export interface ServiceRecord {
  name: string;
  ttl: number;
  answers: number;
  policy: Policy;
  probe: ProbeSpec;
  sites: SiteRecord[];
  /** Default `band` (ranking/answer-set.ts). */
  answerSet?: AnswerSetMode | undefined;
  /** TTL while the answer is unsettled; absent = ttl/4, at least 5 s. */
  ttlUnsettled?: number | null | undefined;
  /** Default `sites`; `proxy` answers with the mapped agent's proxy-cache addresses. */
  mode?: ServiceMode | undefined;
}

export type Source = 'config' | 'admin';

/** What `services list` shows: records with where each row comes from. */
export interface SiteView extends SiteRecord { source: string }
export interface ServiceView {
  name: string; ttl: number; answers: number; policy: string; probe: unknown; source: string; sites: SiteView[];
  answerSet: AnswerSetMode; ttlUnsettled: number | null; mode: ServiceMode;
}

type Row = Record<string, unknown>;

/** A site's columns; `addresses` only for a multi-address site (NULL = [address]). */
function siteRow(site: SiteRecord): Record<string, unknown> {
  const many = site.addresses && (site.addresses.length > 1 || site.addresses[0] !== site.address);
  return {
    id: site.id, address: site.address, cost: site.cost, weight: site.weight, drained: site.drained ? 1 : 0,
    addresses: many ? JSON.stringify(site.addresses) : null,
    capacity: site.capacity ? JSON.stringify(site.capacity) : null,
  };
}

const SQL = {
  upsertService: `INSERT INTO services (name, ttl, answers, policy, probe, source, position, answer_set, ttl_unsettled, mode)
    VALUES (@name, @ttl, @answers, @policy, @probe, @source, @position, @answerSet, @ttlUnsettled, @mode)
    ON CONFLICT(name) DO UPDATE SET ttl=excluded.ttl, answers=excluded.answers, policy=excluded.policy, probe=excluded.probe, source=excluded.source, position=excluded.position,
    answer_set=excluded.answer_set, ttl_unsettled=excluded.ttl_unsettled, mode=excluded.mode`,
  upsertSite: `INSERT INTO sites (service, id, address, cost, weight, drained, source, position, addresses, capacity)
    VALUES (@service, @id, @address, @cost, @weight, @drained, @source, @position, @addresses, @capacity)
    ON CONFLICT(service, id) DO UPDATE SET address=excluded.address, cost=excluded.cost, weight=excluded.weight, drained=excluded.drained, source=excluded.source, position=excluded.position,
    addresses=excluded.addresses, capacity=excluded.capacity`,
  addSite: `INSERT INTO sites (service, id, address, cost, weight, drained, source, position, addresses, capacity)
    VALUES (@service, @id, @address, @cost, @weight, @drained, 'admin', (SELECT COALESCE(MAX(position), 0) + 1 FROM sites WHERE service = @service), @addresses, @capacity)`,
  configServices: `SELECT name FROM services WHERE source = 'config'`,
  configSites: `SELECT id FROM sites WHERE service = ? AND source = 'config'`,
  serviceSource: 'SELECT source FROM services WHERE name = ?',
  siteSource: 'SELECT source FROM sites WHERE service = ? AND id = ?',
  deleteService: 'DELETE FROM services WHERE name = ?',
  deleteSite: 'DELETE FROM sites WHERE service = ? AND id = ?',
  services: 'SELECT * FROM services ORDER BY position, name',
  sites: 'SELECT * FROM sites ORDER BY service, position, id',
  setDrained: 'UPDATE sites SET drained = ? WHERE service = ? AND id = ?',
  recordDrain: `INSERT INTO admin_drains (service, site, drained, ts) VALUES (?, ?, ?, ?)
    ON CONFLICT(service, site) DO UPDATE SET drained = excluded.drained, ts = excluded.ts`,
  drains: 'SELECT service, site, drained FROM admin_drains',
} as const;

export class CatalogueStore extends StoreBase {
  /**
   * Config is the source of truth for what it lists: its services and sites are
   * upserted, config-sourced rows it no longer lists are deleted, admin-added rows stay.
   */
  syncConfigServices(services: readonly ServiceConfig[]): void {
    this.tx(() => {
      const listed = new Set(services.map((s) => s.name));
      for (const row of this.prep(SQL.configServices).all() as Row[]) {
        if (!listed.has(row.name as string)) this.prep(SQL.deleteService).run(row.name);
      }
      services.forEach((svc, i) => {
        this.putService(svc, 'config', i);
        const ids = new Set(svc.sites.map((s) => s.id));
        for (const row of this.prep(SQL.configSites).all(svc.name) as Row[]) if (!ids.has(row.id as string)) this.prep(SQL.deleteSite).run(svc.name, row.id);
      });
    });
  }

  private putService(svc: Omit<ServiceRecord, 'sites'> & { sites: readonly SiteRecord[] }, source: Source, position: number): void {
    const { name, ttl, answers, policy, probe } = svc;
    this.prep(SQL.upsertService).run({
      name, ttl, answers, policy, probe: JSON.stringify(probe), source, position, answerSet: svc.answerSet ?? 'band', ttlUnsettled: svc.ttlUnsettled ?? null,
      mode: svc.mode ?? 'sites',
    });
    svc.sites.forEach((site, j) => this.prep(SQL.upsertSite).run({ ...siteRow(site), service: name, source, position: j }));
  }

  /** Adds or updates a service with its sites; it persists across restarts. */
  upsertService(svc: ServiceRecord, source: Source = 'admin'): void {
    this.tx(() => this.putService(svc, source, 1_000_000));
  }

  /** Where the service comes from; undefined when it does not exist. */
  serviceSource(name: string): Source | undefined {
    return (this.prep(SQL.serviceSource).get(name) as { source: Source } | undefined)?.source;
  }

  /** Where the site comes from; undefined when it (or its service) does not exist. */
  siteSource(service: string, site: string): Source | undefined {
    return (this.prep(SQL.siteSource).get(service, site) as { source: Source } | undefined)?.source;
  }

  /** Appends an operator-added site to an existing service. */
  addSite(service: string, site: SiteRecord): void {
    this.prep(SQL.addSite).run({ ...siteRow(site), service });
  }

  removeService(name: string): boolean {
    return this.prep(SQL.deleteService).run(name).changes > 0;
  }

  removeSite(service: string, site: string): boolean {
    return this.prep(SQL.deleteSite).run(service, site).changes > 0;
  }

  /** Sets the drained flag of the row only (a config sync resets it; see drainSite). */
  setDrained(service: string, site: string, drained: boolean): boolean {
    return this.prep(SQL.setDrained).run(drained ? 1 : 0, service, site).changes > 0;
  }

  /** An operator drain or undrain: applied now and remembered across config syncs. */
  drainSite(service: string, site: string, drained: boolean, nowMs = Date.now()): boolean {
    return this.tx(() => {
      const changed = this.setDrained(service, site, drained);
      if (changed) this.prep(SQL.recordDrain).run(service, site, drained ? 1 : 0, nowMs);
      return changed;
    });
  }

  /** Re-applies operator drains (at start, after syncConfigServices). */
  applyDrains(): void {
    this.tx(() => {
      for (const d of this.prep(SQL.drains).all() as Row[]) this.setDrained(d.service as string, d.site as string, d.drained === 1);
    });
  }

  /** All services with their sites, in configured order. */
  loadServices(): ServiceRecord[] {
    return this.listServices().map(({ source: _s, sites, ...svc }) => ({
      ...svc, policy: svc.policy as Policy, probe: svc.probe as ProbeSpec, sites: sites.map(({ source: _x, ...site }) => site),
    }));
  }

  /** Services and sites with their source, as `services list` prints them. */
  listServices(): ServiceView[] {
    const byName = new Map<string, ServiceView>();
    for (const r of this.prep(SQL.services).all() as Row[]) {
      byName.set(r.name as string, {
        name: r.name as string, ttl: r.ttl as number, answers: r.answers as number, policy: r.policy as string,
        probe: JSON.parse(r.probe as string), source: r.source as string, sites: [],
        // Columns added later (schema.ts ADDED_COLUMNS): absent in a file a newer selector has not opened yet.
        answerSet: (r.answer_set as AnswerSetMode | undefined) ?? 'band', ttlUnsettled: (r.ttl_unsettled as number | null | undefined) ?? null,
        mode: (r.mode as ServiceMode | undefined) ?? 'sites',
      });
    }
    for (const r of this.prep(SQL.sites).all() as Row[]) {
      byName.get(r.service as string)?.sites.push({
        id: r.id as string, address: r.address as string, cost: r.cost as number, weight: r.weight as number,
        addresses: r.addresses ? (JSON.parse(r.addresses as string) as string[]) : [r.address as string],
        drained: r.drained === 1, source: r.source as string,
        ...(r.capacity ? { capacity: JSON.parse(r.capacity as string) as SiteSettings['capacity'] } : {}),
      });
    }
    return [...byName.values()];
  }
}
