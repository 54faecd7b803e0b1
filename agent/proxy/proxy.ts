// The agent's proxy-cache (DESIGN.md "Proxy-cache mode", seed ¶0051): listeners for
// client HTTP (and HTTPS, see tls.ts), undici's RFC 9111 cache, and a router that
// forwards to the site this agent measures best. createProxy() is fed by the agent:
// the catalogue (setCatalogue) and every probe result (observe).
import http from 'node:http';
import type net from 'node:net';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import { formatHostPort, type HostPort } from '../../shared/config.js';
import { ConfigError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { Catalogue, Result } from '../../shared/protocol.js';
import { createProxyCache } from './cache.js';
import { proxyAddresses, type ProxyConfig } from './config.js';
import { SiteRouter } from './forward.js';
import { ProxyMetrics } from './metrics.js';
import { createRequestHandler, limitServer, serverOptions } from './server.js';
import { createTlsListener, type TlsListener } from './tls.js';
import { Upstreams } from './upstreams.js';

export interface ProxyOptions {
  config: Readonly<ProxyConfig>;
  agentId: string;
  log: Logger;
  /** Source address of upstream connections (the probes' bindAddress: the path measured). */
  localAddress?: string;
  /** Extra CA trusted for HTTPS sites (the agent's probeCa). */
  ca?: string | Buffer;
}

/** What the agent tells the selector (announce.proxy, status.proxy). */
export interface ProxyHealth {
  healthy: boolean;
  /** Served services without any site this agent measures as up. */
  down: string[];
}

export interface Proxy {
  start(): Promise<void>;
  close(): Promise<void>;
  setCatalogue(catalogue: Catalogue): void;
  observe(result: Result): void;
  health(): ProxyHealth;
  announce(): { addresses: string[]; services: string[] };
  attachMetrics(registry: Registry): Promise<void>;
  /** Bound addresses (`host:port`), plain listeners first. */
  addresses(): { http: string[]; https: string[] };
  metrics: ProxyMetrics;
  upstreams: Upstreams;
}

function fmt(a: AddressInfo | string | null): string {
  if (!a || typeof a === 'string') return String(a);
  return a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
}

export function createProxy(opts: ProxyOptions): Proxy {
  const { config, log } = opts;
  const upstreams = new Upstreams(new Set(config.services));
  const metrics = new ProxyMetrics();
  const router = new SiteRouter({
    upstreams,
    connectionsPerSite: config.connectionsPerSite,
    timeoutMs: config.upstreamTimeoutMs,
    localAddress: opts.localAddress,
    ca: opts.ca,
    onUpstreamError: (site, code) => metrics.upstreamError(site.service, site.id, code),
    onRetry: (from) => metrics.retry(from.service),
  });
  const cache = createProxyCache(router, config.cache);
  const via = `1.1 vantage-${opts.agentId}`;
  const handler = createRequestHandler({ config, via, dispatcher: cache.dispatcher, fresh: cache.fresh, upstreams, metrics, log });
  const servers: http.Server[] = [];
  const tlsListeners: TlsListener[] = [];
  let listening = false;

  /** Binds one listener; a bind failure is a config error naming the key (`proxy.listen[0]: cannot listen on …: EADDRINUSE`). */
  const listen = (server: net.Server, hp: HostPort, key: string): Promise<void> => {
    return new Promise<void>((resolve, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => reject(new ConfigError(key, `cannot listen on ${formatHostPort(hp)}: ${err.code ?? err.message}`, { cause: err })));
      server.listen(hp.port, hp.host, () => resolve());
    });
  };

  return {
    metrics,
    upstreams,
    async start() {
      for (const [i, hostPort] of config.listen.entries()) {
        const server = http.createServer(serverOptions(config), handler);
        limitServer(server, config);
        servers.push(server);
        await listen(server, hostPort, `proxy.listen[${i}]`);
      }
      for (const [i, hostPort] of config.tlsListen.entries()) {
        const l = createTlsListener({ config, handler, upstreams, metrics, log, localAddress: opts.localAddress });
        tlsListeners.push(l);
        await listen(l.server, hostPort, `proxy.tlsListen[${i}]`);
      }
      listening = true;
      log.info({ listen: config.listen, tlsListen: config.tlsListen, services: config.services, cacheMiB: config.cache.maxMiB }, 'proxy listening');
    },
    async close() {
      listening = false;
      await Promise.all([
        ...servers.map((s) => new Promise<void>((resolve) => { s.closeAllConnections(); s.close(() => resolve()); })),
        ...tlsListeners.map((l) => l.close()),
      ]);
      await router.destroy();
    },
    setCatalogue(catalogue) {
      upstreams.setCatalogue(catalogue);
      router.prune(config.services.flatMap((s) => [...upstreams.order(s)]));
    },
    observe: (r) => upstreams.observe(r),
    health() {
      const down = config.services.filter((s) => !upstreams.usable(s));
      return { healthy: listening && down.length < config.services.length, down };
    },
    announce: () => ({ addresses: proxyAddresses(config), services: [...config.services] }),
    attachMetrics: (registry) => metrics.attach(registry, cache),
    addresses: () => ({
      http: servers.map((s) => fmt(s.address())),
      https: tlsListeners.map((l) => fmt(l.server.address())),
    }),
  };
}
