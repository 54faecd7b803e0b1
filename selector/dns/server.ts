// The selector's DNS server: UDP and TCP on every `dns.listen` address, answering through
// the packet writer (responder.ts) from a decision function: the selector's (resolve.ts,
// over `table` and `mapper`) or the one given as `resolve`.
// createDnsServer(...) → { start(), close(), addresses(), stats(), decide(), answer() }.
import type net from 'node:net';
import type { DnsConfig } from './config.js';
import type { ClientMapper } from './contract.js';
import type { WireAnswerTable } from './answer-table.js';
import { parseAddress, type Family } from '../../shared/prefix.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import { createResponder, OUR_UDP_SIZE, type Responder } from './responder.js';
import type { ResolveFn } from './resolution.js';
import type { ChildZones } from './resolve.js';
import { ConfigError } from '../../shared/errors.js';
import { DnsCounters, type DnsStats } from './stats.js';
import { ResponseRateLimiter } from './rate-limit.js';
import { createUdpSocket } from './udp.js';
import { createBatchUdpSocket, hasPacketCache, loadUdpBatch, type BatchCache } from './udp-batch.js';
import { PacketCacheTags } from './packet-cache.js';
import { createTcpServer } from './tcp.js';

export interface DnsServerOptions {
  dns: DnsConfig;
  /** The answer table and client mapper the selector's decision function reads (not needed with `resolve`). */
  table?: WireAnswerTable;
  mapper?: ClientMapper;
  /** Another decision function (e.g. the backbone's); default: resolve.ts over `dns.zones`, `table`, `mapper`. */
  resolve?: ResolveFn;
  log?: Logger;
  /** Configured service names: NODATA (not NXDOMAIN) for them even before answers exist. */
  services?: readonly { name: string }[] | readonly string[];
  /** SOA serial for zones without one (default: start time). */
  serial?: number;
  /** An LB's delegated child names `{label}.{service}` (resolve.ts ChildZones). */
  child?: ChildZones;
  /**
   * In a node:cluster worker, share the primary's sockets so several workers serve one
   * address (node 20's dgram has no SO_REUSEPORT). Default false: sockets are our own.
   */
  clusterShared?: boolean;
  /** Puts another query path in front of the standard one (the backbone's, selector/backbone/). */
  wrapResponder?: (inner: Responder) => Responder;
  /**
   * SO_REUSEPORT on the UDP sockets (batch engine only): DNS worker threads each bind their
   * own socket to the same address. true: the kernel spreads datagrams by 4-tuple; N > 1 (the
   * number of threads): each datagram to a random socket, evenly whatever the clients' ports. Default false.
   */
  reusePort?: boolean | number;
  /** Serve TCP too (default true). Node 20's net has no SO_REUSEPORT: one thread owns TCP. */
  tcp?: boolean;
  /**
   * The batch engine's packet cache (`dns.packetCache`, rateLimit 0, selector's own resolve
   * only). The caller must call invalidateCache() on every change to `table`, `mapper` or
   * anything else an answer depends on, before the next datagram. Default false.
   */
  packetCache?: boolean;
  /**
   * With the packet cache: applies the changes another thread queued for this server (a DNS
   * worker's delta messages), called before a batch when that thread emptied the caches.
   */
  pullChanges?: () => void;
}

export interface DnsAddress {
  host: string;
  port: number;
  family: Family;
}

export interface DnsServer {
  start(): Promise<void>;
  close(): Promise<void>;
  addresses(): DnsAddress[];
  stats(): DnsStats;
  /** The decision the query path would make (for `explain`): the same resolve(), on an encoded query. */
  decide: Responder['decide'];
  /** The decision function in use. */
  resolve: ResolveFn;
  /** The pure query path, for tests and tools: response bytes or undefined (dropped). */
  answer: Responder['answer'];
  /** The UDP engine in use: native batches (recvmmsg/sendmmsg) or node:dgram. */
  readonly udpEngine: UdpEngine;
  /** Whether the packet cache serves (see DnsServerOptions.packetCache). */
  readonly packetCache?: boolean;
  /** Empties the packet cache (counting its hits first); a no-op without one. */
  invalidateCache?(): void;
  /** Adds the packet cache's hits to the counters and per-answer-key counts now (stats() does too). */
  foldCacheHits?(): void;
}

export type UdpEngine = 'batch' | 'dgram';

/** Either engine, bound: its port and how to stop it. */
interface UdpListener {
  port: number;
  close(): Promise<void>;
}

interface Listener {
  host: string;
  family: Family;
  udp: UdpListener;
  tcp: { server: net.Server; destroyAll(): void } | undefined;
  port: number;
}

const PORT_RETRIES = 20;

