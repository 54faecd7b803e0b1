// The closed loop of a `load-feedback` world (issue #10 §3): every world second each
// POP's clients go to the site they were answered, so a site's share of POP-seconds
// over the last windowS seconds is its load, and beyond its capacityShare the site's
// latency grows by msPerShare × (share − capacityShare) — for every POP (server-side).
// The site servers read Vantage's own load while the world runs; scoring replays each
// strategy's answers through a tracker of its own, so a baseline pays for its own herd.
import type { World } from './world.js';
import { pathState } from './conditions.js';
import { FAILED_MS, STRATEGIES, type Strategy } from './oracle.js';
import type { Sample, StrategyScore } from './score.js';

export class LoadTracker {
  /** One entry per recorded second: POPs sent to each site. */
  private readonly seconds: Map<string, number>[] = [];
  private readonly capacity: Map<string, number>;

  constructor(private readonly world: World) {
    this.capacity = new Map(world.sites.map((s) => [s.id, s.capacityShare ?? 1]));
  }

  /** Records one world second: the site each POP was sent to (null: no answer). */
  record(choices: readonly (string | null)[]): void {
    const counts = new Map<string, number>();
    for (const c of choices) if (c !== null) counts.set(c, (counts.get(c) ?? 0) + 1);
    this.seconds.push(counts);
  }

  /** Share of the POP-seconds of the last windowS recorded seconds that went to `site`. */
  share(site: string): number {
    const windowS = this.world.loadFeedback?.windowS ?? 1;
    const recent = this.seconds.slice(-windowS);
    if (!recent.length) return 0;
    const sent = recent.reduce((n, c) => n + (c.get(site) ?? 0), 0);
    return sent / (recent.length * this.world.pops.length);
  }

  /** Extra latency of `site` from its load now (0 in a world without load feedback). */
  extraMs(site: string): number {
    const fb = this.world.loadFeedback;
    if (!fb) return 0;
    return fb.msPerShare * Math.max(0, this.share(site) - (this.capacity.get(site) ?? 1));
  }

  /** The busiest site's share now. */
  peakShare(): number {
    return Math.max(0, ...this.world.sites.map((s) => this.share(s.id)));
  }
}

export interface LoadScore extends StrategyScore {
  /** Highest share of POP-seconds any one site had over a windowS window. */
  peakShare: number;
}

const round = (x: number, digits: number): number => Math.round(x * 10 ** digits) / 10 ** digits;

/**
 * Scores every strategy on a load-feedback world, each against the load it caused:
 * the best site for a POP at a second is the up site with the lowest latency in force
 * including the extra from that strategy's own recent answers.
 */
export function scoreLoadFeedback(world: World, samples: readonly Sample[]): Record<Strategy, LoadScore> {
  const bySecond = new Map<number, Sample[]>();
  for (const x of samples) bySecond.set(x.s, [...(bySecond.get(x.s) ?? []), x]);
  const seconds = [...bySecond.keys()].sort((a, b) => a - b);
  const out = {} as Record<Strategy, LoadScore>;
  for (const strategy of STRATEGIES) {
    const tracker = new LoadTracker(world);
    const regrets: number[] = [];
    let optimal = 0;
    let scored = 0;
    let changes = 0;
    let peak = 0;
    const last = new Map<string, string | null>();
    for (const s of seconds) {
      const second = bySecond.get(s) as Sample[];
      for (const x of second) {
        let best = Infinity;
        const cost = new Map<string, number>();
        for (const site of world.sites) {
          const st = pathState(world, x.pop, site.id, x.tS);
          const c = st.up ? st.latencyMs + tracker.extraMs(site.id) : FAILED_MS;
          cost.set(site.id, c);
          if (st.up) best = Math.min(best, c);
        }
        const chosen = x.answers[strategy];
        if (last.has(x.pop) && last.get(x.pop) !== chosen) changes++;
        last.set(x.pop, chosen);
        if (!Number.isFinite(best)) continue;
        scored++;
        const paid = chosen === null ? FAILED_MS : (cost.get(chosen) ?? FAILED_MS);
        regrets.push(paid - best);
        if (paid - best < 0.5) optimal++;
      }
      tracker.record(second.map((x) => x.answers[strategy]));
      peak = Math.max(peak, tracker.peakShare());
    }
    regrets.sort((a, b) => a - b);
    out[strategy] = {
      optimalShare: scored ? round(optimal / scored, 3) : 0,
      meanRegretMs: regrets.length ? round(regrets.reduce((a, b) => a + b, 0) / regrets.length, 1) : 0,
      p95RegretMs: regrets.length ? round(regrets[Math.max(0, Math.ceil(0.95 * regrets.length) - 1)] as number, 1) : 0,
      answerChanges: changes,
      peakShare: round(peak, 3),
    };
  }
  return out;
}
