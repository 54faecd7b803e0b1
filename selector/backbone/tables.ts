// The backbone's query-path data, rebuilt when an LB message arrives or an LB changes
// state — never per query. Fig. 3's table (client prefix / resolver → LB) is a
// PrefixClientMapper keyed by LB id; each LB's pushed rankings become that LB's own
// PrefixClientMapper (client → agent) and MemoryAnswerTable (agent → encoded answer);
// referrals are encoded bytes per (service, LB); the aggregate of the fresh LBs'
// default lists is one more MemoryAnswerTable.
import type { Logger } from '../../shared/log.js';
import { DEFAULT_KEY } from '../dns/contract.js';
import { MemoryAnswerTable } from '../dns/answer-table.js';
import { nameToWire } from '../dns/names.js';
import { zoneOf, type ZoneConfig } from '../dns/config.js';
import { buildZone, startSerial, type ZoneData } from '../dns/zones.js';
import { PrefixClientMapper } from '../mapping/mapper.js';
import type { BackboneConfig, Nameserver } from './config.js';
import type { LbRecord, LbRegistry } from './registry.js';
import { buildChildReferral, buildReferral, type Sections } from './referral.js';

export interface LbCounts {
  push: number;
  refer: number;
  /** `{label}.{service}` answered here (the second name server) or referred. */
  child: number;
  /** Clients of this LB answered from the aggregate (LB offline or stale). */
  fallback: number;
}

export interface LbView {
  readonly id: string;
  label: string;
  online: boolean;
  pushFresh: boolean;
  /** Pushed rankings still within the stale threshold, even if the LB went offline since. */
  recent: boolean;
  /** client → agent, from the pushed rankings. */
  mapper: PrefixClientMapper;
  table: MemoryAnswerTable;
  /** service wire key → CNAME + delegation; absent without name servers. */
  referrals: Map<string, Sections>;
  /** service wire key → referral for `{label}.{service}` itself. */
  childReferrals: Map<string, Sections>;
  /**
   * `{label}.{service}` wire key → that child zone's SOA and NS (the delegation's name
   * servers), as the backbone answers them when it is the child's second name server:
   * the same owner as the LB's own (dns/resolve.ts ChildZones).
   */
  childZones: Map<string, ChildZone>;
  readonly counts: LbCounts;
}

export interface ChildZone {
  zone: ZoneData;
  /** The SOA RR with its owner pointing at the question (0xC00C): the answer to SOA at the apex. */
  soaAnswer: Buffer;
}

export interface BackboneService {
  name: string;
  answers: number;
  ttl: number;
}

/**
 * Rank-sum (Borda) of the fresh LBs' default lists: an address scores its position in
 * each list, or the longest list's length where it is missing; lowest first, ties in
 * first-seen order, capped to `answers`.
 */
export function aggregateLists(lists: readonly (readonly string[])[], answers: number): string[] {
  const width = Math.max(0, ...lists.map((l) => l.length));
  const order: string[] = [];
  for (const l of lists) for (const a of l) if (!order.includes(a)) order.push(a);
  const score = new Map(order.map((a) => [a, lists.reduce((sum, l) => sum + (l.includes(a) ? l.indexOf(a) : width), 0)]));
  return order.sort((x, y) => (score.get(x) ?? 0) - (score.get(y) ?? 0)).slice(0, answers);
}

export class BackboneTables {
  /** Fig. 3: client prefix / resolver address → LB id. */
  readonly lbMapper = new PrefixClientMapper();
  aggregate = new MemoryAnswerTable();
  /** A/AAAA of every delegation's name servers (LBs' and the backbone's own), for names inside our zones. */
  glue = new MemoryAnswerTable();
  readonly views = new Map<string, LbView>();
  readonly byLabel = new Map<string, LbView>();
  private services: readonly BackboneService[] = [];

  private readonly serial = startSerial();

  constructor(
    private readonly cfg: BackboneConfig, private readonly registry: LbRegistry, private readonly log: Logger,
    /** The backbone's zones: a child zone takes its parent's SOA timers and hostmaster. */
    private readonly zones: readonly ZoneConfig[] = [],
  ) {}

  /** The backbone's own services (the catalogue it declares). */
  setServices(list: readonly BackboneService[]): void {
    this.services = list;
    for (const r of this.registry.list()) this.rebuildLb(r, 'map');
    this.rebuildAggregate();
  }

  private view(r: LbRecord): LbView {
    let v = this.views.get(r.id);
    if (!v) {
      v = {
        id: r.id, label: r.label, online: false, pushFresh: false, recent: false, mapper: new PrefixClientMapper(), table: new MemoryAnswerTable(),
        referrals: new Map(), childReferrals: new Map(), childZones: new Map(), counts: { push: 0, refer: 0, child: 0, fallback: 0 },
      };
      this.views.set(r.id, v);
    }
    return v;
  }

  /**
   * Rebuilds one LB's referrals and the Fig. 3 map (`map`: its map or the services changed,
   * also rebuilds its answers) or only its answers (`rankings`: the periodic push).
   */
  rebuildLb(r: LbRecord, what: 'map' | 'rankings'): void {
    const v = this.view(r);
    v.label = r.label;
    if (what === 'map') this.rebuildReferrals(r, v);
    this.rebuildAnswers(r, v);
    if (what === 'map') this.rebuildMap();
  }

