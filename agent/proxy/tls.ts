// The HTTPS listener. It reads the ClientHello's server name (sni.ts) and then
// - terminates TLS for services with a certificate in proxy.tls, handing the
//   decrypted stream to the same request handler as plain HTTP (cached);
// - passes the TLS bytes through, uncached, to the best site for other served
//   services (the next site if the connection to the first one fails);
// - closes connections for any other name, or with no name (never an open relay).
import https from 'node:https';
import type http from 'node:http';
import net from 'node:net';
import { Duplex } from 'node:stream';
import { readFileSync } from 'node:fs';
import tls from 'node:tls';
import { ConfigError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import type { ProxyConfig } from './config.js';
import type { ProxyMetrics } from './metrics.js';
import { limitServer, serverOptions } from './server.js';
import { MAX_HELLO_BYTES, readSni } from './sni.js';
import type { UpstreamSite, Upstreams } from './upstreams.js';

export interface TlsListenerOptions {
  config: Readonly<ProxyConfig>;
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void;
  upstreams: Upstreams;
  metrics: ProxyMetrics;
  log: Logger;
  localAddress?: string;
}

export interface TlsListener {
  server: net.Server;
  close(): Promise<void>;
}

function contexts(config: Readonly<ProxyConfig>): Map<string, tls.SecureContext> {
  const out = new Map<string, tls.SecureContext>();
  for (const [name, files] of Object.entries(config.tls)) {
    try {
      out.set(name, tls.createSecureContext({ cert: readFileSync(files.cert), key: readFileSync(files.key) }));
    } catch (err) {
      throw new ConfigError(`proxy.tls.${name}`, `cannot load certificate/key: ${(err as Error).message}`, { cause: err });
    }
  }
  return out;
}

/** A socket whose first bytes (already read to find the name) are replayed to the TLS server. */
function replay(sock: net.Socket, head: Buffer): Duplex {
  const d = new Duplex({
    read() { sock.resume(); },
    write(chunk: Buffer, _enc, cb) { sock.write(chunk, cb); },
    final(cb) { sock.end(); cb(); },
    destroy(err, cb) { sock.destroy(); cb(err); },
  });
  d.push(head);
  sock.on('data', (c: Buffer) => { if (!d.push(c)) sock.pause(); });
  sock.on('end', () => d.push(null));
  sock.on('error', (e) => d.destroy(e));
  sock.on('close', () => d.destroy());
  return d;
}

export function createTlsListener(o: TlsListenerOptions): TlsListener {
  const { config, upstreams, metrics, log } = o;
  const served = new Set(config.services);
  const ctx = contexts(config);
  const terminator = https.createServer({
    ...serverOptions(config),
    SNICallback: (name, cb) => cb(null, ctx.get(name.toLowerCase())),
  }, o.handler);
  limitServer(terminator, config);
  const sockets = new Set<net.Socket>();

  const tunnel = (client: net.Socket, head: Buffer, service: string): void => {
    const order = upstreams.order(service).slice(0, 2);
    const tried: string[] = [];
    const attempt = (i: number): void => {
      const site = order[i] as UpstreamSite | undefined;
      if (!site || client.destroyed) { metrics.request(service, 'error', tried, 0); client.destroy(); return; }
      tried.push(site.id);
      const port = site.scheme === 'https' ? site.port : 443;
      const up = net.connect({ host: site.address, port, localAddress: o.localAddress, timeout: config.upstreamTimeoutMs });
      sockets.add(up);
      let answered = false;
      const fail = (err: NodeJS.ErrnoException | undefined): void => {
        up.destroy();
        if (answered) { client.destroy(); return; }
        const code = err?.code ?? 'ETIMEDOUT';
        metrics.upstreamError(service, site.id, code);
        upstreams.reportFailure(site);
        if (i === 0 && order[1]) metrics.retry(service);
        attempt(i + 1);
      };
      up.once('error', fail);
      up.once('timeout', () => fail(undefined));
      up.once('connect', () => {
        up.setTimeout(0);
        up.write(head);
        up.once('data', () => { answered = true; });
        up.pipe(client);
        client.pipe(up);
        client.on('close', () => up.destroy());
        up.on('close', () => { sockets.delete(up); if (answered) client.end(); });
        up.once('end', () => { if (answered) metrics.request(service, 'tunnel', tried, 0); });
      });
    };
    attempt(0);
  };

  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    sock.setTimeout(config.clientTimeoutMs, () => sock.destroy());
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      head = Buffer.concat([head, chunk]);
      const sni = readSni(head);
      if (sni.kind === 'more' && head.length < MAX_HELLO_BYTES) return;
      sock.removeListener('data', onData);
      sock.pause();
      sock.setTimeout(0);
      const name = sni.kind === 'name' ? sni.name : undefined;
      if (!name || !served.has(name)) {
        metrics.request('-', 'error', [], 0);
        sock.destroy();
        return;
      }
      if (ctx.has(name)) terminator.emit('connection', replay(sock, head));
      else tunnel(sock, head, name);
    };
    sock.on('data', onData);
  });
  server.on('error', (err) => log.warn({ err }, 'proxy TLS listener error'));

  return {
    server,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      terminator.closeAllConnections();
      server.close(() => resolve());
    }),
  };
}
