// A deliberately misbehaving HTTP/HTTPS server for probe tests. It speaks raw
// HTTP/1.1 over net/tls sockets so each failure is exact on the wire:
//   /ok            200 with Content-Length and a body containing "hello vantage"
//   /big?bytes=N   200 with N bytes
//   /status?code=N that status, small body
//   /slow?ms=N     waits N ms before the headers, then 200
//   /slow-body?ms=N headers and half the body, waits N ms, then the rest
//   /hang          reads the request and never answers
//   /reset         headers (Content-Length 100000) + 1000 bytes, then TCP RST
//   /reset-early   TCP RST right after reading the request
//   /close-early   FIN right after reading the request (no response)
//   /short         Content-Length 1000, 100 bytes, then FIN
//   any path with a Host other than `expectHost` (when set) → 421 (RFC 9110 §15.5.20)
import net from 'node:net';
import tls from 'node:tls';

export interface BadServerOptions {
  /** Listen address (a 127.x.y.z loopback address). */
  host: string;
  port?: number;
  /** When set, requests for another Host get 421 Misdirected Request. */
  expectHost?: string;
  tls?: { key: string | Buffer; cert: string | Buffer };
}

export interface BadServer {
  host: string;
  port: number;
  /** Number of requests seen, by path (without query). */
  hits: Map<string, number>;
  close(): Promise<void>;
}

function respond(socket: net.Socket, status: number, body: Buffer, extra = ''): void {
  socket.write(`HTTP/1.1 ${status} X\r\nContent-Length: ${body.length}\r\nConnection: close\r\n${extra}\r\n`);
  socket.end(body);
}

function handle(socket: net.Socket, head: string, opts: BadServerOptions, hits: Map<string, number>): void {
  const [requestLine = '', ...lines] = head.split('\r\n');
  const target = requestLine.split(' ')[1] ?? '/';
  const url = new URL(target, 'http://x');
  hits.set(url.pathname, (hits.get(url.pathname) ?? 0) + 1);
  const hostLine = lines.find((l) => l.toLowerCase().startsWith('host:'));
  const host = (hostLine?.slice(5).trim() ?? '').replace(/:\d+$/, '');
  const num = (name: string, dflt: number): number => Number(url.searchParams.get(name) ?? dflt);
  if (opts.expectHost && host !== opts.expectHost) return respond(socket, 421, Buffer.from('misdirected\n'));
  switch (url.pathname) {
    case '/ok':
      return respond(socket, 200, Buffer.from('<html>hello vantage</html>\n'));
    case '/big':
      return respond(socket, 200, Buffer.alloc(num('bytes', 100_000), 0x61));
    case '/status':
      return respond(socket, num('code', 500), Buffer.from('status\n'));
    case '/slow':
      setTimeout(() => respond(socket, 200, Buffer.from('slow\n')), num('ms', 300));
      return;
    case '/slow-body': {
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 2000\r\nConnection: close\r\n\r\n');
      socket.write(Buffer.alloc(1000, 0x62));
      setTimeout(() => { if (!socket.destroyed) socket.end(Buffer.alloc(1000, 0x62)); }, num('ms', 300));
      return;
    }
    case '/hang':
      return;
    case '/reset':
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n');
      socket.write(Buffer.alloc(1000, 0x63), () => setTimeout(() => rst(socket), 20));
      return;
    case '/reset-early':
      return rst(socket);
    case '/close-early':
      socket.end();
      return;
    case '/short':
      socket.write('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n');
      socket.end(Buffer.alloc(100, 0x64));
      return;
    default:
      return respond(socket, 404, Buffer.from('not found\n'));
  }
}

/** Sends a TCP RST: for TLS sockets, reset the underlying TCP socket. */
function rst(socket: net.Socket): void {
  const raw = (socket as tls.TLSSocket & { _parent?: net.Socket })._parent ?? socket;
  if (typeof raw.resetAndDestroy === 'function') raw.resetAndDestroy();
  else raw.destroy();
  socket.destroy();
}

export async function startBadServer(opts: BadServerOptions): Promise<BadServer> {
  const hits = new Map<string, number>();
  const sockets = new Set<net.Socket>();
  const onSocket = (socket: net.Socket): void => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    let buf = '';
    const onData = (chunk: Buffer): void => {
      buf += chunk.toString('latin1');
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.removeListener('data', onData);
      handle(socket, buf.slice(0, end), opts, hits);
    };
    socket.on('data', onData);
  };
  const server = opts.tls
    ? tls.createServer({ key: opts.tls.key, cert: opts.tls.cert }, onSocket)
    : net.createServer(onSocket);
  if (opts.tls) server.on('tlsClientError', () => undefined);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    host: opts.host,
    port,
    hits,
    close: () => new Promise<void>((resolve) => {
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    }),
  };
}
