// DNS over TCP (RFC 7766): 2-byte length framing, several queries per connection,
// pipelined answers written as soon as each is ready, an idle timeout and a cap on
// open connections. A 0-length frame closes the connection.
// At the cap, the connection idle the longest is closed to make room for the new one
// (RFC 7766 §6.2.3: servers may close idle connections under pressure); refusing the
// new one instead let a flood of idle connections starve every real TCP client.
import net from 'node:net';
import type { Family } from '../../shared/prefix.js';
import type { DnsCounters } from './stats.js';
import { addressBytes } from './udp.js';

export interface TcpOptions {
  idleTimeoutMs: number;
  maxConnections: number;
  counters: DnsCounters;
  /** The response with 2 bytes reserved in front for the length prefix, or undefined to send nothing. */
  answer(msg: Buffer, family: Family, src: Uint8Array): Buffer | undefined;
  onError(err: Error): void;
}

export function createTcpServer(opts: TcpOptions): { server: net.Server; destroyAll(): void } {
  const { counters } = opts;
  // Insertion order = least recently active first: a socket is moved to the end on data.
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true }, (socket) => {
    if (sockets.size >= opts.maxConnections) {
      const idlest = sockets.values().next().value;
      if (idlest) {
        counters.tcpRejected++;
        sockets.delete(idlest);
        idlest.destroy();
      }
    }
    counters.tcpConnections++;
    counters.tcpOpen++;
    sockets.add(socket);
    socket.on('close', () => {
      sockets.delete(socket);
      counters.tcpOpen--;
    });
    socket.on('error', () => socket.destroy());
    socket.setTimeout(opts.idleTimeoutMs, () => {
      counters.tcpTimeouts++;
      socket.destroy();
    });
    const family: Family = socket.remoteFamily === 'IPv6' ? 6 : 4;
    const src = addressBytes(socket.remoteAddress ?? '0.0.0.0', family);
    let pending: Buffer | undefined;
    socket.on('data', (chunk: Buffer) => {
      if (sockets.delete(socket)) sockets.add(socket);
      const buf = pending ? Buffer.concat([pending, chunk]) : chunk;
      pending = undefined;
      let off = 0;
      while (buf.length - off >= 2) {
        const len = buf.readUInt16BE(off);
        if (len === 0) {
          socket.end();
          return;
        }
        if (buf.length - off - 2 < len) break;
        const msg = buf.subarray(off + 2, off + 2 + len);
        off += 2 + len;
        counters.tcpQueries++;
        const framed = opts.answer(msg, family, src);
        if (!framed) continue;
        framed.writeUInt16BE(framed.length - 2, 0);
        const ok = socket.write(framed);
        // A client that pipelines but does not read must not grow our buffers: stop
        // reading until it drains.
        if (!ok && !socket.isPaused()) {
          socket.pause();
          socket.once('drain', () => socket.resume());
        }
      }
      if (off < buf.length) pending = Buffer.from(buf.subarray(off));
    });
  });
  server.on('error', opts.onError);
  // close() must not wait for idle clients: the owner ends them with destroyAll().
  return { server, destroyAll: () => { for (const s of sockets) s.destroy(); } };
}
