// The agent's `proxy:` section (DESIGN.md "Proxy-cache mode"): where the proxy
// listens, which catalogue services it serves, how much it may cache, optional TLS
// per service name, and the limits that keep a slow or hostile client from holding
// it. Parsed once by agent/config.ts; everything in agent/proxy/ trusts these types.
import { z } from 'zod';
import { isAddress } from '../../shared/prefix.js';
import { zAddress, zHostPort, type HostPort } from '../../shared/config.js';

const serviceName = z.string().min(1).max(253).regex(/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?$/, 'expected a service name')
  .transform((s) => s.toLowerCase());

const unspecified = (hp: HostPort): boolean => hp.host === '0.0.0.0' || hp.host === '::';

export const ProxyConfigSchema = z.strictObject({
  /** Plain HTTP listeners (`host:port`). */
  listen: z.array(zHostPort).max(16).default([]),
  /** HTTPS listeners: TLS terminated for services with `tls`, passed through by SNI otherwise. */
  tlsListen: z.array(zHostPort).max(16).default([]),
  /** Addresses announced to the selector; default: the hosts of listen/tlsListen. */
  announce: z.array(zAddress).max(16).optional(),
  /** Catalogue service names this proxy serves; requests for any other host are refused. */
  services: z.array(serviceName).min(1).max(1024),
  cache: z.strictObject({
    maxMiB: z.number().int().min(0).max(65_536).default(64),
    /** Largest single response kept (MiB). */
    maxEntryMiB: z.number().int().min(1).max(1024).default(5),
    maxEntries: z.number().int().min(1).max(10_000_000).default(10_000),
    /** Serve fresh stored GET responses straight from undici's store (fast-hit.ts); off: every request through the interceptor. */
    fastHits: z.boolean().default(true),
  }).default({ maxMiB: 64, maxEntryMiB: 5, maxEntries: 10_000, fastHits: true }),
  /** Certificate and key files (PEM) per service name, for TLS termination (and caching). */
  tls: z.record(serviceName, z.strictObject({ cert: z.string().min(1), key: z.string().min(1) })).default({}),
  maxHeaderBytes: z.number().int().min(1024).max(1_048_576).default(16_384),
  maxBodyBytes: z.number().int().min(0).max(1 << 30).default(10 * 1_048_576),
  /** Time a client has to send its request head and body (slowloris bound). */
  clientTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
  /** Keep-alive idle timeout of client connections. */
  keepAliveMs: z.number().int().min(100).max(600_000).default(5_000),
  /** Upstream: connect and headers deadline before the next site is tried (connect) or 504. */
  upstreamTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
  /** Upstream connections kept per site. */
  connectionsPerSite: z.number().int().min(1).max(4096).default(64),
  xForwardedFor: z.boolean().default(false),
}).superRefine((p, ctx) => {
  if (p.listen.length + p.tlsListen.length === 0) ctx.addIssue({ code: 'custom', path: ['listen'], message: 'at least one of listen or tlsListen is required' });
  if (!p.announce && [...p.listen, ...p.tlsListen].some(unspecified)) {
    ctx.addIssue({ code: 'custom', path: ['announce'], message: 'required when a listener binds 0.0.0.0 or ::' });
  }
  for (const name of Object.keys(p.tls)) {
    if (!p.services.includes(name)) ctx.addIssue({ code: 'custom', path: ['tls', name], message: 'not in proxy.services' });
  }
});

export type ProxyConfig = z.infer<typeof ProxyConfigSchema>;

/** The addresses a selector should answer with for this proxy. */
export function proxyAddresses(p: Readonly<ProxyConfig>): string[] {
  if (p.announce) return [...p.announce];
  const hosts = [...p.listen, ...p.tlsListen].map((hp) => hp.host).filter((h) => isAddress(h));
  return [...new Set(hosts)];
}
