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
  // Ranking runs for every metrics message: membership is decided here, the reasons
  // (text for `explain`) only when read.
  const first = ranked[0];
  const lines: { id: string; member: boolean; why: () => string }[] = [];
  if (!first) {
    for (const id of unranked) lines.push({ id, member: true, why: () => 'no measurements: configured order' });
  } else if (mode === 'ordered') {
    ranked.forEach((c, i) => lines.push({ id: c.id, member: true, why: () => (i === 0 ? 'first choice' : `ranked #${i + 1} (answerSet: ordered)`) }));
    for (const id of unranked) lines.push({ id, member: true, why: () => 'no data: after measured sites (answerSet: ordered)' });
  } else {
    lines.push({ id: first.id, member: true, why: () => 'first choice' });
    for (const c of ranked.slice(1)) lines.push({ id: c.id, member: inBand(first, c, band), why: () => withinBand(first, c, band).reason });
    for (const id of unranked) lines.push({ id, member: false, why: () => 'no data from this view: not known to be as good as the first' });
  }
  const ids: string[] = [];
  const capped = new Set<string>();
  for (const l of lines) {
    if (!l.member) continue;
    if (ids.length < answers) ids.push(l.id);
    else capped.add(l.id);
  }
  let decisions: SetDecision[] | undefined;
  return {
    ids,
    get decisions(): SetDecision[] {
      decisions ??= [
        ...lines.map((l) => ({
          id: l.id,
          inSet: l.member && !capped.has(l.id),
          reason: capped.has(l.id) ? `beyond answers (${answers}): ${l.why()}` : l.why(),
        })),
        ...excluded,
      ];
      return decisions;
    },
  };
}

/** withinBand(...).ok without building the reason text. */
function inBand(first: SetCandidate, other: SetCandidate, band: BandLimits): boolean {
  if (other.primary !== first.primary) return other.primary < first.primary;
  if (other.score === Infinity && first.score !== Infinity) return false;
  const gap = other.score - first.score;
  const pct = first.score > 0 && Number.isFinite(first.score) ? (gap / first.score) * 100 : 0;
  return !(pct > band.hysteresisPct && gap > band.hysteresisMs);
}
