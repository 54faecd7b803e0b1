// Capacity-aware assignment (issue #10 §3): latency steering herds — when every POP
// prefers the same site its load climbs, and the next round herds elsewhere. With a
// `capacity` on some sites of a service, each round the agents' first choices are
// checked against the sites' capacities and, where a site would be over, the agents
// whose move costs least (next-best score minus current score) move first — a greedy
// assignment. Demand per agent is the resolver's demand as Akamai GTM estimates it:
// queries per second answered for the agent's clients × the TTL. Hysteresis: agents
// leave a site only once its load exceeds capacity × (1 + h), and a moved agent returns
// as soon as its first choice has room for it within capacity × (1 + h/2) — so demand
// estimates that wobble around the capacity move nobody back and forth.
// Pure assignment (assignCapacity) + the per-service state (CapacityPlanner).
import { DEFAULT_KEY } from '../dns/contract.js';
import type { Ranking } from './policy.js';

/** A site's capacity: a share of the service's total demand, or demand units per second. */
export type SiteCapacity = { share: number } | { rps: number };

export interface CapacityAgent {
  agent: string;
  /** Demand units (queries/s × TTL). */
  demand: number;
  /** Up sites in ranking order (first = the ranking's first choice, hysteresis included), with scores (lower is better). */
  choices: readonly { site: string; score: number }[];
}

export interface CapacityInput {
  capacity: ReadonlyMap<string, SiteCapacity>;
  agents: readonly CapacityAgent[];
  /** Last round's assignment (agent → site). */
  previous: ReadonlyMap<string, string>;
  /** Hysteresis in % of capacity: agents move off a site only above capacity × (1 + h). */
  hysteresisPct: number;
}

export interface Move { agent: string; from: string; to: string; lossMs: number }

export interface Assignment {
  site: Map<string, string>;
  /** Agents not on their first choice, with the score they give up. */
  moved: Move[];
  load: Map<string, number>;
  /** Capacity in demand units (Infinity where none is configured). */
  limit: Map<string, number>;
}

function scoreOf(a: CapacityAgent, site: string): number {
  return a.choices.find((c) => c.site === site)?.score ?? Infinity;
}

/** Greedy assignment of agents to sites under capacity; see the module comment. */
export function assignCapacity(input: CapacityInput): Assignment {
  const agents = input.agents.filter((a) => a.choices.length > 0);
  const total = agents.reduce((n, a) => n + a.demand, 0);
  const limit = new Map<string, number>();
  const limitOf = (site: string): number => {
    let l = limit.get(site);
    if (l === undefined) {
      const c = input.capacity.get(site);
      l = !c ? Infinity : 'share' in c ? c.share * total : c.rps;
      limit.set(site, l);
    }
    return l;
  };
  const site = new Map<string, string>();
  const load = new Map<string, number>();
  const put = (a: CapacityAgent, to: string): void => {
    const from = site.get(a.agent);
    if (from !== undefined) load.set(from, (load.get(from) ?? 0) - a.demand);
    site.set(a.agent, to);
    load.set(to, (load.get(to) ?? 0) + a.demand);
  };
  const first = (a: CapacityAgent): string => (a.choices[0] as { site: string }).site;
  // Start from last round: agents moved before stay where they were (if still a choice).
  for (const a of agents) {
    const prev = input.previous.get(a.agent);
    put(a, prev !== undefined && a.choices.some((c) => c.site === prev) ? prev : first(a));
  }
  // Moved agents go back to their best site with room (their first choice within half
  // the band), those giving up most first: a move made for a load that has gone is undone.
  const over = 1 + input.hysteresisPct / 100;
  const room = 1 + input.hysteresisPct / 200;
  const lossOf = (a: CapacityAgent): number => scoreOf(a, site.get(a.agent) as string) - scoreOf(a, first(a));
  const away = agents.filter((a) => site.get(a.agent) !== first(a)).sort((x, y) => lossOf(y) - lossOf(x));
  for (const a of away) {
    const here = scoreOf(a, site.get(a.agent) as string);
    const better = a.choices.filter((c) => c.score < here && (load.get(c.site) ?? 0) + a.demand <= limitOf(c.site) * room + 1e-9);
    const to = better.reduce<{ site: string; score: number } | undefined>((b, c) => (!b || c.score < b.score ? c : b), undefined);
    if (to) put(a, to.site);
  }
  // Then, while a site is over capacity, move the agent whose move costs least.
  for (let guard = agents.length * Math.max(1, input.capacity.size) + 1; guard > 0; guard--) {
    let best: { a: CapacityAgent; to: string; loss: number } | undefined;
    for (const a of agents) {
      const at = site.get(a.agent) as string;
      if ((load.get(at) ?? 0) <= limitOf(at) * over + 1e-9 || a.demand <= 0) continue;
      const here = scoreOf(a, at);
      for (const c of a.choices) {
        if (c.site === at || (load.get(c.site) ?? 0) + a.demand > limitOf(c.site) + 1e-9) continue;
        const loss = c.score - here;
        if (!best || loss < best.loss) best = { a, to: c.site, loss };
      }
    }
    if (!best) break;
    put(best.a, best.to);
  }
  const moved = agents.filter((a) => site.get(a.agent) !== first(a))
    .map((a) => ({ agent: a.agent, from: first(a), to: site.get(a.agent) as string, lossMs: scoreOf(a, site.get(a.agent) as string) - scoreOf(a, first(a)) }));
  for (const id of input.capacity.keys()) limitOf(id);
  return { site, moved, load, limit };
}

