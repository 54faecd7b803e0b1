// Prometheus metrics of the broker link and of catalogue replication (replicas),
// added to the selector's registry; read at scrape time like metrics.ts.
import { Counter, Gauge, type Registry } from 'prom-client';
import type { BrokerStatus } from '../mqtt/bus.js';

export interface CatalogueSyncCounters {
  /** Catalogues of other replicas applied here. */
  applied: number;
  /** Catalogues older than ours (ignored; ours republished). */
  older: number;
  /** Catalogues whose static (selector.yaml) part differs from ours. */
  conflicts: number;
  /** Catalogue payloads that failed validation. */
  invalid: number;
  /** Our revision of the catalogue. */
  rev: number;
  /** Answer settings of applied catalogues dropped as invalid, by setting (shared/catalogue-settings.ts). */
  settingsRejected?: Partial<Record<string, number>>;
}

export interface BrokerMetricsSources {
  broker(): BrokerStatus | undefined;
  catalogueSync(): CatalogueSyncCounters | undefined;
}

export function registerBrokerMetrics(registry: Registry, src: BrokerMetricsSources): void {
  const registers = [registry];
  new Gauge({
    name: 'vantage_selector_broker_connected', help: '1 while the selector is connected to a broker (embedded: listening), else 0', registers,
    collect() { this.set(src.broker()?.connected ? 1 : 0); },
  });
  new Gauge({
    name: 'vantage_selector_broker_pending_publishes', help: 'Retained publishes (catalogue) kept until a broker is reachable', registers,
    collect() { this.set(src.broker()?.pendingPublishes ?? 0); },
  });
  new Counter({
    name: 'vantage_selector_broker_connects_total', help: 'Successful broker connections since start', registers,
    collect() { this.reset(); this.inc(src.broker()?.connects ?? 0); },
  });
  new Counter({
    name: 'vantage_selector_catalogue_sync_total', help: 'Catalogues received from other replicas, by outcome', labelNames: ['outcome'], registers,
    collect() {
      const c = src.catalogueSync();
      this.reset();
      if (!c) return;
      for (const outcome of ['applied', 'older', 'conflicts', 'invalid'] as const) this.inc({ outcome }, c[outcome]);
    },
  });
  new Counter({
    name: 'vantage_selector_catalogue_settings_rejected_total', help: 'Answer settings of other replicas\' catalogues dropped as invalid, by setting', labelNames: ['setting'], registers,
    collect() {
      this.reset();
      for (const [setting, n] of Object.entries(src.catalogueSync()?.settingsRejected ?? {})) this.inc({ setting }, n ?? 0);
    },
  });
  new Gauge({
    name: 'vantage_selector_catalogue_revision', help: 'Revision of the catalogue this selector serves', registers,
    collect() { this.set(src.catalogueSync()?.rev ?? 0); },
  });
}
