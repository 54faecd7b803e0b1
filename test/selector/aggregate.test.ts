// Issue #12: the aggregate of fresh agents is kept incrementally (ranking/aggregate.ts) and
// the default answer is re-ranked once per turn when the fresh set changes. The incremental
// aggregate must equal the from-scratch computation (aggregateStats over every fresh
// agent's pruned window) after agents join, leave, send samples and let samples expire.
import { setImmediate as turn } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { RankingConfigSchema } from '../../selector/config.js';
import { MemoryAnswerTable } from '../../selector/dns/answer-table.js';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import { RankEngine } from '../../selector/ranking/engine.js';
import { aggregateStats } from '../../selector/ranking/policy.js';
import { SiteWindow, type Sample } from '../../selector/ranking/window.js';
import type { ServiceRecord } from '../../selector/store/store.js';

const NAME = 'www.example.test';
const PROBE = { scheme: 'http' as const, port: 80, path: '/', expectStatus: [200], timeoutMs: 1000 };
const SITES = 8;
const AGENTS = 1000;
const ranking = RankingConfigSchema.parse({ windowS: 60, minRounds: 3 });
const service: ServiceRecord = {
  name: NAME, ttl: 40, answers: 2, policy: 'latency', probe: PROBE,
  sites: Array.from({ length: SITES }, (_, i) => ({ id: `s${i}`, address: `127.2.0.${i + 1}`, cost: 0, weight: 1, drained: false })),
};

/** The engine plus a shadow copy of every window, for the from-scratch computation. */
function setup() {
  let clock = 10_000_000;
  const table = new MemoryAnswerTable();
  const engine = new RankEngine({ ranking, table, event: () => undefined, now: () => clock });
  engine.setServices([service]);
  const shadow = new Map<string, Map<string, SiteWindow>>(); // agent → site → window
  const fresh = new Set<string>();
  const feed = (agent: string, site: string, sample: Sample): void => {
    engine.add(agent, NAME, site, sample, 4);
    let bySite = shadow.get(agent);
    if (!bySite) shadow.set(agent, (bySite = new Map()));
    let w = bySite.get(site);
    if (!w) bySite.set(site, (w = new SiteWindow(ranking)));
    w.add(sample);
  };
  const fromScratch = (site: string) => {
    const per = [];
    for (const a of fresh) {
      const w = shadow.get(a)?.get(site);
      if (!w || w.size === 0) continue;
      w.prune(clock);
      per.push(w.stats());
    }
    return per.length ? aggregateStats(per) : undefined;
  };
  const check = (): void => {
    for (const s of service.sites) {
      // JSON: the same fields in the same order (explain prints them).
      expect(JSON.stringify(engine.aggregateOf(NAME, s.id, 4))).toBe(JSON.stringify(fromScratch(s.id)));
    }
  };
  return { engine, table, feed, fresh, check, tick: (ms: number) => { clock += ms; }, now: () => clock };
}

/** Deterministic pseudo-random samples: latencies spread per agent, some failures and outages. */
function sampleOf(agent: number, site: number, round: number, ts: number): Sample {
  const fail = (agent * 7 + site * 3 + round) % 11 === 0 || (agent % 50 === site && round % 6 < 4);
  return { ts, ok: !fail, totalMs: fail ? null : 20 + ((agent * 13 + site * 31 + round * 7) % 180) };
}

describe('incremental aggregate of fresh agents (issue #12)', () => {
  it('after 1,000 agents join one by one it equals the from-scratch computation, also as samples arrive, agents leave and samples expire', async () => {
    const t = setup();
    // Round 0: each agent sends its first samples and becomes fresh at once (as ingest does).
    for (let a = 0; a < AGENTS; a++) {
      for (let s = 0; s < SITES; s++) t.feed(`pop-${a}`, `s${s}`, sampleOf(a, s, 0, t.now()));
      t.fresh.add(`pop-${a}`);
      t.engine.setFresh(new Set(t.fresh));
      if (a % 97 === 0) t.check();
    }
    t.check();
    // More rounds, 10 s apart: windows fill past minRounds, so old samples start to expire.
    for (let round = 1; round < 12; round++) {
      t.tick(10_000);
      for (let a = 0; a < AGENTS; a++) {
        // Some agents skip rounds; their samples expire on their own (the heap), not by a new sample.
        if (a % 5 === round % 5) continue;
        for (let s = 0; s < SITES; s++) t.feed(`pop-${a}`, `s${s}`, sampleOf(a, s, round, t.now() - (a % 9) * 100));
      }
      // A few agents leave the fresh set and come back.
      for (let a = round; a < AGENTS; a += 37) t.fresh.delete(`pop-${a}`);
      if (round % 3 === 0) for (let a = round - 1; a < AGENTS; a += 41) t.fresh.add(`pop-${a}`);
      t.engine.setFresh(new Set(t.fresh));
      t.check();
      t.tick(4_000);
      t.check();
    }
    // Nobody sends for longer than the window: every window shrinks to minRounds.
    t.tick(120_000);
    t.check();
    // A removed agent leaves the aggregate.
    t.engine.forgetAgent('pop-3');
    t.fresh.delete('pop-3');
    t.check();
    // Nobody fresh: no aggregate at all.
    t.fresh.clear();
    t.engine.setFresh(new Set());
    t.check();
    expect(t.engine.aggregateOf(NAME, 's0', 4)).toBeUndefined();
    await turn();
    t.engine.close();
  });

  it('1,000 agents joining in one turn re-rank the default answer twice: at the first change and at the end of the turn', async () => {
    const t = setup();
    for (let a = 0; a < AGENTS; a++) for (let s = 0; s < SITES; s++) t.feed(`pop-${a}`, `s${s}`, sampleOf(a, s, 0, t.now()));
    const before = t.engine.recomputations;
    for (let a = 0; a < AGENTS; a++) {
      t.fresh.add(`pop-${a}`);
      t.engine.setFresh(new Set(t.fresh));
    }
    expect(t.engine.recomputations).toBe(before + 1); // one family (IPv4), one service
    await turn();
    expect(t.engine.recomputations).toBe(before + 2);
    const ranking = t.engine.explain(NAME, DEFAULT_KEY);
    // The default answer ranks the aggregate as its own view.
    expect(t.engine.answerOf(NAME, DEFAULT_KEY)?.byFamily.get(4)?.source).toBe('own');
    expect(ranking?.order.length).toBeGreaterThan(0);
    expect(t.table.getAnswer(NAME, DEFAULT_KEY)?.addresses.length).toBeGreaterThan(0);
    t.engine.close();
  });
});
