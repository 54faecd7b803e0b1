// The client side of the proxy: one node:http request handler shared by the plain and
// the TLS-terminating listeners. It refuses to be an open proxy (only catalogue
// services this agent serves; CONNECT gets 405, absolute-form requests for other hosts
// 403), bounds the request (header size via the server's maxHeaderSize → 431, body via
// maxBodyBytes → 413, slow clients via headersTimeout/requestTimeout → 408), and streams
// the response from the cache-and-forward dispatcher with backpressure.
import http from 'node:http';
import type { Socket } from 'node:net';
import { Transform } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { FreshHit } from './fast-hit.js';
import type { Logger } from '../../shared/log.js';
import type { ProxyConfig } from './config.js';
import { errorCode, kContext, type ForwardContext, type ForwardDispatchOptions } from './forward.js';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.js';
import type { CacheOutcome, ProxyMetrics } from './metrics.js';
import type { Upstreams } from './upstreams.js';

export interface HandlerDeps {
  config: Readonly<ProxyConfig>;
  /** `1.1 <pseudonym>` for Via (RFC 9110 §7.6.3). */
  via: string;
  dispatcher: Dispatcher;
  /** The fresh-hit fast path over the interceptor's store (cache.ts `fresh`); absent → every request dispatched. */
  fresh?: (origin: string, path: string, clientHeaders: http.IncomingHttpHeaders, upstreamHeaders: Record<string, string | string[]>) => FreshHit | undefined;
  upstreams: Upstreams;
  metrics: ProxyMetrics;
  log: Logger;
}

const ignore = (): void => undefined;

const TIMEOUT_CODES = new Set(['UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'ETIMEDOUT']);

const AUTHORITY_RE = /^(\[[^\]]+\]|[^:]+)(?::\d{1,5})?$/;
/** Host header values seen (a proxy sees a handful): parsed once each, bounded. */
const hostMemo = new Map<string, string | undefined>();
const HOST_MEMO_MAX = 256;

/** Lower-case host without port or trailing dot; undefined when unparsable. */
export function hostOf(authority: string | undefined): string | undefined {
  if (!authority) return undefined;
  if (hostMemo.has(authority)) return hostMemo.get(authority);
  const m = AUTHORITY_RE.exec(authority.trim());
  const host = m ? (m[1] as string).toLowerCase().replace(/\.$/, '') : undefined;
  if (hostMemo.size >= HOST_MEMO_MAX) hostMemo.clear();
  hostMemo.set(authority, host);
  return host;
}

function refuse(res: http.ServerResponse, status: number, text: string, extra: Record<string, string> = {}): void {
  if (res.headersSent) { res.destroy(); return; }
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) + 1, ...extra });
  res.end(`${text}\n`);
}

/** True when a Via entry (`protocol pseudonym [comment]`, RFC 9110 §7.6.3) names this proxy. */
function viaHasUs(value: string, pseudonym: string): boolean {
  return value.split(',').some((entry) => entry.trim().split(/\s+/)[1] === pseudonym);
}

/** Fails the stream when more than `max` bytes pass (a chunked body has no length to check up front). */
function limitBody(max: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > max) cb(Object.assign(new Error(`request body over ${max} bytes`), { code: 'VANTAGE_BODY_TOO_LARGE' }));
      else cb(null, chunk);
    },
  });
}

/** A fresh stored response, written as the dispatch path writes a hit (same header rules, `x-vantage-cache: hit`). */
function sendFresh(res: http.ServerResponse, hit: FreshHit, via: string): void {
  const out = clientResponseHeaders(hit.headers, via);
  out['x-vantage-cache'] = 'hit';
  res.writeHead(hit.statusCode, hit.statusMessage || undefined, out);
  // The chunks are in memory already: res buffers what the socket does not take at once.
  for (const c of hit.chunks) res.write(c);
  res.end();
}

