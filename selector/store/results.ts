// Batched writer for raw results, 1-minute rollups, agent sequence marks and the
// decision log. Ingest queues rows; one transaction per flush (every flushMs or
// maxRows) keeps SQLite far above the ingest target. Rollups of the open minutes
// are kept in memory and written every rollupWriteMs (one row per key, not per
// result). Retention (pruning, tiering, the size budget) is retention.ts.
import type { Statement } from 'better-sqlite3';
import type { ErrorClass } from '../../shared/protocol.js';
import { emptyRollup, foldResult, mergeRow, rollupParams, type Rollup } from './rollup.js';
import type { EventRecord, Store } from './store.js';

export interface StoredResult {
  agent: string;
  service: string;
  site: string;
  /** The probed address (its family picks the per-family window); null in rows stored before it was kept. */
  address?: string | null | undefined;
  ts: number;
  ok: boolean;
  status: number | null;
  connectMs: number | null;
  tlsMs: number | null;
  ttfbMs: number | null;
  totalMs: number | null;
  bytes: number;
  error: ErrorClass | null;
}

export interface ResultWriterOptions {
  flushMs?: number;
  maxRows?: number;
  /** How often in-memory rollups are written (ms); default 5000. */
  rollupWriteMs?: number;
  onError?: (err: unknown) => void;
  /** Results kept for retry while the database refuses writes; the oldest are dropped past it. */
  maxRetryRows?: number;
  /** Wait before retrying after a failed write (ms); default 1000. */
  retryMs?: number;
}

type Row = Record<string, unknown>;

export class ResultWriter {
  private results: StoredResult[] = [];
  /** Already folded into the rollups, not yet committed (a write failed): retried as is. */
  private retry: StoredResult[] = [];
  private readonly maxRetryRows: number;
  private readonly retryMs: number;
  /** Results dropped because the database refused writes for too long. */
  dropped = 0;
  /** True while the last write failed (the selector answers from memory meanwhile). */
  failing = false;
  private closed = false;
  private events: EventRecord[] = [];
  private seen = new Map<string, { seq: number; intervalS: number; ts: number }>();
  private timer: NodeJS.Timeout | undefined;
  /** Open rollups by key; `gen` = the rollup write (writeGen) during which it was last touched. */
  private readonly rollups = new Map<string, { u: Rollup; gen: number }>();
  private readonly dirtyRollups = new Set<Rollup>();
  private writeGen = 0;
  /** Rollup rows with a later minute are not in the database unless in memory (see rollupFor). */
  private loadedMaxMinute: number;
  private rollupsWrittenAt = 0;
  private readonly rollupWriteMs: number;
  private readonly flushMs: number;
  private readonly maxRows: number;
  private readonly onError: (err: unknown) => void;
  private readonly insertResult: Statement;
  private readonly getRollup: Statement;
  private readonly putRollup: Statement;
  private readonly sinceStmt: Statement;
  /** Rows committed since start (for benchmarks and metrics). */
  committed = 0;

