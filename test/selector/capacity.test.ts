// The greedy capacity assignment (selector/ranking/capacity.ts): the agents whose move
// costs least leave a site over capacity first, moves stick with hysteresis, and no
// capacity means today's answers. Plus the RankEngine hook with a real MemoryAnswerTable.
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { assignCapacity, CapacityPlanner, DemandEstimator, type CapacityAgent, type SiteCapacity } from '../../selector/ranking/capacity.js';
import { RankEngine } from '../../selector/ranking/engine.js';
import { MemoryAnswerTable } from '../../selector/dns/answer-table.js';
import { RankingConfigSchema } from '../../selector/config.js';
import type { ServiceRecord } from '../../selector/store/store.js';

const agent = (id: string, demand: number, choices: [string, number][]): CapacityAgent =>
  ({ agent: id, demand, choices: choices.map(([site, score]) => ({ site, score })) });

// Four POPs all prefer site a; b and c are their second choices at different costs.
const herd = [
  agent('p1', 1, [['a', 20], ['b', 25], ['c', 90]]), // moving costs 5 ms
  agent('p2', 1, [['a', 20], ['b', 60], ['c', 30]]), // 10 ms (to c)
  agent('p3', 1, [['a', 20], ['b', 80], ['c', 70]]), // 50 ms
  agent('p4', 1, [['a', 10], ['b', 90], ['c', 95]]), // 80 ms
];
const caps = (entries: [string, SiteCapacity][]): Map<string, SiteCapacity> => new Map(entries);

describe('assignCapacity', () => {
  it('without capacity every agent keeps its first choice', () => {
    const r = assignCapacity({ capacity: new Map(), agents: herd, previous: new Map(), hysteresisPct: 10 });
    expect([...r.site.values()]).toEqual(['a', 'a', 'a', 'a']);
    expect(r.moved).toEqual([]);
  });

  it('moves the cheapest agents off a site over its share, each to its cheapest site with room', () => {
    const r = assignCapacity({ capacity: caps([['a', { share: 0.5 }]]), agents: herd, previous: new Map(), hysteresisPct: 10 });
    expect(Object.fromEntries(r.site)).toEqual({ p1: 'b', p2: 'c', p3: 'a', p4: 'a' });
    expect(r.moved).toEqual([
      { agent: 'p1', from: 'a', to: 'b', lossMs: 5 },
      { agent: 'p2', from: 'a', to: 'c', lossMs: 10 },
    ]);
    expect(r.load.get('a')).toBe(2);
    expect(r.limit.get('a')).toBe(2);
  });

  it('respects the next site\'s capacity too (rps in demand units) and weighs demand', () => {
    const agents = [agent('big', 3, [['a', 20], ['b', 22]]), agent('small', 1, [['a', 20], ['b', 40]])];
    const r = assignCapacity({ capacity: caps([['a', { rps: 3 }], ['b', { rps: 2 }]]), agents, previous: new Map(), hysteresisPct: 10 });
    // big is cheaper to move but b has no room for it: small moves instead.
    expect(Object.fromEntries(r.site)).toEqual({ big: 'a', small: 'b' });
  });

  it('leaves a site over capacity when nobody can move anywhere', () => {
    const agents = [agent('x', 1, [['a', 20]]), agent('y', 1, [['a', 20]])];
    const r = assignCapacity({ capacity: caps([['a', { share: 0.5 }]]), agents, previous: new Map(), hysteresisPct: 10 });
    expect([...r.site.values()]).toEqual(['a', 'a']);
  });

  it('hysteresis: nobody moves until a site is over capacity × (1 + h); a moved agent returns once it fits', () => {
    const agents = [agent('p1', 1.05, [['a', 20], ['b', 25]]), agent('p2', 1, [['a', 20], ['b', 60]])];
    // a's limit: 0.5 × 2.05 = 1.025; its load 2.05 is over 1.1 × that: p1 (cheapest) moves.
    const moved = assignCapacity({ capacity: caps([['a', { share: 0.5 }]]), agents, previous: new Map(), hysteresisPct: 10 });
    expect(moved.site.get('p1')).toBe('b');
    // Demand wobbles: p2 now needs 1.08 of a's 1.065 (0.5 × 2.13) — over, but within 10 %: p1 stays out, p2 stays in.
    const wobble = [agent('p1', 1.05, [['a', 20], ['b', 25]]), agent('p2', 1.08, [['a', 20], ['b', 60]])];
    const held = assignCapacity({ capacity: caps([['a', { share: 0.5 }]]), agents: wobble, previous: moved.site, hysteresisPct: 10 });
    expect(Object.fromEntries(held.site)).toEqual({ p1: 'b', p2: 'a' });
    // a's capacity grows to all demand: p1 fits again and returns.
    const back = assignCapacity({ capacity: caps([['a', { share: 1 }]]), agents: wobble, previous: held.site, hysteresisPct: 10 });
    expect(back.site.get('p1')).toBe('a');
    // Within the band from the start (first choices 5 % over capacity): nobody moves.
    const within = assignCapacity({ capacity: caps([['a', { rps: 1.95 }]]), agents: [agent('x', 1, [['a', 1], ['b', 2]]), agent('y', 1, [['a', 1], ['b', 2]])], previous: new Map(), hysteresisPct: 10 });
    expect([...within.site.values()]).toEqual(['a', 'a']);
  });

  it('recomputed every round from the same inputs, the assignment is stable (no oscillation)', () => {
    let previous = new Map<string, string>();
    const seen: string[] = [];
    for (let round = 0; round < 6; round++) {
      const r = assignCapacity({ capacity: caps([['a', { share: 0.5 }]]), agents: herd, previous, hysteresisPct: 10 });
      seen.push(JSON.stringify(Object.fromEntries(r.site)));
      previous = r.site;
    }
    expect(new Set(seen).size).toBe(1);
  });
});

