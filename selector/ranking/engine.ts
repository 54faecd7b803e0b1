// Ranking state of the running selector: the per-(agent, service, site, family)
// windows, the last ranking per (service, key, family), and the precomputed answers it
// writes into the AnswerTable. Ranking runs when metrics arrive or agent states change —
// never on the DNS query path. setAnswer is called only when an answer set or its TTL
// changes. An answer is unsettled (shorter TTL, like gdnsd while something is down)
// for one ranking window after its set or first choice changed, while a site in it
// changed state in that window, or while it fails open.
import type { Family } from '../../shared/prefix.js';
import { unsettledTtl, type RankingConfig } from '../config.js';
import { DEFAULT_KEY, type AnswerTable } from '../dns/contract.js';
import { rankSites, type Ranking } from './policy.js';
import type { EventRecord, ServiceRecord, SiteRecord } from '../store/store.js';
import { SiteWindow, type Sample, type SiteStats } from './window.js';
import { addressFor, familiesOf, familyOf, pickStats, type StatsSource } from './families.js';
import type { CapacityPlanner } from './capacity.js';
import { FreshAggregate } from './aggregate.js';

type Windows = Map<string, Map<string, SiteWindow>>; // service → site/family → window

/** The answer of one (service, key): a ranking per family and the TTL decision. */
export interface KeyAnswer {
  byFamily: Map<Family, { ranking: Ranking; source: StatsSource }>;
  addresses: string[];
  /** Set by the TTL rule: the shorter TTL, or undefined (the service TTL). */
  ttl: number | undefined;
  unsettled: string | null;
  /** When the set or first choice of any family last changed (ms). */
  changedAt: number;
}

const wkey = (site: string, family: Family): string => `${site}/${family}`;
/** Capacity plans per service at most this often (the first at once); see scheduleReplan. */
const REPLAN_GAP_MS = 100;

export interface RankEngineDeps {
  ranking: RankingConfig;
  table: AnswerTable;
  event: (e: EventRecord) => void;
  now?: () => number;
  /** Services with site capacities (issue #10 §3); without it, answers are the rankings'. */
  capacity?: CapacityPlanner;
}

export class RankEngine {
  private services = new Map<string, { svc: ServiceRecord; sites: Map<string, SiteRecord> }>();
  private readonly windows = new Map<string, Windows>(); // agent → …
  private readonly rankings = new Map<string, Map<string, KeyAnswer>>(); // service → key → answer
  /** `agent service site/family` → ts of the last down/up change. */
  private readonly stateAt = new Map<string, number>();
  /** Set while setServices re-ranks: every answer is written even when unchanged. */
  private forceWrite = false;
  private fresh = new Set<string>();
  /** The aggregate of fresh agents, kept incrementally (aggregate.ts). */
  private readonly aggregate = new FreshAggregate();
  /** Services whose default answer is re-ranked at the end of this turn (setFresh). */
  private readonly defaultsDue = new Set<string>();
  private defaultsImmediate: NodeJS.Immediate | undefined;
  private readonly defaultAt = new Map<string, number>();
  private readonly defaultTimers = new Map<string, NodeJS.Timeout>();
  private readonly replanAt = new Map<string, number>();
  private readonly replanTimers = new Map<string, NodeJS.Timeout>();
  /** When false (rebuild from SQLite), no events are recorded. */
  live = true;
  /** rankSites() runs since start (a plain counter read by /metrics). */
  recomputations = 0;
  private readonly now: () => number;

