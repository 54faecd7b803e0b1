// Pure site ranking for one (agent, service) — or the aggregate of fresh agents —
// from window statistics. No I/O, no clock: table-tested in test/selector/ranking.
// Returns the order and an explanation holding every input and the arithmetic, so
// `explain` can show why a site is first (DESIGN.md "Ranking").
import type { Policy, RankingConfig } from '../config.js';
import { median, type SiteStats } from './window.js';
import { buildAnswerSet, type AnswerSetMode, type SetDecision } from './answer-set.js';

export interface RankSite {
  id: string;
  address: string;
  cost: number;
  weight: number;
  drained: boolean;
  /** Undefined when this agent has no data for the site. */
  stats?: SiteStats | undefined;
}

export interface RankInput {
  policy: Policy;
  /** Sites in configured order. */
  sites: readonly RankSite[];
  answers: number;
  /** Which ranked sites go into the answer (answer-set.ts); default `band`. */
  answerSet?: AnswerSetMode | undefined;
  /** First choice of the previous ranking, for hysteresis. */
  previousFirst?: string | undefined;
  ranking: Pick<RankingConfig, 'failurePenalty' | 'hysteresisPct' | 'hysteresisMs'>;
}

export type SiteState = 'up' | 'down' | 'no_data' | 'drained';

export interface SiteExplanation {
  id: string;
  address: string;
  state: SiteState;
  streak: number;
  samples: number;
  failureShare: number | null;
  medianMs: number | null;
  cost: number;
  weight: number;
  /** Compared first (lower wins): 0 for latency/weighted, failure share, or cost. */
  primary: number | null;
  /** Compared second (lower wins), and the value hysteresis applies to. */
  score: number | null;
  formula: string;
}

export interface HysteresisDecision {
  incumbent: string;
  challenger: string;
  decision: 'switch' | 'hold';
  reason: string;
}

export interface Ranking {
  /** Site ids of the answer set, best first (at most `answers`). */
  order: string[];
  addresses: string[];
  /** The full order before the cap (its first element is the next `previousFirst`). */
  full: string[];
  failOpen: boolean;
  explanation: {
    policy: Policy; sites: SiteExplanation[]; hysteresis?: HysteresisDecision; note?: string;
    /** The answer-set rule and, per site, why it is in the answer or not. */
    answerSet: { mode: AnswerSetMode; sites: SetDecision[] };
  };
}

interface Candidate {
  site: RankSite;
  index: number;
  primary: number;
  score: number;
}

function fmt(n: number): string {
  return Number.isFinite(n) ? String(Math.round(n * 1000) / 1000) : '∞';
}

export function shareOf(stats: SiteStats): number {
  return stats.failureShare ?? (stats.samples ? stats.failures / stats.samples : 0);
}

/** Scores one site under a policy; lower is better on (primary, score). */
export function scoreSite(policy: Policy, site: RankSite, stats: SiteStats, failurePenalty: number): { primary: number; score: number } {
  const share = shareOf(stats);
  const med = stats.medianMs;
  const latency = med === null ? Infinity : med * (1 + failurePenalty * share);
  switch (policy) {
    case 'latency':
      return { primary: 0, score: latency };
    case 'availability':
      return { primary: share, score: med ?? Infinity };
    case 'cost':
      return { primary: site.cost, score: latency };
    case 'weighted':
      return { primary: 0, score: latency * site.weight };
  }
}

/** The arithmetic behind a score, as text for `explain`. */
export function formulaOf(policy: Policy, site: RankSite, stats: SiteStats, failurePenalty: number): string {
  const share = shareOf(stats);
  const med = stats.medianMs;
  const latency = med === null ? Infinity : med * (1 + failurePenalty * share);
  const medText = med === null ? 'n/a' : fmt(med);
  const lat = `median ${medText} ms × (1 + ${failurePenalty} × ${fmt(share)} failure share) = ${fmt(latency)}`;
  switch (policy) {
    case 'latency':
      return lat;
    case 'availability':
      return `failure share ${fmt(share)} first, then median ${medText} ms`;
    case 'cost':
      return `cost ${fmt(site.cost)} first, then ${lat}`;
    case 'weighted':
      return `${lat} × weight ${fmt(site.weight)} = ${fmt(latency * site.weight)}`;
  }
}

/**
 * One site's explanation. Ranking runs for every metrics message, so the formula
 * text is built only when read (an enumerable getter: JSON output includes it).
 */
function explainSite(policy: Policy, site: RankSite, st: SiteStats | undefined, s: { primary: number; score: number } | null, failurePenalty: number): SiteExplanation {
  const measured = s !== null && st !== undefined;
  const state: SiteState = site.drained ? 'drained' : !measured ? 'no_data' : st.down ? 'down' : 'up';
  const e = {
    id: site.id, address: site.address, cost: site.cost, weight: site.weight, state,
    streak: st?.streak ?? 0, samples: st?.samples ?? 0,
    failureShare: measured ? shareOf(st) : null, medianMs: measured ? st.medianMs : null,
    primary: s?.primary ?? null, score: s?.score ?? null,
  } as SiteExplanation;
  Object.defineProperty(e, 'formula', {
    enumerable: true,
    get: (): string => {
      if (site.drained) return 'excluded: drained';
      if (!measured) return 'no data: after measured sites, configured order';
      const f = formulaOf(policy, site, st, failurePenalty);
      return st.down ? `excluded: down (${f})` : f;
    },
  });
  return e;
}

