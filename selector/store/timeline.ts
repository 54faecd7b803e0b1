// Timelines for the status page (`/api/timeline`): per service, per agent, each site's
// latency over a range, downsampled to a fixed number of buckets (the chart's pixel
// width), plus the decision log's markers (site down/up, first-choice changes) and the
// first choice as bands. Ranges within raw retention read the raw results; longer
// ranges read the 1-minute rollups, so a day costs at most 1,440 rows per agent × site,
// and the 1-hour rollups where retention folded minutes older than a day.
import type { Store } from './store.js';

export interface TimelineQuery {
  service: string;
  sinceMs: number;
  untilMs: number;
  /** Buckets (points) per series; the payload stays bounded whatever the range. */
  buckets: number;
  /** Raw results exist back to this time (raw retention); older ranges use rollups. */
  rawSinceMs: number;
}

export interface TimelineMarker { ts: number; kind: 'site_down' | 'site_up' | 'first_changed'; site: string | null; from?: string | null; evidence: string }
export interface TimelineBand { fromMs: number; toMs: number; site: string | null }
export interface TimelineRow {
  agent: string;
  /** site → mean latency of successful probes per bucket (ms, null = no success in it). */
  latencyMs: Record<string, (number | null)[]>;
  /** site → failed probes per bucket. */
  failures: Record<string, number[]>;
  markers: TimelineMarker[];
  /** The first choice over the range, from the first-choice changes (null = unknown). */
  first: TimelineBand[];
}
export interface Timeline {
  service: string;
  sinceMs: number;
  untilMs: number;
  bucketMs: number;
  source: 'raw' | 'rollup';
  rows: TimelineRow[];
}

type Row = Record<string, unknown>;
const MARKER_KINDS = new Set(['site_down', 'site_up', 'first_changed']);

const SQL = {
  raw: `SELECT agent, site, CAST((ts - @since) / @bucketMs AS INTEGER) AS b,
      AVG(CASE WHEN ok = 1 THEN total_ms END) AS ms, SUM(ok = 0) AS fails
    FROM results WHERE service = @service AND ts >= @since AND ts < @until GROUP BY agent, site, b`,
  // Both tiers: 1-minute rows, and 1-hour rows where retention folded the minutes (older than a day).
  rollup: `SELECT agent, site, CAST((t - @since) / @bucketMs AS INTEGER) AS b,
      SUM(total_sum) / NULLIF(SUM(samples - failures), 0) AS ms, SUM(failures) AS fails
    FROM (SELECT agent, site, minute * 60000 AS t, total_sum, samples, failures
        FROM rollups WHERE service = @service AND minute >= @sinceMin AND minute < @untilMin
      UNION ALL SELECT agent, site, hour * 3600000 AS t, total_sum, samples, failures
        FROM rollups_hourly WHERE service = @service AND hour >= @sinceHour AND hour < @untilHour)
    GROUP BY agent, site, b`,
  events: `SELECT ts, kind, agent, site, detail FROM events
    WHERE service = @service AND ts >= @since AND ts < @until AND agent IS NOT NULL ORDER BY ts, id`,
  firstBefore: `SELECT agent, site FROM events e WHERE service = @service AND kind = 'first_changed' AND agent IS NOT NULL
    AND ts = (SELECT MAX(ts) FROM events WHERE service = e.service AND agent = e.agent AND kind = 'first_changed' AND ts < @since)`,
} as const;

