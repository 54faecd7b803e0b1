// Prometheus series per LB, read at scrape time from the counters the backbone's query
// path and registry already keep (the query path stays an integer increment).
import { Counter, Gauge, type Registry } from 'prom-client';
import type { Backbone } from './backbone.js';

function setAll<T extends string>(c: Counter<T>, values: [Partial<Record<T, string>>, number][]): void {
  c.reset();
  for (const [labels, n] of values) c.inc(labels, n);
}

export function registerBackboneMetrics(registry: Registry, bb: Backbone): void {
  const registers = [registry];
  new Gauge({
    name: 'vantage_backbone_lb_up', help: 'LB state at the backbone: 1 online (takes referrals), 0 offline or unknown', labelNames: ['lb'], registers,
    collect() { this.reset(); for (const r of bb.registry.list()) this.set({ lb: r.id }, bb.registry.state(r) === 'online' ? 1 : 0); },
  });
  new Gauge({
    name: 'vantage_backbone_lb_push_fresh', help: '1 when the LB pushed rankings within the stale threshold', labelNames: ['lb'], registers,
    collect() { this.reset(); for (const r of bb.registry.list()) this.set({ lb: r.id }, bb.registry.pushFresh(r) ? 1 : 0); },
  });
  new Gauge({
    name: 'vantage_backbone_lb_rankings_age_seconds', help: 'Seconds since the LB last pushed rankings', labelNames: ['lb'], registers,
    collect() {
      this.reset();
      const now = Date.now();
      for (const r of bb.registry.list()) if (r.rankingsAt !== undefined) this.set({ lb: r.id }, (now - r.rankingsAt) / 1000);
    },
  });
  new Gauge({
    name: 'vantage_backbone_lb_push_seq', help: 'Sequence number of the last accepted rankings push', labelNames: ['lb'], registers,
    collect() { this.reset(); for (const r of bb.registry.list()) if (r.rankings) this.set({ lb: r.id }, r.rankings.seq); },
  });
  new Gauge({
    name: 'vantage_backbone_lb_prefixes', help: 'Client prefixes the backbone maps to the LB', labelNames: ['lb'], registers,
    collect() { this.reset(); for (const r of bb.registry.list()) this.set({ lb: r.id }, bb.registry.effective(r).prefixes.length); },
  });
  new Counter({
    name: 'vantage_backbone_answers_total', help: 'Service answers by LB and kind (push, refer, child = {label}.{service}, fallback = LB offline/stale; lb="" for clients of no LB)',
    labelNames: ['lb', 'kind'], registers,
    collect() {
      const rows: [{ lb: string; kind: string }, number][] = [];
      for (const v of bb.tables.views.values()) for (const [kind, n] of Object.entries(v.counts)) rows.push([{ lb: v.id, kind }, n]);
      const c = bb.counts();
      rows.push([{ lb: '', kind: 'aggregate' }, c.aggregate], [{ lb: '', kind: 'catalogue' }, c.catalogue]);
      setAll(this, rows);
    },
  });
  new Counter({
    name: 'vantage_backbone_lb_messages_total', help: 'LB messages accepted, by kind', labelNames: ['kind'], registers,
    collect() { setAll(this, Object.entries(bb.registry.counters.accepted).map(([kind, n]) => [{ kind }, n])); },
  });
  new Counter({
    name: 'vantage_backbone_lb_messages_rejected_total', help: 'LB messages rejected, by reason', labelNames: ['reason'], registers,
    collect() { setAll(this, Object.entries(bb.registry.counters.rejected).map(([reason, n]) => [{ reason }, n as number])); },
  });
}
