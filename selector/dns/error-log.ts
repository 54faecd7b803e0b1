// Logging for errors that can repeat per packet (the query path's catch-all): at most
// one line per interval, carrying how many were suppressed since the previous line, so
// a packet that trips a bug is seen without a flood turning into a log flood.
import type { Logger } from '../../shared/log.js';

export class ThrottledErrorLog {
  private nextAtMs = 0;
  private suppressed = 0;

  constructor(
    private readonly log: Logger,
    private readonly msg: string,
    private readonly intervalMs = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Logs `err` (and the fields `detail()` returns, computed only when a line is written) at
   * error level, unless a line was written less than `intervalMs` ago: then it only counts.
   */
  report(err: unknown, detail?: () => Record<string, unknown>): void {
    const nowMs = this.now();
    if (nowMs < this.nextAtMs) {
      this.suppressed++;
      return;
    }
    this.nextAtMs = nowMs + this.intervalMs;
    const suppressed = this.suppressed;
    this.suppressed = 0;
    this.log.error({ ...detail?.(), err, suppressed }, this.msg);
  }
}
