// One rollup row (a key's minute or hour): counts, failure classes, latency sum/min/max
// and the latency histogram of successful probes. Shared by the writer (folds results
// into open minutes) and retention (folds minutes into hours); merging two rows is exact.
import type { ErrorClass } from '../../shared/protocol.js';
import { HISTOGRAM_BOUNDS_MS, histogramBucket } from './schema.js';

export interface Rollup {
  agent: string; service: string; site: string;
  /** The minute (ts / 60000) or the hour (ts / 3600000), by table. */
  slot: number;
  samples: number; failures: number; classes: Record<string, number>;
  totalSum: number; totalMin: number | null; totalMax: number | null;
  ttfbSum: number; ttfbCount: number; histogram: number[];
}

/** What folding needs from a result. */
export interface RollupInput {
  ok: boolean;
  totalMs: number | null;
  ttfbMs: number | null;
  error: ErrorClass | null;
}

type Row = Record<string, unknown>;

export function emptyRollup(agent: string, service: string, site: string, slot: number): Rollup {
  return {
    agent, service, site, slot, samples: 0, failures: 0, classes: {},
    totalSum: 0, totalMin: null, totalMax: null, ttfbSum: 0, ttfbCount: 0,
    histogram: new Array<number>(HISTOGRAM_BOUNDS_MS.length + 1).fill(0),
  };
}

function minOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.min(a, b);
}
function maxOf(a: number | null, b: number | null): number | null {
  return a === null ? b : b === null ? a : Math.max(a, b);
}

/** Folds one result into its rollup; total* and the histogram cover successful probes only. */
export function foldResult(u: Rollup, r: RollupInput): void {
  u.samples++;
  if (!r.ok) {
    u.failures++;
    const cls = r.error ?? 'other';
    u.classes[cls] = (u.classes[cls] ?? 0) + 1;
  }
  if (r.ok && r.totalMs !== null) {
    u.totalSum += r.totalMs;
    u.totalMin = minOf(u.totalMin, r.totalMs);
    u.totalMax = maxOf(u.totalMax, r.totalMs);
    const b = histogramBucket(r.totalMs);
    u.histogram[b] = (u.histogram[b] ?? 0) + 1;
  }
  if (r.ttfbMs !== null) {
    u.ttfbSum += r.ttfbMs;
    u.ttfbCount++;
  }
}

/** Adds a stored row (of `rollups` or `rollups_hourly`) into `u`. */
export function mergeRow(u: Rollup, row: Row): void {
  u.samples += row.samples as number;
  u.failures += row.failures as number;
  for (const [k, n] of Object.entries(JSON.parse(row.failure_classes as string) as Record<string, number>)) u.classes[k] = (u.classes[k] ?? 0) + n;
  u.totalSum += row.total_sum as number;
  u.totalMin = minOf(u.totalMin, row.total_min as number | null);
  u.totalMax = maxOf(u.totalMax, row.total_max as number | null);
  u.ttfbSum += row.ttfb_sum as number;
  u.ttfbCount += row.ttfb_count as number;
  (JSON.parse(row.histogram as string) as number[]).forEach((v, i) => { u.histogram[i] = (u.histogram[i] ?? 0) + v; });
}

/** Parameters of `INSERT OR REPLACE INTO rollups[_hourly] (agent, service, site, slot, …)`, in column order. */
export function rollupParams(r: Rollup): unknown[] {
  return [r.agent, r.service, r.site, r.slot, r.samples, r.failures, JSON.stringify(r.classes),
    r.totalSum, r.totalMin, r.totalMax, r.ttfbSum, r.ttfbCount, JSON.stringify(r.histogram)];
}

/**
 * Percentile p of the successful probes' totalMs from a histogram: linear within the
 * bucket that holds the nearest rank, clamped to the observed min and max. Approximate
 * (the buckets are coarse: HISTOGRAM_BOUNDS_MS); exact when all samples share one value.
 */
export function histogramPercentile(histogram: readonly number[], p: number, minMs: number | null, maxMs: number | null): number | null {
  const n = histogram.reduce((a, b) => a + b, 0);
  if (!n || minMs === null || maxMs === null) return null;
  const rank = Math.max(1, Math.ceil((p / 100) * n));
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    const c = histogram[i] ?? 0;
    if (seen + c >= rank) {
      const lo = Math.max(minMs, i === 0 ? 0 : (HISTOGRAM_BOUNDS_MS[i - 1] as number));
      const hi = Math.min(maxMs, i < HISTOGRAM_BOUNDS_MS.length ? (HISTOGRAM_BOUNDS_MS[i] as number) : maxMs);
      const v = lo + ((rank - seen) / c) * (hi - lo);
      return Math.round(Math.min(maxMs, Math.max(minMs, v)) * 10) / 10;
    }
    seen += c;
  }
  return maxMs;
}
