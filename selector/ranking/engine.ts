// Ranking state of the running selector: the per-(agent, service, site) windows,
// the last ranking per (service, key), and the precomputed answers it writes into
// the AnswerTable. Ranking runs when metrics arrive or agent states change — never
// on the DNS query path. setAnswer is called only when the capped order changes.
import type { RankingConfig } from '../config.js';
import { DEFAULT_KEY, type AnswerTable } from '../dns/contract.js';
import { aggregateStats, rankSites, type Ranking } from './policy.js';
import type { EventRecord, ServiceRecord, SiteRecord } from '../store/store.js';
import { SiteWindow, type Sample, type SiteStats } from './window.js';
import type { CapacityPlanner } from './capacity.js';

type Windows = Map<string, Map<string, SiteWindow>>; // service → site → window

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
  private readonly rankings = new Map<string, Map<string, Ranking>>(); // service → key → ranking
  private fresh = new Set<string>();
  private readonly defaultAt = new Map<string, number>();
  private readonly defaultTimers = new Map<string, NodeJS.Timeout>();
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
      this.rankings.delete(svc.name); // site set may have changed: force setAnswer
      this.deps.capacity?.reset(svc.name);
      this.deps.table.countQueries?.(svc.name, this.deps.capacity?.managed(svc.name) ?? false);
    }
    this.rankAll();
  }

  serviceList(): ServiceRecord[] {
    return [...this.services.values()].map((s) => s.svc);
  }

  site(service: string, site: string): SiteRecord | undefined | null {
    const s = this.services.get(service);
    if (!s) return null;
    return s.sites.get(site);
  }

  /** Feeds one outcome into the window; records site down/up events. */
  add(agent: string, service: string, site: string, sample: Sample): void {
    let byService = this.windows.get(agent);
    if (!byService) this.windows.set(agent, (byService = new Map()));
    let bySite = byService.get(service);
    if (!bySite) byService.set(service, (bySite = new Map()));
    let w = bySite.get(site);
    if (!w) bySite.set(site, (w = new SiteWindow(this.deps.ranking)));
    const wasDown = w.down;
    w.add(sample);
    if (this.live && w.down !== wasDown) {
      this.deps.event({ ts: sample.ts, kind: w.down ? 'site_down' : 'site_up', agent, service, site, detail: { streak: w.streak } });
    }
  }

  private statsOf(agent: string, service: string, site: string): SiteStats | undefined {
    const w = this.windows.get(agent)?.get(service)?.get(site);
    if (!w || w.size === 0) return undefined;
    w.prune(this.now());
    return w.stats();
  }

  private apply(svc: ServiceRecord, key: string, statsFor: (site: string) => SiteStats | undefined): Ranking {
    let byKey = this.rankings.get(svc.name);
    if (!byKey) this.rankings.set(svc.name, (byKey = new Map()));
    const prev = byKey.get(key);
    this.recomputations++;
    const r = rankSites({
      policy: svc.policy,
      sites: svc.sites.map((s) => ({ ...s, stats: statsFor(s.id) })),
      answers: svc.answers,
      previousFirst: prev?.full[0],
      ranking: this.deps.ranking,
    });
    byKey.set(key, r);
    const cap = key === DEFAULT_KEY ? undefined : this.deps.capacity;
    if (cap?.managed(svc.name)) {
      // Capacity: the planner decides every agent's answer (one agent's ranking can move others).
      const counts = this.deps.table.queryCounts?.(svc.name) ?? new Map<string, number>();
      for (const [k, addrs] of cap.replan(svc, byKey, counts, this.now())) this.deps.table.setAnswer(svc.name, k, addrs);
    } else if (!prev || prev.addresses.join() !== r.addresses.join()) this.deps.table.setAnswer(svc.name, key, r.addresses);
    if (this.live && prev && prev.full[0] !== r.full[0]) {
      this.deps.event({
        ts: this.now(), kind: 'first_changed', agent: key === DEFAULT_KEY ? undefined : key, service: svc.name,
        site: r.full[0], detail: { from: prev.full[0] ?? null, to: r.full[0] ?? null, hysteresis: r.explanation.hysteresis, failOpen: r.failOpen },
      });
    }
    return r;
  }

  rankAgent(agent: string, service: string): Ranking | undefined {
    const s = this.services.get(service);
    if (!s) return undefined;
    return this.apply(s.svc, agent, (site) => this.statsOf(agent, service, site));
  }

  /** The DEFAULT_KEY answer: aggregate of fresh agents; configured order without any. */
  rankDefault(service: string): Ranking | undefined {
    const s = this.services.get(service);
    if (!s) return undefined;
    const agents = [...this.fresh].filter((a) => this.windows.get(a)?.has(service));
    return this.apply(s.svc, DEFAULT_KEY, (site) => {
      if (!agents.length) return undefined;
      const per = agents.map((a) => this.statsOf(a, service, site)).filter((x): x is SiteStats => x !== undefined);
      return aggregateStats(per);
    });
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
  }

  /** Sets the fresh agents; recomputes defaults when the set changed. */
  setFresh(fresh: ReadonlySet<string>): void {
    const same = fresh.size === this.fresh.size && [...fresh].every((a) => this.fresh.has(a));
    this.fresh = new Set(fresh);
    if (!same) for (const name of this.services.keys()) this.rankDefault(name);
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

  agents(): string[] {
    return [...this.windows.keys()];
  }

  /** Why capacity moved this agent's answer off its ranking's first site, if it did. */
  capacityNote(service: string, key: string): string | undefined {
    return this.deps.capacity?.note(service, key);
  }

  /** The last ranking for (service, key) with its explanation. */
  explain(service: string, key: string): Ranking | undefined {
    return this.rankings.get(service)?.get(key);
  }
}
