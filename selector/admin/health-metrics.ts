// Health gauges for alerting (systemd/prometheus/vantage.rules.yml): per-agent state,
// per-agent site state, fail-open and fresh-agent counts per service. Read from the
// ranking engine's current rankings at scrape time, like every other selector metric:
// nothing is computed on the query or ingest paths.
import { Gauge, type Registry } from 'prom-client';
import { DEFAULT_KEY } from '../dns/contract.js';
import type { RankEngine } from '../ranking/engine.js';
import type { AgentState } from '../ranking/freshness.js';

export interface HealthSources {
  engine(): RankEngine;
  agentStates(): ReadonlyMap<string, AgentState>;
}

export function registerHealthMetrics(registry: Registry, src: HealthSources): void {
  const registers = [registry];
  new Gauge({
    name: 'vantage_selector_agent_up', help: '1 when the agent is online with fresh data, 0 when stale or offline', labelNames: ['agent'], registers,
    collect() {
      this.reset();
      for (const [agent, state] of src.agentStates()) this.set({ agent }, state === 'fresh' ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vantage_selector_site_down', help: '1 when the site is judged down from this fresh agent, 0 when up or without data', labelNames: ['service', 'site', 'agent'], registers,
    collect() {
      this.reset();
      const engine = src.engine();
      for (const svc of engine.serviceList()) {
        for (const agent of engine.agents()) {
          if (!engine.isFresh(agent)) continue;
          const r = engine.explain(svc.name, agent);
          for (const s of r?.explanation.sites ?? []) if (s.state !== 'drained') this.set({ service: svc.name, site: s.id, agent }, s.state === 'down' ? 1 : 0);
        }
      }
    },
  });
  new Gauge({
    name: 'vantage_selector_service_fail_open', help: '1 when the service answers fail-open (every site down) for clients of no fresh agent', labelNames: ['service'], registers,
    collect() {
      this.reset();
      const engine = src.engine();
      for (const svc of engine.serviceList()) this.set({ service: svc.name }, engine.explain(svc.name, DEFAULT_KEY)?.failOpen ? 1 : 0);
    },
  });
  new Gauge({
    name: 'vantage_selector_service_fresh_agents', help: 'Fresh agents with a ranking for the service', labelNames: ['service'], registers,
    collect() {
      this.reset();
      const engine = src.engine();
      for (const svc of engine.serviceList()) {
        this.set({ service: svc.name }, engine.agents().filter((a) => engine.isFresh(a) && engine.explain(svc.name, a) !== undefined).length);
      }
    },
  });
}
