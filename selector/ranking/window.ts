// Per-(agent, service, site) sliding window of recent probe outcomes plus the
// down/up state machine (DESIGN.md "Ranking": down after `downAfter` consecutive
// failures, up after `upAfter` consecutive successes). Fed in timestamp order, both
// live and when rebuilding from SQLite, so a restart reaches the same state.
// Change-point (issue #10 §2): a latency shift confirmed by two outliers in a row,
// relative to the path's own spread (shared/shift.ts), drops the older successes
// from the median at once instead of waiting for the median to move.
import { ShiftDetector } from '../../shared/shift.js';

export interface Sample {
  ts: number;
  ok: boolean;
  totalMs: number | null;
}

/** What ranking needs to know about one site, as seen by one agent (or the aggregate). */
export interface SiteStats {
  samples: number;
  failures: number;
  /** Median totalMs of successful samples; null when none succeeded. */
  medianMs: number | null;
  down: boolean;
  /** Current run of identical outcomes: positive = successes, negative = failures. */
  streak: number;
  newestTs: number;
  /** Set by aggregation (median of agents' shares); otherwise failures / samples. */
  failureShare?: number;
  /** ts of the last confirmed latency shift still in the window; the median starts there. */
  shiftTs?: number;
}

export interface WindowLimits {
  windowS: number;
  minRounds: number;
  downAfter: number;
  upAfter: number;
}

export class SiteWindow {
  private samples: Sample[] = [];
  private head = 0;
  down = false;
  streak = 0;
  /** ts of the first success of the current success streak. */
  private streakStartTs = 0;
  /**
   * Failures before this ts are forgiven: a site that came back up (upAfter
   * consecutive successes) is not penalised for the outage it recovered from,
   * or it would wait a whole window before winning again. Intermittent failures
   * that never trip `down` still count.
   */
  private forgiveBeforeTs = 0;
  /** Successes before this ts are left out of the median: a confirmed latency shift replaced them. */
  private medianFromTs = 0;
  private readonly shift = new ShiftDetector();

  constructor(private readonly limits: WindowLimits) {}

  /** stats() result, valid until the window changes (the aggregate re-reads every agent's windows). */
  private cached: SiteStats | undefined;

  add(s: Sample): void {
    this.cached = undefined;
    this.samples.push(s);
    if (s.ok && s.totalMs !== null && this.shift.observe(s.totalMs, s.ts) === 'shift') this.medianFromTs = this.shift.lastShiftTs;
    if (s.ok) {
      if (this.streak > 0) this.streak++;
      else { this.streak = 1; this.streakStartTs = s.ts; }
      if (this.down && this.streak >= this.limits.upAfter) {
        this.down = false;
        this.forgiveBeforeTs = this.streakStartTs;
      }
    } else {
      this.streak = this.streak < 0 ? this.streak - 1 : -1;
      if (!this.down && -this.streak >= this.limits.downAfter) this.down = true;
    }
    this.prune(s.ts);
  }

  /** Drops samples older than windowS before `nowMs`, keeping at least minRounds. */
  prune(nowMs: number): void {
    const cutoff = nowMs - this.limits.windowS * 1000;
    const live = () => this.samples.length - this.head;
    while (live() > this.limits.minRounds && (this.samples[this.head] as Sample).ts < cutoff) {
      this.head++;
      this.cached = undefined;
    }
    if (this.head > 64 && this.head * 2 > this.samples.length) {
      this.samples = this.samples.slice(this.head);
      this.head = 0;
    }
  }

  /** When prune() would next drop a sample: the oldest one's ts + windowS (Infinity at minRounds). */
  expiresAt(): number {
    if (this.samples.length - this.head <= this.limits.minRounds) return Infinity;
    return (this.samples[this.head] as Sample).ts + this.limits.windowS * 1000;
  }

  get size(): number {
    return this.samples.length - this.head;
  }

  stats(): SiteStats {
    if (this.cached) return this.cached;
    const times: number[] = [];
    let failures = 0;
    for (let i = this.head; i < this.samples.length; i++) {
      const s = this.samples[i] as Sample;
      if (s.ok && s.totalMs !== null) {
        if (s.ts >= this.medianFromTs) times.push(s.totalMs);
      }
      else if (!s.ok && s.ts >= this.forgiveBeforeTs) failures++;
    }
    const last = this.samples[this.samples.length - 1];
    this.cached = { samples: this.size, failures, medianMs: median(times), down: this.down, streak: this.streak, newestTs: last?.ts ?? 0 };
    const first = this.samples[this.head];
    if (this.medianFromTs > 0 && first && first.ts < this.medianFromTs) this.cached.shiftTs = this.medianFromTs;
    return this.cached;
  }
}

export function median(values: number[]): number | null {
  if (!values.length) return null;
  values.sort((a, b) => a - b);
  const mid = values.length >> 1;
  return values.length % 2 ? (values[mid] as number) : ((values[mid - 1] as number) + (values[mid] as number)) / 2;
}
