// The load-feedback world kind (bench/sim/load-feedback.ts): the world keys are checked,
// a site's extra latency follows the share of POP-seconds it was sent, and each strategy
// is scored against the load its own answers caused.
import { describe, expect, it } from 'vitest';
import { parseWorld } from '../../bench/sim/world.js';
import { LoadTracker, scoreLoadFeedback } from '../../bench/sim/load-feedback.js';
import type { Sample } from '../../bench/sim/score.js';

const raw = {
  name: 'lf', durationS: 4, probeIntervalS: 2, service: 'www.example.test', kind: 'load-feedback',
  loadFeedback: { windowS: 2, msPerShare: 400 },
  pops: [
    { id: 'p1', address: '127.1.0.1', prefixes: ['198.51.100.0/25'], geo: [0, 0] },
    { id: 'p2', address: '127.1.0.2', prefixes: ['198.51.100.128/25'], geo: [0, 1] },
  ],
  sites: [
    { id: 'a', address: '127.2.0.1', geo: [0, 0], capacityShare: 0.5 },
    { id: 'b', address: '127.2.0.2', geo: [0, 1] },
  ],
  latencyMs: { p1: { a: 20, b: 60 }, p2: { a: 20, b: 50 } },
};

describe('load-feedback worlds', () => {
  it('validates the kind and its parameters', () => {
    expect(parseWorld(raw).kind).toBe('load-feedback');
    expect(() => parseWorld({ ...raw, loadFeedback: undefined })).toThrow('loadFeedback: required for kind "load-feedback"');
    expect(() => parseWorld({ ...raw, kind: 'static' })).toThrow('loadFeedback: only for kind "load-feedback"');
    expect(() => parseWorld({ ...raw, jitterPct: 95 })).toThrow(/jitterPct/);
  });

  it('extra latency = msPerShare × (share of the last windowS seconds − capacityShare)', () => {
    const t = new LoadTracker(parseWorld(raw));
    expect(t.extraMs('a')).toBe(0);
    t.record(['a', 'a']); // share 1
    expect(t.extraMs('a')).toBe(200);
    t.record(['a', 'b']); // (2 + 1) / 4 = 0.75
    expect(t.extraMs('a')).toBe(100);
    t.record(['b', 'b']); // window of 2 s: (1 + 0) / 4 = 0.25
    expect(t.extraMs('a')).toBe(0);
    expect(t.extraMs('b')).toBe(0); // no capacityShare: 1
    expect(t.peakShare()).toBe(0.75);
  });

  it('a herd pays for its own load; a split that fits does not', () => {
    const world = parseWorld(raw);
    const samples: Sample[] = [];
    for (let s = 0; s < 4; s++) {
      for (const pop of ['p1', 'p2']) {
        samples.push({ s, tS: s + 0.5, pop, answers: { vantage: pop === 'p2' ? 'b' : 'a', roundRobin: null, geo: 'a', serverSide: 'a' } });
      }
    }
    const score = scoreLoadFeedback(world, samples);
    // geo herds both onto a: from second 1 a costs 20 + 200 for both, b was the best.
    expect(score.geo).toMatchObject({ peakShare: 1, answerChanges: 0 });
    expect(score.geo.optimalShare).toBe(0.25);
    // vantage split: a stays at share 0.5, no extra; p1 optimal, p2 pays 30 ms (b 50 vs a 20).
    expect(score.vantage).toMatchObject({ optimalShare: 0.5, meanRegretMs: 15, peakShare: 0.5 });
  });
});
