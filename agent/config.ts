// Agent configuration (agent.yaml): schema, defaults, and loading with CLI overrides.
import { z } from 'zod';
import { AGENT_ID_RE } from '../shared/protocol.js';
import { ProxyConfigSchema } from './proxy/config.js';
import { zMqttUrl, zMqttUrls, zStallTimeoutMs } from '../shared/broker-urls.js';
import { readConfigFile, setPath, validateConfig, zAddress, zHostPort, zLogLevel, zPrefix } from '../shared/config.js';
import { ConfigError } from '../shared/errors.js';

export const AgentConfigSchema = z.strictObject({
  id: z.string().regex(AGENT_ID_RE, 'expected [a-z0-9][a-z0-9-]{0,62}'),
  pop: z.string().min(1).max(256).optional(),
  mqtt: z.strictObject({
    /** One broker; `urls` is the cluster form (tried in order, next on failure). Set one of the two. */
    url: zMqttUrl.optional(),
    urls: zMqttUrls.optional(),
    username: z.string().min(1).optional(),
    password: z.string().min(1).optional(),
    /** CA certificate file (PEM) pinned for mqtts. */
    ca: z.string().min(1).optional(),
    keepaliveS: z.number().int().min(5).max(3600).default(30),
    /** With several urls: an unanswered CONNECT or metrics publish moves to the next URL after this. */
    stallTimeoutMs: zStallTimeoutMs,
  }),
  /** Source address for probes, and the address announced for this agent. */
  bindAddress: zAddress.optional(),
  /** Source address for IPv6 probes when bindAddress is IPv4 (dual-stack POP). */
  bindAddress6: zAddress.refine((a) => a.includes(':'), 'expected an IPv6 address').optional(),
  /**
   * Address families this POP probes (a site's first address of each). Default: the
   * families of bindAddress/bindAddress6 when set, else of the box's interfaces.
   */
  families: z.array(z.union([z.literal(4), z.literal(6)])).min(1).max(2).optional(),
  /** Client prefixes of this POP; default: the networks of the box's interfaces. */
  prefixes: z.array(zPrefix).max(4096).optional(),
  resolvers: z.union([z.literal('auto'), z.array(zAddress).max(64)]).default('auto'),
  intervalS: z.number().int().min(1).max(3600).default(10),
  concurrency: z.number().int().min(1).max(1024).default(32),
  /** Confirm a failure after a success (or the reverse) with an immediate second probe. */
  recheckChanges: z.boolean().default(true),
  /** Rounds kept while the broker is unreachable; the oldest is dropped (and counted) past it. */
  queueMax: z.number().int().min(1).max(100_000).default(360),
  /** CA file (PEM) trusted for HTTPS probes besides the system roots. */
  probeCa: z.string().min(1).optional(),
  /** Admin/metrics HTTP listener (Prometheus /metrics). */
  http: z.strictObject({ listen: zHostPort.optional() }).default({}),
  log: z.strictObject({ level: zLogLevel.default('info') }).default({ level: 'info' }),
  /** Proxy-cache mode (DESIGN.md): serve client HTTP(S) for some services through the best site. */
  proxy: ProxyConfigSchema.optional(),
});

export type AgentConfig = z.infer<typeof AgentConfigSchema>;

/** Validates a raw object (from YAML or code) into a frozen AgentConfig. */
export function parseAgentConfig(raw: unknown): Readonly<AgentConfig> {
  const cfg = validateConfig(AgentConfigSchema, raw, { interval: 'intervalS', bind: 'bindAddress' });
  if (cfg.mqtt.url === undefined && cfg.mqtt.urls === undefined) throw new ConfigError('mqtt.url', 'required (or mqtt.urls, a list of broker URLs)');
  if (cfg.mqtt.url !== undefined && cfg.mqtt.urls !== undefined) throw new ConfigError('mqtt.urls', 'set either mqtt.url or mqtt.urls, not both');
  return cfg;
}

/** Loads FILE, applies dotted-path overrides (`{"mqtt.url": "..."}`), validates. */
export function loadAgentConfig(path: string, overrides: Record<string, unknown> = {}): Readonly<AgentConfig> {
  const raw = readConfigFile(path) as Record<string, unknown>;
  if (raw && typeof raw === 'object') for (const [k, v] of Object.entries(overrides)) if (v !== undefined) setPath(raw, k, v);
  return parseAgentConfig(raw);
}
