// Table tests for the pure ranking (selector/ranking.ts) and the window state machine.
import { describe, expect, it } from 'vitest';
import { aggregateStats, rankSites, type RankInput, type RankSite } from '../../selector/ranking/policy.js';
import { SiteWindow, type SiteStats } from '../../selector/ranking/window.js';
import type { Policy } from '../../selector/config.js';

const R = { failurePenalty: 4, hysteresisPct: 10, hysteresisMs: 5 };
const limits = { windowS: 300, minRounds: 3, downAfter: 2, upAfter: 2 };

function st(medianMs: number | null, opts: Partial<SiteStats> = {}): SiteStats {
  return { samples: 10, failures: 0, medianMs, down: false, streak: 10, newestTs: 1, ...opts };
}
function site(id: string, stats?: SiteStats, extra: Partial<RankSite> = {}): RankSite {
  return { id, address: `127.2.0.${id.charCodeAt(0) - 96}`, cost: 0, weight: 1, drained: false, stats, ...extra };
}
/** The ranked order (answerSet: ordered); the band rule has its own tests in answer-set.test.ts. */
function rank(policy: Policy, sites: RankSite[], extra: Partial<RankInput> = {}): string[] {
  return rankSites({ policy, sites, answers: 10, answerSet: 'ordered', ranking: R, ...extra }).order;
}

describe('window state machine', () => {
  const cases: { name: string; seq: boolean[]; down: boolean; streak: number }[] = [
    { name: 'one failure stays up', seq: [true, true, false], down: false, streak: -1 },
    { name: 'two failures go down', seq: [true, false, false], down: true, streak: -2 },
    { name: 'one success after down stays down', seq: [false, false, true], down: true, streak: 1 },
    { name: 'two successes after down come up', seq: [false, false, true, true], down: false, streak: 2 },
    { name: 'intermittent never trips', seq: [false, true, false, true, false], down: false, streak: -1 },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const w = new SiteWindow(limits);
      c.seq.forEach((ok, i) => w.add({ ts: 1000 + i * 1000, ok, totalMs: ok ? 10 : null }));
      expect(w.stats().down).toBe(c.down);
      expect(w.stats().streak).toBe(c.streak);
    });
  }
  it('drops samples older than windowS but keeps minRounds', () => {
    const w = new SiteWindow({ ...limits, windowS: 10 });
    for (let i = 0; i < 20; i++) w.add({ ts: i * 1000, ok: true, totalMs: i });
    expect(w.size).toBe(11); // ts 9000..19000 (cutoff 9000 kept)
    w.prune(1_000_000);
    expect(w.size).toBe(3);
    expect(w.stats().medianMs).toBe(18);
  });
  it('forgives the outage a site recovered from, not intermittent failures', () => {
    const w = new SiteWindow(limits);
    [10, null, null, 12, 11].forEach((t, i) => w.add({ ts: i * 1000, ok: t !== null, totalMs: t }));
    expect(w.stats()).toMatchObject({ samples: 5, failures: 0, down: false, medianMs: 11 });
    // A later intermittent failure counts again.
    w.add({ ts: 5000, ok: false, totalMs: null });
    expect(w.stats()).toMatchObject({ samples: 6, failures: 1, down: false });
    // Still down (one success only): the outage still counts.
    const d = new SiteWindow(limits);
    [10, null, null, 12].forEach((t, i) => d.add({ ts: i * 1000, ok: t !== null, totalMs: t }));
    expect(d.stats()).toMatchObject({ failures: 2, down: true });
  });
  it('median of successes only, failures counted', () => {
    const w = new SiteWindow(limits);
    [10, 30, null, 20].forEach((t, i) => w.add({ ts: i, ok: t !== null, totalMs: t }));
    expect(w.stats()).toMatchObject({ samples: 4, failures: 1, medianMs: 20 });
  });
});

