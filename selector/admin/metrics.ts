// Prometheus metrics of the selector (prom-client, one registry per selector so
// tests can run several in one process). Every value is read at scrape time from
// the plain counters the hot paths already keep (collect() callbacks): the DNS
// query path stays an integer increment, ingest and ranking pay nothing extra.
import { Counter, Gauge, Registry } from 'prom-client';
import type { DnsStats } from '../dns/stats.js';
import type { AgentState } from '../ranking/freshness.js';
import type { IngestCounters } from '../mqtt/ingest.js';

export interface SelectorMetricsSources {
  dns(): DnsStats | undefined;
  ingest(): IngestCounters | undefined;
  agentStates(): ReadonlyMap<string, AgentState>;
  recomputations(): number;
  dbWriteErrors(): number;
  committedResults(): number;
  /** service → address → site id, for labelling answers by site. */
  siteIds(): Map<string, Map<string, string>>;
}

/** Sets a labelled counter to absolute values (prom-client counters only go up: reset, then inc). */
function setAll<T extends string>(c: Counter<T>, values: [Partial<Record<T, string>>, number][]): void {
  c.reset();
  for (const [labels, n] of values) c.inc(labels, n);
}

export function createSelectorMetrics(src: SelectorMetricsSources): Registry {
  const registry = new Registry();
  const registers = [registry];
  new Counter({
    name: 'vantage_selector_dns_responses_total', help: 'DNS responses by rcode', labelNames: ['rcode'], registers,
    collect() { setAll(this, Object.entries(src.dns()?.byRcode ?? {}).map(([rcode, n]) => [{ rcode }, n])); },
  });
  new Counter({
    name: 'vantage_selector_dns_queries_total', help: 'DNS queries with a readable question, by qtype', labelNames: ['qtype'], registers,
    collect() { setAll(this, Object.entries(src.dns()?.byQtype ?? {}).map(([qtype, n]) => [{ qtype }, n])); },
  });
  new Counter({
    name: 'vantage_selector_dns_packets_total', help: 'DNS packets received, by transport', labelNames: ['transport'], registers,
    collect() { const d = src.dns(); setAll(this, d ? [[{ transport: 'udp' }, d.udpQueries], [{ transport: 'tcp' }, d.tcpQueries]] : []); },
  });
  new Counter({
    name: 'vantage_selector_dns_dropped_total', help: 'DNS packets dropped (unreadable, QR=1, rate limited)', registers,
    collect() { this.reset(); this.inc(src.dns()?.dropped ?? 0); },
  });
  new Counter({
    name: 'vantage_selector_dns_internal_errors_total', help: 'Exceptions caught on the DNS query path (each answered SERVFAIL); non-zero is a bug', registers,
    collect() { this.reset(); this.inc(src.dns()?.internalErrors ?? 0); },
  });
  new Counter({
    name: 'vantage_selector_dns_worker_restarts_total', help: 'DNS worker threads started again after one stopped (dns.workers); non-zero is a bug', registers,
    collect() { this.reset(); this.inc(src.dns()?.workerRestarts ?? 0); },
  });
  new Counter({
    name: 'vantage_selector_dns_answers_total', help: 'A/AAAA answers served, by service and first-ranked site', labelNames: ['service', 'site'], registers,
    collect() {
      const ids = src.siteIds();
      const values: [{ service: string; site: string }, number][] = [];
      for (const [service, byAddr] of Object.entries(src.dns()?.answers ?? {})) {
        for (const [addr, n] of Object.entries(byAddr)) values.push([{ service, site: ids.get(service)?.get(addr) ?? addr }, n]);
      }
      setAll(this, values);
    },
  });
  new Gauge({
    name: 'vantage_selector_agents', help: 'Agents by state', labelNames: ['state'], registers,
    collect() {
      const counts: Record<string, number> = { online: 0, stale: 0, offline: 0 };
      for (const s of src.agentStates().values()) {
        const k = s === 'fresh' ? 'online' : s;
        counts[k] = (counts[k] ?? 0) + 1;
      }
      for (const [state, n] of Object.entries(counts)) this.set({ state }, n);
    },
  });
  new Counter({
    name: 'vantage_selector_ingest_accepted_total', help: 'MQTT messages accepted, by kind', labelNames: ['kind'], registers,
    collect() { setAll(this, Object.entries(src.ingest()?.accepted ?? {}).map(([kind, n]) => [{ kind }, n])); },
  });
  new Counter({
    name: 'vantage_selector_ingest_rejected_total', help: 'MQTT messages rejected, by reason', labelNames: ['reason'], registers,
    collect() { setAll(this, Object.entries(src.ingest()?.rejected ?? {}).map(([reason, n]) => [{ reason }, n ?? 0])); },
  });
  new Counter({
    name: 'vantage_selector_ingest_results_total', help: 'Probe results accepted', registers,
    collect() { this.reset(); this.inc(src.ingest()?.results ?? 0); },
  });
  new Counter({
    name: 'vantage_selector_ingest_results_rejected_total', help: 'Probe results dropped from accepted messages, by reason', labelNames: ['reason'], registers,
    collect() { setAll(this, Object.entries(src.ingest()?.resultsRejected ?? {}).map(([reason, n]) => [{ reason }, n ?? 0])); },
  });
  new Counter({
    name: 'vantage_selector_rank_recomputations_total', help: 'Site rankings recomputed (per agent or aggregate, per service)', registers,
    collect() { this.reset(); this.inc(src.recomputations()); },
  });
  new Counter({
    name: 'vantage_selector_db_write_errors_total', help: 'Failed SQLite write transactions', registers,
    collect() { this.reset(); this.inc(src.dbWriteErrors() + (src.ingest()?.dbWriteErrors ?? 0)); },
  });
  new Counter({
    name: 'vantage_selector_db_results_committed_total', help: 'Probe results committed to SQLite', registers,
    collect() { this.reset(); this.inc(src.committedResults()); },
  });
  return registry;
}
