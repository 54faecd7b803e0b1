// The oracle (the best site a POP could have been sent to at a world second) and the
// baselines Vantage is compared with, all evaluated on the same world and seconds.
import { distanceKm, type World } from './world.js';
import { downForAll, pathState, serverLoadMs } from './conditions.js';

export const STRATEGIES = ['vantage', 'roundRobin', 'geo', 'serverSide'] as const;
export type Strategy = (typeof STRATEGIES)[number];
export type Baseline = Exclude<Strategy, 'vantage'>;
export const BASELINES: readonly Baseline[] = ['roundRobin', 'geo', 'serverSide'];

/**
 * Cost charged for sending a client to a site that is down or resetting for its POP:
 * the client waits out a failed connection and retries elsewhere. One second, like
 * the probe timeout the simulator configures.
 */
export const FAILED_MS = 1000;

export interface Best {
  /** Every up site tied for the lowest latency in force (configured order). */
  sites: readonly string[];
  latencyMs: number;
}

/** The up site(s) with the lowest latency in force for `popId` at `tS`; undefined if none is up. */
export function oracleBest(world: World, popId: string, tS: number): Best | undefined {
  let best: Best | undefined;
  for (const site of world.sites) {
    const st = pathState(world, popId, site.id, tS);
    if (!st.up) continue;
    if (!best || st.latencyMs < best.latencyMs) best = { sites: [site.id], latencyMs: st.latencyMs };
    else if (st.latencyMs === best.latencyMs) best = { sites: [...best.sites, site.id], latencyMs: best.latencyMs };
  }
  return best;
}

/** What a client of `popId` pays at `tS` when sent to `siteId` (FAILED_MS if it is not up). */
export function costMs(world: World, popId: string, siteId: string | null, tS: number): number {
  if (siteId === null) return FAILED_MS;
  const st = pathState(world, popId, siteId, tS);
  return st.up ? st.latencyMs : FAILED_MS;
}

export interface Baselines {
  /** The site the baseline sends `popId`'s query at world second `tS` to. */
  choose(strategy: Baseline, popId: string, tS: number): string;
}

export function createBaselines(world: World): Baselines {
  const siteIds = world.sites.map((s) => s.id);
  // Geo: sites per POP, nearest first by great-circle distance (computed once).
  const byDistance = new Map(world.pops.map((p) => [p.id,
    [...world.sites].sort((a, b) => distanceKm(p.geo, a.geo) - distanceKm(p.geo, b.geo)).map((s) => s.id)]));
  const rrNext = new Map(world.pops.map((p, i) => [p.id, i % siteIds.length]));
  // A health-checking LB (geo or server-side) sees a site as down only when the
  // server itself is down: `down` for every POP. Path-specific failures are invisible.
  const upForLb = (id: string, tS: number): boolean => !downForAll(world, id, tS);
  const firstUp = (ids: readonly string[], tS: number): string => ids.find((id) => upForLb(id, tS)) ?? (ids[0] as string);
  return {
    choose(strategy, popId, tS) {
      switch (strategy) {
        case 'roundRobin': {
          // Plain round-robin DNS: rotates per query, no health checks.
          const i = rrNext.get(popId) ?? 0;
          rrNext.set(popId, (i + 1) % siteIds.length);
          return siteIds[i] as string;
        }
        case 'geo':
          return firstUp(byDistance.get(popId) ?? siteIds, tS);
        case 'serverSide': {
          // Least-loaded up site; ties keep the configured order (stable sort).
          const ordered = [...siteIds].sort((a, b) => serverLoadMs(world, a, tS) - serverLoadMs(world, b, tS));
          return firstUp(ordered, tS);
        }
      }
    },
  };
}
