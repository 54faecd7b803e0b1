// Read-only views of the selector database shared by the admin API (daemon's own
// connection) and the CLI's `--db FILE` mode (a read-only connection while the
// daemon is down). Plain SQL over the schema in store/schema.ts; nothing here writes.
import Database from 'better-sqlite3';
import { VantageError } from '../../shared/errors.js';

type Row = Record<string, unknown>;
export type Db = Database.Database;

export interface SiteView { id: string; address: string; addresses: string[]; cost: number; weight: number; drained: boolean; source: string }
export interface ServiceView {
  name: string; ttl: number; answers: number; policy: string; probe: unknown; source: string; sites: SiteView[];
  answerSet: string; ttlUnsettled: number | null;
}
export interface PrefixView { prefix: string; agent: string; source: string }

/** Opens the database file read-only (the daemon may be down; WAL readers never block it). */
export function openReadOnly(path: string): Db {
  try {
    const db = new Database(path, { readonly: true, fileMustExist: true });
    db.pragma('busy_timeout = 5000');
    return db;
  } catch (err) {
    throw new VantageError('STORE_ERR', `cannot open database ${path}: ${(err as Error).message}`, { cause: err });
  }
}

export function listServices(db: Db): ServiceView[] {
  const byName = new Map<string, ServiceView>();
  for (const r of db.prepare('SELECT * FROM services ORDER BY position, name').all() as Row[]) {
    byName.set(r.name as string, {
      name: r.name as string, ttl: r.ttl as number, answers: r.answers as number, policy: r.policy as string,
      probe: JSON.parse(r.probe as string), source: r.source as string, sites: [],
      // Columns added later (store/schema.ts ADDED_COLUMNS): absent in a database not yet opened by a newer selector.
      answerSet: (r.answer_set as string | undefined) ?? 'band', ttlUnsettled: (r.ttl_unsettled as number | null | undefined) ?? null,
    });
  }
  for (const r of db.prepare('SELECT * FROM sites ORDER BY service, position, id').all() as Row[]) {
    byName.get(r.service as string)?.sites.push({
      id: r.id as string, address: r.address as string, cost: r.cost as number, weight: r.weight as number,
      addresses: r.addresses ? (JSON.parse(r.addresses as string) as string[]) : [r.address as string],
      drained: r.drained === 1, source: r.source as string,
    });
  }
  return [...byName.values()];
}

export function listPrefixes(db: Db): PrefixView[] {
  return db.prepare('SELECT prefix, agent, source FROM prefixes ORDER BY agent, prefix, source').all() as PrefixView[];
}

export interface AgentRow {
  id: string;
  pop: string | null;
  status: string;
  lastSeen: number | null;
  intervalS: number | null;
  lastSeq: number | null;
  enrolled: boolean;
  addresses: string[];
  prefixes: string[];
  resolvers: string[];
  version: string | null;
}

export function listAgentRows(db: Db): AgentRow[] {
  return (db.prepare('SELECT * FROM agents ORDER BY id').all() as Row[]).map((r) => {
    const ann = (r.announce ? JSON.parse(r.announce as string) : {}) as { addresses?: string[]; prefixes?: string[]; resolvers?: string[] };
    return {
      id: r.id as string, pop: (r.pop as string | null) ?? null, status: r.state as string,
      lastSeen: (r.last_seen as number | null) ?? null, intervalS: (r.interval_s as number | null) ?? null,
      lastSeq: (r.last_seq as number | null) ?? null, enrolled: r.pass_hash != null,
      addresses: ann.addresses ?? [], prefixes: ann.prefixes ?? [], resolvers: ann.resolvers ?? [], version: null,
    };
  });
}

/** Newest result timestamp per agent (data age when the daemon is down). */
export function newestResultTs(db: Db, agent: string): number | null {
  const r = db.prepare('SELECT MAX(ts) AS ts FROM results WHERE agent = ?').get(agent) as { ts: number | null };
  return r.ts;
}