function compare(a: Candidate, b: Candidate): number {
  if (a.primary !== b.primary) return a.primary - b.primary;
  if (a.score !== b.score) return a.score === Infinity ? 1 : b.score === Infinity ? -1 : a.score - b.score;
  return a.index - b.index;
}

/**
 * Hysteresis: the incumbent stays first unless the challenger wins on the primary
 * key, or its score is better by more than hysteresisPct % AND more than hysteresisMs.
 */
function hysteresis(inc: Candidate, best: Candidate, r: RankInput['ranking']): HysteresisDecision {
  const base = { incumbent: inc.site.id, challenger: best.site.id };
  if (best.primary < inc.primary) return { ...base, decision: 'switch', reason: `challenger primary ${fmt(best.primary)} < ${fmt(inc.primary)}` };
  if (inc.score === Infinity) return { ...base, decision: 'switch', reason: 'incumbent has no successful probe in the window' };
  const gain = inc.score - best.score;
  const pct = inc.score > 0 ? (gain / inc.score) * 100 : 0;
  const enough = pct > r.hysteresisPct && gain > r.hysteresisMs;
  return {
    ...base,
    decision: enough ? 'switch' : 'hold',
    reason: `challenger better by ${fmt(gain)} (${fmt(pct)} %); needs > ${r.hysteresisPct} % and > ${r.hysteresisMs}`,
  };
}

export function rankSites(input: RankInput): Ranking {
  const candidates: Candidate[] = [];
  const noData: RankSite[] = [];
  input.sites.forEach((site, index) => {
    const st = site.stats;
    if (site.drained || !st || st.samples === 0) {
      if (!site.drained) noData.push(site);
      return;
    }
    if (st.down) return;
    const s = scoreSite(input.policy, site, st, input.ranking.failurePenalty);
    candidates.push({ site, index, primary: s.primary, score: s.score });
  });
  candidates.sort(compare);
  let decision: HysteresisDecision | undefined;
  const inc = candidates.find((c) => c.site.id === input.previousFirst);
  const best = candidates[0];
  if (inc && best && inc !== best) {
    decision = hysteresis(inc, best, input.ranking);
    if (decision.decision === 'hold') candidates.splice(candidates.indexOf(inc), 1), candidates.unshift(inc);
  }
  let full = [...candidates.map((c) => c.site), ...noData];
  let failOpen = false;
  let note: string | undefined;
  const mode = input.answerSet ?? 'band';
  const left: SetDecision[] = [];
  for (const s of input.sites) {
    if (s.drained) left.push({ id: s.id, inSet: false, reason: 'drained' });
    else if (s.stats?.down && s.stats.samples > 0) left.push({ id: s.id, inSet: false, reason: `down (${-s.stats.streak} failures in a row)` });
  }
  let set;
  if (!full.length) {
    // DESIGN.md: all sites down → answer all of them (fail-open), configured order.
    full = input.sites.filter((s) => !s.drained);
    failOpen = full.length > 0;
    note = failOpen ? 'all sites down: fail-open in configured order' : 'every site is drained';
    set = buildAnswerSet(mode, input.answers, [], full.map((s) => s.id), input.ranking, failOpen ? [] : left);
  } else {
    set = buildAnswerSet(mode, input.answers, candidates.map((c) => ({ id: c.site.id, primary: c.primary, score: c.score })),
      noData.map((s) => s.id), input.ranking, left);
  }
  const byId = new Map(input.sites.map((s) => [s.id, s]));
  const capped = set.ids.map((id) => byId.get(id) as RankSite);
  // Ranking runs for every metrics message; the per-site explanation is built only
  // when read (`explain`), from the same inputs.
  let explanation: Ranking['explanation'] | undefined;
  return {
    order: capped.map((s) => s.id),
    addresses: capped.map((s) => s.address),
    full: full.map((s) => s.id),
    failOpen,
    get explanation(): Ranking['explanation'] {
      if (!explanation) {
        const sites = input.sites.map((site) => {
          const st = site.stats;
          const measured = !site.drained && st !== undefined && st.samples > 0;
          return explainSite(input.policy, site, st, measured ? scoreSite(input.policy, site, st, input.ranking.failurePenalty) : null, input.ranking.failurePenalty);
        });
        const decisions = failOpen ? set.decisions.map((d) => ({ ...d, reason: `fail-open (all sites down): ${d.reason}` })) : set.decisions;
        explanation = { policy: input.policy, sites, answerSet: { mode, sites: decisions } };
        if (decision) explanation.hysteresis = decision;
        if (note) explanation.note = note;
      }
      return explanation;
    },
  };
}

/**
 * Combines several fresh agents' stats for one site into the aggregate used for the
 * DEFAULT_KEY answer: median of medians, median failure share, down only when a
 * majority of the agents that measured it see it down.
 */
export function aggregateStats(perAgent: readonly SiteStats[]): SiteStats | undefined {
  const measured = perAgent.filter((s) => s.samples > 0);
  if (!measured.length) return undefined;
  const medians = measured.map((s) => s.medianMs).filter((m): m is number => m !== null);
  const downCount = measured.filter((s) => s.down).length;
  return {
    samples: measured.reduce((n, s) => n + s.samples, 0),
    failures: measured.reduce((n, s) => n + s.failures, 0),
    failureShare: median(measured.map(shareOf)) ?? 0,
    medianMs: median(medians),
    down: downCount * 2 > measured.length,
    streak: 0,
    newestTs: Math.max(...measured.map((s) => s.newestTs)),
  };
}
