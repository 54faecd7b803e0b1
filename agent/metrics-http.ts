// Prometheus /metrics for the agent (prom-client, a registry of its own so tests
// can run several agents in one process).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { HostPort } from '../shared/config.js';
import type { Result } from '../shared/protocol.js';

export interface AgentMetrics {
  observe(result: Result): void;
  start(): Promise<void>;
  close(): Promise<void>;
  port(): number;
  /** The registry behind /metrics (the proxy adds its series here). */
  registry: Registry;
}

interface StatsView { connected: boolean; broker: string | null; queueDepth: number; dropped: number; rejected: number; published: number; connects: number; stalls: number }

export function createAgentMetrics(listen: HostPort, stats: () => StatsView): AgentMetrics {
  const registry = new Registry();
  const duration = new Histogram({
    name: 'vantage_agent_probe_duration_seconds', help: 'Probe phase durations', labelNames: ['site', 'phase'],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5], registers: [registry],
  });
  const failures = new Counter({ name: 'vantage_agent_probe_failures_total', help: 'Failed probes by class', labelNames: ['error'], registers: [registry] });
  const probes = new Counter({ name: 'vantage_agent_probes_total', help: 'Probes run', registers: [registry] });
  new Gauge({ name: 'vantage_agent_broker_connected', help: '1 when connected to the broker', registers: [registry],
    collect() { this.set(stats().connected ? 1 : 0); } });
  new Gauge({ name: 'vantage_agent_broker_info', help: 'The broker URL in use (mqtt.urls: the node), 1 while connected', labelNames: ['url'], registers: [registry],
    collect() { this.reset(); const b = stats().broker; if (b) this.set({ url: b }, 1); } });
  new Counter({ name: 'vantage_agent_messages_published_total', help: 'Metrics messages acknowledged by the broker (PUBACK)', registers: [registry],
    collect() { this.reset(); this.inc(stats().published); } });
  new Counter({ name: 'vantage_agent_broker_connects_total', help: 'Successful broker connections', registers: [registry],
    collect() { this.reset(); this.inc(stats().connects); } });
  new Counter({ name: 'vantage_agent_broker_stalls_total', help: 'Connections left for the next broker URL because the broker held our CONNECT or a publish (mqtt.stallTimeoutMs)', registers: [registry],
    collect() { this.reset(); this.inc(stats().stalls); } });
  new Gauge({ name: 'vantage_agent_queue_depth', help: 'Metrics messages waiting for the broker', registers: [registry],
    collect() { this.set(stats().queueDepth); } });
  // A counter (it only grows): the publisher's own counts are folded in at scrape time.
  let droppedSeen = 0;
  new Counter({ name: 'vantage_agent_messages_dropped_total', help: 'Metrics messages dropped (queue full or refused by the broker)', registers: [registry],
    collect() {
      const s = stats();
      const n = s.dropped + s.rejected;
      if (n > droppedSeen) this.inc(n - droppedSeen);
      droppedSeen = Math.max(droppedSeen, n);
    } });

  const server = http.createServer((req, res) => {
    if (req.url !== '/metrics') {
      res.writeHead(404).end();
      return;
    }
    registry.metrics().then((text) => {
      res.writeHead(200, { 'content-type': registry.contentType }).end(text);
    }, () => res.writeHead(500).end());
  });
  const hp = listen;

  return {
    observe(r) {
      probes.inc();
      if (r.error) failures.inc({ error: r.error });
      const phases: [string, number | null][] = [['connect', r.connectMs], ['tls', r.tlsMs], ['ttfb', r.ttfbMs], ['total', r.totalMs]];
      for (const [phase, ms] of phases) if (ms !== null) duration.observe({ site: r.site, phase }, ms / 1000);
    },
    start: () => new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(hp.port, hp.host, () => resolve());
    }),
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
    port: () => (server.address() as AddressInfo | null)?.port ?? 0,
    registry,
  };
}
