// The agent daemon: the scheduler probes, each round becomes one v1 metrics message
// (validated before it leaves), the publisher delivers it and feeds catalogue
// updates back to the scheduler. Optional Prometheus /metrics on http.listen.
import { readFileSync } from 'node:fs';
import { ConfigError } from '../shared/errors.js';
import { silentLogger, type Logger } from '../shared/log.js';
import { parseMetrics, type Metrics } from '../shared/protocol.js';
import { buildAnnounce, probeFamilies, readHostFacts } from './announce.js';
import type { AgentConfig } from './config.js';
import type { AgentMetrics } from './metrics-http.js';
import { createPublisher, type PublisherStats } from './publisher.js';
import { createScheduler } from './scheduler.js';
import type { Proxy } from './proxy/proxy.js';

export interface AgentOptions {
  log?: Logger;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  maxAttempts?: number;
}

export interface AgentStats extends PublisherStats {
  rounds: number;
  targets: number;
  inFlight: number;
  invalidRounds: number;
}

export interface Agent {
  start(): Promise<void>;
  close(): Promise<void>;
  stats(): AgentStats;
  /** The proxy-cache, when the config has a `proxy:` section. */
  proxy?: Proxy;
}

function readCa(config: Readonly<AgentConfig>): Buffer | undefined {
  if (!config.probeCa) return undefined;
  try {
    return readFileSync(config.probeCa);
  } catch (err) {
    throw new ConfigError('probeCa', `cannot read ${config.probeCa}: ${(err as NodeJS.ErrnoException).code ?? err}`, { cause: err });
  }
}

export function createAgent(config: Readonly<AgentConfig>, opts: AgentOptions = {}): Agent {
  const log = (opts.log ?? silentLogger()).child({ component: 'agent', agent: config.id });
  const ca = readCa(config);
  let invalidRounds = 0;
  let metrics: AgentMetrics | undefined;
  /** Created in start() (loaded only when configured: its modules cost ~12 MiB of RSS). */
  let proxy: Proxy | undefined;
  let proxyHealth = '';
  /** Re-publishes the retained status when the proxy's health changed (checked after every round). */
  const checkProxyHealth = (): void => {
    if (!proxy) return;
    const now = JSON.stringify(proxy.health());
    if (now === proxyHealth) return;
    proxyHealth = now;
    publisher.refreshStatus();
  };

  const publisher = createPublisher({
    config,
    log: log.child({ component: 'publisher' }),
    announce: () => buildAnnounce(config, readHostFacts(), Date.now(), proxy?.announce()),
    onCatalogue: (catalogue) => {
      scheduler.setCatalogue(catalogue);
      proxy?.setCatalogue(catalogue);
    },
    statusExtra: config.proxy ? () => (proxy ? { proxy: proxy.health() } : {}) : undefined,
    reconnectMinMs: opts.reconnectMinMs,
    reconnectMaxMs: opts.reconnectMaxMs,
    maxAttempts: opts.maxAttempts,
  });

  const scheduler = createScheduler({
    intervalS: config.intervalS,
    concurrency: config.concurrency,
    recheckChanges: config.recheckChanges,
    localAddress: config.bindAddress,
    localAddress6: config.bindAddress6,
    families: probeFamilies(config, readHostFacts()),
    ca,
    log: log.child({ component: 'scheduler' }),
    onProbe: (r) => {
      metrics?.observe(r);
      proxy?.observe(r);
    },
    onRound: ({ seq, results }) => {
      const message: Metrics = {
        v: 1, agent: config.id, seq, ts: Date.now(), intervalS: config.intervalS, results, ...(proxy ? { proxy: { ...proxy.metrics.totals } } : {}),
      };
      try {
        parseMetrics(message, { topicAgent: config.id });
      } catch (err) {
        // A bug on our side: never publish what the selector would reject.
        invalidRounds++;
        log.error({ err: (err as Error).message, seq }, 'round failed v1 validation; not published');
        return;
      }
      publisher.enqueueMetrics(message);
      checkProxyHealth();
      const failed = results.filter((r) => !r.ok).length;
      log.debug({ seq, results: results.length, failed }, 'round done');
    },
  });

  const stats = (): AgentStats => ({ ...publisher.stats(), ...scheduler.stats(), invalidRounds });

  return {
    async start() {
      if (config.http.listen) {
        // Loaded only when wanted: prom-client adds to every agent's memory otherwise.
        const { createAgentMetrics } = await import('./metrics-http.js');
        metrics = createAgentMetrics(config.http.listen, stats);
        await metrics.start();
      }
      if (config.proxy) {
        const { createProxy } = await import('./proxy/proxy.js');
        proxy = createProxy({ config: config.proxy, agentId: config.id, log: log.child({ component: 'proxy' }), localAddress: config.bindAddress, ca });
        if (metrics) await proxy.attachMetrics(metrics.registry);
        await proxy.start();
      }
      proxyHealth = JSON.stringify(proxy?.health());
      publisher.start();
      scheduler.start();
      log.info({ intervalS: config.intervalS, concurrency: config.concurrency }, 'agent started');
    },
    async close() {
      await scheduler.close();
      await publisher.close();
      await proxy?.close();
      await metrics?.close();
      log.info('agent stopped');
    },
    stats,
    get proxy() {
      return proxy;
    },
  };
}
