// Operator views of the backbone: `lbs list` rows (state, map, data age, push sequence,
// answers) and the chain `explain` shows (client → LB → answer, or the referral). Both
// read the same tables the query path reads; nothing is recomputed.
import { bitsOf, parseAddress, parsePrefix, type Family } from '../../shared/prefix.js';
import { ArgumentError } from '../../shared/errors.js';
import { DEFAULT_KEY } from '../dns/contract.js';
import { nameToWire } from '../dns/names.js';
import type { Backbone } from './backbone.js';
import type { BackboneConfig } from './config.js';

export interface LbRow {
  id: string;
  label: string;
  state: 'online' | 'offline' | 'unknown';
  pushFresh: boolean;
  configured: boolean;
  nameservers: { name: string; address: string }[];
  prefixes: string[];
  resolvers: string[];
  mapAgeS: number | null;
  rankingsAgeS: number | null;
  seq: number | null;
  intervalS: number | null;
  agents: number;
  answers: { push: number; refer: number; child: number; fallback: number };
}

const ageS = (at: number | undefined, now: number): number | null => (at === undefined ? null : Math.max(0, Math.round((now - at) / 100) / 10));

export function lbRows(bb: Backbone, nowMs = Date.now()): LbRow[] {
  return bb.registry.list().map((r) => {
    const eff = bb.registry.effective(r);
    const v = bb.tables.views.get(r.id);
    const agents = new Set(r.rankings?.services.flatMap((s) => s.byAgent.map((a) => a.agent)) ?? []);
    return {
      id: r.id, label: r.label, state: bb.registry.state(r), pushFresh: bb.registry.pushFresh(r, nowMs), configured: r.configured,
      nameservers: eff.nameservers.map((n) => ({ name: n.name, address: n.address })), prefixes: eff.prefixes, resolvers: eff.resolvers,
      mapAgeS: ageS(r.mapAt, nowMs), rankingsAgeS: ageS(r.rankingsAt, nowMs),
      seq: r.rankings?.seq ?? null, intervalS: r.rankings?.intervalS ?? null, agents: agents.size,
      answers: v ? { ...v.counts } : { push: 0, refer: 0, child: 0, fallback: 0 },
    };
  });
}

export interface BackboneChain {
  /** How the backbone answers: from the LB's pushed ranking, a referral, or a fallback. */
  mode: 'push' | 'refer' | 'aggregate' | 'catalogue' | 'child' | 'child-referral';
  lb: string | null;
  via: string;
  prefix: string | null;
  lbState: string | null;
  reason: string;
  agent: string | null;
  addresses: string[];
  referral: { cname: string; nameservers: { name: string; address: string }[]; ttl: number; delegationTtl: number } | null;
  scope: number;
}

function client(text: string): { family: Family; bytes: Uint8Array; len: number } {
  try {
    if (text.includes('/')) { const p = parsePrefix(text); return { family: p.family, bytes: p.bytes, len: p.length }; }
    const a = parseAddress(text);
    return { family: a.family, bytes: a.bytes, len: bitsOf(a.family) };
  } catch {
    throw new ArgumentError(`--client: "${text}" is not an IP address or prefix`);
  }
}

