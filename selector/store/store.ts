// The selector database: services and sites (config + admin-added), agents with
// their credentials, prefixes, and the decision log. Statements are prepared once;
// raw results and rollups are written by ResultWriter (results.ts) in batches.
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { VantageError } from '../../shared/errors.js';
import type { ProbeSpec } from '../../shared/protocol.js';
import type { AnswerSetMode, Policy, ServiceConfig } from '../config.js';
import { ADDED_COLUMNS, SCHEMA_SQL, SCHEMA_VERSION } from './schema.js';


export interface SiteRecord {
  id: string;
  /** The first address (the one-address form). */
  address: string;
  /** Every address of the site, `address` first; absent = [address]. */
  addresses?: string[] | undefined;
  cost: number;
  weight: number;
  drained: boolean;
}

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
}

export interface AgentRecord {
  id: string;
  pop: string | null;
  state: string;
  lastSeen: number | null;
  intervalS: number | null;
  lastSeq: number | null;
  announce: unknown;
  enrolled: boolean;
}

export interface EventRecord {
  ts: number;
  kind: string;
  agent?: string | undefined;
  service?: string | undefined;
  site?: string | undefined;
  detail?: unknown;
}

type Row = Record<string, unknown>;

function serviceRow(svc: Pick<ServiceRecord, 'name' | 'ttl' | 'answers' | 'policy' | 'probe' | 'answerSet' | 'ttlUnsettled'>): Record<string, unknown> {
  return {
    name: svc.name, ttl: svc.ttl, answers: svc.answers, policy: svc.policy, probe: JSON.stringify(svc.probe),
    answerSet: svc.answerSet ?? 'band', ttlUnsettled: svc.ttlUnsettled ?? null,
  };
}

function siteRow(service: string, site: SiteRecord): Record<string, unknown> {
  const many = site.addresses && (site.addresses.length > 1 || site.addresses[0] !== site.address);
  return {
    service, id: site.id, address: site.address, cost: site.cost, weight: site.weight, drained: site.drained ? 1 : 0,
    addresses: many ? JSON.stringify(site.addresses) : null,
  };
}

