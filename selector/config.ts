// Selector configuration (selector.yaml): schema, defaults, cross-field checks, and
// loading with CLI overrides. Everything inside the selector trusts these types.
import { z } from 'zod';
import { AGENT_ID_RE, ProbeSpecSchema } from '../shared/protocol.js';
import { zMqttUrl, zMqttUrls, zStallTimeoutMs } from '../shared/broker-urls.js';
import { ConfigError } from '../shared/errors.js';
import { formatHostPort, readConfigFile, type HostPort, setPath, validateConfig, zAddress, zHostPort, zLogLevel, zPrefix } from '../shared/config.js';
import { DnsConfigSchema, dnsName, zoneOf } from './dns/config.js';
import { ANSWER_SET_MODES, type AnswerSetMode } from './ranking/answer-set.js';

export type { AnswerSetMode };
import { BackboneConfigSchema } from './backbone/config.js';
import { UplinkConfigSchema } from './uplink/config.js';

export { zoneOf, type DnsConfig, type ZoneConfig } from './dns/config.js';

const siteId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'expected [A-Za-z0-9][A-Za-z0-9_.-]{0,62}');

export const POLICIES = ['latency', 'availability', 'cost', 'weighted'] as const;
export type Policy = (typeof POLICIES)[number];

const ProbeDefaults = { scheme: 'http', port: 80, path: '/', expectStatus: [200], timeoutMs: 3000 } as const;

/**
 * A site: `address` (one address) or `addresses` (several, e.g. one IPv4 and one IPv6;
 * DESIGN.md "Ranking", families). Both may be given when `address` is in `addresses`.
 * Parsed into `address` = the first address and `addresses` = all of them.
 */
export const SiteConfigSchema = z.strictObject({
  id: siteId,
  address: zAddress.optional(),
  addresses: z.array(zAddress).min(1).max(16).optional(),
  cost: z.number().finite().nonnegative().default(0),
  weight: z.number().finite().positive().default(1),
  drained: z.boolean().default(false),
  /** Optional capacity (issue #10 §3): a share of the service's demand, or demand units (queries/s × TTL). */
  capacity: z.union([
    z.strictObject({ share: z.number().finite().positive().max(1) }),
    z.strictObject({ rps: z.number().finite().positive() }),
  ]).optional(),
}).superRefine((s, ctx) => {
  if (s.address === undefined && s.addresses === undefined) ctx.addIssue({ code: 'custom', path: ['address'], message: 'required (or addresses)' });
  if (s.address !== undefined && s.addresses !== undefined && !s.addresses.includes(s.address)) {
    ctx.addIssue({ code: 'custom', path: ['address'], message: 'must be one of addresses when both are given' });
  }
  if (s.addresses && new Set(s.addresses).size !== s.addresses.length) ctx.addIssue({ code: 'custom', path: ['addresses'], message: 'duplicate address' });
}).transform(({ address, addresses, ...rest }) => {
  const all = addresses ?? [address as string];
  return { ...rest, address: address ?? (all[0] as string), addresses: all };
});

export const ServiceConfigSchema = z.strictObject({
  name: dnsName,
  ttl: z.number().int().min(0).max(86_400).default(30),
  /** TTL while the answer is unsettled (a site in it just changed state, or it changed in the last window); default ttl/4, at least 5 s. */
  ttlUnsettled: z.number().int().min(5).max(86_400).optional(),
  answers: z.number().int().min(1).max(64).default(2),
  /** `band` (default): the first site plus those as good within the hysteresis band; `ordered`: plain top-N. */
  answerSet: z.enum(ANSWER_SET_MODES).default('band'),
  policy: z.enum(POLICIES).default('latency'),
  /** `proxy`: answer with the mapped agent's proxy-cache address(es) while it is healthy (DESIGN.md "Proxy-cache mode"). */
  mode: z.enum(['sites', 'proxy']).default('sites'),
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
    /** External broker; `urls` is the cluster form (tried in order). Neither: the embedded broker. */
    url: zMqttUrl.optional(),
    urls: zMqttUrls.optional(),
    listen: zHostPort.prefault('127.0.0.1:1883'),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    ca: z.string().min(1).optional(),
    /** External broker: keep our session (client id = replica id) so nothing published while we reconnect is lost. */
    persistentSession: z.boolean().default(true),
    /** With several urls: an unanswered CONNECT or catalogue publish moves to the next URL after this. */
    stallTimeoutMs: zStallTimeoutMs,
    /** Embedded broker TLS (mqtts): certificate and key files. */
    tls: z.strictObject({ cert: z.string().min(1), key: z.string().min(1) }).optional(),
  }).prefault({}),
  http: z.strictObject({
    listen: zHostPort.prefault('127.0.0.1:8053'),
    token: z.string().min(16, 'must be at least 16 characters').optional(),
  }).prefault({}),
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
    /** Budget of the database's used pages (MiB); raw results go first, oldest first (store/retention.ts). */
    maxDbMiB: z.number().finite().min(1, 'must be at least 1 (MiB)').optional(),
  }).default({ rawHours: 48, rollupDays: 30 }),
  services: z.array(ServiceConfigSchema).max(10_000).default([]),
  log: z.strictObject({ level: zLogLevel.default('info') }).default({ level: 'info' }),
  /** Federation (DESIGN.md): this selector is a backbone (DNS-B) for LBs ... */
  backbone: BackboneConfigSchema.optional(),
  /** ... or an LB reporting to a backbone. */
  uplink: UplinkConfigSchema.optional(),
});

