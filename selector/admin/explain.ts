// `explain NAME --client IP`: asks the DNS server's decide() — the query the client would
// send, through the same parser and resolve() as the packet path — how it would answer
// this client now, then
// attaches the ranking that produced that answer (inputs, down/up, score arithmetic,
// hysteresis). The order, TTL and ECS scope shown are the DNS answer's, not a re-run.
import { bitsOf, formatAddress, parseAddress, parsePrefix, type Family } from '../../shared/prefix.js';
import { DEFAULT_KEY } from '../dns/contract.js';
import type { DnsServer } from '../dns/index.js';
import type { Freshness } from '../ranking/freshness.js';
import type { RankEngine } from '../ranking/engine.js';
import type { HysteresisDecision, SiteExplanation } from '../ranking/policy.js';
import type { ProxyDecision } from '../ranking/proxy-answers.js';
import type { SetDecision } from '../ranking/answer-set.js';
import { addressesOf, familyOf, SOURCE_TEXT } from '../ranking/families.js';
import { viewState } from './agents-view.js';
import { AdminError } from './catalogue-admin.js';

export interface Explanation {
  name: string;
  rcode: string;
  kind: string;
  zone: string | null;
  service: string | null;
  client: { address: string; sourceLength: number; source: string; ecs: boolean };
  match: { via: string; prefix: string | null; agent: string | null; skipped: string | null; reason: string } | null;
  /** Answer key used: an agent id, or "default" (aggregate of fresh agents). */
  answerKey: string | null;
  agent: { id: string; state: string; dataAgeS: number | null; intervalS: number | null } | null;
  defaultAgents: string[];
  uniform: boolean;
  policy: string | null;
  sites: SiteExplanation[];
  hysteresis: HysteresisDecision | null;
  note: string | null;
  failOpen: boolean;
  order: string[];
  addresses: string[];
  ttl: number | null;
  scope: number;
  /** For a `mode: proxy` service: whether this answer is the agent's proxy or its sites, and why. */
  proxy: ProxyDecision | null;
  /** The query type explained (A or AAAA): each family has its own ranking and answer set. */
  qtype: 'A' | 'AAAA';
  /** Where this family's ranking inputs came from (own results, the other family's, the aggregate). */
  familySource: string | null;
  /** The answer-set rule and, per site, why it is in the answer or not. */
  answerSet: { mode: string; sites: SetDecision[] } | null;
  /** Why the TTL is the shorter unsettled one, or null when settled. */
  unsettled: string | null;
}

export interface ExplainDeps {
  decide: DnsServer['decide'] | undefined;
  engine: RankEngine;
  freshness: Freshness;
  proxy?: { decision(service: string, key: string): ProxyDecision | undefined };
}

function parseClient(text: string): { family: Family; bytes: Uint8Array; sourceLength: number; address: string; ecs: boolean } {
  try {
    if (text.includes('/')) {
      const p = parsePrefix(text);
      return { family: p.family, bytes: p.bytes, sourceLength: p.length, address: formatAddress(p.family, p.bytes), ecs: true };
    }
    const a = parseAddress(text);
    return { family: a.family, bytes: a.bytes, sourceLength: bitsOf(a.family), address: formatAddress(a.family, a.bytes), ecs: false };
  } catch {
    throw new AdminError(400, `--client: not an IP address or prefix: "${text}"`);
  }
}

