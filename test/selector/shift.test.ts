// The latency change-point detector (shared/shift.ts) and its use by the ranking
// window (selector/ranking/window.ts): a noisy path never triggers it, a real shift
// triggers it once, and a confirmed shift replaces the window's median at once.
import { describe, expect, it } from 'vitest';
import { ShiftDetector, SHIFT_DEFAULTS } from '../../shared/shift.js';
import { SiteWindow } from '../../selector/ranking/window.js';

/** Deterministic uniform noise in [-1, 1) (mulberry32), so failures reproduce. */
function noise(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), a | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1;
  };
}

describe('ShiftDetector', () => {
  it('±30 % jitter on a 100 ms path never triggers it (10 seeds × 2,000 samples)', () => {
    for (let seed = 1; seed <= 10; seed++) {
      const rnd = noise(seed);
      const d = new ShiftDetector();
      let shifts = 0;
      for (let i = 0; i < 2000; i++) if (d.observe(100 * (1 + 0.3 * rnd()), i) === 'shift') shifts++;
      expect(shifts, `seed ${seed}`).toBe(0);
    }
  });

  it('a quiet path with lone blips (+60 ms) never confirms; blips once seen count as its noise', () => {
    const d = new ShiftDetector();
    const verdicts = Array.from({ length: 200 }, (_, i) => d.observe(i % 16 === 15 ? 95 : 35 + (i % 3), i));
    expect(verdicts).not.toContain('shift');
    expect(verdicts[15]).toBe('suspect'); // the first blip is an outlier …
    expect(verdicts[16]).toBe('normal'); // … not confirmed by the next sample
  });

  it('a real shift (+60 ms on a 40 ms path) triggers once, then the new level is normal', () => {
    const rnd = noise(7);
    const d = new ShiftDetector();
    const verdicts: string[] = [];
    for (let i = 0; i < 40; i++) verdicts.push(d.observe(40 + 2 * rnd(), i));
    for (let i = 40; i < 80; i++) verdicts.push(d.observe(100 + 2 * rnd(), i));
    expect(verdicts.filter((v) => v === 'shift')).toHaveLength(1);
    expect(verdicts.indexOf('suspect')).toBe(40);
    expect(verdicts.indexOf('shift')).toBe(41);
    expect(d.lastShiftTs).toBe(40);
    expect(d.shifts).toBe(1);
  });

  it('a shift down (a path recovering) triggers too', () => {
    const d = new ShiftDetector();
    for (let i = 0; i < 10; i++) d.observe(200, i);
    expect(d.observe(60, 10)).toBe('suspect');
    expect(d.observe(61, 11)).toBe('shift');
  });

  it('a blip followed by an unrelated slow sample is not a shift (not the same new level)', () => {
    const d = new ShiftDetector();
    for (let i = 0; i < 10; i++) d.observe(18, i);
    expect(d.observe(78, 10)).toBe('suspect'); // +60 ms blip
    expect(d.observe(45, 11)).toBe('suspect'); // a stalled timer: an outlier, but 33 ms from the blip
    expect(d.observe(18, 12)).toBe('normal');
    expect(d.shifts).toBe(0);
  });

  it('two outliers in opposite directions do not confirm each other', () => {
    const d = new ShiftDetector();
    for (let i = 0; i < 10; i++) d.observe(100, i);
    expect(d.observe(200, 10)).toBe('suspect');
    expect(d.observe(20, 11)).toBe('suspect');
    expect(d.observe(100, 12)).toBe('normal');
  });

  it('says nothing before minHistory samples, and the band has a floor', () => {
    const d = new ShiftDetector();
    for (let i = 0; i < SHIFT_DEFAULTS.minHistory - 1; i++) expect(d.observe(i === 0 ? 10 : 500, i)).toBe('normal');
    const q = new ShiftDetector();
    for (let i = 0; i < 10; i++) q.observe(20, i);
    expect(q.band()).toEqual({ medianMs: 20, madMs: 0, sdMs: 0, bandMs: SHIFT_DEFAULTS.floorMs });
    expect(q.outlier(20 + SHIFT_DEFAULTS.floorMs)).toBe(0);
    expect(q.outlier(21 + SHIFT_DEFAULTS.floorMs)).toBe(1);
  });
});

describe('SiteWindow change-point', () => {
  const limits = { windowS: 300, minRounds: 3, downAfter: 2, upAfter: 2 };

  it('a confirmed shift replaces the median at once', () => {
    const w = new SiteWindow(limits);
    for (let i = 0; i < 20; i++) w.add({ ts: i * 1000, ok: true, totalMs: 40 });
    w.add({ ts: 20_000, ok: true, totalMs: 150 });
    expect(w.stats().medianMs).toBe(40); // one outlier: a suspect, not yet a shift
    w.add({ ts: 20_000, ok: true, totalMs: 152 }); // the agent's confirmation, same round
    expect(w.stats()).toMatchObject({ medianMs: 151, shiftTs: 20_000, samples: 22 });
  });

  it('a lone outlier leaves the median where it was', () => {
    const w = new SiteWindow(limits);
    for (let i = 0; i < 20; i++) w.add({ ts: i * 1000, ok: true, totalMs: 40 });
    w.add({ ts: 20_000, ok: true, totalMs: 150 });
    w.add({ ts: 21_000, ok: true, totalMs: 41 });
    expect(w.stats().medianMs).toBe(40);
    expect(w.stats().shiftTs).toBeUndefined();
  });

  it('failures between do not break the confirmation, and still count', () => {
    const w = new SiteWindow(limits);
    for (let i = 0; i < 10; i++) w.add({ ts: i * 1000, ok: true, totalMs: 40 });
    w.add({ ts: 10_000, ok: true, totalMs: 150 });
    w.add({ ts: 11_000, ok: false, totalMs: null });
    w.add({ ts: 12_000, ok: true, totalMs: 149 });
    expect(w.stats()).toMatchObject({ medianMs: 149.5, failures: 1 });
  });
});
