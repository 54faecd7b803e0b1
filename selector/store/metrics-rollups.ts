// `metrics` over a period that reaches past raw retention: the same rows as the raw
// query, from the 1-minute rollups and (beyond a day) the 1-hour rollups. Counts and
// failure classes are exact; p50/p90 of totalMs are estimated from the merged latency
// histograms (rollup.ts); ttfbMs has only its mean (rollups keep sum and count).
import type { MetricsFilter, MetricsRow } from './metrics-query.js';
import { emptyRollup, histogramPercentile, mergeRow, type Rollup } from './rollup.js';
import type { Store } from './store.js';

type Row = Record<string, unknown>;

const COLUMNS = 'agent, service, site, samples, failures, failure_classes, total_sum, total_min, total_max, ttfb_sum, ttfb_count, histogram';

/** Both tiers, one statement per filter combination (at most 8), each prepared once by the store. */
function statement(store: Store, f: MetricsFilter) {
  const where: string[] = [];
  if (f.agent) where.push('agent = @agent');
  if (f.service) where.push('service = @service');
  if (f.site) where.push('site = @site');
  const and = where.map((w) => ` AND ${w}`).join('');
  return store.prep(`SELECT * FROM (
      SELECT ${COLUMNS}, minute * 60000 AS t FROM rollups WHERE minute >= @sinceMin${and}
      UNION ALL
      SELECT ${COLUMNS}, hour * 3600000 AS t FROM rollups_hourly WHERE hour >= @sinceHour${and}
    ) ORDER BY agent, service, site, t`);
}

export function queryRollupMetrics(store: Store, f: MetricsFilter, n: number, bucketMs: number): MetricsRow[] {
  const acc = new Map<string, { total: Rollup; buckets: Rollup[] }>();
  const params = { sinceMin: Math.floor(f.sinceMs / 60_000), sinceHour: Math.floor(f.sinceMs / 3_600_000), agent: f.agent, service: f.service, site: f.site };
  for (const r of statement(store, f).iterate(params) as Iterable<Row>) {
    const key = `${r.agent}\0${r.service}\0${r.site}`;
    let a = acc.get(key);
    if (!a) {
      const empty = (): Rollup => emptyRollup(r.agent as string, r.service as string, r.site as string, 0);
      a = { total: empty(), buckets: Array.from({ length: n }, empty) };
      acc.set(key, a);
    }
    mergeRow(a.total, r);
    mergeRow(a.buckets[Math.min(n - 1, Math.max(0, Math.floor(((r.t as number) - f.sinceMs) / bucketMs)))] as Rollup, r);
  }
  return [...acc.values()].map(({ total: u, buckets }) => {
    const ok = u.samples - u.failures;
    return {
      agent: u.agent, service: u.service, site: u.site, samples: u.samples, ok,
      availability: u.samples ? ok / u.samples : 0,
      failures: u.classes,
      totalMs: { p50: histogramPercentile(u.histogram, 50, u.totalMin, u.totalMax), p90: histogramPercentile(u.histogram, 90, u.totalMin, u.totalMax) },
      ttfbMs: { p50: null, p90: null, mean: u.ttfbCount ? Math.round((u.ttfbSum / u.ttfbCount) * 10) / 10 : null },
      series: buckets.map((b) => histogramPercentile(b.histogram, 50, b.totalMin, b.totalMax) ?? (b.failures ? -1 : null)),
    };
  });
}
