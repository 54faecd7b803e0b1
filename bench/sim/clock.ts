// The world clock: seconds since the world started, optionally sped up. Before
// start() it reads negative, so during warm-up no event is in force and the sites
// serve the plain latency matrix.
import { performance } from 'node:perf_hooks';

export class WorldClock {
  private startMs = Number.POSITIVE_INFINITY;
  /** World seconds per wall second. */
  readonly speed: number;

  constructor(speed = 1) {
    this.speed = speed;
  }

  start(): void {
    this.startMs = performance.now();
  }

  get started(): boolean {
    return Number.isFinite(this.startMs);
  }

  /** World seconds since start (negative before start). */
  nowS(): number {
    if (!this.started) return -1;
    return ((performance.now() - this.startMs) / 1000) * this.speed;
  }

  /** Wall milliseconds until world second `tS` (≤ 0 when it has passed). */
  wallMsUntil(tS: number): number {
    return this.startMs + (tS / this.speed) * 1000 - performance.now();
  }
}
