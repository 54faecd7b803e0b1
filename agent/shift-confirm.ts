// When the agent confirms a latency outlier (issue #10 §2): a quiet path a quarter
// interval later, a path that flaps (or an outlier the POP's other paths share) half an
// interval later, always within the round. Pure helpers of agent/scheduler.ts.

/** Delay before a confirmation probe: long enough not to hit the same transient. */
export const RECHECK_DELAY_MS = 200;
/** A path that flapped within this many intervals confirms its outliers late (shiftRecheckDelayMs). */
export const FLAP_MEMORY_INTERVALS = 15;
/** Delay before confirming a latency outlier of a quiet path: a quarter interval, at least 200 ms. */
export function quietShiftRecheckDelayMs(intervalMs: number): number {
  return Math.max(RECHECK_DELAY_MS, intervalMs / 4);
}
/** Delay before confirming a latency outlier of a path that flaps: half an interval, within [200 ms, 2 s]. */
export function shiftRecheckDelayMs(intervalMs: number): number {
  return Math.min(2000, Math.max(RECHECK_DELAY_MS, intervalMs / 2));
}

/**
 * When to confirm a latency outlier: after `quietMs` on a quiet path, after `flapDelayMs`
 * when it flaps; never later than `roomMs` (what the round has left once a probe as slow
 * as this one fits); undefined when not even RECHECK_DELAY_MS fits.
 */
export function shiftConfirmDelayMs(flapping: boolean, quietMs: number, flapDelayMs: number, roomMs: number): number | undefined {
  const delayMs = Math.min(flapping ? flapDelayMs : quietMs, roomMs);
  return delayMs >= RECHECK_DELAY_MS ? delayMs : undefined;
}