describe('DemandEstimator', () => {
  it('demand = Δqueries / Δt × TTL over the window', () => {
    const d = new DemandEstimator(10_000);
    d.note(new Map([['p1', 0]]), 0);
    expect(d.demand('p1', 30)).toBe(0);
    d.note(new Map([['p1', 20]]), 5_000);
    d.note(new Map([['p1', 40], ['p2', 10]]), 10_000);
    expect(d.demand('p1', 30)).toBe(120); // 4 q/s × 30 s
    expect(d.demand('p2', 1)).toBe(1);
    d.note(new Map([['p1', 40], ['p2', 10]]), 30_000); // nothing for 20 s: the window slides
    expect(d.demand('p1', 30)).toBe(0);
  });
});

describe('RankEngine with capacity', () => {
  const svc: ServiceRecord = {
    name: 'www.example.test', ttl: 1, answers: 2, answerSet: 'ordered', policy: 'latency', // top-N: the test reads both sites
    probe: { scheme: 'http', port: 80, path: '/', expectStatus: [200], timeoutMs: 1000 },
    sites: [
      { id: 'a', address: '127.2.0.1', cost: 0, weight: 1, drained: false },
      { id: 'b', address: '127.2.0.2', cost: 0, weight: 1, drained: false },
    ],
  };
  const ranking = RankingConfigSchema.parse({});

  function feed(engine: RankEngine, nowMs: number): void {
    for (const [p, bMs] of [['p1', 25], ['p2', 60]] as const) {
      engine.add(p, svc.name, 'a', { ts: nowMs, ok: true, totalMs: 20 });
      engine.add(p, svc.name, 'b', { ts: nowMs, ok: true, totalMs: bMs });
      engine.rankAgent(p, svc.name);
    }
  }

  // Plans are coalesced (at most one per 100 ms per service, the first at once): wait for the second.
  const planned = (): Promise<void> => sleep(150);

  it('moves the cheaper POP to its next site once demand is known; first choices without capacity', async () => {
    let now = 1_000_000;
    const table = new MemoryAnswerTable();
    const planner = new CapacityPlanner(new Map([[svc.name, new Map([['a', { share: 0.5 } as SiteCapacity]])]]));
    const engine = new RankEngine({ ranking, table, event: () => undefined, capacity: planner, now: () => now });
    engine.setServices([svc]);
    expect(table.isUniform(svc.name)).toBe(false); // counted: every query is mapped to its agent
    feed(engine, now);
    await planned();
    // No demand measured yet: both keep a.
    expect(table.getAnswer(svc.name, 'p1')?.addresses).toEqual(['127.2.0.1', '127.2.0.2']);
    expect(table.getAnswer(svc.name, 'p2')?.addresses).toEqual(['127.2.0.1', '127.2.0.2']);
    // Equal demand from both POPs' clients, counted on the query path's counters.
    const counts = (table.lookupWire('\u0003www\u0007example\u0004test\u0000')?.counts) as Map<string, number>;
    expect(counts).toBeInstanceOf(Map);
    counts.set('p1', 10).set('p2', 10);
    now += 5_000;
    feed(engine, now);
    await planned();
    expect(table.getAnswer(svc.name, 'p1')?.addresses).toEqual(['127.2.0.2']);
    expect(table.getAnswer(svc.name, 'p2')?.addresses).toEqual(['127.2.0.1', '127.2.0.2']);
    expect(planner.assignment(svc.name)?.moved).toEqual([{ agent: 'p1', from: 'a', to: 'b', lossMs: 5 }]);
    expect(engine.capacityNote(svc.name, 'p1')).toBe('capacity: moved from a (load 2 without this agent, capacity 2 demand units) to b, the cheapest move (+5)');
    expect(engine.capacityNote(svc.name, 'p2')).toBeUndefined();
    expect(table.isUniform(svc.name)).toBe(false);

    const plain = new MemoryAnswerTable();
    const today = new RankEngine({ ranking, table: plain, event: () => undefined, now: () => now });
    today.setServices([svc]);
    feed(today, now);
    expect(plain.getAnswer(svc.name, 'p1')?.addresses).toEqual(['127.2.0.1', '127.2.0.2']);
    expect(plain.queryCounts(svc.name).size).toBe(0);
    engine.close();
  });

  it('1,000 agents ranked in a burst cost one plan at once and one after 100 ms, not one per agent (issue #12)', async () => {
    const now = 1_000_000;
    const table = new MemoryAnswerTable();
    const planner = new CapacityPlanner(new Map([[svc.name, new Map([['a', { share: 0.5 } as SiteCapacity]])]]));
    let plans = 0;
    const replan = planner.replan.bind(planner);
    planner.replan = (...args) => { plans++; return replan(...args); };
    const engine = new RankEngine({ ranking, table, event: () => undefined, capacity: planner, now: () => now });
    engine.setServices([svc]);
    plans = 0;
    for (let i = 0; i < 1000; i++) {
      engine.add(`p${i}`, svc.name, 'a', { ts: now, ok: true, totalMs: 20 });
      engine.add(`p${i}`, svc.name, 'b', { ts: now, ok: true, totalMs: 30 + (i % 50) });
      engine.rankAgent(`p${i}`, svc.name);
    }
    expect(plans).toBe(1);
    expect(table.getAnswer(svc.name, 'p999')?.key).not.toBe('p999'); // not planned yet
    await planned();
    expect(plans).toBe(2);
    expect(table.getAnswer(svc.name, 'p999')).toMatchObject({ key: 'p999', addresses: ['127.2.0.1', '127.2.0.2'] });
    engine.close();
  });
});

describe('assignCapacity: moves made for an old load', () => {
  it('a moved agent goes to its best site with room, not only back to its first choice', () => {
    // p1 was moved to c (90) when b had no room; a is still full, b (50) has room now.
    const agents = [agent('p1', 1, [['a', 20], ['b', 50], ['c', 90]]), agent('p2', 1, [['a', 20], ['b', 80]])];
    const r = assignCapacity({ capacity: caps([['a', { rps: 1 }]]), agents, previous: new Map([['p1', 'c'], ['p2', 'a']]), hysteresisPct: 10 });
    expect(Object.fromEntries(r.site)).toEqual({ p1: 'b', p2: 'a' });
  });
});
