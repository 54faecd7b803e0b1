// Proxy-cache counters per agent, from the optional `proxy` totals of each agent's
// metrics message (cumulative since the agent started), kept in memory for
// `vantage-selector metrics` (admin API): the hit ratio of each POP's proxy.
import type { Metrics } from '../../shared/protocol.js';

export type ProxyTotals = NonNullable<Metrics['proxy']>;

export interface ProxyStatsRow extends ProxyTotals {
  agent: string;
  /** Arrival time of the totals (epoch ms). */
  ts: number;
  /** (hits + revalidated) / (hits + revalidated + misses); null before any cacheable outcome. */
  hitRatio: number | null;
}

export class ProxyStatsView {
  private readonly latest = new Map<string, ProxyStatsRow>();

  update(agent: string, totals: ProxyTotals, ts: number): void {
    const served = totals.hits + totals.revalidated;
    const cacheable = served + totals.misses;
    this.latest.set(agent, { agent, ts, ...totals, hitRatio: cacheable > 0 ? served / cacheable : null });
  }

  forget(agent: string): void {
    this.latest.delete(agent);
  }

  rows(agent?: string): ProxyStatsRow[] {
    return [...this.latest.values()].filter((r) => !agent || r.agent === agent).sort((a, b) => a.agent.localeCompare(b.agent));
  }
}
