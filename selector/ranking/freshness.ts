// Agent freshness (DESIGN.md "Ranking"): an agent whose newest metrics are older
// than staleIntervals × its intervalS is stale; one whose status is the MQTT last
// will ("offline") is offline — unless metrics arrived after that status. Times are
// the selector's arrival times (agent clocks may be skewed, and a last will carries
// the ts of the agent's connect). Only fresh agents get their own answers and feed
// the aggregate.

export type AgentState = 'fresh' | 'stale' | 'offline';

interface AgentSeen {
  intervalS?: number;
  lastMetricsTs?: number;
  status?: 'online' | 'offline';
  statusTs?: number;
}

export interface StateChange {
  agent: string;
  from: AgentState | undefined;
  to: AgentState;
}

export class Freshness {
  private readonly seen = new Map<string, AgentSeen>();
  private states = new Map<string, AgentState>();

  constructor(private readonly staleIntervals: number) {}

  private entry(agent: string): AgentSeen {
    let e = this.seen.get(agent);
    if (!e) this.seen.set(agent, (e = {}));
    return e;
  }

  noteMetrics(agent: string, ts: number, intervalS: number): void {
    const e = this.entry(agent);
    if (e.lastMetricsTs === undefined || ts > e.lastMetricsTs) e.lastMetricsTs = ts;
    e.intervalS = intervalS;
  }

  noteStatus(agent: string, state: 'online' | 'offline', ts: number): void {
    const e = this.entry(agent);
    e.status = state;
    e.statusTs = ts;
  }

  forget(agent: string): void {
    this.seen.delete(agent);
  }

  stateAt(agent: string, nowMs: number): AgentState {
    const e = this.seen.get(agent);
    if (!e) return 'stale';
    if (e.status === 'offline' && (e.lastMetricsTs === undefined || (e.statusTs ?? 0) >= e.lastMetricsTs)) return 'offline';
    if (e.lastMetricsTs === undefined || e.intervalS === undefined) return 'stale';
    return nowMs - e.lastMetricsTs > this.staleIntervals * e.intervalS * 1000 ? 'stale' : 'fresh';
  }

  /** Re-evaluates every agent; returns the new states and what changed since last time. */
  evaluate(nowMs: number): { states: ReadonlyMap<string, AgentState>; changes: StateChange[] } {
    const next = new Map<string, AgentState>();
    const changes: StateChange[] = [];
    for (const agent of this.seen.keys()) {
      const to = this.stateAt(agent, nowMs);
      next.set(agent, to);
      const from = this.states.get(agent);
      if (from !== to) changes.push({ agent, from, to });
    }
    this.states = next;
    return { states: next, changes };
  }

  current(): ReadonlyMap<string, AgentState> {
    return this.states;
  }

  info(agent: string): Readonly<AgentSeen> | undefined {
    return this.seen.get(agent);
  }
}
