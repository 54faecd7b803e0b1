// Latency change-point detection for one path (one agent → one site), used on both
// sides: the agent decides whether a probe deserves an immediate confirmation probe,
// the selector decides whether a confirmed shift replaces the window's median at once
// (issue #10 §2). The test is relative to the path's own noise: a sample is an
// outlier only beyond median ± max(k × MAD, floorMs, floorPct % of the median) of the
// path's recent successful samples, so jitter well inside the spread never triggers.
// The spread is the larger of 1.4826 × MAD and the standard deviation of the history
// without its extremes: MAD alone, from a couple of dozen samples, is too often a fraction
// of the true spread (a band too narrow for two samples in a row); the plain SD would let
// one cold-start probe widen the band for the whole history.
// A shift is confirmed by the next sample being an outlier in the same direction, at
// about the same level; a lone outlier (a blip) joins the history as part of the noise.

export interface ShiftOptions {
  /** Successful samples kept as the path's noise reference. */
  historySize: number;
  /** No verdict other than 'normal' before this many samples (the spread is unknown). */
  minHistory: number;
  /** Outlier when beyond k × spread from the median (spread = max(1.4826 × MAD, trimmed SD)). */
  k: number;
  /** The band is never narrower than this many ms … */
  floorMs: number;
  /** … nor than this share of the median, in % (a quiet path still has timer noise). */
  floorPct: number;
}

export const SHIFT_DEFAULTS: Readonly<ShiftOptions> = Object.freeze({ historySize: 24, minHistory: 6, k: 4, floorMs: 15, floorPct: 10 });

export type ShiftVerdict = 'normal' | 'suspect' | 'shift';

export interface Band {
  medianMs: number;
  madMs: number;
  sdMs: number;
  /** Half-width of the normal band around the median. */
  bandMs: number;
}

function medianOf(sorted: ArrayLike<number>): number {
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? (sorted[mid] as number) : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export class ShiftDetector {
  private history: number[] = [];
  private pending: { ms: number; ts: number; dir: 1 | -1 } | undefined;
  /** band() of the current history (cleared when the history changes). */
  private cached: Band | undefined;
  private sinceBand = 0;
  /** ts of the first sample of the last confirmed shift (0 = none yet). */
  lastShiftTs = 0;
  /** Confirmed shifts since creation (for explain and tests). */
  shifts = 0;

  constructor(private readonly opts: ShiftOptions = SHIFT_DEFAULTS) {}

  /** The path's current normal band; undefined until minHistory samples were seen. */
  band(): Band | undefined {
    if (this.history.length < this.opts.minHistory) return undefined;
    if (this.cached) return this.cached;
    // Runs for every successful result the selector ingests: typed arrays, numeric sorts.
    const n = this.history.length;
    const sorted = Float64Array.from(this.history).sort();
    const medianMs = medianOf(sorted);
    const dev = new Float64Array(n);
    for (let i = 0; i < n; i++) dev[i] = Math.abs((sorted[i] as number) - medianMs);
    const madMs = medianOf(dev.sort());
    // SD of the history without its extremes (10 %, at least one each side): one cold-start
    // probe or stalled timer must not widen the band for the whole history.
    const trim = Math.max(1, Math.floor(n / 10));
    let sum = 0;
    for (let i = trim; i < n - trim; i++) sum += sorted[i] as number;
    const m = n - 2 * trim;
    const mean = sum / m;
    let sq = 0;
    for (let i = trim; i < n - trim; i++) sq += ((sorted[i] as number) - mean) ** 2;
    const sdMs = m > 1 ? Math.sqrt(sq / (m - 1)) : 0;
    const spread = Math.max(1.4826 * madMs, sdMs);
    const bandMs = Math.max(this.opts.k * spread, this.opts.floorMs, (this.opts.floorPct / 100) * medianMs);
    this.cached = { medianMs, madMs, sdMs, bandMs };
    return this.cached;
  }

  /** +1 above the band, -1 below it, 0 inside it (or when the band is not known yet). */
  outlier(ms: number): -1 | 0 | 1 {
    const b = this.band();
    if (!b) return 0;
    if (ms > b.medianMs + b.bandMs) return 1;
    if (ms < b.medianMs - b.bandMs) return -1;
    return 0;
  }

  /** True while one outlier waits for its confirmation. */
  get suspect(): boolean {
    return this.pending !== undefined;
  }

  /**
   * Feeds one successful sample. 'suspect': an outlier, to be confirmed; 'shift': the
   * second outlier in a row in the same direction — the history moves to the new level
   * (mean of the two), and `lastShiftTs` is the first one's ts; 'normal' otherwise.
   */
  observe(ms: number, ts = 0): ShiftVerdict {
    const dir = this.outlier(ms);
    const pending = this.pending;
    this.pending = undefined;
    // The confirmation must show the same new level: within half the suspect's distance
    // from the median. A blip followed by an unrelated slow sample (a stalled timer) is
    // two outliers but not one shift.
    const median = this.band()?.medianMs ?? 0;
    if (pending && dir === pending.dir && Math.abs(ms - pending.ms) <= Math.abs(pending.ms - median) / 2) {
      // The path's spread is kept and moved to the new level: right after a shift a
      // 2-sample history would give a meaningless MAD (and cascade false shifts).
      const offset = (pending.ms + ms) / 2 - median;
      this.history = this.history.map((x) => x + offset);
      this.cached = undefined;
      this.lastShiftTs = pending.ts;
      this.shifts++;
      return 'shift';
    }
    if (pending) this.push(pending.ms);
    if (dir !== 0) {
      this.pending = { ms, ts, dir };
      return 'suspect';
    }
    this.push(ms);
    return 'normal';
  }

  private push(ms: number): void {
    // The band of a couple of dozen samples moves slowly: recomputed every 4th sample,
    // it costs ~1 µs per ingested result instead of ~4.
    if (++this.sinceBand >= 4 || this.history.length < this.opts.minHistory) {
      this.cached = undefined;
      this.sinceBand = 0;
    }
    this.history.push(ms);
    if (this.history.length > this.opts.historySize) this.history.shift();
  }
}