export function createRequestHandler(deps: HandlerDeps): (req: http.IncomingMessage, res: http.ServerResponse) => void {
  const { config, via, dispatcher, metrics } = deps;
  const served = new Set(config.services);
  const pseudonym = via.split(' ')[1] ?? via;

  return (req, res) => {
    const method = req.method ?? 'GET';
    let path = req.url ?? '/';
    let host = hostOf(req.headers.host);
    if (!path.startsWith('/')) {
      // Absolute form (RFC 9112 §3.2.2) is how a client talks to a forward proxy: only our own services.
      let url: URL;
      try {
        url = new URL(path);
      } catch {
        metrics.request(host ?? '-', 'error', [], 0);
        return refuse(res, 400, 'bad request target');
      }
      host = url.hostname.toLowerCase().replace(/\.$/, '');
      if ((url.protocol !== 'http:' && url.protocol !== 'https:') || !served.has(host)) {
        metrics.request('-', 'error', [], 0);
        return refuse(res, 403, 'not a service of this proxy');
      }
      path = `${url.pathname}${url.search}`;
    }
    if (!host || !served.has(host)) {
      metrics.request('-', 'error', [], 0);
      return refuse(res, 403, 'not a service of this proxy');
    }
    const service = host;
    // RFC 9110 §7.6.3: Via lets a proxy see a loop (a site that points back at this proxy): 508, not a storm.
    if (req.headers.via !== undefined && viaHasUs(req.headers.via, pseudonym)) {
      metrics.request(service, 'error', [], 0);
      return refuse(res, 508, 'proxy loop detected (Via)');
    }
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > config.maxBodyBytes) {
      metrics.request(service, 'error', [], 0);
      return refuse(res, 413, 'request body too large', { connection: 'close' });
    }
    const site = deps.upstreams.order(service)[0];
    if (!site) {
      metrics.request(service, 'error', [], 0);
      return refuse(res, 503, 'no site known for this service yet', { 'retry-after': '5' });
    }
    const withBody = declared !== undefined ? Number(declared) > 0 : req.headers['transfer-encoding'] !== undefined;
    const origin = `http://${service}`;
    const headers = upstreamRequestHeaders(req.headers, {
      host: site.port === (site.scheme === 'https' ? 443 : 80) ? site.host : `${site.host}:${site.port}`,
      via,
      forwardedFor: config.xForwardedFor ? req.socket.remoteAddress : undefined,
    });
    // A client that resets mid-upload errors `req`; the response side ('close' below) handles it.
    req.on('error', ignore);
    if (method === 'GET' && !withBody && deps.fresh) {
      const hit = deps.fresh(origin, path, req.headers, headers);
      if (hit) {
        req.resume();
        sendFresh(res, hit, via);
        metrics.request(service, 'hit', [], hit.bytes);
        metrics.fastHits++;
        return;
      }
    }
    const ctx: ForwardContext = { sites: [], retried: false };
    const opts: ForwardDispatchOptions = {
      origin,
      path,
      method: method as Dispatcher.HttpMethod,
      headers,
      body: withBody ? req.pipe(limitBody(config.maxBodyBytes)) : null,
      [kContext]: ctx,
    };
    if (!withBody) req.resume();

    let controller: Dispatcher.DispatchController | undefined;
    let outcome: CacheOutcome = 'miss';
    let bytes = 0;
    let done = false;
    const finish = (o: CacheOutcome): void => {
      if (done) return;
      done = true;
      metrics.request(service, o, ctx.sites, bytes);
    };
    res.on('close', () => {
      if (!res.writableFinished) { controller?.abort(new Error('client went away')); finish('error'); }
    });

    dispatcher.dispatch(opts, {
      onRequestStart(c) { controller = c; },
      onResponseStart(c, status, headers, message) {
        controller = c;
        outcome = ctx.sites.length === 0 ? 'hit' : ctx.upstreamStatus === 304 && status !== 304 ? 'revalidated' : 'miss';
        const out = clientResponseHeaders(headers as Record<string, string | string[] | undefined>, via);
        out['x-vantage-cache'] = outcome;
        const last = ctx.sites[ctx.sites.length - 1];
        if (last !== undefined) out['x-vantage-site'] = last;
        // node:http sends the head with the first body chunk (writeHead only stores it): one write, no cork needed.
        res.writeHead(status, message || undefined, out);
      },
      onResponseData(c, chunk) {
        bytes += chunk.length;
        if (!res.write(chunk)) {
          c.pause();
          res.once('drain', () => c.resume());
        }
      },
      onResponseEnd() {
        res.end();
        finish(outcome);
      },
      onResponseError(_c, err) {
        const code = errorCode(err);
        if (res.headersSent) {
          // Mid-body failure: cut the connection so the client sees a truncated response, never a short "complete" one.
          res.destroy();
          finish('error');
          return;
        }
        finish('error');
        if (code === 'VANTAGE_BODY_TOO_LARGE') return refuse(res, 413, 'request body too large', { connection: 'close' });
        deps.log.debug({ service, code, sites: ctx.sites }, 'upstream failed');
        if (TIMEOUT_CODES.has(code)) refuse(res, 504, `upstream timeout (${code})`);
        else refuse(res, 502, `upstream failed (${code})`);
      },
    });
  };
}

/** node:http server options for the client limits (timeouts are checked this often). */
export function serverOptions(config: Readonly<ProxyConfig>): http.ServerOptions {
  return {
    maxHeaderSize: config.maxHeaderBytes,
    // Default 30 s: a 5 s headersTimeout would otherwise fire up to 30 s late.
    connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(config.clientTimeoutMs / 4))),
  };
}

/** Applies the client limits to a node:http (or https) server. */
export function limitServer(server: http.Server, config: Readonly<ProxyConfig>): void {
  server.headersTimeout = config.clientTimeoutMs;
  server.requestTimeout = config.clientTimeoutMs;
  server.keepAliveTimeout = config.keepAliveMs;
  // An idle socket (a client that stopped reading) is cut after the same bound.
  server.timeout = config.clientTimeoutMs + config.upstreamTimeoutMs;
  // CONNECT: never a tunnel (an open proxy). RFC 9110 §9.3.6 allows refusing it.
  server.on('connect', (_req: http.IncomingMessage, socket: Socket) => {
    socket.on('error', () => undefined);
    socket.end('HTTP/1.1 405 Method Not Allowed\r\nAllow: GET, HEAD, POST, PUT, DELETE, OPTIONS, PATCH\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  server.on('upgrade', (_req: http.IncomingMessage, socket: Socket) => {
    socket.on('error', () => undefined);
    socket.end('HTTP/1.1 501 Not Implemented\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
  });
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable) { socket.destroy(); return; }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? '431 Request Header Fields Too Large'
      : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? '408 Request Timeout' : '400 Bad Request';
    socket.end(`HTTP/1.1 ${status}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n`);
  });
}
