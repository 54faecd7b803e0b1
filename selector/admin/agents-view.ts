// `agents list`: every agent the selector knows, with its state (online / stale /
// offline), last seen, data age and what it announced. Live state comes from the
// daemon's Freshness; with `--db` it is recomputed from the stored rows the same
// way (offline status, else stale when the newest metrics are older than
// staleIntervals × intervalS).
import type { AgentState } from '../ranking/freshness.js';
import type { Store } from '../store/store.js';

export type AgentStateView = 'online' | 'stale' | 'offline';

export interface AgentView {
  id: string;
  pop: string | null;
  state: AgentStateView;
  lastSeen: number | null;
  lastMetricsTs: number | null;
  /** Seconds since the newest metrics (null without any). */
  dataAgeS: number | null;
  intervalS: number | null;
  enrolled: boolean;
  addresses: string[];
  prefixes: string[];
  resolvers: string[];
}

export interface LiveAgents {
  state(agent: string): AgentState | undefined;
  lastMetricsTs(agent: string): number | undefined;
}

export function viewState(s: AgentState | undefined): AgentStateView {
  return s === 'fresh' ? 'online' : s === 'offline' ? 'offline' : 'stale';
}

export function agentsView(store: Store, nowMs: number, staleIntervals: number, live?: LiveAgents): AgentView[] {
  return store.listAgents().map((r) => {
    const ann = (r.announce ?? {}) as { addresses?: string[]; prefixes?: string[]; resolvers?: string[] };
    const lastMetricsTs = live ? live.lastMetricsTs(r.id) ?? null : store.newestResultTs(r.id);
    let state: AgentStateView;
    if (live) state = viewState(live.state(r.id));
    else if (r.state === 'offline') state = 'offline';
    else if (lastMetricsTs === null || r.intervalS === null) state = 'stale';
    else state = nowMs - lastMetricsTs > staleIntervals * r.intervalS * 1000 ? 'stale' : 'online';
    return {
      id: r.id, pop: r.pop, state, lastSeen: r.lastSeen, lastMetricsTs,
      dataAgeS: lastMetricsTs === null ? null : Math.max(0, (nowMs - lastMetricsTs) / 1000),
      intervalS: r.intervalS, enrolled: r.enrolled,
      addresses: ann.addresses ?? [], prefixes: ann.prefixes ?? [], resolvers: ann.resolvers ?? [],
    };
  });
}
