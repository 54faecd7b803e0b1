// `metrics`: per agent × service × site over a period, from the raw results table:
// samples, availability, failures by class, p50/p90 of totalMs and ttfbMs (successful
// probes), and a per-bucket median series for the sparkline. The same function
// serves the admin API and `--db` mode, so both print the same numbers. A period that
// starts before raw retention (coverage marks) is answered from the rollups instead
// (metrics-rollups.ts), and the report says which source it used.
import { coverageMarks } from './coverage.js';
import { queryRollupMetrics } from './metrics-rollups.js';
import type { Store } from './store.js';

export interface MetricsFilter {
  agent?: string | undefined;
  service?: string | undefined;
  site?: string | undefined;
  sinceMs: number;
  nowMs: number;
  /** Sparkline points over the period; default 24. */
  buckets?: number;
}

export interface MetricsRow {
  agent: string;
  service: string;
  site: string;
  samples: number;
  ok: number;
  /** ok / samples. */
  availability: number;
  /** Failures by error class (reset, timeout, refused, …). */
  failures: Record<string, number>;
  totalMs: { p50: number | null; p90: number | null };
  /** From rollups: p50/p90 are null and mean is set (rollups keep ttfb's sum and count only). */
  ttfbMs: { p50: number | null; p90: number | null; mean?: number | null };
  /** Median totalMs per bucket; null = no sample, -1 = only failures. */
  series: (number | null)[];
}

/**
 * Where the rows come from: raw results (exact percentiles), or the rollups when the
 * period starts before raw retention: `rollup-1m` (1-minute rows) when it starts within
 * the last day of 1-minute rollups, else `rollup-1h` (1-hour rows, then 1-minute ones).
 * From rollups, totalMs p50/p90 are estimated from latency histograms.
 */
export type MetricsSource = 'raw' | 'rollup-1m' | 'rollup-1h';

export interface MetricsReport {
  sinceMs: number;
  nowMs: number;
  bucketMs: number;
  source: MetricsSource;
  /** Raw results are complete from this time on (0 = nothing was ever pruned). */
  rawSinceMs: number;
  rows: MetricsRow[];
}

/** The finest source that holds the whole period. */
export function metricsSource(store: Store, sinceMs: number): { source: MetricsSource; rawSinceMs: number } {
  const marks = coverageMarks(store);
  const source = sinceMs >= marks.raw ? 'raw' : sinceMs >= marks.minute ? 'rollup-1m' : 'rollup-1h';
  return { source, rawSinceMs: marks.raw };
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (!sorted.length) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * sorted.length));
  return sorted[rank - 1] as number;
}

interface Acc {
  row: MetricsRow;
  totals: number[];
  ttfbs: number[];
  buckets: { times: number[]; fails: number }[];
}

/** One statement per filter combination (at most 8), each prepared once by the store. */
export function queryMetrics(store: Store, f: MetricsFilter): MetricsReport {
  const n = f.buckets ?? 24;
  const span = Math.max(1, f.nowMs - f.sinceMs);
  const bucketMs = span / n;
  const { source, rawSinceMs } = metricsSource(store, f.sinceMs);
  if (source !== 'raw') return { sinceMs: f.sinceMs, nowMs: f.nowMs, bucketMs, source, rawSinceMs, rows: queryRollupMetrics(store, f, n, bucketMs) };
  const where = ['ts >= @since'];
  if (f.agent) where.push('agent = @agent');
  if (f.service) where.push('service = @service');
  if (f.site) where.push('site = @site');
  const stmt = store.prep(`SELECT agent, service, site, ts, ok, ttfb_ms, total_ms, error FROM results WHERE ${where.join(' AND ')} ORDER BY agent, service, site, ts`);
  const acc = new Map<string, Acc>();
  for (const r of stmt.iterate({ since: f.sinceMs, agent: f.agent, service: f.service, site: f.site }) as Iterable<Record<string, unknown>>) {
    const key = `${r.agent}\0${r.service}\0${r.site}`;
    let a = acc.get(key);
    if (!a) {
      a = {
        row: {
          agent: r.agent as string, service: r.service as string, site: r.site as string, samples: 0, ok: 0, availability: 0,
          failures: {}, totalMs: { p50: null, p90: null }, ttfbMs: { p50: null, p90: null }, series: [],
        },
        totals: [], ttfbs: [], buckets: Array.from({ length: n }, () => ({ times: [], fails: 0 })),
      };
      acc.set(key, a);
    }
    const b = a.buckets[Math.min(n - 1, Math.max(0, Math.floor(((r.ts as number) - f.sinceMs) / bucketMs)))] as Acc['buckets'][number];
    a.row.samples++;
    if (r.ok === 1) {
      a.row.ok++;
      if (r.total_ms !== null) {
        a.totals.push(r.total_ms as number);
        b.times.push(r.total_ms as number);
      }
      if (r.ttfb_ms !== null) a.ttfbs.push(r.ttfb_ms as number);
    } else {
      const cls = (r.error as string | null) ?? 'other';
      a.row.failures[cls] = (a.row.failures[cls] ?? 0) + 1;
      b.fails++;
    }
  }
  const rows = [...acc.values()].map(({ row, totals, ttfbs, buckets }) => {
    totals.sort((x, y) => x - y);
    ttfbs.sort((x, y) => x - y);
    row.availability = row.samples ? row.ok / row.samples : 0;
    row.totalMs = { p50: percentile(totals, 50), p90: percentile(totals, 90) };
    row.ttfbMs = { p50: percentile(ttfbs, 50), p90: percentile(ttfbs, 90) };
    row.series = buckets.map((b) => {
      if (b.times.length) return percentile(b.times.sort((x, y) => x - y), 50);
      return b.fails ? -1 : null;
    });
    return row;
  });
  return { sinceMs: f.sinceMs, nowMs: f.nowMs, bucketMs, source, rawSinceMs, rows };
}
