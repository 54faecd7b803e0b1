// Selector configuration (selector.yaml): schema, defaults, cross-field checks, and
// loading with CLI overrides. Everything inside the selector trusts these types.
import { z } from 'zod';
import { AGENT_ID_RE, ProbeSpecSchema } from '../shared/protocol.js';
import { ConfigError } from '../shared/errors.js';
import { readConfigFile, setPath, validateConfig, zAddress, zHostPort, zLogLevel, zPrefix } from '../shared/config.js';
import { DnsConfigSchema, dnsName, zoneOf } from './dns/config.js';

export { zoneOf, type DnsConfig, type ZoneConfig } from './dns/config.js';

const mqttUrl = z.string().refine((s) => /^(mqtts?|wss?):\/\/[^/]+/.test(s), 'expected mqtt://host:port or mqtts://host:port');
const siteId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'expected [A-Za-z0-9][A-Za-z0-9_.-]{0,62}');

export const POLICIES = ['latency', 'availability', 'cost', 'weighted'] as const;
export type Policy = (typeof POLICIES)[number];

const ProbeDefaults = { scheme: 'http', port: 80, path: '/', expectStatus: [200], timeoutMs: 3000 } as const;

export const SiteConfigSchema = z.strictObject({
  id: siteId,
  address: zAddress,
  cost: z.number().finite().nonnegative().default(0),
  weight: z.number().finite().positive().default(1),
  drained: z.boolean().default(false),
  /** Optional capacity (issue #10 §3): a share of the service's demand, or demand units (queries/s × TTL). */
  capacity: z.union([
    z.strictObject({ share: z.number().finite().positive().max(1) }),
    z.strictObject({ rps: z.number().finite().positive() }),
  ]).optional(),
});

export const ServiceConfigSchema = z.strictObject({
  name: dnsName,
  ttl: z.number().int().min(0).max(86_400).default(30),
  answers: z.number().int().min(1).max(64).default(2),
  policy: z.enum(POLICIES).default('latency'),
  probe: z.strictObject({
    scheme: ProbeSpecSchema.shape.scheme.default(ProbeDefaults.scheme),
    port: ProbeSpecSchema.shape.port.optional(),
    path: ProbeSpecSchema.shape.path.default(ProbeDefaults.path),
    expectStatus: ProbeSpecSchema.shape.expectStatus.default([...ProbeDefaults.expectStatus]),
    timeoutMs: ProbeSpecSchema.shape.timeoutMs.default(ProbeDefaults.timeoutMs),
    host: ProbeSpecSchema.shape.host,
    expectBody: ProbeSpecSchema.shape.expectBody,
  }).default({ scheme: 'http', path: '/', expectStatus: [200], timeoutMs: 3000 })
    .transform((p) => ({ ...p, port: p.port ?? (p.scheme === 'https' ? 443 : 80) })),
  sites: z.array(SiteConfigSchema).max(10_000).default([]),
});

export const RankingConfigSchema = z.strictObject({
  windowS: z.number().int().min(1).max(86_400).default(300),
  minRounds: z.number().int().min(1).max(1000).default(3),
  downAfter: z.number().int().min(1).max(100).default(2),
  upAfter: z.number().int().min(1).max(100).default(2),
  hysteresisPct: z.number().finite().min(0).max(1000).default(10),
  hysteresisMs: z.number().finite().min(0).max(60_000).default(5),
  staleIntervals: z.number().finite().min(1).max(1000).default(3),
  /** Multiplier of the failure share in the latency score: score = median × (1 + failurePenalty × share). */
  failurePenalty: z.number().finite().min(0).max(1000).default(4),
});

export const SelectorConfigSchema = z.strictObject({
  dns: DnsConfigSchema,
  mqtt: z.strictObject({
    url: mqttUrl.optional(),
    listen: zHostPort.default('127.0.0.1:1883'),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    ca: z.string().min(1).optional(),
    /** Embedded broker TLS (mqtts): certificate and key files. */
    tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
  }).default({ listen: '127.0.0.1:1883' }),
  http: z.strictObject({
    listen: zHostPort.default('127.0.0.1:8053'),
    token: z.string().min(16, 'must be at least 16 characters').optional(),
  }).default({ listen: '127.0.0.1:8053' }),
  db: z.string().min(1).default('./var/selector.db'),
  auth: z.strictObject({ agents: z.enum(['required', 'off']).default('required') }).default({ agents: 'required' }),
  prefixes: z.array(z.strictObject({
    agent: z.string().regex(AGENT_ID_RE, 'expected [a-z0-9][a-z0-9-]{0,62}'),
    prefixes: z.array(zPrefix).max(1_000_000),
  })).default([]),
  ranking: RankingConfigSchema.default(RankingConfigSchema.parse({})),
  retention: z.strictObject({
    rawHours: z.number().finite().positive().default(48),
    rollupDays: z.number().finite().positive().default(30),
  }).default({ rawHours: 48, rollupDays: 30 }),
  services: z.array(ServiceConfigSchema).max(10_000).default([]),
  log: z.strictObject({ level: zLogLevel.default('info') }).default({ level: 'info' }),
});

export type SelectorConfig = z.infer<typeof SelectorConfigSchema>;
export type ServiceConfig = z.infer<typeof ServiceConfigSchema>;
export type SiteConfig = z.infer<typeof SiteConfigSchema>;
export type RankingConfig = z.infer<typeof RankingConfigSchema>;

function crossCheck(cfg: SelectorConfig): void {
  const seen = new Set<string>();
  cfg.services.forEach((svc, i) => {
    if (seen.has(svc.name)) throw new ConfigError(`services[${i}].name`, `duplicate service "${svc.name}"`);
    seen.add(svc.name);
    if (!zoneOf(cfg.dns.zones, svc.name)) throw new ConfigError(`services[${i}].name`, `"${svc.name}" is not inside any dns.zones entry`);
    const ids = new Set<string>();
    svc.sites.forEach((site, j) => {
      if (ids.has(site.id)) throw new ConfigError(`services[${i}].sites[${j}].id`, `duplicate site "${site.id}"`);
      ids.add(site.id);
    });
  });
  if (cfg.http.token === undefined) {
    const host = cfg.http.listen.replace(/^\[/, '').replace(/\]?:\d+$/, '');
    if (!/^127\.|^::1$/.test(host)) throw new ConfigError('http.token', `required when http.listen (${cfg.http.listen}) is not loopback`);
  }
}

export function parseSelectorConfig(raw: unknown): Readonly<SelectorConfig> {
  const cfg = validateConfig(SelectorConfigSchema, raw, { listen: 'dns.listen', zone: 'dns.zones' });
  crossCheck(cfg);
  return cfg;
}

export function loadSelectorConfig(path: string, overrides: Record<string, unknown> = {}): Readonly<SelectorConfig> {
  const raw = readConfigFile(path) as Record<string, unknown>;
  if (raw && typeof raw === 'object') for (const [k, v] of Object.entries(overrides)) if (v !== undefined) setPath(raw, k, v);
  return parseSelectorConfig(raw);
}
