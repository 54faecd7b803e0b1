// Bounded storage: raw results by age (retention.rawHours) and by a size budget
// (retention.maxDbMiB: raw rows go first, oldest first), 1-minute rollups folded into
// 1-hour rollups after a day, 1-hour rollups kept rollupDays. Every change is a batch
// of at most batchRows rows in its own transaction, with the event loop free between
// batches, so a pass never stalls ingest or DNS for longer than one batch.
import { performance } from 'node:perf_hooks';
import { VantageError } from '../../shared/errors.js';
import { setCoverageMark } from './coverage.js';
import { emptyRollup, mergeRow, rollupParams, type Rollup } from './rollup.js';
import type { Store } from './store.js';

/** 1-minute rollups are kept this long, then folded into 1-hour rollups. */
export const MINUTE_TIER_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const MIB = 1024 * 1024;

export interface RetentionPolicy {
  rawHours: number;
  rollupDays: number;
  /** Budget of the database's used pages (MiB); absent = by age only. */
  maxDbMiB?: number | undefined;
}

export interface RetentionOptions {
  /** Rows per transaction; default 2000. */
  batchRows?: number;
  /** Raw results newer than this are never removed for size (the ranking window is rebuilt from them); default 10 min. */
  keepRawMs?: number;
  /** A pass over budget prunes down to this share of maxDbMiB; default 0.9. */
  lowWater?: number;
}

export interface RetentionReport {
  /** Raw results deleted by age, and by the size budget. */
  results: number; sizeResults: number;
  /** 1-minute rollups folded into hours; deleted by age; deleted by the size budget. */
  folded: number; rollups: number; sizeRollups: number;
  /** 1-hour rollups deleted by age or budget. */
  hourly: number;
  /** Pages given back to the file system (incremental_vacuum). */
  vacuumedPages: number;
  /** Used pages × page size after the pass, and the file's size (page_count × page size). */
  usedBytes: number; fileBytes: number;
  /** True when even the rollups could not get the database under budget. */
  overBudget: boolean;
  batches: number;
  /** The longest single batch (the longest the pass held the event loop). */
  maxBatchMs: number;
}

