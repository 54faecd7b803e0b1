// Header rules of an HTTP intermediary (RFC 9110 §7.6): hop-by-hop fields — the fixed
// list and every field named in Connection — are not forwarded in either direction;
// Via gets this proxy appended (§7.6.3); X-Forwarded-For is optional (off by default).
import type { IncomingHttpHeaders } from 'node:http';

type HeaderValue = string | string[] | undefined;

/** RFC 9110 §7.6.1 plus the legacy fields proxies still meet (RFC 7230 §6.1 era). */
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization',
  'te', 'trailer', 'transfer-encoding', 'upgrade',
]);

function parseTokens(value: HeaderValue): Set<string> {
  const out = new Set<string>();
  const list = Array.isArray(value) ? value : value ? [value] : [];
  for (const v of list) for (const t of v.split(',')) if (t.trim()) out.add(t.trim().toLowerCase());
  return out;
}

/** Connection values seen (`keep-alive` on nearly every client request, `close`, …): parsed once each, bounded. */
const tokenMemo = new Map<string, ReadonlySet<string>>();
const TOKEN_MEMO_MAX = 256;

function connectionTokens(value: HeaderValue): ReadonlySet<string> {
  if (typeof value !== 'string') return parseTokens(value);
  let tokens = tokenMemo.get(value);
  if (!tokens) {
    tokens = parseTokens(value);
    if (tokenMemo.size >= TOKEN_MEMO_MAX) tokenMemo.clear();
    tokenMemo.set(value, tokens);
  }
  return tokens;
}

function appendVia(existing: HeaderValue, via: string): string {
  const prev = Array.isArray(existing) ? existing.join(', ') : existing;
  return prev ? `${prev}, ${via}` : via;
}

/** Copies `headers` without hop-by-hop fields (and without `host`, set by the caller). */
function endToEnd(headers: Record<string, HeaderValue>, drop: readonly string[]): Record<string, string | string[]> {
  // On every request and response (cache hits too): no Connection header is the common case.
  const named = headers.connection === undefined ? undefined : connectionTokens(headers.connection);
  const out: Record<string, string | string[]> = {};
  for (const k in headers) {
    const v = headers[k];
    if (v === undefined || HOP_BY_HOP.has(k) || named?.has(k) || drop.includes(k)) continue;
    out[k] = v;
  }
  return out;
}

export interface RequestHeaderOptions {
  /** Host header sent to the site (the service's host). */
  host: string;
  via: string;
  /** Client address, appended to X-Forwarded-For when set. */
  forwardedFor?: string;
}

export function upstreamRequestHeaders(headers: IncomingHttpHeaders, o: RequestHeaderOptions): Record<string, string | string[]> {
  const out = endToEnd(headers, ['host']);
  out.host = o.host;
  out.via = appendVia(headers.via, o.via);
  if (o.forwardedFor !== undefined) {
    const prev = headers['x-forwarded-for'];
    out['x-forwarded-for'] = prev ? `${Array.isArray(prev) ? prev.join(', ') : prev}, ${o.forwardedFor}` : o.forwardedFor;
  }
  return out;
}

export function clientResponseHeaders(headers: Record<string, HeaderValue>, via: string): Record<string, string | string[]> {
  const out = endToEnd(headers, []);
  out.via = appendVia(headers.via, via);
  return out;
}
