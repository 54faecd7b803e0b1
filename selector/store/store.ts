// The selector database behind typed methods: the catalogue (catalogue.ts), agents
// with their credentials, client prefixes (static from selector.yaml, admin-added,
// announced) and the decision log. Raw results and rollups are written in batches by
// ResultWriter (results.ts); read models for the operator commands are in queries.ts.
// Nothing outside selector/store/ writes SQL.
import { CatalogueStore } from './catalogue.js';
import type { StoreMode } from './database.js';

export type { ServiceRecord, ServiceView, SiteRecord, SiteView } from './catalogue.js';
export { BUSY_TIMEOUT_MS, openDatabase, type StoreMode } from './database.js';

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

export type PrefixSource = 'static' | 'admin' | 'announced';
export interface PrefixView { prefix: string; agent: string; source: PrefixSource }
export interface Credentials { hash: Buffer; salt: Buffer }

type Row = Record<string, unknown>;

const SQL = {
  agent: 'SELECT * FROM agents WHERE id = ?',
  agents: 'SELECT * FROM agents ORDER BY id',
  ensureAgent: 'INSERT OR IGNORE INTO agents (id, created) VALUES (?, ?)',
  agentStatus: 'UPDATE agents SET state = ?, last_seen = MAX(COALESCE(last_seen, 0), ?) WHERE id = ?',
  agentAnnounce: 'UPDATE agents SET pop = ?, announce = ?, last_seen = MAX(COALESCE(last_seen, 0), ?) WHERE id = ?',
  agentMetrics: 'UPDATE agents SET last_seq = ?, interval_s = ?, last_seen = MAX(COALESCE(last_seen, 0), ?) WHERE id = ?',
  credentials: 'SELECT pass_hash, pass_salt FROM agents WHERE id = ?',
  allCredentials: 'SELECT id, pass_hash, pass_salt FROM agents WHERE pass_hash IS NOT NULL AND pass_salt IS NOT NULL',
  setCredentials: `INSERT INTO agents (id, created, pass_hash, pass_salt) VALUES (?, ?, ?, ?)
    ON CONFLICT(id) DO UPDATE SET pass_hash = excluded.pass_hash, pass_salt = excluded.pass_salt`,
  removeAgent: 'DELETE FROM agents WHERE id = ?',
  removeAgentPrefixes: 'DELETE FROM prefixes WHERE agent = ?',
  announcedPrefixesDelete: `DELETE FROM prefixes WHERE agent = ? AND source = 'announced'`,
  staticPrefixesDelete: `DELETE FROM prefixes WHERE source = 'static'`,
  insertPrefix: 'INSERT OR IGNORE INTO prefixes (prefix, agent, source) VALUES (?, ?, ?)',
  prefixes: 'SELECT prefix, agent, source FROM prefixes ORDER BY agent, prefix, source',
  prefixOwners: 'SELECT agent, source FROM prefixes WHERE prefix = ? ORDER BY source DESC, agent',
  adminPrefixes: `SELECT prefix, agent FROM prefixes WHERE source = 'admin' ORDER BY agent, prefix`,
  deleteAdminPrefix: `DELETE FROM prefixes WHERE prefix = ? AND source = 'admin'`,
  insertEvent: 'INSERT INTO events (ts, kind, agent, service, site, detail) VALUES (?, ?, ?, ?, ?, ?)',
  events: 'SELECT * FROM events WHERE ts >= ? ORDER BY id LIMIT ?',
  pruneEvents: 'DELETE FROM events WHERE ts < ?',
  newestResult: 'SELECT MAX(ts) AS ts FROM results WHERE agent = ?',
  setMeta: 'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value',
  getMeta: 'SELECT value FROM meta WHERE key = ?',
  deleteMeta: 'DELETE FROM meta WHERE key = ?',
} as const;

/** Who runs the selector on this database (written at start, deleted at a clean stop). */
export interface DaemonMark { pid: number; http: string | null; startedAt: number }

export class Store extends CatalogueStore {
  /** `mode`: 'daemon' for the running selector, 'tool' for a CLI writing while it is stopped, 'readonly' for --db. */
  constructor(path: string, mode: StoreMode = 'daemon') {
    super(path, mode);
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
    const r = this.prep(SQL.agent).get(id) as Row | undefined;
    return r ? this.agentOf(r) : undefined;
  }

  listAgents(): AgentRecord[] {
    return (this.prep(SQL.agents).all() as Row[]).map((r) => this.agentOf(r));
  }

  /** Newest stored result of an agent (its data age while the daemon is down). */
  newestResultTs(agent: string): number | null {
    return (this.prep(SQL.newestResult).get(agent) as { ts: number | null }).ts;
  }

  recordStatus(id: string, state: string, ts: number): void {
    this.prep(SQL.ensureAgent).run(id, Date.now());
    this.prep(SQL.agentStatus).run(state, ts, id);
  }

