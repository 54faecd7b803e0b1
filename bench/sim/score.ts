// Scores a run: per strategy, the share of POP-seconds sent to the oracle best site
// and the regret (latency paid minus the best latency); for Vantage also failover
// time per `down`/`reset` event. Pure: takes the recorded samples, returns numbers.
import type { World } from './world.js';
import { affectsPop, eventEndS } from './conditions.js';
import { STRATEGIES, costMs, oracleBest, type Strategy } from './oracle.js';

export interface Sample {
  /** World second index (the query was sent at tS = s + 0.5). */
  s: number;
  tS: number;
  pop: string;
  /** Site id each strategy sent the query to (vantage: first address answered; null = no answer). */
  answers: Record<Strategy, string | null>;
}

export interface StrategyScore {
  optimalShare: number;
  meanRegretMs: number;
  p95RegretMs: number;
  /** Times a POP's first answer changed from one second to the next. */
  answerChanges: number;
  /** Load-feedback worlds: the busiest site's highest share of POP-seconds (bench/sim/load-feedback.ts). */
  peakShare?: number;
}

export interface FailoverEvent {
  index: number;
  site: string;
  kind: 'down' | 'reset';
  atS: number;
  /** Seconds from the event start until no affected POP got the site first any more. */
  failoverS: number;
}

/** One change of a POP's oracle best, and how long Vantage took to follow it. */
export interface Transition {
  pop: string;
  s: number;
  from: string | null;
  to: string;
  /** Seconds until Vantage's first answer was (one of) the new best; null if not before the next change or the end. */
  lagS: number | null;
  /** POP-seconds of this POP not sent to the best from this change until the next one. */
  missedS: number;
}

export interface Score {
  strategies: Record<Strategy, StrategyScore>;
  failover: { maxS: number; events: FailoverEvent[] };
  /** POP-seconds scored (those with no up site at all are left out). */
  scoredSamples: number;
  oracleChanges: number;
  transitions: Transition[];
}

/** Every change of a POP's oracle best, with Vantage's lag and the seconds it missed. */
export function transitions(world: World, samples: readonly Sample[]): Transition[] {
  const out: Transition[] = [];
  for (const pop of world.pops) {
    const mine = samples.filter((x) => x.pop === pop.id);
    let current: Transition | undefined;
    let prevBest: string | null = null;
    mine.forEach((sample, i) => {
      const best = oracleBest(world, pop.id, sample.tS);
      const first = best?.sites[0] ?? null;
      if (i > 0 && first !== null && first !== prevBest) {
        current = { pop: pop.id, s: sample.s, from: prevBest, to: first, lagS: null, missedS: 0 };
        out.push(current);
      }
      prevBest = first;
      const hit = best !== undefined && sample.answers.vantage !== null && best.sites.includes(sample.answers.vantage);
      if (!current) return;
      if (hit && current.lagS === null) current.lagS = sample.s - current.s;
      if (!hit && best) current.missedS++;
    });
  }
  return out.sort((a, b) => a.s - b.s || a.pop.localeCompare(b.pop));
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

/** Nearest-rank percentile of an ascending array. */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

function countChanges(samples: readonly Sample[], pick: (s: Sample) => string | null): number {
  const last = new Map<string, string | null>();
  let changes = 0;
  for (const sample of samples) {
    const now = pick(sample);
    if (last.has(sample.pop) && last.get(sample.pop) !== now) changes++;
    last.set(sample.pop, now);
  }
  return changes;
}

export function failoverEvents(world: World, samples: readonly Sample[]): FailoverEvent[] {
  const out: FailoverEvent[] = [];
  world.events.forEach((ev, index) => {
    if (ev.kind !== 'down' && ev.kind !== 'reset') return;
    const endS = eventEndS(world, ev);
    let lastBad = -1;
    for (const sample of samples) {
      if (sample.tS < ev.atS || sample.tS >= endS || !affectsPop(ev, sample.pop)) continue;
      if (sample.answers.vantage === ev.site) lastBad = Math.max(lastBad, sample.s);
    }
    const failoverS = lastBad < 0 ? 0 : round(lastBad + 1 - ev.atS, 1);
    out.push({ index, site: ev.site, kind: ev.kind, atS: ev.atS, failoverS });
  });
  return out;
}

export function scoreRun(world: World, samples: readonly Sample[]): Score {
  const regrets = new Map<Strategy, number[]>(STRATEGIES.map((s) => [s, []]));
  const optimal = new Map<Strategy, number>(STRATEGIES.map((s) => [s, 0]));
  let scored = 0;
  for (const sample of samples) {
    const best = oracleBest(world, sample.pop, sample.tS);
    if (!best) continue;
    scored++;
    for (const strategy of STRATEGIES) {
      const site = sample.answers[strategy];
      // A tie for best counts as optimal: the regret is what decides.
      const regret = costMs(world, sample.pop, site, sample.tS) - best.latencyMs;
      regrets.get(strategy)?.push(regret);
      if (site !== null && best.sites.includes(site)) optimal.set(strategy, (optimal.get(strategy) ?? 0) + 1);
    }
  }
  const strategies = {} as Record<Strategy, StrategyScore>;
  for (const strategy of STRATEGIES) {
    const r = [...(regrets.get(strategy) ?? [])].sort((a, b) => a - b);
    strategies[strategy] = {
      optimalShare: scored ? round((optimal.get(strategy) ?? 0) / scored, 3) : 0,
      meanRegretMs: r.length ? round(r.reduce((a, b) => a + b, 0) / r.length, 1) : 0,
      p95RegretMs: round(percentile(r, 95), 1),
      answerChanges: countChanges(samples, (s) => s.answers[strategy]),
    };
  }
  const events = failoverEvents(world, samples);
  return {
    strategies,
    failover: { maxS: events.reduce((m, e) => Math.max(m, e.failoverS), 0), events },
    scoredSamples: scored,
    oracleChanges: countChanges(samples, (s) => oracleBest(world, s.pop, s.tS)?.sites[0] ?? null),
    transitions: transitions(world, samples),
  };
}
