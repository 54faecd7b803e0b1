// Opening the selector database, in one place: WAL, synchronous=NORMAL, foreign keys,
// the schema, and the busy timeout of each kind of connection. StoreBase keeps the
// connection and prepares each statement once (on first use), refusing statements
// that write when the store was opened read-only.
import Database, { type Statement } from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { VantageError } from '../../shared/errors.js';
import { ADDED_COLUMNS, SCHEMA_SQL, SCHEMA_VERSION } from './schema.js';

/**
 * How a store is used:
 * - `daemon`: the running selector. better-sqlite3 is synchronous, so a long busy wait
 *   would freeze DNS while another connection holds the write lock; it waits 50 ms at
 *   most and the result writer retries later (selector-faults test).
 * - `tool`: a CLI command writing while the selector is stopped (may wait for a reader).
 * - `readonly`: `--db FILE` mode; the file must exist, nothing is created or written.
 */
export type StoreMode = 'daemon' | 'tool' | 'readonly';

/** The only place the busy timeout is set (sqlite.org/c3ref/busy_timeout.html). */
export const BUSY_TIMEOUT_MS: Readonly<Record<StoreMode, number>> = { daemon: 50, tool: 5000, readonly: 5000 };

/** The WAL file is truncated to this after a checkpoint (journal_size_limit). */
export const WAL_LIMIT_BYTES = 64 * 1024 * 1024;

/** Opens (creating if needed, unless read-only) the database file. */
export function openDatabase(path: string, mode: StoreMode = 'daemon'): Database.Database {
  try {
    if (mode === 'readonly') {
      const db = new Database(path, { readonly: true, fileMustExist: true });
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS.readonly}`);
      return db;
    }
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const db = new Database(path);
    // A new file gets incremental auto-vacuum, so pages freed by retention are given back
    // to the file system (retention.ts runs incremental_vacuum). The pragma only takes
    // effect before the first table exists, and before journal_mode = WAL (sqlite.org/pragma.html#pragma_auto_vacuum);
    // an older file keeps reusing its free pages and retention bounds its used pages.
    db.pragma('auto_vacuum = INCREMENTAL');
    db.pragma('journal_mode = WAL');
    // WAL + NORMAL: a crash may lose the last transactions, never corrupts (sqlite.org/wal.html).
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS[mode]}`);
    // After a checkpoint, the WAL file is cut back to this size rather than kept at its peak.
    db.pragma(`journal_size_limit = ${WAL_LIMIT_BYTES}`);
    db.exec(SCHEMA_SQL);
    for (const c of ADDED_COLUMNS) {
      const cols = db.prepare(`PRAGMA table_info(${c.table})`).all() as { name: string }[];
      if (!cols.some((x) => x.name === c.column)) db.exec(`ALTER TABLE ${c.table} ADD COLUMN ${c.column} ${c.decl}`);
    }
    db.prepare(`INSERT INTO meta (key, value) VALUES ('schema_version', ?)
      ON CONFLICT (key) DO UPDATE SET value = excluded.value WHERE CAST(value AS INTEGER) < CAST(excluded.value AS INTEGER)`).run(String(SCHEMA_VERSION));
    return db;
  } catch (err) {
    throw new VantageError('STORE_ERR', `cannot open database ${path}: ${(err as Error).message}`, { cause: err });
  }
}

/** The connection and the statement cache shared by the store's files. */
export class StoreBase {
  readonly db: Database.Database;
  private readonly statements = new Map<string, Statement>();

  constructor(readonly path: string, readonly mode: StoreMode = 'daemon') {
    this.db = openDatabase(path, mode);
  }

  get readOnly(): boolean {
    return this.mode === 'readonly';
  }

  /**
   * The prepared statement for `sql`, prepared on first use and then reused. For the
   * files of selector/store/ only: nothing outside the store writes SQL.
   */
  prep(sql: string): Statement {
    let st = this.statements.get(sql);
    if (!st) {
      st = this.db.prepare(sql);
      if (this.readOnly && !st.readonly) {
        throw new VantageError('STORE_ERR', `the database ${this.path} is open read-only; change it through the running selector's admin API, or with the selector stopped`);
      }
      this.statements.set(sql, st);
    }
    return st;
  }

  /** Runs `fn` in one transaction (rolled back as a whole if it throws). */
  tx<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
