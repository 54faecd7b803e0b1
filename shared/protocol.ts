// MQTT wire protocol v1: topics, payload types, and the one validation module both
// sides use. A payload that does not match is rejected with a reason (a short label
// for metrics) and a message; it is never half-used. Unknown fields are ignored.
import { z } from 'zod';
import { ProtocolError, type ProtocolRejectReason } from './errors.js';
import { isAddress, isPrefix } from './prefix.js';

export const PROTOCOL_VERSION = 1;
export const TOPIC_ROOT = 'vantage/v1';
export const CATALOGUE_TOPIC = `${TOPIC_ROOT}/config/services`;
export const AGENT_ID_RE = /^[a-z0-9][a-z0-9-]{0,62}$/;
/** Largest payload either side accepts (bytes). A 1,000-site round is ~250 KB. */
export const MAX_PAYLOAD_BYTES = 4 * 1024 * 1024;
/** A message stamped further than this in the future is impossible (clock skew allowance). */
export const MAX_FUTURE_SKEW_MS = 5 * 60_000;

export const ERROR_CLASSES = [
  'reset', 'timeout', 'refused', 'unreachable', 'tls', 'http_status', 'truncated', 'body_mismatch', 'other',
] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

export type AgentTopicKind = 'status' | 'announce' | 'metrics';

export function agentTopic(agent: string, kind: AgentTopicKind): string {
  return `${TOPIC_ROOT}/agents/${agent}/${kind}`;
}

/** Splits `vantage/v1/agents/{id}/{kind}`; undefined for any other topic. */
export function parseAgentTopic(topic: string): { agent: string; kind: AgentTopicKind } | undefined {
  const parts = topic.split('/');
  if (parts.length !== 5 || parts[0] !== 'vantage' || parts[1] !== 'v1' || parts[2] !== 'agents') return undefined;
  const agent = parts[3] as string;
  const kind = parts[4] as string;
  if (!AGENT_ID_RE.test(agent)) return undefined;
  if (kind !== 'status' && kind !== 'announce' && kind !== 'metrics') return undefined;
  return { agent, kind };
}

const agentId = z.string().regex(AGENT_ID_RE, 'agent id must match [a-z0-9][a-z0-9-]{0,62}');
const epochMs = z.number().int().nonnegative();
const ms = z.number().finite().nonnegative().max(3_600_000);
const address = z.string().max(64).refine(isAddress, 'not an IP address');
const prefix = z.string().max(64).refine(isPrefix, 'not an IP prefix');
const hostname = z.string().min(1).max(253).regex(/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?$/, 'not a host name');
const siteId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/, 'site id must be [A-Za-z0-9][A-Za-z0-9_.-]{0,62}');

export const ProbeSpecSchema = z.object({
  scheme: z.enum(['http', 'https']),
  port: z.number().int().min(1).max(65535),
  path: z.string().startsWith('/').max(2048),
  expectStatus: z.array(z.number().int().min(100).max(599)).min(1).max(32),
  timeoutMs: z.number().int().min(1).max(120_000),
  host: hostname.optional(),
  expectBody: z.string().max(1024).optional(),
});
export type ProbeSpec = z.infer<typeof ProbeSpecSchema>;

// Optional fields marked (replicas) are for other selectors sharing the catalogue
// topic (DESIGN.md "Replicas and clustered brokers"); agents ignore them. The answer
// settings (ttl, answers, policy, answerSet, ttlUnsettled, mode; per site cost, weight,
// capacity) are taken here as any JSON value: a selector applying the catalogue checks
// each one (catalogue-settings.ts) and drops an invalid one with a counted reason, so
// one bad setting never rejects the whole catalogue, and agents never look at them.
const setting = z.unknown().optional();
/** `addresses` (optional, additive): every address of a dual-stack site; `address` is its first. */
export const SiteSchema = z.object({
  id: siteId, address, addresses: z.array(address).min(1).max(16).optional(), drained: z.boolean().optional(),
  /** (settings) ranking inputs of the site. */
  cost: setting, weight: setting, capacity: setting,
});
export const ServiceSchema = z.object({
  name: hostname,
  probe: ProbeSpecSchema,
  sites: z.array(SiteSchema).max(10_000),
  /** (settings) answer settings of the service. */
  ttl: setting, answers: setting, policy: setting, answerSet: setting, ttlUnsettled: setting, mode: setting,
});
export const CatalogueSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  ts: epochMs,
  services: z.array(ServiceSchema).max(10_000),
  /** (replicas) revision: a Lamport counter; the higher (rev, origin) wins, so an old retained message never beats a newer change. */
  rev: z.number().int().nonnegative().optional(),
  /** (replicas) id of the selector that made this revision. */
  origin: z.string().min(1).max(64).optional(),
  /** (replicas) hash of the publishing selector's static catalogue (selector.yaml services). */
  configHash: z.string().max(128).optional(),
  /** (replicas) client prefixes added through the admin API. */
  prefixes: z.array(z.object({ prefix, agent: agentId })).max(100_000).optional(),
});
export type CatalogueService = z.infer<typeof ServiceSchema>;
export type Catalogue = z.infer<typeof CatalogueSchema>;

