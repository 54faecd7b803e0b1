// RankEngine → MemoryAnswerTable: the state-aware TTL (short while the answer is
// unsettled, DESIGN.md "DNS behaviour") and per-family answer sets (DESIGN.md
// "Ranking", families: never NODATA for a family some site has).
import { describe, expect, it } from 'vitest';
import { RankingConfigSchema } from '../../selector/config.js';
import { MemoryAnswerTable } from '../../selector/dns/answer-table.js';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import { RankEngine } from '../../selector/ranking/engine.js';
import type { ServiceRecord, SiteRecord } from '../../selector/store/store.js';

const NAME = 'www.example.test';
const PROBE = { scheme: 'http' as const, port: 80, path: '/', expectStatus: [200], timeoutMs: 1000 };

function svc(sites: Partial<SiteRecord>[], extra: Partial<ServiceRecord> = {}): ServiceRecord {
  return {
    name: NAME, ttl: 40, answers: 2, policy: 'latency', probe: PROBE,
    sites: sites.map((s) => ({ id: 'x', address: '127.2.0.1', cost: 0, weight: 1, drained: false, ...s })), ...extra,
  };
}

function setup(service: ServiceRecord) {
  let clock = 1_000_000;
  const table = new MemoryAnswerTable();
  const events: { kind: string; detail?: unknown }[] = [];
  const engine = new RankEngine({ ranking: RankingConfigSchema.parse({ windowS: 60 }), table, event: (e) => events.push(e), now: () => clock });
  engine.setServices([service]);
  const feed = (agent: string, site: string, totalMs: number | null, family?: 4 | 6): void => {
    engine.add(agent, NAME, site, { ts: clock, ok: totalMs !== null, totalMs }, family);
  };
  return { table, engine, events, feed, tick: (ms: number) => { clock += ms; } };
}

describe('state-aware TTL', () => {
  const service = svc([{ id: 'a', address: '127.2.0.1' }, { id: 'b', address: '127.2.0.2' }]);

  it('first answer settled; a change of first choice shortens the TTL for one window; then back to ttl', () => {
    const t = setup(service);
    for (let i = 0; i < 3; i++) { t.feed('pop', 'a', 10); t.feed('pop', 'b', 90); t.tick(1000); }
    t.engine.rankAgent('pop', NAME);
    expect(t.table.getAnswer(NAME, 'pop')).toEqual({ key: 'pop', addresses: ['127.2.0.1'], ttl: 40 });
    // a slows down far beyond the band: b becomes first → unsettled, ttl/4 = 10.
    for (let i = 0; i < 5; i++) { t.feed('pop', 'a', 300); t.feed('pop', 'b', 90); t.tick(1000); }
    t.tick(70_000); // the old fast samples leave the 60 s window (minRounds kept)
    t.feed('pop', 'a', 300); t.feed('pop', 'b', 90);
    t.engine.rankAgent('pop', NAME);
    expect(t.table.getAnswer(NAME, 'pop')).toEqual({ key: 'pop', addresses: ['127.2.0.2'], ttl: 10 });
    expect(t.engine.answerOf(NAME, 'pop')?.unsettled).toMatch(/answer set changed 0 s ago/);
    t.tick(30_000);
    t.engine.rankAgent('pop', NAME);
    expect(t.table.getAnswer(NAME, 'pop')?.ttl).toBe(10);
    t.tick(31_000);
    t.engine.rankAgent('pop', NAME);
    expect(t.table.getAnswer(NAME, 'pop')).toEqual({ key: 'pop', addresses: ['127.2.0.2'], ttl: 40 });
    expect(t.engine.answerOf(NAME, 'pop')?.unsettled).toBeNull();
  });

  it('a site in the set that changed state keeps the answer unsettled; ttlUnsettled is honoured', () => {
    const t = setup({ ...service, ttlUnsettled: 7 });
    for (let i = 0; i < 3; i++) { t.feed('pop', 'a', 10); t.feed('pop', 'b', 12); t.tick(1000); }
    t.engine.rankAgent('pop', NAME);
    expect(t.table.getAnswer(NAME, 'pop')).toMatchObject({ addresses: ['127.2.0.1', '127.2.0.2'], ttl: 40 });
    // b goes down: it leaves the set (and changed state) → the configured ttlUnsettled.
    t.feed('pop', 'b', null); t.tick(1000); t.feed('pop', 'b', null); t.tick(1000);
    t.engine.rankAgent('pop', NAME);
    expect(t.table.getAnswer(NAME, 'pop')).toMatchObject({ addresses: ['127.2.0.1'], ttl: 7 });
    t.tick(61_000);
    t.feed('pop', 'b', 12); t.feed('pop', 'b', 12); t.feed('pop', 'a', 10);
    t.engine.rankAgent('pop', NAME);
    // Back in the set just now: unsettled again.
    expect(t.table.getAnswer(NAME, 'pop')).toMatchObject({ addresses: ['127.2.0.1', '127.2.0.2'], ttl: 7 });
  });

  it('a catalogue change keeps the previous ranking: draining a site in the set unsettles the answer', () => {
    const t = setup(service);
    for (let i = 0; i < 3; i++) { t.feed('pop', 'a', 10); t.feed('pop', 'b', 12); t.tick(1000); }
    t.engine.rankAgent('pop', NAME);
    expect(t.table.getAnswer(NAME, 'pop')).toMatchObject({ addresses: ['127.2.0.1', '127.2.0.2'], ttl: 40 });
    t.engine.setServices([{ ...service, sites: service.sites.map((s) => ({ ...s, drained: s.id === 'b' })) }]);
    expect(t.table.getAnswer(NAME, 'pop')).toMatchObject({ addresses: ['127.2.0.1'], ttl: 10 });
  });

  it('fail-open answers are unsettled', () => {
    const t = setup(service);
    for (let i = 0; i < 2; i++) { t.feed('pop', 'a', null); t.feed('pop', 'b', null); t.tick(1000); }
    t.engine.rankAgent('pop', NAME);
    expect(t.table.getAnswer(NAME, 'pop')).toMatchObject({ addresses: ['127.2.0.1', '127.2.0.2'], ttl: 10 });
    expect(t.engine.answerOf(NAME, 'pop')?.unsettled).toMatch(/fail-open/);
  });
});

