// One timed HTTP(S) GET pinned to a site address. The TCP connection goes to
// `address` while the Host header and TLS SNI carry the service name, and the
// certificate is checked against that name. Each probe has its own undici Client
// and its own socket (no keep-alive, no TLS session reuse), destroyed afterwards,
// so every probe measures a cold connection the way a new client would see it.
// Outcomes are values: a probe never throws, it returns a v1 Result.
import net from 'node:net';
import tls from 'node:tls';
import { Client } from 'undici';
import type { buildConnector } from 'undici';
import type { ErrorClass, Result } from '../shared/protocol.js';
import { classifyError, isResetCode } from './probe-errors.js';

export interface ProbeTarget {
  service: string;
  site: string;
  /** The site address the TCP connection is pinned to. */
  address: string;
  scheme: 'http' | 'https';
  port: number;
  path: string;
  /** Host header and TLS SNI; default: the service name. */
  host?: string;
  expectStatus: readonly number[];
  expectBody?: string;
  timeoutMs: number;
}

export interface ProbeOptions {
  /** Source address for the connection. */
  localAddress?: string;
  /** Extra trusted CA certificates (PEM), added to the system roots. */
  ca?: string | Buffer;
  /** Aborts the probe early (reported as `timeout`). */
  signal?: AbortSignal;
}

const NS_PER_MS = 1_000_000n;
const toMs = (from: bigint, to: bigint | undefined): number | null =>
  to === undefined ? null : Number(to - from) / Number(NS_PER_MS);

interface ProbeState {
  socket?: net.Socket;
  tConnect?: bigint;
  tSecure?: bigint;
  /** Fails a connect still in progress (the deadline fired before TCP/TLS completed). */
  abortConnect?: () => void;
  /** First error seen on the raw socket or during connect (ECONNRESET, TLS...). */
  socketError?: NodeJS.ErrnoException;
  timedOut: boolean;
}

function caList(ca: string | Buffer | undefined): (string | Buffer)[] | undefined {
  return ca === undefined ? undefined : [...tls.rootCertificates, ca];
}

/** A connector that dials `address` and records the TCP and TLS completion times. */
function pinnedConnector(target: ProbeTarget, host: string, opts: ProbeOptions, state: ProbeState): buildConnector.connector {
  return (_connectOpts, callback) => {
    const tcp = net.connect({ host: target.address, port: target.port, localAddress: opts.localAddress, noDelay: true });
    state.socket = tcp;
    let done = false;
    const finish = (err: Error | null, socket?: net.Socket): void => {
      if (done) return;
      done = true;
      if (err) callback(err, null);
      else callback(null, socket as net.Socket);
    };
    const onError = (err: NodeJS.ErrnoException): void => {
      state.socketError ??= err;
      finish(err);
    };
    // destroy() emits no 'error', and undici cannot abort a request whose connection
    // is still being made: without this a hanging connect or handshake would hang the probe.
    state.abortConnect = () => {
      const err: NodeJS.ErrnoException = new Error('connect deadline exceeded');
      err.code = 'UND_ERR_CONNECT_TIMEOUT';
      finish(err);
    };
    tcp.once('error', onError);
    tcp.once('connect', () => {
      state.tConnect = process.hrtime.bigint();
      if (target.scheme === 'http') {
        tcp.removeListener('error', onError);
        tcp.on('error', (err: NodeJS.ErrnoException) => { state.socketError ??= err; });
        finish(null, tcp);
        return;
      }
      // RFC 6066 §3: SNI carries a host name, never an IP literal.
      const servername = net.isIP(host) ? undefined : host;
      const secure = tls.connect({
        socket: tcp,
        host,
        servername,
        ca: caList(opts.ca),
        ALPNProtocols: ['http/1.1'],
        session: undefined,
      });
      state.socket = secure;
      secure.once('error', onError);
      secure.once('secureConnect', () => {
        state.tSecure = process.hrtime.bigint();
        secure.removeListener('error', onError);
        secure.on('error', (err: NodeJS.ErrnoException) => { state.socketError ??= err; });
        finish(null, secure);
      });
    });
  };
}

