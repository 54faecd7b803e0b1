// SQLite schema of the selector database. One file, WAL mode (readers such as the
// CLI never block the daemon's writer). Times are epoch milliseconds.
// Version 2 adds rollups_hourly (the 1-hour tier); opening a version-1 file creates it
// (CREATE TABLE IF NOT EXISTS) and nothing else changes.
export const SCHEMA_VERSION = 2;

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS services (
  name TEXT PRIMARY KEY,
  ttl INTEGER NOT NULL,
  answers INTEGER NOT NULL,
  policy TEXT NOT NULL,
  probe TEXT NOT NULL,
  source TEXT NOT NULL DEFAULT 'config',
  position INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sites (
  service TEXT NOT NULL REFERENCES services(name) ON DELETE CASCADE,
  id TEXT NOT NULL,
  address TEXT NOT NULL,
  cost REAL NOT NULL DEFAULT 0,
  weight REAL NOT NULL DEFAULT 1,
  drained INTEGER NOT NULL DEFAULT 0,
  source TEXT NOT NULL DEFAULT 'config',
  position INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (service, id)
);
CREATE TABLE IF NOT EXISTS agents (
  id TEXT PRIMARY KEY,
  pop TEXT,
  state TEXT NOT NULL DEFAULT 'unknown',
  last_seen INTEGER,
  interval_s INTEGER,
  last_seq INTEGER,
  announce TEXT,
  pass_hash BLOB,
  pass_salt BLOB,
  created INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS prefixes (
  prefix TEXT NOT NULL,
  agent TEXT NOT NULL,
  source TEXT NOT NULL,
  PRIMARY KEY (prefix, agent, source)
);
CREATE TABLE IF NOT EXISTS results (
  id INTEGER PRIMARY KEY,
  agent TEXT NOT NULL,
  service TEXT NOT NULL,
  site TEXT NOT NULL,
  ts INTEGER NOT NULL,
  ok INTEGER NOT NULL,
  status INTEGER,
  connect_ms REAL,
  tls_ms REAL,
  ttfb_ms REAL,
  total_ms REAL,
  bytes INTEGER NOT NULL,
  error TEXT
);
CREATE INDEX IF NOT EXISTS results_ts ON results(ts);
CREATE INDEX IF NOT EXISTS results_key_ts ON results(agent, service, site, ts);
CREATE TABLE IF NOT EXISTS rollups (
  agent TEXT NOT NULL,
  service TEXT NOT NULL,
  site TEXT NOT NULL,
  minute INTEGER NOT NULL,
  samples INTEGER NOT NULL,
  failures INTEGER NOT NULL,
  failure_classes TEXT NOT NULL,
  total_sum REAL NOT NULL,
  total_min REAL,
  total_max REAL,
  ttfb_sum REAL NOT NULL,
  ttfb_count INTEGER NOT NULL,
  histogram TEXT NOT NULL,
  PRIMARY KEY (agent, service, site, minute)
);
CREATE INDEX IF NOT EXISTS rollups_minute ON rollups(minute);
-- The 1-hour tier: 1-minute rollups older than a day are folded into these rows
-- (retention.ts); same columns, hour = floor(ts / 3600000). WITHOUT ROWID: the key is
-- the row, stored once (sqlite.org/withoutrowid.html).
CREATE TABLE IF NOT EXISTS rollups_hourly (
  agent TEXT NOT NULL,
  service TEXT NOT NULL,
  site TEXT NOT NULL,
  hour INTEGER NOT NULL,
  samples INTEGER NOT NULL,
  failures INTEGER NOT NULL,
  failure_classes TEXT NOT NULL,
  total_sum REAL NOT NULL,
  total_min REAL,
  total_max REAL,
  ttfb_sum REAL NOT NULL,
  ttfb_count INTEGER NOT NULL,
  histogram TEXT NOT NULL,
  PRIMARY KEY (agent, service, site, hour)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS rollups_hourly_hour ON rollups_hourly(hour);
CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY,
  ts INTEGER NOT NULL,
  kind TEXT NOT NULL,
  agent TEXT,
  service TEXT,
  site TEXT,
  detail TEXT
);
CREATE INDEX IF NOT EXISTS events_ts ON events(ts);
-- Operator drains (admin API or CLI): re-applied after each config sync at start, so a
-- drain of a site listed in selector.yaml survives restarts.
CREATE TABLE IF NOT EXISTS admin_drains (
  service TEXT NOT NULL,
  site TEXT NOT NULL,
  drained INTEGER NOT NULL,
  ts INTEGER NOT NULL,
  PRIMARY KEY (service, site)
);
`;

/**
 * Columns added after the first release: created on open when missing, so an older
 * database file keeps working (SQLite's ALTER TABLE ADD COLUMN is cheap).
 */
export const ADDED_COLUMNS: readonly { table: string; column: string; decl: string }[] = [
  { table: 'services', column: 'answer_set', decl: "TEXT NOT NULL DEFAULT 'band'" },
  { table: 'services', column: 'ttl_unsettled', decl: 'INTEGER' },
  /** JSON array of every address of the site (dual-stack); NULL = [address]. */
  { table: 'sites', column: 'addresses', decl: 'TEXT' },
  /** The address probed (its family selects the per-family window); NULL in old rows. */
  { table: 'results', column: 'address', decl: 'TEXT' },
  /** `proxy` for a proxy-cache service (DESIGN.md "Proxy-cache mode"); default `sites`. */
  { table: 'services', column: 'mode', decl: "TEXT NOT NULL DEFAULT 'sites'" },
  /** JSON `{share}` or `{rps}` (issue #10 §3); NULL = no capacity. */
  { table: 'sites', column: 'capacity', decl: 'TEXT' },
];

/** Upper bounds (ms) of the latency histogram buckets kept per rollup; the last bucket is open. */
export const HISTOGRAM_BOUNDS_MS = [5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000] as const;

export function histogramBucket(totalMs: number): number {
  for (let i = 0; i < HISTOGRAM_BOUNDS_MS.length; i++) if (totalMs <= (HISTOGRAM_BOUNDS_MS[i] as number)) return i;
  return HISTOGRAM_BOUNDS_MS.length;
}
