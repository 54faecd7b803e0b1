// Forwarding below the cache: a Dispatcher that sends each request to the site this
// agent ranks best for the service, over a pooled undici connection pinned to the
// site's address (Host and TLS SNI carry the service name, the certificate is checked
// against it, as in agent/probe.ts). When the connection fails, or is reset before the
// response headers, an idempotent request without a body is sent once more to the
// next site (RFC 9110 §9.2.2: idempotent requests may be retried automatically).
import tls from 'node:tls';
import { Dispatcher, Pool, buildConnector } from 'undici';
import type { UpstreamSite, Upstreams } from './upstreams.js';

/** Per-request facts the proxy reads back after the response (hit or miss, site, retry). */
export interface ForwardContext {
  /** Sites tried, in order (empty when the cache answered without asking any). */
  sites: string[];
  retried: boolean;
  /** Status of the upstream response (304 when the cache revalidated). */
  upstreamStatus?: number;
  upstreamError?: string;
}

export interface ForwardOptions {
  upstreams: Upstreams;
  connectionsPerSite: number;
  timeoutMs: number;
  localAddress?: string;
  ca?: string | Buffer;
  onUpstreamError?: (site: UpstreamSite, code: string) => void;
  onRetry?: (from: UpstreamSite, to: UpstreamSite) => void;
}

/** Key of the per-request ForwardContext inside undici dispatch options (kept by the cache interceptor's copies). */
export const kContext = 'vantageContext';
export type ForwardDispatchOptions = Dispatcher.DispatchOptions & { [kContext]?: ForwardContext };

const IDEMPOTENT = new Set(['GET', 'HEAD', 'OPTIONS', 'TRACE', 'PUT', 'DELETE']);
/** Connection-level failures: the site never produced a response on this connection. */
const RETRYABLE = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ETIMEDOUT', 'ECONNABORTED',
  'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED',
]);

export function errorCode(err: unknown): string {
  const e = err as { code?: unknown; cause?: { code?: unknown } };
  return String(e?.code ?? e?.cause?.code ?? 'other');
}

function hasBody(body: Dispatcher.DispatchOptions['body']): boolean {
  if (body === null || body === undefined) return false;
  if (typeof body === 'string' || body instanceof Uint8Array) return body.length > 0;
  return true;
}

function siteKey(s: UpstreamSite): string {
  return `${s.service}\u0000${s.id}\u0000${s.scheme}\u0000${s.address}\u0000${s.port}\u0000${s.host}`;
}

export class SiteRouter extends Dispatcher {
  private readonly pools = new Map<string, Pool>();
  private closed = false;

  constructor(private readonly opts: ForwardOptions) {
    super();
  }

  private pool(site: UpstreamSite): Pool {
    const key = siteKey(site);
    let pool = this.pools.get(key);
    if (pool) return pool;
    const base = buildConnector({
      timeout: this.opts.timeoutMs,
      ca: this.opts.ca === undefined ? undefined : [...tls.rootCertificates, this.opts.ca],
      localAddress: this.opts.localAddress,
    } as buildConnector.BuildOptions);
    const origin = `${site.scheme}://${site.host.includes(':') ? `[${site.host}]` : site.host}:${site.port}`;
    pool = new Pool(origin, {
      connections: this.opts.connectionsPerSite,
      pipelining: 1,
      // Pinned: connect to the site's address whatever the origin's name resolves to. The source address is
      // set here: buildConnector's own `localAddress` option is overridden by the (unset) one of each connect call.
      connect: (o, cb) => base({ ...o, hostname: site.address, localAddress: this.opts.localAddress ?? o.localAddress }, cb),
      headersTimeout: this.opts.timeoutMs,
      bodyTimeout: this.opts.timeoutMs,
      keepAliveTimeout: 4_000,
    });
    this.pools.set(key, pool);
    return pool;
  }

  /** Drops pools of sites no longer in any service's order (catalogue change). */
  prune(live: Iterable<UpstreamSite>): void {
    const keep = new Set([...live].map(siteKey));
    for (const [key, pool] of this.pools) {
      if (!keep.has(key)) { this.pools.delete(key); pool.close().catch(() => undefined); }
    }
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const opts = options as ForwardDispatchOptions;
    const service = new URL(String(opts.origin)).hostname;
    const order = this.opts.upstreams.order(service);
    const ctx = opts[kContext] ?? { sites: [], retried: false };
    if (this.closed || order.length === 0) {
      queueMicrotask(() => handler.onResponseError?.(abortOnly(), Object.assign(new Error(`no site for ${service}`), { code: 'VANTAGE_NO_SITE' })));
      return true;
    }
    const retry = IDEMPOTENT.has(opts.method) && !hasBody(opts.body) && order.length > 1;
    this.attempt(opts, handler, order, 0, retry, ctx);
    return true;
  }

  private attempt(opts: ForwardDispatchOptions, handler: Dispatcher.DispatchHandler, order: readonly UpstreamSite[], i: number, retry: boolean, ctx: ForwardContext): void {
    const site = order[i] as UpstreamSite;
    ctx.sites.push(site.id);
    let started = false;
    const wrapped: Dispatcher.DispatchHandler = {
      onRequestStart: (c, context) => handler.onRequestStart?.(c, context),
      onResponseStart: (c, status, headers, message) => {
        started = true;
        ctx.upstreamStatus = status;
        return handler.onResponseStart?.(c, status, headers, message);
      },
      onResponseData: (c, chunk) => handler.onResponseData?.(c, chunk),
      onResponseEnd: (c, trailers) => handler.onResponseEnd?.(c, trailers),
      onResponseError: (c, err) => {
        const code = errorCode(err);
        ctx.upstreamError = code;
        if (!started && RETRYABLE.has(code)) {
          this.opts.upstreams.reportFailure(site);
          this.opts.onUpstreamError?.(site, code);
          const next = order[i + 1];
          if (retry && next && !this.closed) {
            ctx.retried = true;
            this.opts.onRetry?.(site, next);
            this.attempt(opts, handler, order, i + 1, false, ctx);
            return;
          }
        } else if (!started) {
          this.opts.onUpstreamError?.(site, code);
        }
        handler.onResponseError?.(c, err);
      },
    };
    this.pool(site).dispatch(opts, wrapped);
  }

  override async close(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.pools.values()].map((p) => p.close().catch(() => undefined)));
    this.pools.clear();
  }

  override async destroy(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.pools.values()].map((p) => p.destroy().catch(() => undefined)));
    this.pools.clear();
  }
}

function abortOnly(): Dispatcher.DispatchController {
  return { abort() {}, pause() {}, resume() {}, aborted: false, paused: false, reason: null } as unknown as Dispatcher.DispatchController;
}
