// The DNS server's configuration (`dns:` in selector.yaml): listen addresses, zones and
// socket limits. Part of the dns/ folder's contract: the server needs nothing else.
import { z } from 'zod';
import { zHostPort } from '../../shared/config.js';

export const dnsName = z.string().min(1).max(253)
  .regex(/^([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$/, 'expected a DNS name')
  .transform((s) => s.toLowerCase().replace(/\.$/, ''));

export const ZoneConfigSchema = z.strictObject({
  name: dnsName,
  ns: z.array(dnsName).min(1).max(16),
  hostmaster: dnsName,
  /** SOA timers; `minimum` is the negative-caching TTL (RFC 2308). */
  serial: z.number().int().min(0).max(0xffffffff).optional(),
  refresh: z.number().int().min(0).default(3600),
  retry: z.number().int().min(0).default(600),
  expire: z.number().int().min(0).default(604_800),
  minimum: z.number().int().min(0).default(30),
  ttl: z.number().int().min(0).default(3600),
});

export const DnsConfigSchema = z.strictObject({
  // prefault: the default goes through zHostPort like a configured value.
  listen: z.array(zHostPort).min(1).max(64).prefault(['127.0.0.1:5353']),
  zones: z.array(ZoneConfigSchema).min(1).max(1000),
  maxTcpConnections: z.number().int().min(1).max(1_000_000).default(1024),
  tcpIdleTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
  /** Responses per second per client /24 (IPv4) or /56 (IPv6); 0 disables. */
  rateLimit: z.number().int().min(0).max(1_000_000).default(0),
  /** UDP I/O: batch = native recvmmsg/sendmmsg addon, dgram = node:dgram; unset = auto (batch if built). */
  udpEngine: z.enum(['auto', 'batch', 'dgram']).optional(),
  /**
   * DNS worker threads (workers.ts), apart from ingest on the main thread; unset = one per core.
   * 0 = DNS on the main thread's event loop. Without the batch engine (no SO_REUSEPORT) one worker serves.
   */
  workers: z.number().int().min(0).max(64).optional(),
  /**
   * Repeated UDP queries answered by the native batch engine from a packet cache, without
   * calling into JS (udp-batch.ts). Used on DNS worker threads with the batch engine and
   * rateLimit 0; emptied by every answer-table or mapper change. Unset = true.
   */
  packetCache: z.boolean().optional(),
});

export type DnsConfig = z.infer<typeof DnsConfigSchema>;
export type ZoneConfig = z.infer<typeof ZoneConfigSchema>;

/** The zone a name belongs to (longest matching zone), or undefined. */
export function zoneOf(zones: readonly ZoneConfig[], name: string): ZoneConfig | undefined {
  let best: ZoneConfig | undefined;
  for (const z of zones) {
  if ((name === z.name || name.endsWith(`.${z.name}`)) && (!best || z.name.length > best.name.length)) best = z;
  }
  return best;
}