/** The decision the backbone's query path makes for an A query at `name` (a service name). */
export function explainChain(bb: Backbone, cfg: BackboneConfig, name: string, clientText: string, sourceText?: string): BackboneChain | null {
  const key = nameToWire(name);
  const t = bb.tables;
  const svc = name.toLowerCase().replace(/\.$/, '');
  const own = bb.services().find((s) => s.name === svc);
  const c = client(clientText);
  const src = sourceText ? client(sourceText) : c;
  if (!own) return explainChild(bb, cfg, svc, c, src);
  const m = t.lbMapper.map(c.family, c.bytes, c.len, src.family, src.bytes);
  const base = { lb: m.agent ?? null, via: m.via === 'default' && m.agent ? (m.prefix ? 'prefix' : 'resolver') : m.via, prefix: m.prefix ?? null, scope: m.scope };
  const v = m.agent ? t.views.get(m.agent) : undefined;
  const lbState = v ? `${v.online ? 'online' : 'offline'}${v.pushFresh ? ', rankings fresh' : ', no fresh rankings'}` : null;
  if (v && m.key !== DEFAULT_KEY) {
    if (cfg.mode === 'push' && v.pushFresh) {
      const table = v.table.lookupWire(key);
      if (table) {
        const inner = v.mapper.map(c.family, c.bytes, c.len, src.family, src.bytes);
        const ans = v.table.getAnswer(svc, inner.key);
        return { ...base, mode: 'push', lbState, agent: inner.key === DEFAULT_KEY ? null : inner.key, addresses: [...(ans?.addresses ?? [])],
          referral: null, scope: Math.max(m.scope, table.uniform ? 0 : inner.scope),
          reason: `${v.id} pushed rankings (seq ${bb.registry.get(v.id)?.rankings?.seq}); ${inner.key === DEFAULT_KEY ? "the LB's default answer" : `agent ${inner.key} via ${inner.via}`}` };
      }
    }
    const r = bb.registry.get(v.id);
    if (r && v.referrals.has(key)) {
      const ns = [...bb.registry.effective(r).nameservers, ...cfg.nameservers].map((n) => ({ name: n.name, address: n.address }));
      return { ...base, mode: 'refer', lbState, agent: null, addresses: [],
        referral: { cname: `${v.label}.${svc}`, nameservers: ns, ttl: cfg.referralTtl, delegationTtl: cfg.delegationTtl },
        reason: cfg.mode === 'refer' ? 'refer mode: CNAME to the LB, delegated to its name servers' : `push mode, but ${v.id} has no fresh rankings: referred` };
    }
  }
  const agg = t.aggregate.getAnswer(svc, DEFAULT_KEY);
  const why = v ? `${v.id} is ${v.online ? 'online without fresh rankings or name servers' : 'offline'}` : 'the client matches no LB';
  if (agg) return { ...base, mode: 'aggregate', lbState, agent: null, addresses: [...agg.addresses], referral: null, reason: `${why}: aggregate of the fresh LBs' default lists` };
  return { ...base, mode: 'catalogue', lbState, agent: null, addresses: [], referral: null, reason: `${why}, and no LB has fresh rankings: the backbone's own answer (catalogue order)` };
}


/** `{label}.{service}` at the backbone: the second name server's answer, or the referral. */
function explainChild(bb: Backbone, cfg: BackboneConfig, name: string, c: ReturnType<typeof client>, src: ReturnType<typeof client>): BackboneChain | null {
  const dot = name.indexOf('.');
  const parent = name.slice(dot + 1);
  const v = dot > 0 ? bb.tables.byLabel.get(name.slice(0, dot)) : undefined;
  if (!v || !bb.services().some((s) => s.name === parent)) return null;
  const r = bb.registry.get(v.id);
  const ns = r ? [...bb.registry.effective(r).nameservers, ...cfg.nameservers].map((n) => ({ name: n.name, address: n.address })) : [];
  const base = { lb: v.id, via: 'label', prefix: null, lbState: `${v.online ? 'online' : 'offline'}${v.recent ? ', rankings recent' : ', no recent rankings'}` };
  if (cfg.nameservers.length === 0) {
    return { ...base, mode: 'child-referral', agent: null, addresses: [], scope: 0, referral: { cname: name, nameservers: ns, ttl: cfg.delegationTtl, delegationTtl: cfg.delegationTtl },
      reason: 'the backbone is not among the delegation\'s name servers: it refers (NS + glue, AA clear)' };
  }
  if (v.recent && v.table.lookupWire(nameToWire(name))) {
    const inner = v.mapper.map(c.family, c.bytes, c.len, src.family, src.bytes);
    const ans = v.table.getAnswer(name, inner.key);
    return { ...base, mode: 'child', agent: inner.key === DEFAULT_KEY ? null : inner.key, addresses: [...(ans?.addresses ?? [])], referral: null,
      scope: v.table.isUniform(name) ? 0 : inner.scope, reason: `second name server for ${v.id}: its last pushed rankings (seq ${r?.rankings?.seq})` };
  }
  const agg = bb.tables.aggregate.getAnswer(parent, DEFAULT_KEY);
  return { ...base, mode: 'child', agent: null, addresses: [...(agg?.addresses ?? [])], referral: null, scope: 0,
    reason: `second name server for ${v.id}: no recent rankings, so ${agg ? "the aggregate of the fresh LBs" : "the backbone's own answer (catalogue order)"}` };
}
