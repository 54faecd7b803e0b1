// Proxy counters: plain totals (read into the agent's status payload for the
// selector's hit ratio) and, when the agent serves /metrics, labelled prom-client
// series in the agent's registry. Counting is a few integer increments per request.
import type { Counter, Registry } from 'prom-client';

/** `tunnel`: a TLS connection passed through by SNI (one per connection, never cacheable). */
export type CacheOutcome = 'hit' | 'miss' | 'revalidated' | 'error' | 'tunnel';

export interface ProxyTotals {
  requests: number;
  hits: number;
  misses: number;
  revalidated: number;
  tunnels: number;
  /** Requests the proxy answered with its own 4xx/5xx (refused, no site, upstream failure). */
  errors: number;
  retries: number;
  upstreamErrors: number;
  bytesFromCache: number;
  bytesFromUpstream: number;
}

interface Series {
  requests: Counter<'service' | 'cache'>;
  upstream: Counter<'service' | 'site'>;
  upstreamErrors: Counter<'service' | 'site' | 'code'>;
  retries: Counter<'service'>;
  bytes: Counter<'service' | 'source'>;
}

export class ProxyMetrics {
  readonly totals: ProxyTotals = {
    requests: 0, hits: 0, misses: 0, revalidated: 0, tunnels: 0, errors: 0, retries: 0, upstreamErrors: 0, bytesFromCache: 0, bytesFromUpstream: 0,
  };
  /** Hits served by the fresh-hit fast path (fast-hit.ts), also counted in `totals.hits`; not in the status payload. */
  fastHits = 0;
  private series?: Series;

  /** Registers the labelled series in `registry` (the agent's /metrics). */
  async attach(registry: Registry, cache: { size: () => number; maxBytes: number }): Promise<void> {
    const { Counter, Gauge } = await import('prom-client');
    const registers = [registry];
    this.series = {
      requests: new Counter({ name: 'vantage_agent_proxy_requests_total', help: 'Proxied requests by cache outcome', labelNames: ['service', 'cache'], registers }),
      upstream: new Counter({ name: 'vantage_agent_proxy_upstream_requests_total', help: 'Requests sent to each site (the site chosen)', labelNames: ['service', 'site'], registers }),
      upstreamErrors: new Counter({ name: 'vantage_agent_proxy_upstream_errors_total', help: 'Upstream failures before a response', labelNames: ['service', 'site', 'code'], registers }),
      retries: new Counter({ name: 'vantage_agent_proxy_retries_total', help: 'Requests retried on the next site', labelNames: ['service'], registers }),
      bytes: new Counter({ name: 'vantage_agent_proxy_response_bytes_total', help: 'Response body bytes served, from the cache or from a site', labelNames: ['service', 'source'], registers }),
    };
    new Gauge({ name: 'vantage_agent_proxy_cache_bytes', help: 'Bytes held by the proxy cache', registers, collect() { this.set(cache.size()); } });
    new Gauge({ name: 'vantage_agent_proxy_cache_max_bytes', help: 'Proxy cache bound (proxy.cache.maxMiB)', registers, collect() { this.set(cache.maxBytes); } });
  }

  request(service: string, outcome: CacheOutcome, sites: readonly string[], bytes: number): void {
    const t = this.totals;
    t.requests++;
    if (outcome === 'hit') { t.hits++; t.bytesFromCache += bytes; }
    else if (outcome === 'miss') { t.misses++; t.bytesFromUpstream += bytes; }
    else if (outcome === 'revalidated') { t.revalidated++; t.bytesFromCache += bytes; }
    else if (outcome === 'tunnel') t.tunnels++;
    else t.errors++;
    const s = this.series;
    if (!s) return;
    s.requests.inc({ service, cache: outcome });
    const last = sites[sites.length - 1];
    if (last !== undefined) s.upstream.inc({ service, site: last });
    if (bytes > 0) s.bytes.inc({ service, source: outcome === 'miss' ? 'upstream' : 'cache' }, bytes);
  }

  upstreamError(service: string, site: string, code: string): void {
    this.totals.upstreamErrors++;
    this.series?.upstreamErrors.inc({ service, site, code });
  }

  retry(service: string): void {
    this.totals.retries++;
    this.series?.retries.inc({ service });
  }
}
