// What is in force on a path (POP → site) at world second t: the matrix latency plus
// `slow`/`load` extras, or a failure (`down`, `reset`). The site servers and the
// oracle read the same function, so the simulated truth has one definition.
import type { World, WorldEvent } from './world.js';

export interface PathState {
  /** False when a `down` or `reset` event is in force for this POP. */
  up: boolean;
  failure: 'down' | 'reset' | null;
  /** Matrix latency plus every `slow` and `load` extra in force. */
  latencyMs: number;
}

export function eventEndS(world: World, ev: WorldEvent): number {
  return ev.untilS ?? world.durationS;
}

export function inForce(world: World, ev: WorldEvent, tS: number): boolean {
  return tS >= ev.atS && tS < eventEndS(world, ev);
}

/** True when the event applies to this POP (omitted `pops` and `load` mean all). */
export function affectsPop(ev: WorldEvent, popId: string): boolean {
  return ev.pops === undefined || ev.pops.includes(popId);
}

export function pathState(world: World, popId: string, siteId: string, tS: number): PathState {
  let latencyMs = world.latencyMs[popId]?.[siteId] ?? 0;
  let failure: PathState['failure'] = null;
  for (const ev of world.events) {
    if (ev.site !== siteId || !inForce(world, ev, tS) || !affectsPop(ev, popId)) continue;
    if (ev.kind === 'slow' || ev.kind === 'load') latencyMs += ev.extraMs ?? 0;
    // `down` outranks `reset`: a refused connection never gets as far as a response.
    else if (ev.kind === 'down') failure = 'down';
    else if (failure === null) failure = 'reset';
  }
  return { up: failure === null, failure, latencyMs };
}

/** True when a `down` event covering every POP is in force: the server itself is down. */
export function downForAll(world: World, siteId: string, tS: number): boolean {
  return world.events.some((ev) => ev.site === siteId && ev.kind === 'down' && inForce(world, ev, tS)
    && world.pops.every((p) => affectsPop(ev, p.id)));
}

/** Server-side load on a site (sum of `load` extras in force), as the server sees it. */
export function serverLoadMs(world: World, siteId: string, tS: number): number {
  let load = 0;
  for (const ev of world.events) if (ev.site === siteId && ev.kind === 'load' && inForce(world, ev, tS)) load += ev.extraMs ?? 0;
  return load;
}
