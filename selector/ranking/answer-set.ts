// The answer set: which of the ranked sites go into the DNS answer (DESIGN.md "DNS
// behaviour"). Common resolvers reorder RRsets (Unbound 1.17 `rrset-roundrobin: yes`,
// BIND 9.18 random order), so the order of the records cannot steer clients. By
// default (`band`) the set holds the first site plus only the sites as good as it
// within the hysteresis band — any order a resolver picks then sends the client to a
// good site; a clearly best site is answered alone. `ordered` keeps plain top-N for
// resolvers known to keep the order. Pure: no I/O, no clock.

export const ANSWER_SET_MODES = ['band', 'ordered'] as const;
export type AnswerSetMode = (typeof ANSWER_SET_MODES)[number];

/** A ranked, usable (up) site: compared on (primary, score), lower is better. */
export interface SetCandidate {
  id: string;
  primary: number;
  score: number;
}

export interface SetDecision {
  id: string;
  inSet: boolean;
  reason: string;
}

export interface AnswerSetResult {
  /** Site ids in the set, best first. */
  ids: string[];
  /** One line per ranked or unranked site: why it is in the set or not. */
  decisions: SetDecision[];
}

export interface BandLimits {
  hysteresisPct: number;
  hysteresisMs: number;
}

function fmt(n: number): string {
  return Number.isFinite(n) ? String(Math.round(n * 1000) / 1000) : '∞';
}

/**
 * True when `other` is as good as `first` within the band: the same primary key, and a
 * score not worse by more than hysteresisPct % AND hysteresisMs (the rule that keeps an
 * incumbent first, applied the other way round). A site held first by hysteresis is
 * worse than its challenger, so the challenger is always in the band.
 */
export function withinBand(first: SetCandidate, other: SetCandidate, band: BandLimits): { ok: boolean; reason: string } {
  if (other.primary !== first.primary) {
    const ok = other.primary < first.primary;
    return { ok, reason: `primary ${fmt(other.primary)} vs ${fmt(first.primary)} of the first` };
  }
  if (other.score === Infinity && first.score !== Infinity) return { ok: false, reason: 'no successful probe in the window' };
  const gap = other.score - first.score;
  const pct = first.score > 0 && Number.isFinite(first.score) ? (gap / first.score) * 100 : 0;
  const ok = !(pct > band.hysteresisPct && gap > band.hysteresisMs);
  const rel = `${gap >= 0 ? '+' : ''}${fmt(gap)} (${gap >= 0 ? '+' : ''}${fmt(pct)} %) vs the first`;
  return {
    ok,
    reason: ok
      ? `within the band: score ${fmt(other.score)}, ${rel} (band ${band.hysteresisPct} % or ${band.hysteresisMs})`
      : `outside the band: score ${fmt(other.score)}, ${rel}; the band is ${band.hysteresisPct} % or ${band.hysteresisMs}`,
  };
}

/**
 * Builds the set from `ranked` (best first, hysteresis already applied) and `unranked`
 * (sites without data from this view, configured order). With no ranked site at all
 * (no data anywhere, or fail-open) nothing tells the sites apart: the first `answers`
 * of `unranked` are the set. `excluded` names sites left out before ranking (down,
 * drained) with their reason, so every site gets a line.
 */
export function buildAnswerSet(
  mode: AnswerSetMode,
  answers: number,
  ranked: readonly SetCandidate[],
  unranked: readonly string[],
  band: BandLimits,
  excluded: readonly SetDecision[] = [],
): AnswerSetResult {
  const decisions: SetDecision[] = [];
  const ids: string[] = [];
  const add = (id: string, reason: string): void => {
    if (ids.length < answers) {
      ids.push(id);
      decisions.push({ id, inSet: true, reason });
    } else {
      decisions.push({ id, inSet: false, reason: `beyond answers (${answers}): ${reason}` });
    }
  };
  const first = ranked[0];
  if (!first) {
    for (const id of unranked) add(id, 'no measurements: configured order');
  } else if (mode === 'ordered') {
    ranked.forEach((c, i) => add(c.id, i === 0 ? 'first choice' : `ranked #${i + 1} (answerSet: ordered)`));
    for (const id of unranked) add(id, 'no data: after measured sites (answerSet: ordered)');
  } else {
    add(first.id, 'first choice');
    for (const c of ranked.slice(1)) {
      const b = withinBand(first, c, band);
      if (b.ok) add(c.id, b.reason);
      else decisions.push({ id: c.id, inSet: false, reason: b.reason });
    }
    for (const id of unranked) decisions.push({ id, inSet: false, reason: 'no data from this view: not known to be as good as the first' });
  }
  return { ids, decisions: [...decisions, ...excluded] };
}
