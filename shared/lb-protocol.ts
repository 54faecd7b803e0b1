// MQTT wire protocol v1, federation topics (DESIGN.md "Federation: the backbone tier"):
// an LB (a selector with `uplink:`) publishes its map, status and, with push, its
// per-agent answer lists under vantage/v1/lbs/{id}/ on the backbone's broker. Same
// rules as the agent topics: unknown fields ignored, anything else wrong rejects the
// whole message with a reason label.
import { z } from 'zod';
import { ProtocolError } from './errors.js';
import { isAddress, isPrefix } from './prefix.js';
import { AGENT_ID_RE, MAX_FUTURE_SKEW_MS, PROTOCOL_VERSION, TOPIC_ROOT, parseWith } from './protocol.js';

export type LbTopicKind = 'map' | 'status' | 'rankings';
/** Every LB topic, for the backbone's subscription. */
export const LBS_TOPIC = `${TOPIC_ROOT}/lbs/+/+`;
export const LBS_PREFIX = `${TOPIC_ROOT}/lbs/`;
/** A DNS label (RFC 1035 §2.3.1, lower case): the LB's `{label}.{service}` names. */
export const LABEL_RE = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export function lbTopic(lb: string, kind: LbTopicKind): string {
  return `${LBS_PREFIX}${lb}/${kind}`;
}

/** Splits `vantage/v1/lbs/{id}/{kind}`; undefined for any other topic. */
export function parseLbTopic(topic: string): { lb: string; kind: LbTopicKind } | undefined {
  const parts = topic.split('/');
  if (parts.length !== 5 || parts[0] !== 'vantage' || parts[1] !== 'v1' || parts[2] !== 'lbs') return undefined;
  const lb = parts[3] as string;
  const kind = parts[4] as string;
  if (!AGENT_ID_RE.test(lb)) return undefined;
  if (kind !== 'map' && kind !== 'status' && kind !== 'rankings') return undefined;
  return { lb, kind };
}

const lbId = z.string().regex(AGENT_ID_RE, 'lb id must match [a-z0-9][a-z0-9-]{0,62}');
const epochMs = z.number().int().nonnegative();
const address = z.string().max(64).refine(isAddress, 'not an IP address');
const prefix = z.string().max(64).refine(isPrefix, 'not an IP prefix');
const hostname = z.string().min(1).max(253).regex(/^[A-Za-z0-9_]([A-Za-z0-9_.-]*[A-Za-z0-9_])?\.?$/, 'not a host name');

export const LbMapSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  lb: lbId,
  label: z.string().regex(LABEL_RE, 'label must be one lower-case DNS label'),
  // A delegation needs at least one name server; 13 is what fits a 512-byte referral.
  nameservers: z.array(z.object({ name: hostname, address })).min(1).max(13),
  resolvers: z.array(address).max(4096),
  prefixes: z.array(prefix).max(1_000_000),
  ts: epochMs,
});
export type LbMap = z.infer<typeof LbMapSchema>;

export const LbStatusSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  lb: lbId,
  state: z.enum(['online', 'offline']),
  ts: epochMs,
  version: z.string().max(64).optional(),
});
export type LbStatus = z.infer<typeof LbStatusSchema>;

const addressList = z.array(address).max(64);
export const LbRankingsSchema = z.object({
  v: z.literal(PROTOCOL_VERSION),
  lb: lbId,
  seq: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
  ts: epochMs,
  intervalS: z.number().int().min(1).max(86_400),
  services: z.array(z.object({
    name: hostname,
    ttl: z.number().int().min(0).max(86_400),
    default: addressList,
    byAgent: z.array(z.object({
      agent: lbId,
      prefixes: z.array(prefix).max(100_000),
      resolvers: z.array(address).max(4096),
      addresses: addressList,
    })).max(10_000),
  })).max(10_000),
});
export type LbRankings = z.infer<typeof LbRankingsSchema>;

interface LbCheck {
  /** The LB id from the topic; the payload's `lb` must equal it. */
  topicLb?: string;
  now?: number;
}

function checkLbAndClock(msg: { lb: string; ts: number }, check: LbCheck): void {
  if (check.topicLb !== undefined && msg.lb !== check.topicLb) {
    throw new ProtocolError('lb_mismatch', `payload lb "${msg.lb}" differs from topic lb "${check.topicLb}"`);
  }
  const now = check.now ?? Date.now();
  if (msg.ts > now + MAX_FUTURE_SKEW_MS) throw new ProtocolError('future_ts', `ts ${msg.ts} is in the future`);
}

export function parseLbMap(payload: Uint8Array | string | object, check: LbCheck = {}): LbMap {
  const msg = parseWith(LbMapSchema, payload);
  checkLbAndClock(msg, check);
  return msg;
}
export function parseLbStatus(payload: Uint8Array | string | object, check: LbCheck = {}): LbStatus {
  const msg = parseWith(LbStatusSchema, payload);
  checkLbAndClock(msg, check);
  return msg;
}
export function parseLbRankings(payload: Uint8Array | string | object, check: LbCheck = {}): LbRankings {
  const msg = parseWith(LbRankingsSchema, payload);
  checkLbAndClock(msg, check);
  return msg;
}