describe('per-family answer sets', () => {
  it('two IPv6 sites and one IPv4 site, answers 2: A gets the IPv4 site, AAAA the two IPv6 sites (regression: A was NODATA)', () => {
    const t = setup(svc([{ id: 'v6a', address: '2001:db8::1' }, { id: 'v6b', address: '2001:db8::2' }, { id: 'v4', address: '127.2.0.3' }], { answerSet: 'ordered' }));
    for (let i = 0; i < 3; i++) { t.feed('pop', 'v6a', 10); t.feed('pop', 'v6b', 20); t.feed('pop', 'v4', 30); t.tick(1000); }
    t.engine.rankAgent('pop', NAME);
    expect(t.table.getAnswer(NAME, 'pop')?.addresses).toEqual(['127.2.0.3', '2001:db8::1', '2001:db8::2']);
    // The default key (no fresh agents yet) too: configured order per family.
    expect(t.table.getAnswer(NAME, DEFAULT_KEY)?.addresses).toEqual(['127.2.0.3', '2001:db8::1', '2001:db8::2']);
  });

  it('a dual-stack site is ranked per family: first for A, not for AAAA when its IPv6 path is slow', () => {
    const t = setup(svc([
      { id: 'dual', address: '127.2.0.1', addresses: ['127.2.0.1', '2001:db8::1'] },
      { id: 'other', address: '127.2.0.2', addresses: ['127.2.0.2', '2001:db8::2'] },
    ]));
    for (let i = 0; i < 3; i++) {
      t.feed('pop', 'dual', 10, 4); t.feed('pop', 'dual', 200, 6);
      t.feed('pop', 'other', 50, 4); t.feed('pop', 'other', 40, 6);
      t.tick(1000);
    }
    t.engine.rankAgent('pop', NAME);
    expect(t.table.getAnswer(NAME, 'pop')?.addresses).toEqual(['127.2.0.1', '2001:db8::2']);
    expect(t.engine.explain(NAME, 'pop', 4)?.order).toEqual(['dual']);
    expect(t.engine.explain(NAME, 'pop', 6)?.order).toEqual(['other']);
    expect(t.engine.answerOf(NAME, 'pop')?.byFamily.get(6)?.source).toBe('own');
  });

  it('a family this agent has not measured borrows its other family, then the aggregate', () => {
    const t = setup(svc([
      { id: 'a', address: '127.2.0.1', addresses: ['127.2.0.1', '2001:db8::1'] },
      { id: 'b', address: '127.2.0.2', addresses: ['127.2.0.2', '2001:db8::2'] },
      { id: 'c', address: '127.2.0.3' },
    ]));
    // pop-v4 measures IPv4 only: b is clearly best, and AAAA follows its IPv4 order.
    for (let i = 0; i < 3; i++) { t.feed('pop-v4', 'a', 90, 4); t.feed('pop-v4', 'b', 10, 4); t.feed('pop-v4', 'c', 95, 4); t.tick(1000); }
    t.engine.rankAgent('pop-v4', NAME);
    expect(t.table.getAnswer(NAME, 'pop-v4')?.addresses).toEqual(['127.2.0.2', '2001:db8::2']);
    expect(t.engine.answerOf(NAME, 'pop-v4')?.byFamily.get(6)?.source).toBe('other-family');
    // pop-c measured only the IPv4-only site c: for AAAA (a, b) it has nothing in either
    // family, so the aggregate of fresh agents (pop-v4, where b wins) decides.
    t.engine.setFresh(new Set(['pop-v4']));
    for (let i = 0; i < 3; i++) { t.feed('pop-c', 'c', 5, 4); t.tick(1000); }
    t.engine.rankAgent('pop-c', NAME);
    const c = t.engine.answerOf(NAME, 'pop-c');
    expect(c?.byFamily.get(6)?.source).toBe('aggregate-other-family');
    expect(c?.byFamily.get(4)?.source).toBe('own');
    expect(t.table.getAnswer(NAME, 'pop-c')?.addresses).toEqual(['127.2.0.3', '2001:db8::2']);
  });
});