  constructor(private readonly store: Store, opts: ResultWriterOptions = {}) {
    this.flushMs = opts.flushMs ?? 100;
    this.maxRows = opts.maxRows ?? 5000;
    this.rollupWriteMs = opts.rollupWriteMs ?? 5000;
    this.onError = opts.onError ?? (() => {});
    this.maxRetryRows = opts.maxRetryRows ?? 200_000;
    this.retryMs = opts.retryMs ?? 1000;
    // A lock held elsewhere fails a flush after BUSY_TIMEOUT_MS.daemon (database.ts); retried after retryMs.
    const db = store.db;
    this.insertResult = db.prepare(`INSERT INTO results (agent, service, site, ts, ok, status, connect_ms, tls_ms, ttfb_ms, total_ms, bytes, error, address)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.getRollup = db.prepare('SELECT * FROM rollups WHERE agent = ? AND service = ? AND site = ? AND minute = ?');
    // An upsert rewrites an open minute's row in place (REPLACE deleted and re-inserted it,
    // touching both indexes each time: ~6 writes per key-minute at 10 s probes and 5 s writes).
    this.putRollup = db.prepare(`INSERT INTO rollups (agent, service, site, minute, samples, failures, failure_classes, total_sum, total_min, total_max, ttfb_sum, ttfb_count, histogram)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
      ON CONFLICT (agent, service, site, minute) DO UPDATE SET samples = excluded.samples, failures = excluded.failures,
        failure_classes = excluded.failure_classes, total_sum = excluded.total_sum, total_min = excluded.total_min, total_max = excluded.total_max,
        ttfb_sum = excluded.ttfb_sum, ttfb_count = excluded.ttfb_count, histogram = excluded.histogram`);
    // Rows of later minutes than any in the file at start cannot exist unless this writer
    // wrote (and later dropped from memory) them: their first result needs no SELECT.
    this.loadedMaxMinute = (db.prepare('SELECT MAX(minute) AS m FROM rollups').get() as { m: number | null }).m ?? -Infinity;
    this.sinceStmt = db.prepare('SELECT * FROM results WHERE ts >= ? ORDER BY ts, id');
  }

  addResults(rows: readonly StoredResult[]): void {
    for (const r of rows) this.results.push(r);
    this.schedule();
  }

  markSeen(agent: string, seq: number, intervalS: number, ts: number): void {
    this.seen.set(agent, { seq, intervalS, ts });
    this.schedule();
  }

  /** A removed agent: its queued sequence mark must not re-create its row at the next flush. */
  forgetAgent(agent: string): void { this.seen.delete(agent); }

  addEvent(e: EventRecord): void {
    this.events.push(e);
    this.schedule();
  }

  get pending(): number {
    return this.results.length + this.retry.length;
  }

  private schedule(): void {
    if (this.results.length >= this.maxRows) {
      this.flush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, this.flushMs);
  }

  /** Writes everything queued in one transaction; `all` also writes every open rollup. */
  flush(all = false): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const writeRollups = all || Date.now() - this.rollupsWrittenAt >= this.rollupWriteMs;
    if (!this.results.length && !this.retry.length && !this.events.length && !this.seen.size && !(writeRollups && this.dirtyRollups.size)) {
      this.scheduleRollups();
      return;
    }
    // Fold into the in-memory rollups once, outside the transaction, so a failed write
    // that is retried never counts a result twice (reads are never blocked in WAL).
    const fresh = this.results;
    this.results = [];
    let folded = 0;
    try {
      for (; folded < fresh.length; folded++) foldResult(this.rollupFor(fresh[folded] as StoredResult), fresh[folded] as StoredResult);
    } catch (err) {
      this.retry = this.retry.concat(fresh.slice(0, folded));
      this.results = fresh.slice(folded).concat(this.results);
      this.failed(err);
      return;
    }
    const results = this.retry.length ? this.retry.concat(fresh) : fresh;
    const events = this.events;
    const seen = this.seen;
    this.retry = [];
    this.events = [];
    this.seen = new Map();
    try {
      this.store.db.transaction(() => {
        for (const r of results) {
          this.insertResult.run(r.agent, r.service, r.site, r.ts, r.ok ? 1 : 0, r.status, r.connectMs, r.tlsMs, r.ttfbMs, r.totalMs, r.bytes, r.error, r.address ?? null);
        }
        if (writeRollups) this.writeRollups();
        for (const [agent, s] of seen) this.store.recordMetricsSeen(agent, s.seq, s.intervalS, s.ts);
        for (const e of events) this.store.addEvent(e);
      })();
      this.committed += results.length;
      this.failing = false;
    } catch (err) {
      // The transaction rolled back as a whole: keep everything for the next attempt.
      const over = results.length - this.maxRetryRows;
      this.retry = over > 0 ? results.slice(over) : results;
      if (over > 0) this.dropped += over;
      this.events = events.concat(this.events).slice(-10_000);
      for (const [agent, s] of this.seen) seen.set(agent, s);
      this.seen = seen;
      this.failed(err);
      return;
    }
    this.scheduleRollups();
  }

  /** A write failed: report it and try again after retryMs (not at the next result). */
  private failed(err: unknown): void {
    this.failing = true;
    this.onError(err);
    if (!this.timer && !this.closed) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.flush();
      }, this.retryMs);
    }
  }

  /** Makes sure dirty rollups get written even when no more results arrive. */
  private scheduleRollups(): void {
    if (this.timer || !this.dirtyRollups.size) return;
    const waitMs = Math.max(0, this.rollupsWrittenAt + this.rollupWriteMs - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush();
    }, waitMs);
  }

  /** The open rollup for a result's minute, loaded from the DB the first time (restart mid-minute). */
  private rollupFor(r: StoredResult): Rollup {
    const minute = Math.floor(r.ts / 60_000);
    const key = `${r.agent}\0${r.service}\0${r.site}\0${minute}`;
    let e = this.rollups.get(key);
    if (!e) {
      const u = emptyRollup(r.agent, r.service, r.site, minute);
      const old = minute <= this.loadedMaxMinute ? this.getRollup.get(r.agent, r.service, r.site, minute) as Row | undefined : undefined;
      if (old) mergeRow(u, old);
      this.rollups.set(key, (e = { u, gen: this.writeGen }));
    }
    e.gen = this.writeGen;
    this.dirtyRollups.add(e.u);
    return e.u;
  }

  private writeRollups(): void {
    for (const r of this.dirtyRollups) {
      this.putRollup.run(...rollupParams(r));
    }
    this.dirtyRollups.clear();
    this.rollupsWrittenAt = Date.now();
    // Minutes more than 2 minutes old are closed once nothing touched them during the last two
    // writes (≥ 2 × rollupWriteMs): late results reload the row. (A key still fed — a replay, agents catching up —
    // stays in memory: reloading it for every result cost a SELECT and a JSON parse each.)
    const open = Math.floor(Date.now() / 60_000) - 2;
    for (const [key, e] of this.rollups) {
      if (e.u.slot >= open || e.gen >= this.writeGen - 1) continue;
      this.rollups.delete(key);
      // Its row is in the database now: a late result must load it.
      if (e.u.slot > this.loadedMaxMinute) this.loadedMaxMinute = e.u.slot;
    }
    this.writeGen++;
  }

  /** Results with ts ≥ sinceMs, oldest first (window rebuild at start). */
  *resultsSince(sinceMs: number): Generator<StoredResult> {
    for (const r of this.sinceStmt.iterate(sinceMs) as Iterable<Row>) {
      yield {
        agent: r.agent as string, service: r.service as string, site: r.site as string, address: (r.address as string | null) ?? null, ts: r.ts as number,
        ok: r.ok === 1, status: r.status as number | null, connectMs: r.connect_ms as number | null,
        tlsMs: r.tls_ms as number | null, ttfbMs: r.ttfb_ms as number | null, totalMs: r.total_ms as number | null,
        bytes: r.bytes as number, error: r.error as ErrorClass | null,
      };
    }
  }

  close(): void {
    this.flush(true);
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