/** One service's timelines (admin API `/api/timeline`); statements prepared once by the store. */
export function queryTimeline(store: Store, q: TimelineQuery): Timeline {
  const span = Math.max(1, q.untilMs - q.sinceMs);
  const buckets = Math.max(1, Math.min(2000, Math.floor(q.buckets)));
  const source = q.sinceMs >= q.rawSinceMs ? 'raw' : 'rollup';
  // Rollups are per minute: a rollup bucket holds whole minutes.
  const bucketMs = source === 'rollup' ? Math.ceil(span / buckets / 60_000) * 60_000 : Math.ceil(span / buckets);
  const n = Math.ceil(span / bucketMs);
  const rows = new Map<string, TimelineRow>();
  const rowOf = (agent: string): TimelineRow => {
    let r = rows.get(agent);
    if (!r) rows.set(agent, (r = { agent, latencyMs: {}, failures: {}, markers: [], first: [] }));
    return r;
  };
  const params = {
    service: q.service, since: q.sinceMs, until: q.untilMs, bucketMs,
    sinceMin: Math.floor(q.sinceMs / 60_000), untilMin: Math.ceil(q.untilMs / 60_000),
    sinceHour: Math.floor(q.sinceMs / 3_600_000), untilHour: Math.ceil(q.untilMs / 3_600_000),
  };
  for (const s of store.prep(source === 'raw' ? SQL.raw : SQL.rollup).iterate(params) as Iterable<Row>) {
    const b = s.b as number;
    if (b < 0 || b >= n) continue;
    const r = rowOf(s.agent as string);
    const site = s.site as string;
    const lat = (r.latencyMs[site] ??= new Array<number | null>(n).fill(null));
    const fails = (r.failures[site] ??= new Array<number>(n).fill(0));
    lat[b] = s.ms === null ? null : Math.round((s.ms as number) * 10) / 10;
    fails[b] = (s.fails as number) ?? 0;
  }
  // A row's first band starts where its data does when no earlier first choice is known
  // (an agent that joined inside the range), not at the range's left edge.
  const firstDataMs = (agent: string): number => {
    const r = rows.get(agent);
    let b = n;
    for (const lat of Object.values(r?.latencyMs ?? {})) { const i = lat.findIndex((v) => v !== null); if (i >= 0 && i < b) b = i; }
    for (const f of Object.values(r?.failures ?? {})) { const i = f.findIndex((v) => v > 0); if (i >= 0 && i < b) b = i; }
    return b < n ? q.sinceMs + b * bucketMs : q.sinceMs;
  };
  const current = new Map<string, { fromMs: number; site: string | null }>();
  for (const e of store.prep(SQL.firstBefore).iterate(params) as Iterable<Row>) current.set(e.agent as string, { fromMs: q.sinceMs, site: e.site as string | null });
  for (const e of store.prep(SQL.events).iterate(params) as Iterable<Row>) {
    const kind = e.kind as string;
    if (!MARKER_KINDS.has(kind)) continue;
    const agent = e.agent as string;
    const r = rowOf(agent);
    const detail = e.detail ? (JSON.parse(e.detail as string) as Record<string, unknown>) : {};
    const ts = e.ts as number;
    const site = (e.site as string | null) ?? null;
    if (kind === 'first_changed') {
      const from = (detail.from as string | null | undefined) ?? null;
      const open = current.get(agent) ?? { fromMs: Math.min(ts, firstDataMs(agent)), site: from };
      r.first.push({ fromMs: open.fromMs, toMs: ts, site: open.site });
      current.set(agent, { fromMs: ts, site });
      r.markers.push({ ts, kind, site, from, evidence: firstEvidence(from, site, detail) });
    } else {
      const streak = typeof detail.streak === 'number' ? Math.abs(detail.streak) : null;
      r.markers.push({ ts, kind: kind as TimelineMarker['kind'], site, evidence: `${site} ${kind === 'site_down' ? 'down' : 'up'} after ${streak ?? '?'} consecutive ${kind === 'site_down' ? 'failed' : 'successful'} probes` });
    }
  }
  for (const [agent, open] of current) rowOf(agent).first.push({ fromMs: open.fromMs, toMs: q.untilMs, site: open.site });
  return { service: q.service, sinceMs: q.sinceMs, untilMs: q.untilMs, bucketMs, source, rows: [...rows.values()].sort((a, b) => a.agent.localeCompare(b.agent)) };
}

function firstEvidence(from: string | null, to: string | null, detail: Record<string, unknown>): string {
  const h = detail.hysteresis as { reason?: string } | undefined;
  return `first choice ${from ?? 'none'} → ${to ?? 'none'}`
    + (h?.reason ? `; ${h.reason}` : '; previous first choice went down, was drained or had no data')
    + (detail.failOpen ? '; all sites down: fail-open' : '');
}