export const StatusSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  agent: agentId,
  state: z.enum(['online', 'offline']),
  ts: epochMs,
  version: z.string().max(64).optional(),
  /** Proxy-cache mode (optional, additive): whether the agent's proxy can serve, per service. */
  proxy: z.object({
    healthy: z.boolean(),
    /** Served services with no site this agent measures as up. */
    down: z.array(hostname).max(1024).default([]),
  }).optional(),
});
export type Status = z.infer<typeof StatusSchema>;

export const AnnounceSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  agent: agentId,
  pop: z.string().max(256),
  addresses: z.array(address).max(256),
  prefixes: z.array(prefix).max(4096),
  resolvers: z.array(address).max(64),
  /** Address families the POP probes (optional, additive): absent = unknown. */
  families: z.array(z.union([z.literal(4), z.literal(6)])).max(2).optional(),
  ts: epochMs,
  /** Proxy-cache mode (optional, additive): the agent's proxy addresses and the services it serves. */
  proxy: z.object({
    addresses: z.array(address).min(1).max(16),
    services: z.array(hostname).max(1024),
  }).optional(),
});
export type Announce = z.infer<typeof AnnounceSchema>;

const nullableMs = ms.nullable();
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);
export const ResultSchema = z.object({
  service: hostname,
  site: siteId,
  address,
  ok: z.boolean(),
  status: z.number().int().min(100).max(999).nullable(),
  connectMs: nullableMs,
  tlsMs: nullableMs,
  ttfbMs: nullableMs,
  totalMs: nullableMs,
  bytes: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  error: z.enum(ERROR_CLASSES).nullable(),
}).refine((r) => (r.ok ? r.error === null : r.error !== null), { message: 'ok and error disagree', path: ['error'] })
  .refine((r) => !r.ok || r.totalMs !== null, { message: 'ok result without totalMs', path: ['totalMs'] });
export type Result = z.infer<typeof ResultSchema>;

export const MetricsSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  agent: agentId,
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  ts: epochMs,
  intervalS: z.number().int().min(1).max(86_400),
  results: z.array(ResultSchema).max(100_000),
  /** Proxy-cache mode (optional, additive): the proxy's counters since the agent started. */
  proxy: z.object({
    requests: count, hits: count, misses: count, revalidated: count, tunnels: count.optional(), errors: count, retries: count,
    upstreamErrors: count, bytesFromCache: count, bytesFromUpstream: count,
  }).optional(),
});
export type Metrics = z.infer<typeof MetricsSchema>;

/** Rejection reasons, used as Prometheus label values (the list is in shared/errors.ts). */
export type RejectReason = ProtocolRejectReason;

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  if (!issue) return 'invalid payload';
  const path = issue.path.length ? issue.path.join('.') : '(root)';
  return `${path}: ${issue.message}`;
}

/** Decodes a raw MQTT payload to a JSON object; throws ProtocolError. */
export function decodeJson(payload: Uint8Array | string): unknown {
  const size = typeof payload === 'string' ? Buffer.byteLength(payload) : payload.byteLength;
  if (size > MAX_PAYLOAD_BYTES) throw new ProtocolError('oversize', `payload of ${size} bytes exceeds ${MAX_PAYLOAD_BYTES}`);
  const text = typeof payload === 'string' ? payload : Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength).toString('utf8');
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new ProtocolError('json', `malformed JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ProtocolError('json', 'payload is not a JSON object');
  }
  const v = (value as { v?: unknown }).v;
  if (v !== PROTOCOL_VERSION) throw new ProtocolError('version', `unsupported protocol version ${JSON.stringify(v)}`);
  return value;
}

/** Validates a raw payload (or an already decoded object) with `schema`; throws ProtocolError. */
export function parseWith<S extends z.ZodType>(schema: S, payload: Uint8Array | string | object): z.infer<S> {
  const value = typeof payload === 'object' && !(payload instanceof Uint8Array) ? payload : decodeJson(payload);
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ProtocolError('schema', firstIssue(parsed.error));
  return parsed.data;
}

interface AgentCheck {
  /** The agent id from the topic; the payload's `agent` must equal it. */
  topicAgent?: string;
  now?: number;
}

function checkAgentAndClock(msg: { agent: string; ts: number }, check: AgentCheck): void {
  if (check.topicAgent !== undefined && msg.agent !== check.topicAgent) {
    throw new ProtocolError('agent_mismatch', `payload agent "${msg.agent}" differs from topic agent "${check.topicAgent}"`);
  }
  const now = check.now ?? Date.now();
  if (msg.ts > now + MAX_FUTURE_SKEW_MS) throw new ProtocolError('future_ts', `ts ${msg.ts} is in the future`);
}

export function parseCatalogue(payload: Uint8Array | string | object): Catalogue {
  return parseWith(CatalogueSchema, payload);
}
export function parseStatus(payload: Uint8Array | string | object, check: AgentCheck = {}): Status {
  const msg = parseWith(StatusSchema, payload);
  checkAgentAndClock(msg, check);
  return msg;
}
export function parseAnnounce(payload: Uint8Array | string | object, check: AgentCheck = {}): Announce {
  const msg = parseWith(AnnounceSchema, payload);
  checkAgentAndClock(msg, check);
  return msg;
}
export function parseMetrics(payload: Uint8Array | string | object, check: AgentCheck = {}): Metrics {
  const msg = parseWith(MetricsSchema, payload);
  checkAgentAndClock(msg, check);
  return msg;
}
/** Validates one Result (the agent checks its own output before publishing). */
export function parseResult(value: object): Result {
  return parseWith(ResultSchema, value);
}