export function explain(deps: ExplainDeps, name: string, clientText: string, sourceText?: string, nowMs = Date.now(), qtypeText = 'A'): Explanation {
  const qtype = qtypeText.toUpperCase();
  if (qtype !== 'A' && qtype !== 'AAAA') throw new AdminError(400, `--qtype: expected A or AAAA, got "${qtypeText}"`);
  const family = qtype === 'A' ? 4 : 6;
  if (!deps.decide) throw new AdminError(503, 'the DNS server does not support explain');
  const client = parseClient(clientText);
  let source = { family: client.family, bytes: client.bytes, text: client.address };
  if (sourceText) {
    try {
      const s = parseAddress(sourceText);
      source = { family: s.family, bytes: s.bytes, text: formatAddress(s.family, s.bytes) };
    } catch {
      throw new AdminError(400, `--source: not an IP address: "${sourceText}"`);
    }
  }
  // With --source the client is sent as ECS (a resolver asking for it); otherwise the client asks itself.
  const ecs = client.ecs || sourceText !== undefined;
  const d = deps.decide(name, { family: client.family, bytes: client.bytes, sourceLength: client.sourceLength, ecs }, source);
  if (d.kind === 'formerr') throw new AdminError(400, `not a domain name DNS can carry: "${name}"`);
  const states = deps.freshness.current();
  const base: Explanation = {
    name, rcode: d.rcode, kind: d.kind, zone: d.zone ?? null, service: d.service ?? null,
    client: { address: client.address, sourceLength: client.sourceLength, source: source.text, ecs },
    match: null, answerKey: null, agent: null, defaultAgents: [...states].filter(([, s]) => s === 'fresh').map(([a]) => a).sort(),
    uniform: d.uniform ?? false, policy: null, sites: [], hysteresis: null, note: null, failOpen: false,
    order: [], addresses: [], ttl: null, scope: d.scope, proxy: null, qtype, familySource: null, answerSet: null, unsettled: null,
  };
  if (d.kind !== 'service' || !d.match || !d.service) return base;
  const m = d.match;
  const key = d.answer?.key ?? (d.uniform ? DEFAULT_KEY : m.key);
  let reason: string;
  if (m.via === 'prefix') reason = `client ${client.address}/${client.sourceLength} is inside ${m.prefix}, mapped to agent ${m.agent} (online)`;
  else if (m.via === 'resolver') reason = `no client prefix matched; packet source ${source.text} is a resolver announced by agent ${m.agent} (online)`;
  else if (m.agent && m.prefix) reason = `client is inside ${m.prefix} of agent ${m.agent}, which is ${m.skipped === 'unknown' ? 'unknown (no status or metrics yet)' : m.skipped}: fallback to the default`;
  else if (m.agent) reason = `packet source ${source.text} is a resolver of agent ${m.agent}, which is ${m.skipped === 'unknown' ? 'unknown (no status or metrics yet)' : m.skipped}: fallback to the default`;
  else reason = 'no client prefix or resolver address matched: the default';
  if (key === DEFAULT_KEY && m.key !== DEFAULT_KEY && !d.uniform) reason += `; agent ${m.key} has no answer for ${d.service} yet: the default`;
  if (d.uniform) reason += '; every agent gets the same answer for this service, so it does not depend on the client (ECS scope 0)';
  const agentId = m.agent ?? null;
  const info = agentId ? deps.freshness.info(agentId) : undefined;
  const ranking = deps.engine.explain(d.service, key, family);
  const keyAnswer = deps.engine.answerOf(d.service, key);
  const statsSource = keyAnswer?.byFamily.get(family)?.source;
  const sites = deps.engine.serviceList().find((s) => s.name === d.service)?.sites ?? [];
  const idOf = new Map(sites.flatMap((s) => addressesOf(s).map((a) => [a, s.id] as const)));
  const addresses = (d.answer?.addresses ?? []).filter((a) => familyOf(a) === family);
  return {
    ...base,
    match: { via: m.via, prefix: m.prefix ?? null, agent: agentId, skipped: m.skipped ?? null, reason },
    answerKey: key === DEFAULT_KEY ? 'default' : key,
    agent: agentId ? {
      id: agentId, state: viewState(states.get(agentId)),
      dataAgeS: info?.lastMetricsTs === undefined ? null : Math.max(0, (nowMs - info.lastMetricsTs) / 1000),
      intervalS: info?.intervalS ?? null,
    } : null,
    policy: ranking?.explanation.policy ?? null,
    sites: ranking ? ranking.explanation.sites.map((s) => ({ ...s })) : [],
    hysteresis: ranking?.explanation.hysteresis ?? null,
    note: [ranking?.explanation.note, deps.engine.capacityNote(d.service, key)].filter(Boolean).join('; ') || null,
    failOpen: ranking?.failOpen ?? false,
    order: addresses.map((a) => idOf.get(a) ?? a),
    addresses,
    ttl: d.answer?.ttl ?? null,
    // The matched agent decides proxy or sites, even when its answer equals the default (uniform).
    proxy: deps.proxy?.decision(d.service, m.key) ?? null,
    familySource: statsSource ? SOURCE_TEXT[statsSource] : null,
    answerSet: ranking ? ranking.explanation.answerSet : null,
    unsettled: keyAnswer?.unsettled ?? null,
  };
}
