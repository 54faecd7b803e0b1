// How fast Vantage follows latency shifts (issue #10 §2): the mean lag over the changes
// of a POP's best site caused by latency alone (`slow`/`load` starting or ending), as
// opposed to failures (a `down`/`reset` starting or ending for that POP at that second).
import type { World } from './world.js';
import { pathState } from './conditions.js';
import type { Transition } from './score.js';

/** True when the change at `x.s` is not explained by a site going down/up for that POP. */
export function isLatencyShift(world: World, x: Transition): boolean {
  for (const site of world.sites) {
    const before = pathState(world, x.pop, site.id, x.s - 0.5).up;
    const after = pathState(world, x.pop, site.id, x.s + 0.5).up;
    if (before !== after) return false;
  }
  return true;
}

export interface LagSummary {
  /** Latency-shift transitions counted. */
  count: number;
  /** Mean lag in seconds (a shift never followed counts as the seconds until the next change). */
  meanS: number;
  maxS: number;
}

export function latencyLag(world: World, transitions: readonly Transition[]): LagSummary {
  const lags = transitions.filter((x) => isLatencyShift(world, x)).map((x) => x.lagS ?? x.missedS);
  if (!lags.length) return { count: 0, meanS: 0, maxS: 0 };
  return {
    count: lags.length,
    meanS: Math.round((lags.reduce((a, b) => a + b, 0) / lags.length) * 100) / 100,
    maxS: Math.max(...lags),
  };
}