export type SelectorConfig = z.infer<typeof SelectorConfigSchema>;
export type ServiceConfig = z.infer<typeof ServiceConfigSchema>;
export type SiteConfig = z.infer<typeof SiteConfigSchema>;
export type RankingConfig = z.infer<typeof RankingConfigSchema>;

/** DESIGN.md: ttl/4 while unsettled, never below 5 s (nor above ttl). */
export function unsettledTtl(svc: { ttl: number; ttlUnsettled?: number | null | undefined }): number {
  return Math.min(svc.ttl, svc.ttlUnsettled ?? Math.max(5, Math.floor(svc.ttl / 4)));
}

const isLoopback = (hp: HostPort): boolean => /^127\.|^::1$/.test(hp.host);

/** True when the selector is a client of an external broker (mqtt.url or mqtt.urls). */
export function isExternalBroker(cfg: Pick<SelectorConfig, 'mqtt'>): boolean {
  return cfg.mqtt.url !== undefined || cfg.mqtt.urls !== undefined;
}

function crossCheck(cfg: SelectorConfig): void {
  const seen = new Set<string>();
  cfg.services.forEach((svc, i) => {
    if (seen.has(svc.name)) throw new ConfigError(`services[${i}].name`, `duplicate service "${svc.name}"`);
    seen.add(svc.name);
    if (svc.ttlUnsettled !== undefined && svc.ttlUnsettled > svc.ttl) throw new ConfigError(`services[${i}].ttlUnsettled`, `${svc.ttlUnsettled} is longer than ttl ${svc.ttl}`);
    if (!zoneOf(cfg.dns.zones, svc.name)) throw new ConfigError(`services[${i}].name`, `"${svc.name}" is not inside any dns.zones entry`);
    const ids = new Set<string>();
    svc.sites.forEach((site, j) => {
      if (ids.has(site.id)) throw new ConfigError(`services[${i}].sites[${j}].id`, `duplicate site "${site.id}"`);
      ids.add(site.id);
    });
  });
  const lbIds = new Set<string>();
  cfg.backbone?.lbs.forEach((lb, i) => {
    if (lbIds.has(lb.id)) throw new ConfigError(`backbone.lbs[${i}].id`, `duplicate lb "${lb.id}"`);
    lbIds.add(lb.id);
  });
  if (cfg.backbone && cfg.uplink) throw new ConfigError('uplink', 'a selector is either a backbone or an LB with an uplink, not both');
  if (cfg.http.token === undefined && !isLoopback(cfg.http.listen)) {
    throw new ConfigError('http.token', `required when http.listen (${formatHostPort(cfg.http.listen)}) is not loopback`);
  }
  if (cfg.mqtt.url !== undefined && cfg.mqtt.urls !== undefined) throw new ConfigError('mqtt.urls', 'set either mqtt.url or mqtt.urls, not both');
  // DESIGN.md: an embedded broker without agent auth listens on loopback only.
  if (!isExternalBroker(cfg) && cfg.auth.agents === 'off' && !isLoopback(cfg.mqtt.listen)) {
    throw new ConfigError('auth.agents', `must be "required" when the embedded broker's mqtt.listen (${formatHostPort(cfg.mqtt.listen)}) is not loopback`);
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
