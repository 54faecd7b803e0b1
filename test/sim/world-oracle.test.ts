// World validation (one-line errors naming the key), the oracle, the baselines and
// the scoring arithmetic, on small hand-checked worlds.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../shared/errors.js';
import { loadWorld, parseWorld } from '../../bench/sim/world.js';
import { createBaselines, oracleBest, FAILED_MS } from '../../bench/sim/oracle.js';
import { scoreRun, type Sample } from '../../bench/sim/score.js';

const base = () => ({
  name: 'w', durationS: 10, probeIntervalS: 2, service: 'www.example.test',
  pops: [
    { id: 'pop-a', address: '127.1.0.1', prefixes: ['198.51.100.0/24'], geo: [40.7, -74.0] },
    { id: 'pop-b', address: '127.1.0.2', prefixes: ['203.0.113.0/24'], geo: [51.5, -0.1] },
  ],
  sites: [
    { id: 'east', address: '127.2.0.1', geo: [39.0, -77.5] },
    { id: 'west', address: '127.2.0.2', geo: [53.3, -6.3] },
  ],
  latencyMs: { 'pop-a': { east: 10, west: 80 }, 'pop-b': { east: 90, west: 20 } },
  events: [] as unknown[],
});

describe('world files', () => {
  it('loads every shipped world and the shared example', () => {
    for (const f of ['demo', 'short', 'path-congestion', 'flapping', 'ten-pops', 'three-pops']) {
      expect(loadWorld(`bench/worlds/${f}.json`).name).toBe(f);
    }
    expect(loadWorld('bench/worlds/three-pops.json').pops).toHaveLength(3);
  });

  it.each([
    [(w: ReturnType<typeof base>) => { delete (w as Partial<typeof w>).durationS; }, 'durationS: '],
    [(w: ReturnType<typeof base>) => { w.pops[1]!.id = 'pop-a'; }, 'pops[1].id: duplicate id "pop-a"'],
    [(w: ReturnType<typeof base>) => { w.sites[0]!.address = '10.0.0.1'; }, 'sites[0].address: 10.0.0.1 is not an IPv4 loopback address (127.0.0.0/8)'],
    [(w: ReturnType<typeof base>) => { delete (w.latencyMs['pop-b'] as Partial<Record<string, number>>).west; }, 'latencyMs.pop-b.west: missing latency'],
    [(w: ReturnType<typeof base>) => { w.events = [{ atS: 1, site: 'north', kind: 'down' }]; }, 'events[0].site: unknown site "north"'],
    [(w: ReturnType<typeof base>) => { w.events = [{ atS: 1, site: 'east', kind: 'slow' }]; }, 'events[0].extraMs: required for kind "slow"'],
    [(w: ReturnType<typeof base>) => { w.events = [{ atS: 5, untilS: 4, site: 'east', kind: 'down' }]; }, 'events[0].untilS: must be greater than atS'],
    [(w: ReturnType<typeof base>) => { w.events = [{ atS: 1, site: 'east', kind: 'load', extraMs: 5, pops: ['pop-a'] }]; }, 'events[0].pops: not allowed for kind "load" (server-side load affects every POP)'],
    [(w: ReturnType<typeof base>) => { w.events = [{ atS: 1, site: 'east', kind: 'melt' }]; }, 'events[0].kind: '],
    [(w: ReturnType<typeof base>) => { (w as Record<string, unknown>).colour = 'red'; }, 'colour: unknown key'],
  ])('rejects a bad world with one line naming the key (%#)', (mutate, message) => {
    const w = base();
    mutate(w);
    let err: unknown;
    try { parseWorld(w); } catch (e) { err = e; }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message.startsWith(message)).toBe(true);
    expect((err as Error).message).not.toContain('\n');
  });
});

describe('oracle and baselines', () => {
  const w = parseWorld({
    ...base(),
    events: [
      { atS: 2, untilS: 4, site: 'east', pops: ['pop-a'], kind: 'slow', extraMs: 100 },
      { atS: 4, untilS: 6, site: 'east', kind: 'down' },
      { atS: 6, untilS: 8, site: 'west', pops: ['pop-b'], kind: 'reset' },
      { atS: 8, untilS: 10, site: 'east', kind: 'load', extraMs: 5 },
    ],
  });

  it('best is the up site with the lowest latency in force', () => {
    expect(oracleBest(w, 'pop-a', 1.5)).toEqual({ sites: ['east'], latencyMs: 10 });
    expect(oracleBest(w, 'pop-a', 2.5)).toEqual({ sites: ['west'], latencyMs: 80 });
    expect(oracleBest(w, 'pop-a', 4.5)).toEqual({ sites: ['west'], latencyMs: 80 });
    expect(oracleBest(w, 'pop-b', 6.5)).toEqual({ sites: ['east'], latencyMs: 90 });
    expect(oracleBest(w, 'pop-a', 8.5)).toEqual({ sites: ['east'], latencyMs: 15 });
  });

  it('geo ignores path events but sees a site down for all; serverSide follows load; round robin rotates', () => {
    const b = createBaselines(w);
    expect(b.choose('geo', 'pop-a', 2.5)).toBe('east');
    expect(b.choose('geo', 'pop-a', 4.5)).toBe('west');
    expect(b.choose('geo', 'pop-b', 6.5)).toBe('west');
    expect(b.choose('serverSide', 'pop-b', 1.5)).toBe('east');
    expect(b.choose('serverSide', 'pop-b', 8.5)).toBe('west');
    expect(b.choose('serverSide', 'pop-a', 4.5)).toBe('west');
    expect([0, 1, 2, 3].map(() => b.choose('roundRobin', 'pop-a', 0.5))).toEqual(['east', 'west', 'east', 'west']);
  });

  it('scores share, regret and failover', () => {
    const samples: Sample[] = [];
    const vantage = ['east', 'east', 'east', 'west', 'east', 'west', 'east', 'east', 'east', 'east'];
    vantage.forEach((site, s) => samples.push({ s, tS: s + 0.5, pop: 'pop-a', answers: { vantage: site, roundRobin: 'east', geo: 'east', serverSide: null } }));
    const score = scoreRun(w, samples);
    // Wrong at s=2 (slow east: regret 110 - 80 = 30) and s=4 (east down: FAILED_MS - 80).
    expect(score.strategies.vantage.optimalShare).toBe(0.8);
    expect(score.strategies.vantage.meanRegretMs).toBe((30 + FAILED_MS - 80) / 10);
    expect(score.strategies.vantage.p95RegretMs).toBe(FAILED_MS - 80);
    expect(score.strategies.vantage.answerChanges).toBe(4);
    expect(score.strategies.serverSide.optimalShare).toBe(0);
    // east down at 4: pop-a still got east at s=4 → failover 1 s; reset of west affects only pop-b (never asked) → 0.
    expect(score.failover.events.map((e) => e.failoverS)).toEqual([1, 0]);
    expect(score.failover.maxS).toBe(1);
  });
});
