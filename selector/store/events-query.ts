// `events`: the decision log (site down/up per agent, first choice changes, agent
// online/stale/offline) with the evidence for each entry, read back from the raw
// results around the event: the failed/successful probes that tripped a site, the
// last metrics before an agent went stale, the hysteresis arithmetic of a switch.
import type { Store } from './store.js';

export interface EventView {
  ts: number;
  kind: string;
  agent: string | null;
  service: string | null;
  site: string | null;
  detail: unknown;
  /** One line of human-readable evidence. */
  evidence: string;
}

type Row = Record<string, unknown>;

function fmtMs(ms: unknown): string {
  return typeof ms === 'number' ? `${Math.round(ms * 10) / 10} ms` : 'n/a';
}

const SQL = {
  events: 'SELECT * FROM events WHERE ts >= ? ORDER BY ts, id LIMIT ?',
  probes: 'SELECT ts, ok, error, total_ms FROM results WHERE agent = ? AND service = ? AND site = ? AND ts <= ? ORDER BY ts DESC LIMIT 3',
  lastMetrics: 'SELECT MAX(ts) AS ts FROM results WHERE agent = ? AND ts <= ?',
  interval: 'SELECT interval_s FROM agents WHERE id = ?',
} as const;

/** The decision log since `sinceMs` with one line of evidence per entry (admin API and --db mode). */
export function queryEvents(store: Store, sinceMs: number, limit = 1000): EventView[] {
  const events = store.prep(SQL.events).all(sinceMs, limit) as Row[];
  const probes = store.prep(SQL.probes);
  const lastMetrics = store.prep(SQL.lastMetrics);
  const interval = store.prep(SQL.interval);
  return events.map((e) => {
    const detail = e.detail ? JSON.parse(e.detail as string) as Record<string, unknown> : null;
    const agent = (e.agent as string | null) ?? null;
    const kind = e.kind as string;
    const ts = e.ts as number;
    let evidence = '';
    if ((kind === 'site_down' || kind === 'site_up') && agent) {
      const rows = (probes.all(agent, e.service, e.site, ts) as Row[]).reverse();
      const outcomes = rows.map((r) => (r.ok === 1 ? `ok ${fmtMs(r.total_ms)}` : String(r.error ?? 'failed')));
      const streak = typeof detail?.streak === 'number' ? Math.abs(detail.streak) : rows.length;
      evidence = `${streak} consecutive ${kind === 'site_down' ? 'failures' : 'successes'}; last probes: ${outcomes.join(', ') || 'n/a'}`;
    } else if (kind === 'first_changed') {
      const h = detail?.hysteresis as { decision?: string; reason?: string } | undefined;
      const who = agent ? `agent ${agent}` : 'default (aggregate)';
      evidence = `${who}: ${String(detail?.from ?? 'none')} → ${String(detail?.to ?? 'none')}`
        + (h?.reason ? `; ${h.reason}` : '')
        + (detail?.failOpen ? '; all sites down: fail-open' : '')
        + (!h ? '; previous first choice went down, was drained or had no data' : '');
    } else if (kind === 'agent_stale' && agent && detail?.from === null) {
      evidence = 'first seen (status or announce) before any metrics';
    } else if (kind === 'agent_stale' && agent) {
      const last = (lastMetrics.get(agent, ts) as { ts: number | null }).ts;
      const iv = (interval.get(agent) as { interval_s: number | null } | undefined)?.interval_s;
      evidence = last === null ? 'no metrics received' : `last metrics ${((ts - last) / 1000).toFixed(1)} s before (interval ${iv ?? '?'} s)`;
    } else if (kind === 'agent_offline' || kind === 'agent_status_offline') {
      evidence = 'status topic says offline (graceful stop or MQTT last will)';
    } else if (kind === 'agent_online' || kind === 'agent_status_online') {
      evidence = kind === 'agent_online' ? 'fresh metrics arriving' : 'status topic says online';
    }
    if (detail && typeof detail.from === 'string' && kind.startsWith('agent_') && !kind.startsWith('agent_status')) evidence += ` (was ${detail.from === 'fresh' ? 'online' : detail.from})`;
    return { ts, kind, agent, service: (e.service as string | null) ?? null, site: (e.site as string | null) ?? null, detail, evidence };
  });
}