const SQL = {
  rawByAge: 'DELETE FROM results WHERE id IN (SELECT id FROM results WHERE ts < ? ORDER BY ts LIMIT ?)',
  rawOldest: 'SELECT id, ts FROM results WHERE ts < ? ORDER BY ts LIMIT ?',
  rawById: 'DELETE FROM results WHERE id = ?',
  minuteByAge: 'DELETE FROM rollups WHERE rowid IN (SELECT rowid FROM rollups WHERE minute < ? ORDER BY minute LIMIT ?)',
  minuteOldest: 'DELETE FROM rollups WHERE rowid IN (SELECT rowid FROM rollups ORDER BY minute LIMIT ?)',
  minuteToFold: 'SELECT rowid AS rid, * FROM rollups WHERE minute < ? ORDER BY minute LIMIT ?',
  minuteById: 'DELETE FROM rollups WHERE rowid = ?',
  hourGet: 'SELECT * FROM rollups_hourly WHERE agent = ? AND service = ? AND site = ? AND hour = ?',
  hourPut: `INSERT OR REPLACE INTO rollups_hourly (agent, service, site, hour, samples, failures, failure_classes, total_sum, total_min, total_max, ttfb_sum, ttfb_count, histogram)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
  hourByAge: `DELETE FROM rollups_hourly WHERE (agent, service, site, hour) IN
    (SELECT agent, service, site, hour FROM rollups_hourly WHERE hour < ? ORDER BY hour LIMIT ?)`,
  hourOldest: `DELETE FROM rollups_hourly WHERE (agent, service, site, hour) IN
    (SELECT agent, service, site, hour FROM rollups_hourly ORDER BY hour LIMIT ?)`,
} as const;

type Row = Record<string, unknown>;

/** Used and total bytes of the main database file (WAL excluded), from its page counts. */
export function databaseBytes(store: Store): { usedBytes: number; fileBytes: number; freeBytes: number } {
  const page = store.db.pragma('page_size', { simple: true }) as number;
  const count = store.db.pragma('page_count', { simple: true }) as number;
  const free = store.db.pragma('freelist_count', { simple: true }) as number;
  return { usedBytes: (count - free) * page, fileBytes: count * page, freeBytes: free * page };
}

/** Runs retention passes on the daemon's connection; one pass at a time. */
export class Retention {
  private readonly batchRows: number;
  private readonly foldRows: number;
  private readonly keepRawMs: number;
  private readonly lowWater: number;
  private running: Promise<RetentionReport> | undefined;
  private stopped = false;
  private report!: RetentionReport;

  constructor(private readonly store: Store, private readonly policy: RetentionPolicy, opts: RetentionOptions = {}) {
    this.batchRows = opts.batchRows ?? 2000;
    this.foldRows = Math.max(1, Math.floor(this.batchRows / 4));
    this.keepRawMs = opts.keepRawMs ?? 600_000;
    this.lowWater = opts.lowWater ?? 0.9;
  }

  /** One pass (joins the pass under way, if any). */
  run(nowMs = Date.now()): Promise<RetentionReport> {
    if (this.stopped) return Promise.reject(new VantageError('STORE_ERR', 'retention closed'));
    this.running ??= this.pass(nowMs).finally(() => { this.running = undefined; });
    return this.running;
  }

  /** Stops the pass under way after its current batch (before the database closes); no pass starts after. */
  async close(): Promise<void> {
    this.stopped = true;
    await this.running?.catch(() => undefined);
  }

  private async pass(nowMs: number): Promise<RetentionReport> {
    const r = (this.report = {
      results: 0, sizeResults: 0, folded: 0, rollups: 0, sizeRollups: 0, hourly: 0, vacuumedPages: 0,
      usedBytes: 0, fileBytes: 0, overBudget: false, batches: 0, maxBatchMs: 0,
    });
    const s = this.store;
    const n = this.batchRows;
    // Age. A mark first: rows older than it may be gone (metrics-query picks its source by these marks).
    const rawCut = nowMs - this.policy.rawHours * HOUR_MS;
    setCoverageMark(s, 'raw', rawCut);
    r.results += await this.repeat(() => s.prep(SQL.rawByAge).run(rawCut, n).changes);
    const rollupCut = nowMs - this.policy.rollupDays * 86_400_000;
    r.hourly += await this.repeat(() => s.prep(SQL.hourByAge).run(Math.floor(rollupCut / HOUR_MS), n).changes);
    r.rollups += await this.repeat(() => s.prep(SQL.minuteByAge).run(Math.floor(rollupCut / 60_000), n).changes);
    s.pruneEvents(rollupCut);
    // Tiering: whole hours more than a day old move to the 1-hour table.
    const foldBeforeMin = Math.floor((nowMs - MINUTE_TIER_MS) / HOUR_MS) * 60;
    setCoverageMark(s, 'minute', foldBeforeMin * 60_000);
    // Folding costs ~15× a delete per row (two JSON merges, a read and a write of the hour): quarter batches.
    r.folded += await this.repeat(() => this.foldBatch(foldBeforeMin), () => true, this.foldRows);
    if (this.policy.maxDbMiB !== undefined) await this.enforceBudget(nowMs, this.policy.maxDbMiB * MIB);
    await this.vacuum();
    Object.assign(r, databaseBytes(s));
    delete (r as Partial<RetentionReport> & { freeBytes?: number }).freeBytes;
    return r;
  }

  /** Runs `batch` (one transaction each) until it does less than a full batch, yielding in between. */
  private async repeat(batch: () => number, more: () => boolean = () => true, full = this.batchRows): Promise<number> {
    let total = 0;
    for (;;) {
      const t0 = performance.now();
      const done = this.store.tx(batch);
      const ms = performance.now() - t0;
      this.report.batches++;
      if (ms > this.report.maxBatchMs) this.report.maxBatchMs = ms;
      total += done;
      if (done < full || this.stopped || !more()) return total;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Folds up to batchRows minute rows older than `beforeMin` into their hours, and deletes them (atomic). */
  private foldBatch(beforeMin: number): number {
    const s = this.store;
    const rows = s.prep(SQL.minuteToFold).all(beforeMin, this.foldRows) as Row[];
    const hours = new Map<string, Rollup>();
    for (const row of rows) {
      const hour = Math.floor((row.minute as number) / 60);
      const key = `${row.agent}\0${row.service}\0${row.site}\0${hour}`;
      let u = hours.get(key);
      if (!u) {
        u = emptyRollup(row.agent as string, row.service as string, row.site as string, hour);
        const old = s.prep(SQL.hourGet).get(u.agent, u.service, u.site, hour) as Row | undefined;
        if (old) mergeRow(u, old);
        hours.set(key, u);
      }
      mergeRow(u, row);
    }
    for (const u of hours.values()) s.prep(SQL.hourPut).run(...rollupParams(u));
    for (const row of rows) s.prep(SQL.minuteById).run(row.rid);
    return rows.length;
  }

  /** Over budget: oldest raw results (keeping keepRawMs), then oldest minute rollups, then oldest hours. */
  private async enforceBudget(nowMs: number, budget: number): Promise<void> {
    const s = this.store;
    const r = this.report;
    if (databaseBytes(s).usedBytes <= budget) return;
    const target = budget * this.lowWater;
    const over = (): boolean => databaseBytes(s).usedBytes > target;
    const keepFrom = nowMs - this.keepRawMs;
    r.sizeResults += await this.repeat(() => {
      const rows = s.prep(SQL.rawOldest).all(keepFrom, this.batchRows) as Row[];
      for (const row of rows) s.prep(SQL.rawById).run(row.id);
      const last = rows[rows.length - 1];
      if (last) setCoverageMark(s, 'raw', (last.ts as number) + 1);
      return rows.length;
    }, over);
    if (!over()) return;
    r.sizeRollups += await this.repeat(() => s.prep(SQL.minuteOldest).run(this.batchRows).changes, over);
    if (over()) r.hourly += await this.repeat(() => s.prep(SQL.hourOldest).run(this.batchRows).changes, over);
    r.overBudget = databaseBytes(s).usedBytes > budget;
  }

  /** Gives free pages back to the file system (auto_vacuum = INCREMENTAL files only), in steps. */
  private async vacuum(): Promise<void> {
    if (this.store.db.pragma('auto_vacuum', { simple: true }) !== 2) return;
    const step = 4096;
    for (;;) {
      const free = this.store.db.pragma('freelist_count', { simple: true }) as number;
      if (!free || this.stopped) return;
      const t0 = performance.now();
      this.store.db.pragma(`incremental_vacuum(${Math.min(step, free)})`);
      const ms = performance.now() - t0;
      if (ms > this.report.maxBatchMs) this.report.maxBatchMs = ms;
      this.report.vacuumedPages += Math.min(step, free);
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
}