  recordAnnounce(id: string, pop: string, announce: unknown, prefixes: readonly string[], ts: number): void {
    this.tx(() => {
      this.prep(SQL.ensureAgent).run(id, Date.now());
      this.prep(SQL.agentAnnounce).run(pop, JSON.stringify(announce), ts, id);
      this.prep(SQL.announcedPrefixesDelete).run(id);
      for (const p of prefixes) this.prep(SQL.insertPrefix).run(p, id, 'announced');
    });
  }

  /** Called inside the result writer's transaction. */
  recordMetricsSeen(id: string, seq: number, intervalS: number, ts: number): void {
    this.prep(SQL.ensureAgent).run(id, Date.now());
    this.prep(SQL.agentMetrics).run(seq, intervalS, ts, id);
  }

  setStaticPrefixes(entries: readonly { agent: string; prefixes: readonly string[] }[]): void {
    this.tx(() => {
      this.prep(SQL.staticPrefixesDelete).run();
      for (const e of entries) for (const p of e.prefixes) this.prep(SQL.insertPrefix).run(p, e.agent, 'static');
    });
  }

  /** Every prefix → agent row (static, admin, announced), by agent then prefix. */
  listPrefixes(): PrefixView[] {
    return this.prep(SQL.prefixes).all() as PrefixView[];
  }

  /** Who a prefix (normalised text) is mapped to, static first. */
  prefixOwners(prefix: string): { agent: string; source: PrefixSource }[] {
    return this.prep(SQL.prefixOwners).all(prefix) as { agent: string; source: PrefixSource }[];
  }

  /** Admin-added prefixes grouped per agent (for ClientMapFeeder.setConfigured). */
  adminPrefixes(): { agent: string; prefixes: string[] }[] {
    const by = new Map<string, string[]>();
    for (const r of this.prep(SQL.adminPrefixes).all() as { prefix: string; agent: string }[]) {
      let list = by.get(r.agent);
      if (!list) by.set(r.agent, (list = []));
      list.push(r.prefix);
    }
    return [...by].map(([agent, prefixes]) => ({ agent, prefixes }));
  }

  addAdminPrefix(prefix: string, agent: string): void {
    this.prep(SQL.insertPrefix).run(prefix, agent, 'admin');
  }

  removeAdminPrefix(prefix: string): boolean {
    return this.prep(SQL.deleteAdminPrefix).run(prefix).changes > 0;
  }

  getCredentials(id: string): Credentials | undefined {
    const r = this.prep(SQL.credentials).get(id) as Row | undefined;
    if (!r || r.pass_hash == null || r.pass_salt == null) return undefined;
    return { hash: r.pass_hash as Buffer, salt: r.pass_salt as Buffer };
  }

  /** Every enrolled agent's scrypt hash and salt (loaded once by the daemon). */
  listCredentials(): (Credentials & { id: string })[] {
    return (this.prep(SQL.allCredentials).all() as Row[]).map((r) => ({ id: r.id as string, hash: r.pass_hash as Buffer, salt: r.pass_salt as Buffer }));
  }

  setCredentials(id: string, hash: Buffer, salt: Buffer): void {
    this.prep(SQL.setCredentials).run(id, Date.now(), hash, salt);
  }

  /** Removes the agent, its credentials and its prefixes; its results stay until retention. */
  removeAgent(id: string): boolean {
    return this.tx(() => {
      this.prep(SQL.removeAgentPrefixes).run(id);
      return this.prep(SQL.removeAgent).run(id).changes > 0;
    });
  }

  /** Marks the database as served by a running daemon (CLI commands then refuse file mode). */
  markDaemon(mark: DaemonMark | undefined): void {
    if (mark) this.prep(SQL.setMeta).run('daemon', JSON.stringify(mark));
    else this.prep(SQL.deleteMeta).run('daemon');
  }

  daemonMark(): DaemonMark | undefined {
    const r = this.prep(SQL.getMeta).get('daemon') as { value: string } | undefined;
    return r ? JSON.parse(r.value) as DaemonMark : undefined;
  }

  addEvent(e: EventRecord): void {
    this.prep(SQL.insertEvent).run(e.ts, e.kind, e.agent ?? null, e.service ?? null, e.site ?? null, e.detail === undefined ? null : JSON.stringify(e.detail));
  }

  listEvents(sinceMs: number, limit = 1000): EventRecord[] {
    return (this.prep(SQL.events).all(sinceMs, limit) as Row[]).map((r) => ({
      ts: r.ts as number, kind: r.kind as string, agent: (r.agent as string | null) ?? undefined,
      service: (r.service as string | null) ?? undefined, site: (r.site as string | null) ?? undefined,
      detail: r.detail ? JSON.parse(r.detail as string) : undefined,
    }));
  }

  pruneEvents(beforeMs: number): number {
    return this.prep(SQL.pruneEvents).run(beforeMs).changes;
  }
}
