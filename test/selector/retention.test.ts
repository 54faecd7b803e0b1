// Bounded storage on a real SQLite file: raw results by age and by the size budget
// (oldest raw first, rollups kept, the file shrinks), 1-minute rollups folded into
// 1-hour rollups after a day, schema migration of a version-1 file, and the retention
// config errors.
import { afterEach, describe, expect, it } from 'vitest';
import { parseSelectorConfig } from '../../selector/config.js';
import { createSelector } from '../../selector/selector.js';
import { coverageMarks } from '../../selector/store/coverage.js';
import { ResultWriter, type StoredResult } from '../../selector/store/results.js';
import { databaseBytes, Retention } from '../../selector/store/retention.js';
import { SCHEMA_VERSION } from '../../selector/store/schema.js';
import { Store } from '../../selector/store/store.js';
import { selectorConfig, selectorRaw, SERVICE, tmpDb } from '../helpers/fixtures.js';

const HOUR = 3_600_000;
const MIB = 1024 * 1024;
const open: Store[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});
function store(path = tmpDb()): Store {
  const s = new Store(path);
  open.push(s);
  return s;
}
function row(ts: number, site = 'us-east', totalMs: number | null = 20, agent = 'pop-a'): StoredResult {
  return { agent, service: SERVICE, site, ts, ok: totalMs !== null, status: totalMs !== null ? 200 : null, connectMs: 1, tlsMs: null,
    ttfbMs: 5, totalMs, bytes: 10, error: totalMs !== null ? null : 'reset' };
}
function write(s: Store, rows: StoredResult[]): void {
  const w = new ResultWriter(s, { maxRows: 1_000_000 });
  w.addResults(rows);
  w.close();
}
const count = (s: Store, table: string): number => (s.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
const sums = (s: Store, table: string) => s.db.prepare(`SELECT SUM(samples) AS samples, SUM(failures) AS failures, SUM(total_sum) AS total FROM ${table}`).get();

describe('retention by age', () => {
  it('deletes raw results older than rawHours and rollups older than rollupDays, and marks what raw covers', async () => {
    const s = store();
    const now = Date.now();
    write(s, [row(now - 49 * HOUR), row(now - 47 * HOUR), row(now - 31 * 86_400_000), row(now)]);
    const r = await new Retention(s, { rawHours: 48, rollupDays: 30 }).run(now);
    expect(r.results).toBe(2);
    expect((s.db.prepare('SELECT ts FROM results ORDER BY ts').all() as { ts: number }[]).map((x) => x.ts)).toEqual([now - 47 * HOUR, now]);
    // The 31-day-old minute is gone; the 49 h and 47 h ones were folded into their hours.
    expect(r.rollups).toBe(1);
    expect(count(s, 'rollups_hourly')).toBe(2);
    expect(coverageMarks(s).raw).toBe(now - 48 * HOUR);
  });
});

describe('tiering', () => {
  it('folds 1-minute rollups older than a day into 1-hour rollups and deletes them, counting every sample once', async () => {
    const s = store();
    const now = Date.parse('2026-11-30T12:30:00Z');
    const rows: StoredResult[] = [];
    // 30 h of one result per 10 s per site, with failures and two latency levels.
    for (let ts = now - 30 * HOUR; ts < now; ts += 10_000) {
      rows.push(row(ts, 'us-east', (ts / 10_000) % 7 === 0 ? null : 15), row(ts, 'eu-west', 80));
    }
    write(s, rows);
    const before = sums(s, 'rollups');
    expect(count(s, 'rollups')).toBe(30 * 60 * 2);
    const r = await new Retention(s, { rawHours: 48, rollupDays: 30 }, { batchRows: 500 }).run(now);
    // Whole hours older than a day: 2026-11-29T11:00 back to 06:30 (the first hour is half) → 6 hours × 2 sites.
    const foldBefore = Math.floor((now - 24 * HOUR) / HOUR) * 60;
    expect(r.folded).toBe((foldBefore - (now - 30 * HOUR) / 60_000) * 2);
    expect(count(s, 'rollups_hourly')).toBe(6 * 2);
    expect((s.db.prepare('SELECT MIN(minute) AS m FROM rollups').get() as { m: number }).m).toBe(foldBefore);
    expect(coverageMarks(s).minute).toBe(foldBefore * 60_000);
    // Nothing lost or counted twice: minute + hour tables hold the same totals as before.
    const after = s.db.prepare(`SELECT SUM(samples) AS samples, SUM(failures) AS failures, SUM(total) AS total FROM (
      SELECT samples, failures, total_sum AS total FROM rollups UNION ALL SELECT samples, failures, total_sum FROM rollups_hourly)`).get();
    expect(after).toEqual(before);
    const hour = s.db.prepare(`SELECT * FROM rollups_hourly WHERE site = 'eu-west' AND hour = ?`).get(foldBefore / 60 - 1) as Record<string, unknown>;
    expect(hour).toMatchObject({ samples: 360, failures: 0, total_sum: 360 * 80, total_min: 80, total_max: 80 });
    expect(JSON.parse(hour.histogram as string)[4]).toBe(360);
    // A second pass later folds the next hour and merges into existing hours (late minute rows).
    write(s, [row(now - 29 * HOUR, 'eu-west', 80)]);
    const r2 = await new Retention(s, { rawHours: 48, rollupDays: 30 }).run(now + HOUR);
    expect(r2.folded).toBe(1 + 60 * 2);
    expect(count(s, 'rollups_hourly')).toBe(7 * 2);
  });
});

describe('size budget (retention.maxDbMiB)', () => {
  it('deletes the oldest raw results first, keeps rollups, and the file shrinks under the budget', async () => {
    const s = store();
    const now = Date.now();
    const rows: StoredResult[] = [];
    for (let i = 0; i < 120_000; i++) rows.push(row(now - 20 * HOUR + i * 500, ['us-east', 'eu-west', 'ap-south'][i % 3], 10 + (i % 50)));
    write(s, rows);
    const before = databaseBytes(s);
    const rollups = count(s, 'rollups');
    const maxDbMiB = Math.ceil(before.usedBytes / MIB / 2);
    const r = await new Retention(s, { rawHours: 48, rollupDays: 30, maxDbMiB }, { keepRawMs: 600_000 }).run(now);
    expect(r.overBudget).toBe(false);
    expect(r.usedBytes).toBeLessThanOrEqual(maxDbMiB * MIB);
    expect(r.sizeResults).toBeGreaterThan(0);
    // The file itself shrank (incremental auto-vacuum), not just its used pages.
    expect(r.fileBytes).toBeLessThanOrEqual(maxDbMiB * MIB);
    expect(s.db.pragma('freelist_count', { simple: true })).toBe(0);
    // Oldest first: what is left is exactly the newest rows.
    const left = (s.db.prepare('SELECT ts FROM results ORDER BY ts').all() as { ts: number }[]).map((x) => x.ts);
    expect(left.length).toBe(120_000 - r.sizeResults);
    expect(left).toEqual(rows.slice(r.sizeResults).map((x) => x.ts));
    expect(coverageMarks(s).raw).toBe(rows[r.sizeResults - 1]!.ts + 1);
    expect(count(s, 'rollups')).toBe(rollups);
    expect(r.sizeRollups).toBe(0);
  });

  it('never removes raw results newer than keepRawMs; then removes the oldest rollups and says when it cannot meet the budget', async () => {
    const s = store();
    const now = Date.now();
    const rows: StoredResult[] = [];
    for (let i = 0; i < 40_000; i++) rows.push(row(now - 5 * 60_000 + (i % 300) * 1000, 'us-east', 20, `pop-${i % 500}`));
    write(s, rows);
    const r = await new Retention(s, { rawHours: 48, rollupDays: 30, maxDbMiB: 1 }, { keepRawMs: 600_000 }).run(now);
    expect(r.sizeResults).toBe(0);
    expect(count(s, 'results')).toBe(40_000);
    expect(r.sizeRollups).toBeGreaterThan(0);
    expect(r.overBudget).toBe(true);
  });

  it('a database under budget is left alone', async () => {
    const s = store();
    const now = Date.now();
    write(s, [row(now - HOUR), row(now)]);
    const r = await new Retention(s, { rawHours: 48, rollupDays: 30, maxDbMiB: 64 }).run(now);
    expect([r.sizeResults, r.sizeRollups, r.overBudget]).toEqual([0, 0, false]);
    expect(count(s, 'results')).toBe(2);
  });
});

describe('the selector daemon', () => {
  it('runs a retention pass at start and on its timer, under the configured budget', async () => {
    const path = tmpDb();
    const now = Date.now();
    const s = new Store(path);
    const rows: StoredResult[] = [];
    for (let i = 0; i < 60_000; i++) rows.push(row(now - 3 * HOUR + i * 100, 'us-east', 20, `pop-${i % 50}`));
    write(s, rows);
    const before = databaseBytes(s).usedBytes;
    s.close();
    const maxDbMiB = Math.max(1, Math.floor(before / MIB / 2));
    const sel = createSelector(selectorConfig({ db: path, retention: { rawHours: 2, maxDbMiB } }), { pruneEveryMs: 200 });
    await sel.start();
    try {
      const st = sel.store() as Store;
      for (let i = 0; i < 100 && databaseBytes(st).usedBytes > maxDbMiB * MIB; i++) await new Promise((r) => setTimeout(r, 100));
      expect(databaseBytes(st).usedBytes).toBeLessThanOrEqual(maxDbMiB * MIB);
      const oldest = (st.db.prepare('SELECT MIN(ts) AS ts FROM results').get() as { ts: number }).ts;
      expect(oldest).toBeGreaterThan(now - 2 * HOUR); // by age (rawHours 2), and then by size
      expect(coverageMarks(st).raw).toBeGreaterThan(now - 2 * HOUR);
    } finally {
      await sel.close();
    }
  });
});

describe('schema migration', () => {
  it('a version-1 file gets the 1-hour table and keeps its rows', () => {
    const path = tmpDb();
    let s = new Store(path);
    write(s, [row(Date.now())]);
    s.db.exec(`DROP TABLE rollups_hourly; UPDATE meta SET value = '1' WHERE key = 'schema_version'`);
    s.close();
    s = store(path);
    expect(s.db.prepare(`SELECT value FROM meta WHERE key = 'schema_version'`).get()).toEqual({ value: String(SCHEMA_VERSION) });
    expect(count(s, 'rollups_hourly')).toBe(0);
    expect(count(s, 'results')).toBe(1);
  });
});

describe('retention config', () => {
  const cases: [key: string, retention: Record<string, unknown>][] = [
    ['retention.maxDbMiB', { maxDbMiB: 0 }],
    ['retention.maxDbMiB', { maxDbMiB: '10GB' }],
    ['retention.rawHours', { rawHours: -1 }],
    ['retention.rollupDays', { rollupDays: 0 }],
    ['retention.bogus', { bogus: 1 }],
  ];
  for (const [key, retention] of cases) {
    it(`${JSON.stringify(retention)} → one line naming ${key}`, () => {
      let err: Error | undefined;
      try {
        parseSelectorConfig(selectorRaw({ retention }));
      } catch (e) {
        err = e as Error;
      }
      expect(err?.message.startsWith(`${key}: `), err?.message).toBe(true);
      expect(err?.message).not.toContain('\n');
    });
  }
  it('accepts a budget', () => {
    expect(parseSelectorConfig(selectorRaw({ retention: { rawHours: 1, maxDbMiB: 2048 } })).retention).toEqual({ rawHours: 1, rollupDays: 30, maxDbMiB: 2048 });
  });
});