  constructor(private readonly deps: RankEngineDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** Replaces the service list; answers of removed services are dropped, all others recomputed. */
  setServices(list: readonly ServiceRecord[]): void {
    const next = new Map(list.map((svc) => [svc.name, { svc, sites: new Map(svc.sites.map((s) => [s.id, s])) }]));
    for (const name of this.services.keys()) {
      if (!next.has(name)) {
        this.deps.table.removeService(name);
        this.rankings.delete(name);
      }
    }
    this.services = next;
    for (const { svc } of next.values()) {
      this.deps.table.setService(svc.name, svc.ttl);
      this.deps.capacity?.reset(svc.name);
      this.deps.table.countQueries?.(svc.name, this.deps.capacity?.managed(svc.name) ?? false);
    }
    // The sites may have changed: rewrite every answer, keeping the previous rankings for
    // hysteresis and the TTL rule (a drained site leaving the set unsettles it).
    this.forceWrite = true;
    try {
      this.rankAll();
    } finally {
      this.forceWrite = false;
    }
  }

  serviceList(): ServiceRecord[] {
    return [...this.services.values()].map((s) => s.svc);
  }

  site(service: string, site: string): SiteRecord | undefined | null {
    const s = this.services.get(service);
    if (!s) return null;
    return s.sites.get(site);
  }

  /**
   * Feeds one outcome into the (site, family) window; records site down/up events.
   * `family` is the probed address's; omitted = the family of the site's first address.
   */
  add(agent: string, service: string, site: string, sample: Sample, family?: Family): void {
    const fam = family ?? familyOf(this.services.get(service)?.sites.get(site)?.address ?? '0.0.0.0');
    let byService = this.windows.get(agent);
    if (!byService) this.windows.set(agent, (byService = new Map()));
    let bySite = byService.get(service);
    if (!bySite) byService.set(service, (bySite = new Map()));
    const k = wkey(site, fam);
    let w = bySite.get(k);
    if (!w) bySite.set(k, (w = new SiteWindow(this.deps.ranking)));
    const wasDown = w.down;
    w.add(sample);
    this.aggregate.touched(agent, service, k, w);
    if (w.down !== wasDown) {
      this.stateAt.set(`${agent} ${service} ${k}`, sample.ts);
      if (this.live) this.deps.event({ ts: sample.ts, kind: w.down ? 'site_down' : 'site_up', agent, service, site, detail: { streak: w.streak, family: fam } });
    }
  }

  private statsOf(agent: string, service: string, site: string, family: Family): SiteStats | undefined {
    const w = this.windows.get(agent)?.get(service)?.get(wkey(site, family));
    if (!w || w.size === 0) return undefined;
    w.prune(this.now());
    return w.stats();
  }

  private apply(svc: ServiceRecord, key: string, own: (site: string, f: Family) => SiteStats | undefined,
    aggregate?: (site: string, f: Family) => SiteStats | undefined): KeyAnswer {
    let byKey = this.rankings.get(svc.name);
    if (!byKey) this.rankings.set(svc.name, (byKey = new Map()));
    const prev = byKey.get(key);
    const now = this.now();
    const byFamily: KeyAnswer['byFamily'] = new Map();
    const addresses: string[] = [];
    let changed = !prev;
    let failOpen = false;
    for (const fam of familiesOf(svc.sites)) {
      const sites = svc.sites.filter((s) => addressFor(s, fam) !== undefined);
      const picked = pickStats(sites.map((s) => s.id), fam, own, aggregate);
      const before = prev?.byFamily.get(fam)?.ranking;
      this.recomputations++;
      const r = rankSites({
        policy: svc.policy,
        sites: sites.map((s, i) => ({ ...s, address: addressFor(s, fam) as string, stats: picked.stats[i] })),
        answers: svc.answers,
        answerSet: svc.answerSet,
        previousFirst: before?.full[0],
        ranking: this.deps.ranking,
      });
      byFamily.set(fam, { ranking: r, source: picked.source });
      addresses.push(...r.addresses);
      failOpen ||= r.failOpen;
      // A first measured ranking after configured order (no data) is no instability.
      const measuredBefore = before !== undefined && prev?.byFamily.get(fam)?.source !== 'none';
      if (!before || (measuredBefore && before.order.join() !== r.order.join())) changed = true;
      if (this.live && before && before.full[0] !== r.full[0]) {
        this.deps.event({
          ts: now, kind: 'first_changed', agent: key === DEFAULT_KEY ? undefined : key, service: svc.name, site: r.full[0],
          detail: { from: before.full[0] ?? null, to: r.full[0] ?? null, family: fam, hysteresis: r.explanation.hysteresis, failOpen: r.failOpen },
        });
      }
    }
    // The first answer after start is settled: nothing is known to have changed.
    const changedAt = changed && prev ? now : (prev?.changedAt ?? 0);
    const windowMs = this.deps.ranking.windowS * 1000;
    let unsettled: string | null = null;
    if (failOpen) unsettled = 'fail-open: every site is down';
    else if (now - changedAt < windowMs) unsettled = `the answer set changed ${Math.round((now - changedAt) / 1000)} s ago (window ${this.deps.ranking.windowS} s)`;
    else if (key !== DEFAULT_KEY) {
      for (const [fam, { ranking }] of byFamily) {
        const site = ranking.order.find((id) => now - (this.stateAt.get(`${key} ${svc.name} ${wkey(id, fam)}`) ?? -Infinity) < windowMs);
        if (site) { unsettled = `site ${site} (IPv${fam}) changed state in the last ${this.deps.ranking.windowS} s`; break; }
      }
    }
    const ttl = unsettled ? unsettledTtl(svc) : undefined;
    const answer: KeyAnswer = { byFamily, addresses, ttl, unsettled, changedAt };
    byKey.set(key, answer);
    const cap = key === DEFAULT_KEY ? undefined : this.deps.capacity;
    if (cap?.managed(svc.name)) this.scheduleReplan(svc.name);
    else if (this.forceWrite || !prev || prev.addresses.join() !== addresses.join() || prev.ttl !== ttl) this.deps.table.setAnswer(svc.name, key, addresses, ttl);
    return answer;
  }

  /**
   * Capacity (ranking/capacity.ts): the planner decides every agent's answer, one agent's
   * ranking can move others, so a plan reads every agent's ranking: O(agents) per plan.
   * Plans are coalesced like the default answer: at most one per REPLAN_GAP_MS per service
   * (the first at once), or 1,000 agents' metrics would cost O(agents²).
   */
  private scheduleReplan(service: string): void {
    if (this.replanTimers.has(service)) return;
    const wait = (this.replanAt.get(service) ?? -Infinity) + REPLAN_GAP_MS - this.now();
    if (wait <= 0) {
      this.replan(service);
      return;
    }
    this.replanTimers.set(service, setTimeout(() => {
      this.replanTimers.delete(service);
      this.replan(service);
    }, wait));
  }

  /** Plans on each agent's IPv4 ranking (IPv6 when it has none) and writes the answers that changed. */
  private replan(service: string): void {
    this.replanAt.set(service, this.now());
    const svc = this.services.get(service)?.svc;
    const byKey = this.rankings.get(service);
    const cap = this.deps.capacity;
    if (!svc || !byKey || !cap?.managed(service)) return;
    const counts = this.deps.table.queryCounts?.(service) ?? new Map<string, number>();
    const rankings = new Map<string, Ranking>();
    for (const [k, a] of byKey) { const r = (a.byFamily.get(4) ?? a.byFamily.get(6))?.ranking; if (r) rankings.set(k, r); }
    for (const [k, addrs] of cap.replan(svc, rankings, counts, this.now())) this.deps.table.setAnswer(service, k, addrs, byKey.get(k)?.ttl);
  }

  rankAgent(agent: string, service: string): KeyAnswer | undefined {
    const s = this.services.get(service);
    if (!s) return undefined;
    return this.apply(s.svc, agent, (site, f) => this.statsOf(agent, service, site, f), (site, f) => this.aggregateOf(service, site, f));
  }

  /**
   * The aggregate of fresh agents for (service, site, family) now: equal to
   * `aggregateStats()` over every fresh agent's window stats, kept incrementally.
   */
  aggregateOf(service: string, site: string, family: Family): SiteStats | undefined {
    return this.aggregate.stats(service, wkey(site, family), this.now());
  }

  /** The DEFAULT_KEY answer: aggregate of fresh agents; configured order without any. */
  rankDefault(service: string): KeyAnswer | undefined {
    this.defaultsDue.delete(service);
    const s = this.services.get(service);
    if (!s) return undefined;
    return this.apply(s.svc, DEFAULT_KEY, (site, f) => this.aggregateOf(service, site, f));
  }

  /**
   * Re-ranks the aggregate after new metrics, at most once per `minGapMs` per service:
   * with many agents the aggregate reads every agent's windows, so bursts are coalesced.
   */
  scheduleDefault(service: string, minGapMs = 100): void {
    if (this.defaultTimers.has(service)) return;
    const wait = (this.defaultAt.get(service) ?? 0) + minGapMs - this.now();
    if (wait <= 0) {
      this.defaultAt.set(service, this.now());
      this.rankDefault(service);
      return;
    }
    this.defaultTimers.set(service, setTimeout(() => {
      this.defaultTimers.delete(service);
      this.defaultAt.set(service, this.now());
      this.rankDefault(service);
    }, wait));
  }

  close(): void {
    for (const t of this.defaultTimers.values()) clearTimeout(t);
    this.defaultTimers.clear();
    for (const t of this.replanTimers.values()) clearTimeout(t);
    this.replanTimers.clear();
    if (this.defaultsImmediate) clearImmediate(this.defaultsImmediate);
    this.defaultsImmediate = undefined;
    this.defaultsDue.clear();
  }

  /**
   * Sets the fresh agents; when the set changed, the defaults are re-ranked: at once for the
   * first change in a turn, once more at its end (setImmediate) for any later ones, so 1,000
   * agents joining in one turn cost two rankings, not 1,000.
   */
  setFresh(fresh: ReadonlySet<string>): void {
    let changed = false;
    for (const a of this.fresh) {
      if (fresh.has(a)) continue;
      this.aggregate.setFresh(a, false);
      changed = true;
    }
    for (const a of fresh) {
      if (this.fresh.has(a)) continue;
      this.aggregate.setFresh(a, true);
      changed = true;
    }
    if (!changed) return;
    this.fresh = new Set(fresh);
    const first = !this.defaultsImmediate;
    for (const name of this.services.keys()) {
      if (first) this.rankDefault(name);
      else this.defaultsDue.add(name);
    }
    this.defaultsImmediate ??= setImmediate(() => {
      this.defaultsImmediate = undefined;
      for (const name of [...this.defaultsDue]) if (this.services.has(name)) this.rankDefault(name);
      this.defaultsDue.clear();
    });
  }

  isFresh(agent: string): boolean {
    return this.fresh.has(agent);
  }

  rankAll(): void {
    for (const name of this.services.keys()) {
      for (const [agent, byService] of this.windows) if (byService.has(name)) this.rankAgent(agent, name);
      this.rankDefault(name);
    }
  }

  /**
   * A removed agent: drops its windows, its rankings and its answers (clients mapped to
   * it get the default) and re-ranks the aggregate without it.
   */
  forgetAgent(agent: string): void {
    const had = this.windows.delete(agent);
    const wasFresh = this.fresh.delete(agent);
    this.aggregate.forget(agent);
    for (const k of [...this.stateAt.keys()]) if (k.startsWith(`${agent} `)) this.stateAt.delete(k);
    for (const [name, byKey] of this.rankings) {
      if ((!byKey.delete(agent) && !had) || !this.services.has(name)) continue;
      this.deps.table.retainKeys(name, new Set([...byKey.keys()].filter((k) => k !== DEFAULT_KEY)));
      if (wasFresh) this.rankDefault(name);
    }
  }

  agents(): string[] {
    return [...this.windows.keys()];
  }

  /** Why capacity moved this agent's answer off its ranking's first site, if it did. */
  capacityNote(service: string, key: string): string | undefined {
    return this.deps.capacity?.note(service, key);
  }

  /**
   * The last ranking for (service, key) with its explanation: of `family`, or when
   * omitted of IPv4 if the service has IPv4 sites, else IPv6.
   */
  explain(service: string, key: string, family?: Family): Ranking | undefined {
    const byFamily = this.rankings.get(service)?.get(key)?.byFamily;
    if (!byFamily) return undefined;
    return (family ? byFamily.get(family) : byFamily.get(4) ?? byFamily.get(6))?.ranking;
  }

  /** The whole answer of (service, key): per-family rankings, their input source, the TTL decision. */
  answerOf(service: string, key: string): KeyAnswer | undefined {
    return this.rankings.get(service)?.get(key);
  }
}