/** Opens (creating if needed) the database file with WAL and synchronous=NORMAL. */
export function openDatabase(path: string): Database.Database {
  try {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    db.pragma('journal_mode = WAL');
    // WAL + NORMAL: a crash may lose the last transactions, never corrupts (sqlite.org/wal.html).
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma('busy_timeout = 5000');
    db.exec(SCHEMA_SQL);
    for (const c of ADDED_COLUMNS) {
      const cols = db.prepare(`PRAGMA table_info(${c.table})`).all() as { name: string }[];
      if (!cols.some((x) => x.name === c.column)) db.exec(`ALTER TABLE ${c.table} ADD COLUMN ${c.column} ${c.decl}`);
    }
    db.prepare('INSERT OR IGNORE INTO meta (key, value) VALUES (?, ?)').run('schema_version', String(SCHEMA_VERSION));
    return db;
  } catch (err) {
    throw new VantageError('STORE_ERR', `cannot open database ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export class Store {
  readonly db: Database.Database;
  private readonly st;

  constructor(path: string) {
    this.db = openDatabase(path);
    const p = (sql: string) => this.db.prepare(sql);
    this.st = {
      upsertService: p(`INSERT INTO services (name, ttl, answers, policy, probe, source, position, answer_set, ttl_unsettled)
        VALUES (@name, @ttl, @answers, @policy, @probe, @source, @position, @answerSet, @ttlUnsettled)
        ON CONFLICT(name) DO UPDATE SET ttl=excluded.ttl, answers=excluded.answers, policy=excluded.policy, probe=excluded.probe, source=excluded.source, position=excluded.position,
        answer_set=excluded.answer_set, ttl_unsettled=excluded.ttl_unsettled`),
      upsertSite: p(`INSERT INTO sites (service, id, address, cost, weight, drained, source, position, addresses) VALUES (@service, @id, @address, @cost, @weight, @drained, @source, @position, @addresses)
        ON CONFLICT(service, id) DO UPDATE SET address=excluded.address, cost=excluded.cost, weight=excluded.weight, drained=excluded.drained, source=excluded.source, position=excluded.position,
        addresses=excluded.addresses`),
      configServices: p(`SELECT name FROM services WHERE source = 'config'`),
      configSites: p(`SELECT id FROM sites WHERE service = ? AND source = 'config'`),
      deleteService: p('DELETE FROM services WHERE name = ?'),
      deleteSite: p('DELETE FROM sites WHERE service = ? AND id = ?'),
      services: p('SELECT * FROM services ORDER BY position, name'),
      sites: p('SELECT * FROM sites ORDER BY service, position, id'),
      setDrained: p('UPDATE sites SET drained = ? WHERE service = ? AND id = ?'),
      agent: p('SELECT * FROM agents WHERE id = ?'),
      agents: p('SELECT * FROM agents ORDER BY id'),
      ensureAgent: p('INSERT OR IGNORE INTO agents (id, created) VALUES (?, ?)'),
      agentStatus: p('UPDATE agents SET state = ?, last_seen = MAX(COALESCE(last_seen, 0), ?) WHERE id = ?'),
      agentAnnounce: p('UPDATE agents SET pop = ?, announce = ?, last_seen = MAX(COALESCE(last_seen, 0), ?) WHERE id = ?'),
      agentMetrics: p('UPDATE agents SET last_seq = ?, interval_s = ?, last_seen = MAX(COALESCE(last_seen, 0), ?) WHERE id = ?'),
      credentials: p('SELECT pass_hash, pass_salt FROM agents WHERE id = ?'),
      setCredentials: p(`INSERT INTO agents (id, created, pass_hash, pass_salt) VALUES (?, ?, ?, ?)
        ON CONFLICT(id) DO UPDATE SET pass_hash = excluded.pass_hash, pass_salt = excluded.pass_salt`),
      removeAgent: p('DELETE FROM agents WHERE id = ?'),
      removeAgentPrefixes: p('DELETE FROM prefixes WHERE agent = ?'),
      announcedPrefixesDelete: p(`DELETE FROM prefixes WHERE agent = ? AND source = 'announced'`),
      staticPrefixesDelete: p(`DELETE FROM prefixes WHERE source = 'static'`),
      insertPrefix: p('INSERT OR IGNORE INTO prefixes (prefix, agent, source) VALUES (?, ?, ?)'),
      prefixes: p('SELECT prefix, agent, source FROM prefixes ORDER BY source DESC, agent, prefix'),
      insertEvent: p('INSERT INTO events (ts, kind, agent, service, site, detail) VALUES (?, ?, ?, ?, ?, ?)'),
      events: p('SELECT * FROM events WHERE ts >= ? ORDER BY id LIMIT ?'),
      pruneEvents: p('DELETE FROM events WHERE ts < ?'),
    };
  }

  /**
   * Config is the source of truth for what it lists: its services and sites are
   * upserted, config-sourced rows it no longer lists are deleted, admin-added rows stay.
   */
  syncConfigServices(services: readonly ServiceConfig[]): void {
    this.db.transaction(() => {
      const listed = new Set(services.map((s) => s.name));
      for (const row of this.st.configServices.all() as Row[]) {
        if (!listed.has(row.name as string)) this.st.deleteService.run(row.name);
      }
      services.forEach((svc, i) => {
        this.st.upsertService.run({ ...serviceRow(svc), source: 'config', position: i });
        const ids = new Set(svc.sites.map((s) => s.id));
        for (const row of this.st.configSites.all(svc.name) as Row[]) if (!ids.has(row.id as string)) this.st.deleteSite.run(svc.name, row.id);
        svc.sites.forEach((site, j) => this.st.upsertSite.run({ ...siteRow(svc.name, site), source: 'config', position: j }));
      });
    })();
  }

  /** Adds or updates a service (admin API); it persists across restarts. */
  upsertService(svc: ServiceRecord, source: 'config' | 'admin' = 'admin'): void {
    this.db.transaction(() => {
      this.st.upsertService.run({ ...serviceRow(svc), source, position: 1_000_000 });
      svc.sites.forEach((site, j) => this.st.upsertSite.run({ ...siteRow(svc.name, site), source, position: j }));
    })();
  }

  removeService(name: string): boolean {
    return this.st.deleteService.run(name).changes > 0;
  }

  setDrained(service: string, site: string, drained: boolean): boolean {
    return this.st.setDrained.run(drained ? 1 : 0, service, site).changes > 0;
  }

  /** All services with their sites, in configured order. */
  loadServices(): ServiceRecord[] {
    const byName = new Map<string, ServiceRecord>();
    for (const r of this.st.services.all() as Row[]) {
      byName.set(r.name as string, {
        name: r.name as string, ttl: r.ttl as number, answers: r.answers as number,
        policy: r.policy as Policy, probe: JSON.parse(r.probe as string) as ProbeSpec, sites: [],
        answerSet: (r.answer_set as AnswerSetMode | null) ?? 'band', ttlUnsettled: (r.ttl_unsettled as number | null) ?? null,
      });
    }
    for (const r of this.st.sites.all() as Row[]) {
      byName.get(r.service as string)?.sites.push({
        id: r.id as string, address: r.address as string, cost: r.cost as number, weight: r.weight as number, drained: r.drained === 1,
        addresses: r.addresses ? (JSON.parse(r.addresses as string) as string[]) : [r.address as string],
      });
    }
    return [...byName.values()];
  }

  private agentOf(r: Row): AgentRecord {
    return {
      id: r.id as string, pop: (r.pop as string | null) ?? null, state: r.state as string,
      lastSeen: (r.last_seen as number | null) ?? null, intervalS: (r.interval_s as number | null) ?? null,
      lastSeq: (r.last_seq as number | null) ?? null,
      announce: r.announce ? JSON.parse(r.announce as string) : null, enrolled: r.pass_hash != null,
    };
  }

  getAgent(id: string): AgentRecord | undefined {
    const r = this.st.agent.get(id) as Row | undefined;
    return r ? this.agentOf(r) : undefined;
  }

  listAgents(): AgentRecord[] {
    return (this.st.agents.all() as Row[]).map((r) => this.agentOf(r));
  }

  recordStatus(id: string, state: string, ts: number): void {
    this.st.ensureAgent.run(id, Date.now());
    this.st.agentStatus.run(state, ts, id);
  }

  recordAnnounce(id: string, pop: string, announce: unknown, prefixes: readonly string[], ts: number): void {
    this.db.transaction(() => {
      this.st.ensureAgent.run(id, Date.now());
      this.st.agentAnnounce.run(pop, JSON.stringify(announce), ts, id);
      this.st.announcedPrefixesDelete.run(id);
      for (const p of prefixes) this.st.insertPrefix.run(p, id, 'announced');
    })();
  }

  /** Called inside the result writer's transaction. */
  recordMetricsSeen(id: string, seq: number, intervalS: number, ts: number): void {
    this.st.ensureAgent.run(id, Date.now());
    this.st.agentMetrics.run(seq, intervalS, ts, id);
  }

  setStaticPrefixes(entries: readonly { agent: string; prefixes: readonly string[] }[]): void {
    this.db.transaction(() => {
      this.st.staticPrefixesDelete.run();
      for (const e of entries) for (const p of e.prefixes) this.st.insertPrefix.run(p, e.agent, 'static');
    })();
  }

  listPrefixes(): { prefix: string; agent: string; source: 'static' | 'announced' }[] {
    return this.st.prefixes.all() as { prefix: string; agent: string; source: 'static' | 'announced' }[];
  }

  getCredentials(id: string): { hash: Buffer; salt: Buffer } | undefined {
    const r = this.st.credentials.get(id) as Row | undefined;
    if (!r || r.pass_hash == null || r.pass_salt == null) return undefined;
    return { hash: r.pass_hash as Buffer, salt: r.pass_salt as Buffer };
  }

  setCredentials(id: string, hash: Buffer, salt: Buffer): void {
    this.st.setCredentials.run(id, Date.now(), hash, salt);
  }

  /** Removes the agent, its credentials and its prefixes; its results stay until retention. */
  removeAgent(id: string): boolean {
    return this.db.transaction(() => {
      this.st.removeAgentPrefixes.run(id);
      return this.st.removeAgent.run(id).changes > 0;
    })();
  }

  addEvent(e: EventRecord): void {
    this.st.insertEvent.run(e.ts, e.kind, e.agent ?? null, e.service ?? null, e.site ?? null, e.detail === undefined ? null : JSON.stringify(e.detail));
  }

  listEvents(sinceMs: number, limit = 1000): EventRecord[] {
    return (this.st.events.all(sinceMs, limit) as Row[]).map((r) => ({
      ts: r.ts as number, kind: r.kind as string, agent: (r.agent as string | null) ?? undefined,
      service: (r.service as string | null) ?? undefined, site: (r.site as string | null) ?? undefined,
      detail: r.detail ? JSON.parse(r.detail as string) : undefined,
    }));
  }

  pruneEvents(beforeMs: number): number {
    return this.st.pruneEvents.run(beforeMs).changes;
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