export function createDnsServer(opts: DnsServerOptions): DnsServer {
  const log = (opts.log ?? silentLogger()).child({ component: 'dns' });
  const counters = new DnsCounters();
  const services = (opts.services ?? []).map((s) => (typeof s === 'string' ? s : s.name));
  const base = createResponder({
    resolve: opts.resolve, zones: opts.dns.zones, table: opts.table, mapper: opts.mapper, services, counters, serial: opts.serial, child: opts.child, log,
  });
  const responder = opts.wrapResponder ? opts.wrapResponder(base) : base;
  const limiter = opts.dns.rateLimit > 0 ? new ResponseRateLimiter(opts.dns.rateLimit) : undefined;
  const listeners: Listener[] = [];
  const exclusive = opts.clusterShared !== true;
  const onError = (err: Error): void => log.warn({ err }, 'dns socket error');
  const udpEngine = pickUdpEngine(opts.dns.udpEngine ?? 'auto', exclusive);
  const addon = udpEngine === 'batch' ? loadUdpBatch() : undefined;
  const reusePort = opts.reusePort ?? false;
  if (reusePort !== false && reusePort !== 0 && udpEngine !== 'batch') throw new ConfigError('dns.workers', 'SO_REUSEPORT needs the batch UDP engine (node:dgram has none)');

  const cacheTags = opts.packetCache === true && opts.dns.packetCache !== false && !limiter && addon !== undefined && hasPacketCache(addon) &&
    !opts.resolve && !opts.wrapResponder && base.last ? new PacketCacheTags(counters) : undefined;
  const cache: BatchCache | undefined = cacheTags && base.last ? { tags: cacheTags, last: base.last, pullChanges: opts.pullChanges } : undefined;

  const udpAnswer = (msg: Buffer, family: Family, src: Uint8Array): Buffer | undefined => responder.answer(msg, family, src, OUR_UDP_SIZE);
  const udpAnswerInto = (msg: Buffer, family: Family, src: Uint8Array, out: Buffer): number => responder.answerInto(msg, family, src, OUR_UDP_SIZE, out);
  // RFC 7766 §8: two bytes reserved in front for the length prefix.
  const tcpAnswer = (msg: Buffer, family: Family, src: Uint8Array): Buffer | undefined => responder.answer(msg, family, src, 'tcp', 2);

  async function bindOne(host: string, family: Family, wantPort: number): Promise<Listener> {
    // With port 0, UDP picks the port and TCP must get the same one; retry if TCP's is taken.
    for (let attempt = 0; ; attempt++) {
      const udp = await bindUdp(host, family, wantPort);
      const port = udp.port;
      if (opts.tcp === false) return { host, family, udp, tcp: undefined, port };
      const tcp = createTcpServer({
        idleTimeoutMs: opts.dns.tcpIdleTimeoutMs, maxConnections: opts.dns.maxTcpConnections, counters, answer: tcpAnswer, onError,
      });
      try {
        await new Promise<void>((resolve, reject) => {
          tcp.server.once('error', reject);
          tcp.server.listen({ host, port, ipv6Only: family === 6, exclusive }, () => {
            tcp.server.off('error', reject);
            resolve();
          });
        });
        return { host, family, udp, tcp, port };
      } catch (err) {
        await udp.close();
        if (wantPort !== 0 || attempt >= PORT_RETRIES || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      }
    }
  }

  async function bindUdp(host: string, family: Family, port: number): Promise<UdpListener> {
    const udpOpts = { host, port, family, counters, limiter, answer: udpAnswer, answerInto: udpAnswerInto, onError };
    if (addon) {
      const sock = createBatchUdpSocket(addon, udpOpts, reusePort, cache);
      return { port: sock.port, close: async () => sock.close() };
    }
    const udp = createUdpSocket(udpOpts);
    await new Promise<void>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind({ address: host, port, exclusive }, () => {
        udp.off('error', reject);
        resolve();
      });
    });
    return {
      port: udp.address().port,
      close: () => new Promise<void>((resolve) => { try { udp.close(() => resolve()); } catch { resolve(); } }),
    };
  }

  // Capacity demand (table.queryCounts) is read on this thread: hits are added every second.
  let foldTimer: NodeJS.Timeout | undefined;

  async function start(): Promise<void> {
    if (cacheTags && !foldTimer) foldTimer = setInterval(() => cacheTags.fold(), 1000).unref();
    try {
      for (const hp of opts.dns.listen) {
        const family = parseAddress(hp.host).family;
        listeners.push(await bindOne(hp.host, family, hp.port));
        log.info({ host: hp.host, port: listeners.at(-1)?.port, udpEngine }, opts.tcp === false ? 'dns listening (udp)' : 'dns listening (udp+tcp)');
      }
    } catch (err) {
      await close();
      throw err;
    }
  }

  async function close(): Promise<void> {
    if (foldTimer) clearInterval(foldTimer);
    foldTimer = undefined;
    const all = listeners.splice(0);
    await Promise.all(all.map(async (l) => {
      const tcp = l.tcp;
      if (tcp) {
        tcp.destroyAll();
        await new Promise<void>((resolve) => tcp.server.close(() => resolve()));
      }
      await l.udp.close();
    }));
    cacheTags?.fold();
  }

  return {
    start,
    close,
    addresses: () => listeners.map((l) => ({ host: l.host, port: l.port, family: l.family })),
    stats: () => {
      cacheTags?.fold();
      return { ...counters.snapshot(), udpEngine };
    },
    decide: responder.decide,
    resolve: responder.resolve,
    answer: (msg, srcFamily, src, limit) => responder.answer(msg, srcFamily, src, limit),
    udpEngine,
    packetCache: cacheTags !== undefined,
    invalidateCache: () => cacheTags?.invalidate(),
    foldCacheHits: () => cacheTags?.fold(),
  };
}

/**
 * auto → batch when the addon is built and the sockets are our own (a node:cluster
 * worker shares the primary's dgram sockets instead); batch without the addon is an error.
 */
function pickUdpEngine(want: 'auto' | 'batch' | 'dgram', exclusive: boolean): UdpEngine {
  if (want === 'dgram') return 'dgram';
  const built = loadUdpBatch() !== undefined;
  if (want === 'batch') {
    if (!built) throw new ConfigError('dns.udpEngine', 'batch: the native addon is not built (npm run build:native)');
    if (!exclusive) throw new ConfigError('dns.udpEngine', 'batch: not available with cluster-shared sockets');
    return 'batch';
  }
  return built && exclusive ? 'batch' : 'dgram';
}