describe('policies', () => {
  const cases: { name: string; policy: Policy; sites: RankSite[]; want: string[] }[] = [
    { name: 'latency: lower median first', policy: 'latency', sites: [site('a', st(50)), site('b', st(20)), site('c', st(30))], want: ['b', 'c', 'a'] },
    { name: 'latency: failure penalty (20×(1+4×0.5)=60 > 50)', policy: 'latency', sites: [site('a', st(50)), site('b', st(20, { failures: 5 }))], want: ['a', 'b'] },
    { name: 'latency: small failure share keeps the fast site (20×1.4=28)', policy: 'latency', sites: [site('a', st(50)), site('b', st(20, { failures: 1 }))], want: ['b', 'a'] },
    { name: 'availability: failure share first', policy: 'availability', sites: [site('a', st(50)), site('b', st(20, { failures: 1 }))], want: ['a', 'b'] },
    { name: 'availability: equal shares → latency', policy: 'availability', sites: [site('a', st(50)), site('b', st(20))], want: ['b', 'a'] },
    { name: 'cost: cost first', policy: 'cost', sites: [site('a', st(50), { cost: 1 }), site('b', st(20), { cost: 2 })], want: ['a', 'b'] },
    { name: 'cost: equal cost → latency', policy: 'cost', sites: [site('a', st(50), { cost: 1 }), site('b', st(20), { cost: 1 })], want: ['b', 'a'] },
    { name: 'weighted: latency × weight', policy: 'weighted', sites: [site('a', st(50), { weight: 1 }), site('b', st(20), { weight: 3 })], want: ['a', 'b'] },
    { name: 'weighted: latency × (1 + penalty) × weight (20×1.4×1.5=42 < 50)', policy: 'weighted', sites: [site('a', st(50), { weight: 1 }), site('b', st(20, { failures: 1 }), { weight: 1.5 })], want: ['b', 'a'] },
    { name: 'down sites left out', policy: 'latency', sites: [site('a', st(50)), site('b', st(20, { down: true }))], want: ['a'] },
    { name: 'drained sites excluded', policy: 'latency', sites: [site('a', st(50)), site('b', st(20), { drained: true })], want: ['a'] },
    { name: 'no-data sites after measured, configured order', policy: 'latency', sites: [site('a'), site('b', st(50)), site('c'), site('d', st(10))], want: ['d', 'b', 'a', 'c'] },
    { name: 'all down → fail-open in configured order, drained still out', policy: 'latency', sites: [site('a', st(50, { down: true })), site('b', st(5, { down: true })), site('c', st(1), { drained: true })], want: ['a', 'b'] },
    { name: 'equal scores keep configured order', policy: 'latency', sites: [site('a', st(20)), site('b', st(20))], want: ['a', 'b'] },
    { name: 'up site without successes sorts after measured ones', policy: 'latency', sites: [site('a', st(null, { failures: 1, samples: 1 })), site('b', st(90))], want: ['b', 'a'] },
  ];
  for (const c of cases) it(c.name, () => expect(rank(c.policy, c.sites)).toEqual(c.want));

  it('fail-open is flagged and explained', () => {
    const r = rankSites({ policy: 'latency', sites: [site('a', st(50, { down: true }))], answers: 2, ranking: R });
    expect(r.failOpen).toBe(true);
    expect(r.explanation.note).toMatch(/fail-open/);
    expect(r.explanation.sites[0]).toMatchObject({ state: 'down' });
  });
  it('answers caps the count; full keeps the rest', () => {
    const r = rankSites({ policy: 'latency', sites: [site('a', st(3)), site('b', st(2)), site('c', st(1))], answers: 2, ranking: R });
    expect(r.order).toEqual(['c', 'b']);
    expect(r.addresses).toEqual(['127.2.0.3', '127.2.0.2']);
    expect(r.full).toEqual(['c', 'b', 'a']);
  });
  it('explanation shows the arithmetic', () => {
    const r = rankSites({ policy: 'latency', sites: [site('a', st(20, { failures: 5 }))], answers: 2, ranking: R });
    expect(r.explanation.sites[0]?.score).toBe(60);
    expect(r.explanation.sites[0]?.formula).toBe('median 20 ms × (1 + 4 × 0.5 failure share) = 60');
  });
});

describe('hysteresis', () => {
  const cases: { name: string; inc: number; chal: number; want: string; decision: 'hold' | 'switch' }[] = [
    { name: 'holds when better by less than 10 %', inc: 100, chal: 91, want: 'a', decision: 'hold' },
    { name: 'holds when > 10 % but not > 5 ms', inc: 20, chal: 16, want: 'a', decision: 'hold' },
    { name: 'releases when > 10 % and > 5 ms', inc: 100, chal: 89, want: 'b', decision: 'switch' },
    { name: 'exactly 10 % holds (strictly more needed)', inc: 100, chal: 90, want: 'a', decision: 'hold' },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const r = rankSites({ policy: 'latency', sites: [site('a', st(c.inc)), site('b', st(c.chal))], answers: 2, ranking: R, previousFirst: 'a' });
      expect(r.order[0]).toBe(c.want);
      expect(r.explanation.hysteresis?.decision).toBe(c.decision);
    });
  }
  it('does not hold a down incumbent', () => {
    expect(rank('latency', [site('a', st(100, { down: true })), site('b', st(99))], { previousFirst: 'a' })).toEqual(['b']);
  });
  it('cost policy: a cheaper challenger wins at once', () => {
    expect(rank('cost', [site('a', st(10), { cost: 2 }), site('b', st(100), { cost: 1 })], { previousFirst: 'a' })[0]).toBe('b');
  });
  it('configurable thresholds', () => {
    const r = rankSites({ policy: 'latency', sites: [site('a', st(100)), site('b', st(95))], answers: 2, previousFirst: 'a', ranking: { ...R, hysteresisPct: 1, hysteresisMs: 1 } });
    expect(r.order[0]).toBe('b');
  });
});

describe('aggregate', () => {
  it('median of medians; down only for a majority', () => {
    const agg = aggregateStats([st(10), st(30, { down: true }), st(20)]);
    expect(agg).toMatchObject({ medianMs: 20, down: false, samples: 30 });
    expect(aggregateStats([st(10, { down: true }), st(30, { down: true }), st(20)])?.down).toBe(true);
    expect(aggregateStats([st(10, { down: true }), st(30)])?.down).toBe(false);
    expect(aggregateStats([])).toBeUndefined();
  });
  it('median failure share', () => {
    expect(aggregateStats([st(10, { failures: 1 }), st(10, { failures: 5 }), st(10, { failures: 3 })])?.failureShare).toBe(0.3);
  });
});
