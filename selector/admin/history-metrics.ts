// Per agent × service × site measurement gauges, so long-term history lives in an
// existing time-series store (Prometheus) while the selector's own database stays
// bounded (store/retention.ts). Read from the ranking windows at scrape time: median
// latency and failure share over the ranking window (ranking.windowS) of each fresh
// agent. One series per agent × site: 1,000 POPs × 50 sites is 50,000 series per gauge.
import { Gauge, type Registry } from 'prom-client';
import type { RankEngine } from '../ranking/engine.js';

export interface HistorySources {
  engine(): RankEngine;
}

/** Calls `each` with every fresh agent's explanation of every site that has data. */
function forEachSite(engine: RankEngine, each: (labels: { service: string; site: string; agent: string }, s: { medianMs: number | null; failureShare: number | null }) => void): void {
  for (const svc of engine.serviceList()) {
    for (const agent of engine.agents()) {
      if (!engine.isFresh(agent)) continue;
      for (const s of engine.explain(svc.name, agent)?.explanation.sites ?? []) {
        if (s.samples > 0) each({ service: svc.name, site: s.id, agent }, s);
      }
    }
  }
}

export function registerHistoryMetrics(registry: Registry, src: HistorySources): void {
  const registers = [registry];
  new Gauge({
    name: 'vantage_selector_site_latency_ms', help: 'Median totalMs of successful probes over the ranking window, per fresh agent and site', labelNames: ['service', 'site', 'agent'], registers,
    collect() {
      this.reset();
      forEachSite(src.engine(), (labels, s) => { if (s.medianMs !== null) this.set(labels, s.medianMs); });
    },
  });
  new Gauge({
    name: 'vantage_selector_site_failure_ratio', help: 'Share of failed probes (resets, timeouts, …) over the ranking window, per fresh agent and site', labelNames: ['service', 'site', 'agent'], registers,
    collect() {
      this.reset();
      forEachSite(src.engine(), (labels, s) => { if (s.failureShare !== null) this.set(labels, s.failureShare); });
    },
  });
}