/** Reads a body into `acc`, counting bytes and looking for `needle` across chunk borders. */
function consumeBody(body: NodeJS.ReadableStream, needle: string | undefined, acc: { bytes: number; found: boolean }): Promise<void> {
  acc.found = needle === undefined || needle === '';
  const wanted = needle ? Buffer.from(needle, 'utf8').toString('latin1') : '';
  const keep = Math.max(0, wanted.length - 1);
  let tail = '';
  // 'data' events rather than an async iterator: this runs 100 times a second.
  return new Promise<void>((resolve, reject) => {
    body.on('data', (chunk: Buffer) => {
      acc.bytes += chunk.length;
      if (acc.found) return;
      const text = tail + chunk.toString('latin1');
      if (text.includes(wanted)) acc.found = true;
      else tail = keep > 0 ? text.slice(-keep) : '';
    });
    body.once('end', resolve);
    body.once('error', reject);
  });
}

/** Runs one probe; always resolves with a v1 Result. */
export async function probe(target: ProbeTarget, options: ProbeOptions = {}): Promise<Result> {
  const host = target.host ?? target.service;
  const state: ProbeState = { timedOut: false };
  const hostPort = net.isIPv6(host) ? `[${host}]` : host;
  const origin = `${target.scheme}://${hostPort}:${target.port}`;
  const client = new Client(origin, {
    connect: pinnedConnector(target, host, options, state),
    pipelining: 1,
    keepAliveTimeout: 1,
    keepAliveMaxTimeout: 1,
    // Our own deadline below bounds every phase; these only back it up.
    headersTimeout: target.timeoutMs + 1000,
    bodyTimeout: target.timeoutMs + 1000,
  });
  const abort = new AbortController();
  const onTimeout = (): void => {
    state.timedOut = true;
    abort.abort();
    state.socket?.destroy();
    state.abortConnect?.();
  };
  const timer = setTimeout(onTimeout, target.timeoutMs);
  const onOuterAbort = (): void => onTimeout();
  options.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (options.signal?.aborted) onTimeout();

  const tStart = process.hrtime.bigint();
  let tHeaders: bigint | undefined;
  let tEnd: bigint | undefined;
  let status: number | null = null;
  let bytes = 0;
  let declaredLength: number | undefined;
  let error: ErrorClass | null = null;
  try {
    const res = await client.request({
      path: target.path,
      method: 'GET',
      // No `Connection: close`: undici would then end each response by destroying the
      // socket with an error (stack formatting on every probe); we close it ourselves.
      headers: { 'user-agent': 'vantage-agent/1', accept: '*/*' },
      signal: abort.signal,
    });
    tHeaders = process.hrtime.bigint();
    status = res.statusCode;
    const cl = res.headers['content-length'];
    if (typeof cl === 'string' && /^\d+$/.test(cl)) declaredLength = Number(cl);
    const acc = { bytes: 0, found: true };
    try {
      await consumeBody(res.body, target.expectBody, acc);
    } finally {
      bytes = acc.bytes;
    }
    tEnd = process.hrtime.bigint();
    const short = declaredLength !== undefined && bytes < declaredLength;
    const wasReset = isResetCode(state.socketError?.code);
    // undici ends a `Connection: close` response at ECONNRESET as if complete, so a
    // reset before the declared length (or with no length) is still a reset.
    if (wasReset && (short || declaredLength === undefined)) error = 'reset';
    else if (short) error = 'truncated';
    else if (!target.expectStatus.includes(status)) error = 'http_status';
    else if (!acc.found) error = 'body_mismatch';
  } catch (err) {
    error = classifyError(err, state.socketError, {
      timedOut: state.timedOut,
      headersReceived: tHeaders !== undefined,
      declaredLength,
      bytes,
    });
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onOuterAbort);
    state.socket?.destroy();
    client.destroy().catch(() => undefined);
  }
  const ok = error === null;
  return {
    service: target.service,
    site: target.site,
    address: target.address,
    ok,
    status,
    connectMs: toMs(tStart, state.tConnect),
    tlsMs: target.scheme === 'https' && state.tConnect !== undefined ? toMs(state.tConnect, state.tSecure) : null,
    ttfbMs: toMs(tStart, tHeaders),
    totalMs: ok || error === 'http_status' || error === 'body_mismatch' ? toMs(tStart, tEnd) : null,
    bytes,
    error,
  };
}
