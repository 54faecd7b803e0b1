// The backbone tier (DNS-B): createBackbone(...) takes every vantage/v1/lbs/+/+ message,
// keeps the query-path tables current, and wraps the DNS server's responder with the
// backbone's query path. selector.ts routes the LB topics here and calls evaluate() on
// its freshness tick.
import type { Logger } from '../../shared/log.js';
import type { ZoneConfig } from '../dns/config.js';
import type { WireAnswerTable } from '../dns/answer-table.js';
import type { Responder } from '../dns/responder.js';
import type { BackboneConfig } from './config.js';
import { LbRegistry } from './registry.js';
import { BackboneTables, type BackboneService } from './tables.js';
import { createBackboneResponder, type BackboneCounts } from './responder.js';

export interface BackboneOptions {
  config: BackboneConfig;
  zones: readonly ZoneConfig[];
  /** ranking.staleIntervals: pushed rankings older than this many of their intervals are stale. */
  staleIntervals: number;
  log: Logger;
  now?: () => number;
}

export function createBackbone(opts: BackboneOptions) {
  const { config, log } = opts;
  const now = opts.now ?? Date.now;
  let tables: BackboneTables | undefined;
  const registry = new LbRegistry({
    lbs: config.lbs, staleIntervals: opts.staleIntervals, log, now,
    onChange: (lb, kind) => {
      const r = registry.get(lb);
      if (!r || !tables) return;
      if (kind !== 'status') tables.rebuildLb(r, kind);
      if (!tables.evaluate(now()) && kind === 'rankings') tables.rebuildAggregate();
      if (kind !== 'rankings') log.info({ lb, kind, state: registry.state(r) }, 'lb update');
    },
  });
  tables = new BackboneTables(config, registry, log, opts.zones);
  const t = tables;
  t.evaluate(now());
  let counts: BackboneCounts = { aggregate: 0, catalogue: 0 };
  let services: readonly BackboneService[] = [];

  return {
    registry,
    tables: t,
    handle: (topic: string, payload: Buffer): void => registry.handle(topic, payload),
    /** The backbone's own catalogue: what it answers and refers for. */
    setServices(list: readonly BackboneService[]): void {
      services = list.map((s) => ({ name: s.name, answers: s.answers, ttl: s.ttl }));
      t.setServices(services);
      t.evaluate(now());
    },
    evaluate: (): boolean => t.evaluate(now()),
    /** For DnsServerOptions.wrapResponder: `own` is the backbone's own answer table. */
    wrap(own: WireAnswerTable): (inner: Responder) => Responder {
      return (inner) => {
        const r = createBackboneResponder({ inner, tables: t, own, zones: opts.zones, mode: config.mode, secondary: config.nameservers.length > 0 });
        counts = r.counts;
        return r;
      };
    },
    counts: (): BackboneCounts => counts,
    services: (): readonly BackboneService[] => services,
  };
}

export type Backbone = ReturnType<typeof createBackbone>;
