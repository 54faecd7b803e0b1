// `vantage-selector metrics --since` past raw retention, through the real CLI with
// --db FILE: a database holding 8 days of results, after a retention pass with
// rawHours 1, answers --since 30m from raw results, --since 6h from the 1-minute
// rollups and --since 7d from the 1-hour ones, and says which source it used. The
// status page's timeline reads the 1-hour tier too.
import { beforeAll, describe, expect, it } from 'vitest';
import { ResultWriter, type StoredResult } from '../../selector/store/results.js';
import { Retention } from '../../selector/store/retention.js';
import { Store } from '../../selector/store/store.js';
import { queryTimeline } from '../../selector/store/timeline.js';
import { SERVICE, tmpDb } from '../helpers/fixtures.js';
import { cli, ensureBuilt } from '../helpers/selector-process.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
let db: string;
let now: number;

/** One probe per minute per site (at second 30): us-east always 20 ms; eu-west 80 ms with every 4th probe reset. */
function world(fromMs: number, toMs: number): StoredResult[] {
  const rows: StoredResult[] = [];
  for (let m = Math.floor(fromMs / 60_000); m * 60_000 + 30_000 < toMs; m++) {
    const ts = m * 60_000 + 30_000;
    const reset = m % 4 === 0;
    rows.push({ agent: 'pop-a', service: SERVICE, site: 'us-east', ts, ok: true, status: 200, connectMs: 1, tlsMs: null, ttfbMs: 10, totalMs: 20, bytes: 100, error: null });
    rows.push({ agent: 'pop-a', service: SERVICE, site: 'eu-west', ts, ok: !reset, status: reset ? null : 200, connectMs: 1, tlsMs: null,
      ttfbMs: reset ? null : 40, totalMs: reset ? null : 80, bytes: reset ? 0 : 100, error: reset ? 'reset' : null });
  }
  return rows;
}

async function metrics(since: string): Promise<Json> {
  const r = await cli(['metrics', '--db', db, '--since', since, '--json']);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Json;
}
const row = (report: Json, site: string): Json => (report.rows as Json[]).find((r) => r.site === site) as Json;

beforeAll(async () => {
  ensureBuilt();
  db = tmpDb();
  now = Date.now();
  const s = new Store(db);
  const w = new ResultWriter(s, { maxRows: 1_000_000 });
  w.addResults(world(now - 8 * DAY, now));
  w.close();
  const r = await new Retention(s, { rawHours: 1, rollupDays: 30 }).run(now);
  expect(r.folded).toBeGreaterThan(0);
  s.close();
}, 60_000);

describe('metrics --since past raw retention (--db)', () => {
  it('--since 30m: raw results', async () => {
    const m = await metrics('30m');
    expect(m.source).toBe('raw');
    expect(row(m, 'us-east').samples).toBeGreaterThanOrEqual(29);
    expect(row(m, 'us-east').samples).toBeLessThanOrEqual(30);
    expect(row(m, 'us-east').totalMs).toEqual({ p50: 20, p90: 20 });
  });

  it('--since 6h with rawHours 1: the 1-minute rollups, exact counts and failure classes', async () => {
    const m = await metrics('6h');
    expect(m.source).toBe('rollup-1m');
    expect(m.rawSinceMs).toBe(now - HOUR);
    const us = row(m, 'us-east');
    // 360 minutes, plus the minute the period starts in.
    expect(us.samples).toBeGreaterThanOrEqual(360);
    expect(us.samples).toBeLessThanOrEqual(361);
    expect(us).toMatchObject({ availability: 1, failures: {}, totalMs: { p50: 20, p90: 20 }, ttfbMs: { p50: null, p90: null, mean: 10 } });
    const eu = row(m, 'eu-west');
    expect(eu.samples).toBe(us.samples);
    expect(eu.failures.reset).toBe(eu.samples - eu.ok);
    expect(Math.abs(eu.failures.reset - eu.samples / 4)).toBeLessThanOrEqual(1);
    expect(eu.totalMs).toEqual({ p50: 80, p90: 80 });
    expect(us.series).toHaveLength(24);
    expect((us.series as (number | null)[]).every((v) => v === 20)).toBe(true);
  });

  it('--since 7d: the 1-hour rollups, then the last day of 1-minute rollups', async () => {
    const m = await metrics('7d');
    expect(m.source).toBe('rollup-1h');
    const us = row(m, 'us-east');
    // 7 days of minutes, plus at most the rest of the hour the period starts in.
    expect(us.samples).toBeGreaterThanOrEqual(7 * 1440);
    expect(us.samples).toBeLessThanOrEqual(7 * 1440 + 60);
    expect(row(m, 'eu-west').failures.reset).toBe(row(m, 'eu-west').samples - row(m, 'eu-west').ok);
    expect((us.series as (number | null)[]).every((v) => v === 20)).toBe(true);
  });

  it('the text output says which source answered', async () => {
    const r = await cli(['metrics', '--db', db, '--since', '6h']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^AGENT\s+SERVICE\s+SITE\s+SAMPLES/);
    expect(lines.at(-1)).toBe(`source: 1-minute rollups; raw results are kept from ${new Date(now - HOUR).toISOString()}; P50/P90 estimated from latency histograms, TTFB P50 shows the mean`);
    const week = await cli(['metrics', '--db', db, '--since', '7d']);
    expect(week.stdout.trimEnd().split('\n').at(-1)).toMatch(/^source: 1-hour rollups \(1-minute rollups for the last day\); /);
    const recent = await cli(['metrics', '--db', db, '--since', '15m']);
    expect(recent.stdout.trimEnd().split('\n').at(-1)).toBe('source: raw results');
  });

  it('the timeline over a week reads the 1-hour rollups', () => {
    const s = new Store(db, 'readonly');
    try {
      const t = queryTimeline(s, { service: SERVICE, sinceMs: now - 7 * DAY, untilMs: now, buckets: 7 * 24, rawSinceMs: now - HOUR });
      expect(t.source).toBe('rollup');
      const lat = t.rows[0]?.latencyMs['us-east'] ?? [];
      expect(lat).toHaveLength(168);
      expect(lat.filter((v) => v === 20).length).toBeGreaterThanOrEqual(167);
      expect(t.rows[0]?.failures['eu-west']?.[0]).toBeGreaterThanOrEqual(14);
    } finally {
      s.close();
    }
  });
});
