// The answer-set rule (selector/ranking/answer-set.ts) through rankSites: a clearly
// best site is answered alone; sites as good within the hysteresis band join it;
// `answerSet: ordered` keeps plain top-N. Every site gets a reason for `explain`.
import { describe, expect, it } from 'vitest';
import { rankSites, type RankInput, type RankSite } from '../../selector/ranking/policy.js';
import type { SiteStats } from '../../selector/ranking/window.js';

const R = { failurePenalty: 4, hysteresisPct: 10, hysteresisMs: 5 };

function st(medianMs: number | null, opts: Partial<SiteStats> = {}): SiteStats {
  return { samples: 10, failures: 0, medianMs, down: false, streak: 10, newestTs: 1, ...opts };
}
function site(id: string, stats?: SiteStats, extra: Partial<RankSite> = {}): RankSite {
  return { id, address: `127.2.0.${id.charCodeAt(0) - 96}`, cost: 0, weight: 1, drained: false, stats, ...extra };
}
function rank(sites: RankSite[], extra: Partial<RankInput> = {}) {
  return rankSites({ policy: 'latency', sites, answers: 2, ranking: R, ...extra });
}

describe('answer set (band, the default)', () => {
  const cases: { name: string; sites: RankSite[]; extra?: Partial<RankInput>; want: string[] }[] = [
    { name: 'a clearly best site is answered alone', sites: [site('a', st(12)), site('b', st(90)), site('c', st(200))], want: ['a'] },
    { name: 'a site within 10 % joins the best', sites: [site('a', st(100)), site('b', st(109)), site('c', st(200))], want: ['a', 'b'] },
    { name: 'within 5 ms joins even when more than 10 % worse', sites: [site('a', st(10)), site('b', st(14)), site('c', st(16))], want: ['a', 'b'] },
    { name: 'more than 10 % and more than 5 ms worse stays out', sites: [site('a', st(100)), site('b', st(111))], want: ['a'] },
    { name: 'capped at answers', sites: [site('a', st(10)), site('b', st(11)), site('c', st(12))], want: ['a', 'b'] },
    { name: 'answers: 3 lets three equals in', sites: [site('a', st(10)), site('b', st(11)), site('c', st(12))], extra: { answers: 3 }, want: ['a', 'b', 'c'] },
    { name: 'an incumbent held by hysteresis and its challenger are both in', sites: [site('a', st(100)), site('b', st(95))], extra: { previousFirst: 'a' }, want: ['a', 'b'] },
    { name: 'no-data sites stay out while some site is measured', sites: [site('a'), site('b', st(50))], want: ['b'] },
    { name: 'no data anywhere: configured order up to answers', sites: [site('a'), site('b'), site('c')], want: ['a', 'b'] },
    { name: 'all down: fail-open up to answers', sites: [site('a', st(5, { down: true })), site('b', st(9, { down: true }))], want: ['a', 'b'] },
    { name: 'availability: a higher failure share stays out', sites: [site('a', st(50)), site('b', st(20, { failures: 1 }))], extra: { policy: 'availability' }, want: ['a'] },
    { name: 'cost: a dearer site stays out however fast', sites: [site('a', st(50), { cost: 1 }), site('b', st(20), { cost: 2 })], extra: { policy: 'cost' }, want: ['a'] },
  ];
  for (const c of cases) it(c.name, () => expect(rank(c.sites, c.extra).order).toEqual(c.want));

  it('ordered keeps plain top-N', () => {
    expect(rank([site('a', st(12)), site('b', st(90)), site('c', st(200))], { answerSet: 'ordered' }).order).toEqual(['a', 'b']);
  });

  it('explains why each site is in the set or not', () => {
    const r = rank([site('a', st(12)), site('b', st(90)), site('c', st(13)), site('d', st(5, { down: true, streak: -2 })), site('e', st(1), { drained: true }), site('f')]);
    expect(r.order).toEqual(['a', 'c']);
    const why = Object.fromEntries(r.explanation.answerSet.sites.map((d) => [d.id, d]));
    expect(r.explanation.answerSet.mode).toBe('band');
    expect(why.a).toMatchObject({ inSet: true, reason: 'first choice' });
    expect(why.c?.inSet).toBe(true);
    expect(why.c?.reason).toMatch(/^within the band: score 13, \+1 \(\+8\.333 %\) vs the first/);
    expect(why.b?.inSet).toBe(false);
    expect(why.b?.reason).toMatch(/^outside the band: score 90, \+78 \(\+650 %\)/);
    expect(why.d).toMatchObject({ inSet: false, reason: 'down (2 failures in a row)' });
    expect(why.e).toMatchObject({ inSet: false, reason: 'drained' });
    expect(why.f?.reason).toMatch(/no data/);
  });

  it('a band member beyond the cap says so', () => {
    const r = rank([site('a', st(10)), site('b', st(11)), site('c', st(12))]);
    const c = r.explanation.answerSet.sites.find((d) => d.id === 'c');
    expect(c).toMatchObject({ inSet: false });
    expect(c?.reason).toMatch(/^beyond answers \(2\): within the band/);
  });
});