/** Demand per agent from cumulative query counts: Δqueries / Δt × TTL over the last windowMs. */
export class DemandEstimator {
  private readonly snapshots: { ts: number; counts: Map<string, number> }[] = [];

  constructor(private readonly windowMs: number) {}

  note(counts: ReadonlyMap<string, number>, nowMs: number): void {
    this.snapshots.push({ ts: nowMs, counts: new Map(counts) });
    // Keep one snapshot at or before the window's start as the base.
    while (this.snapshots.length > 2 && (this.snapshots[1] as { ts: number }).ts <= nowMs - this.windowMs) this.snapshots.shift();
  }

  /** Demand units of `agent` (0 until two snapshots at least 1 s apart exist). */
  demand(agent: string, ttlS: number): number {
    const first = this.snapshots[0];
    const last = this.snapshots[this.snapshots.length - 1];
    if (!first || !last || last.ts - first.ts < 1000) return 0;
    const q = (last.counts.get(agent) ?? 0) - (first.counts.get(agent) ?? 0);
    return (q / ((last.ts - first.ts) / 1000)) * Math.max(1, ttlS);
  }
}

export interface PlannedService {
  name: string;
  ttl: number;
  answers: number;
  sites: readonly { id: string; address: string }[];
}

/** Per-service capacity state: demand, last assignment, last answers written. */
export class CapacityPlanner {
  private readonly demand = new Map<string, DemandEstimator>();
  private readonly previous = new Map<string, Map<string, string>>();
  private readonly written = new Map<string, Map<string, string>>();
  private readonly last = new Map<string, Assignment>();

  constructor(
    private capacity: ReadonlyMap<string, ReadonlyMap<string, SiteCapacity>>,
    private readonly opts: { hysteresisPct: number; demandWindowMs: number } = { hysteresisPct: 10, demandWindowMs: 30_000 },
  ) {}

  /** Replaces the site capacities (a catalogue from the backbone or a replica); applied at the next RankEngine.setServices. */
  setCapacity(capacity: ReadonlyMap<string, ReadonlyMap<string, SiteCapacity>>): void {
    this.capacity = capacity;
  }

  managed(service: string): boolean {
    return (this.capacity.get(service)?.size ?? 0) > 0;
  }

  /** The last assignment of a service (for explain and tests). */
  assignment(service: string): Assignment | undefined {
    return this.last.get(service);
  }

  /**
   * Recomputes the assignment from the agents' current rankings and query counts; returns
   * the per-agent answers that changed since the last call (to be written to the table).
   */
  replan(svc: PlannedService, rankings: ReadonlyMap<string, Ranking>, counts: ReadonlyMap<string, number>, nowMs: number): Map<string, string[]> {
    let est = this.demand.get(svc.name);
    if (!est) this.demand.set(svc.name, (est = new DemandEstimator(this.opts.demandWindowMs)));
    est.note(counts, nowMs);
    const agents: CapacityAgent[] = [];
    for (const [key, r] of rankings) {
      if (key === DEFAULT_KEY || r.failOpen) continue;
      const scores = new Map(r.explanation.sites.filter((x) => x.state === 'up').map((x) => [x.id, x.score ?? Infinity]));
      const choices = r.full.filter((id) => scores.has(id)).map((id) => ({ site: id, score: scores.get(id) as number }));
      agents.push({ agent: key, demand: est.demand(key, svc.ttl), choices });
    }
    const result = assignCapacity({
      capacity: this.capacity.get(svc.name) ?? new Map(), agents, previous: this.previous.get(svc.name) ?? new Map(), hysteresisPct: this.opts.hysteresisPct,
    });
    this.previous.set(svc.name, result.site);
    this.last.set(svc.name, result);
    const address = new Map(svc.sites.map((s) => [s.id, s.address]));
    const full = new Set([...result.limit].filter(([id, l]) => (result.load.get(id) ?? 0) >= l - 1e-9).map(([id]) => id));
    let written = this.written.get(svc.name);
    if (!written) this.written.set(svc.name, (written = new Map()));
    const out = new Map<string, string[]>();
    for (const [key, r] of rankings) {
      if (key === DEFAULT_KEY) continue;
      const to = result.site.get(key);
      let addrs = r.addresses;
      if (to !== undefined && to !== r.full[0]) {
        // Moved: its site first, then the rest of its order without sites at capacity.
        const rest = r.full.filter((id) => id !== to && !full.has(id));
        addrs = [to, ...rest].slice(0, svc.answers).map((id) => address.get(id)).filter((a): a is string => a !== undefined);
      }
      const text = addrs.join();
      if (written.get(key) !== text) {
        written.set(key, text);
        out.set(key, [...addrs]);
      }
    }
    for (const key of [...written.keys()]) if (!rankings.has(key)) written.delete(key);
    return out;
  }

  /** Why capacity moved `agent` off its first choice (for explain); undefined if it did not. */
  note(service: string, agent: string): string | undefined {
    const a = this.last.get(service);
    const m = a?.moved.find((x) => x.agent === agent);
    if (!a || !m) return undefined;
    const r = (x: number): number => Math.round(x * 100) / 100;
    return `capacity: moved from ${m.from} (load ${r(a.load.get(m.from) ?? 0)} without this agent, capacity ${r(a.limit.get(m.from) ?? Infinity)} demand units) to ${m.to}, the cheapest move (+${r(m.lossMs)})`;
  }

  /** Forgets a service's state (removed, or its site set changed). */
  reset(service: string): void {
    this.previous.delete(service);
    this.written.delete(service);
    this.last.delete(service);
  }
}