  private rebuildReferrals(r: LbRecord, v: LbView): void {
    const eff = this.registry.effective(r);
    const nameservers: Nameserver[] = [...eff.nameservers, ...this.cfg.nameservers];
    v.referrals = new Map();
    v.childReferrals = new Map();
    v.childZones = new Map();
    if (eff.nameservers.length > 0) {
      for (const s of this.services) {
        const key = nameToWire(s.name);
        v.referrals.set(key, buildReferral(key.length, r.label, nameservers, this.cfg.referralTtl, this.cfg.delegationTtl));
        const childName = `${r.label}.${s.name}`;
        const child = nameToWire(childName);
        v.childReferrals.set(child, buildChildReferral(child.length, nameservers, this.cfg.delegationTtl));
        const parent = zoneOf(this.zones, s.name);
        if (parent) {
          const zone = buildZone({ ...parent, name: childName, ns: nameservers.map((n) => n.name) }, this.serial);
          v.childZones.set(child, { zone, soaAnswer: Buffer.concat([Buffer.from([0xc0, 0x0c]), zone.soaAnswerBody]) });
        }
      }
    }
    this.byLabel.clear();
    for (const x of this.views.values()) this.byLabel.set(x.label, x);
  }

  /** The LB's pushed rankings as its own client → agent map and answer table. */
  private rebuildAnswers(r: LbRecord, v: LbView): void {
    const table = new MemoryAnswerTable();
    const mapper = new PrefixClientMapper();
    const prefixes: { prefix: string; agent: string }[] = [];
    const resolvers: { address: string; agent: string }[] = [];
    const agents = new Map<string, 'fresh'>();
    for (const svc of r.rankings?.services ?? []) {
      const name = svc.name.toLowerCase().replace(/\.$/, '');
      if (!this.services.some((s) => s.name === name)) continue; // only names this backbone serves
      table.setService(name, svc.ttl);
      table.setService(`${r.label}.${name}`, svc.ttl);
      table.setAnswer(name, DEFAULT_KEY, svc.default);
      table.setAnswer(`${r.label}.${name}`, DEFAULT_KEY, svc.default);
      for (const a of svc.byAgent) {
        table.setAnswer(name, a.agent, a.addresses);
        table.setAnswer(`${r.label}.${name}`, a.agent, a.addresses);
        agents.set(a.agent, 'fresh');
        for (const p of a.prefixes) prefixes.push({ prefix: p, agent: a.agent });
        for (const x of a.resolvers) resolvers.push({ address: x, agent: a.agent });
      }
    }
    mapper.setPrefixes(prefixes);
    mapper.setResolvers(resolvers);
    mapper.setAgentStates(agents);
    v.table = table;
    v.mapper = mapper;
  }

  /** Fig. 3 table over every LB's prefixes and resolvers (static entries win on conflict). */
  rebuildMap(): void {
    const prefixes: { prefix: string; agent: string; configured: boolean }[] = [];
    const resolvers: { address: string; agent: string }[] = [];
    for (const r of this.registry.list()) {
      for (const p of r.prefixes) prefixes.push({ prefix: p, agent: r.id, configured: true });
      for (const p of r.map?.prefixes ?? []) prefixes.push({ prefix: p, agent: r.id, configured: false });
      for (const a of this.registry.effective(r).resolvers) resolvers.push({ address: a, agent: r.id });
    }
    this.lbMapper.setPrefixes(prefixes);
    this.lbMapper.setResolvers(resolvers);
    this.rebuildGlue();
  }

  /**
   * The name servers' addresses, so a resolver that looks a delegation's NS name up
   * (rather than trusting the glue) gets it from the parent, not NXDOMAIN.
   */
  private rebuildGlue(): void {
    const byName = new Map<string, string[]>();
    const add = (n: Nameserver): void => {
      const name = n.name.toLowerCase().replace(/\.$/, '');
      const list = byName.get(name) ?? [];
      if (!list.includes(n.address)) list.push(n.address);
      byName.set(name, list);
    };
    for (const n of this.cfg.nameservers) add(n);
    for (const r of this.registry.list()) for (const n of this.registry.effective(r).nameservers) add(n);
    const glue = new MemoryAnswerTable();
    for (const [name, addrs] of byName) {
      glue.setService(name, this.cfg.delegationTtl);
      glue.setAnswer(name, DEFAULT_KEY, addrs);
    }
    this.glue = glue;
  }

  /** Re-evaluates online / push-fresh per LB; rebuilds the aggregate when a state changed. */
  evaluate(nowMs = Date.now()): boolean {
    let changed = false;
    const states = new Map<string, 'fresh' | 'offline'>();
    for (const r of this.registry.list()) {
      const v = this.view(r);
      const online = this.registry.state(r) === 'online';
      const fresh = this.registry.pushFresh(r, nowMs);
      if (online !== v.online || fresh !== v.pushFresh) changed = true;
      v.online = online;
      v.pushFresh = fresh;
      v.recent = this.registry.rankingsRecent(r, nowMs);
      states.set(r.id, online ? 'fresh' : 'offline');
    }
    this.lbMapper.setAgentStates(states);
    if (changed) {
      this.rebuildAggregate();
      this.log.info({ lbs: [...this.views.values()].map((v) => `${v.id}:${v.online ? 'online' : 'offline'}${v.pushFresh ? '+push' : ''}`) }, 'lb states changed');
    }
    return changed;
  }

  /** Aggregate per service of the push-fresh LBs' default lists; services without any are left out. */
  rebuildAggregate(): void {
    const agg = new MemoryAnswerTable();
    for (const s of this.services) {
      const lists: string[][] = [];
      for (const r of this.registry.list()) {
        const v = this.views.get(r.id);
        if (!v?.pushFresh) continue;
        const svc = r.rankings?.services.find((x) => x.name.toLowerCase().replace(/\.$/, '') === s.name);
        if (svc && svc.default.length) lists.push(svc.default);
      }
      if (!lists.length) continue;
      agg.setService(s.name, s.ttl);
      agg.setAnswer(s.name, DEFAULT_KEY, aggregateLists(lists, s.answers));
    }
    this.aggregate = agg;
  }
}
