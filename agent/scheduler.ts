// Probe scheduler: every intervalS each (service, site) of the catalogue is probed
// once. Starts are spread over the interval (stratified, with random jitter) so a
// POP box never bursts 1,000 connections at once; at most `concurrency` probes run
// at the same time. Every probe is bounded by min(its timeoutMs, the round's end),
// so a hanging site can delay neither the rest of its round nor the next one. Each
// round ends in exactly one `onRound` call with one Result per target and a seq one
// higher than the last — plus a confirmation Result right after any probe that failed
// where the previous probe of that site succeeded, or the other way round: like HAProxy's
// `fastinter`, a state change is confirmed at once instead of a whole interval later, so
// the selector can mark the site down (or up) within the round. A latency sample far
// outside the site's own recent spread (shared/shift.ts) is confirmed the same way, but
// later — half an interval (at most 2 s), or as late as the round allows — so a short
// blip does not confirm itself: the selector then replaces its median at once
// (change-point) instead of waiting rounds.
import { setMaxListeners } from 'node:events';
import { ShiftDetector } from '../shared/shift.js';
import type { Catalogue, Result } from '../shared/protocol.js';
import type { Logger } from '../shared/log.js';
import { probe as realProbe, type ProbeOptions, type ProbeTarget } from './probe.js';

export interface RoundReport {
  seq: number;
  /** Epoch ms of the round's start. */
  startedAt: number;
  results: Result[];
}

export interface SchedulerOptions {
  intervalS: number;
  concurrency: number;
  localAddress?: string;
  /** Source address for IPv6 targets (default: localAddress when it is IPv6). */
  localAddress6?: string;
  /** Families probed: each site's first address of each (default: every family a site has). */
  families?: readonly (4 | 6)[];
  ca?: string | Buffer;
  /** First seq; default Date.now() so seq keeps increasing across restarts. */
  seqStart?: number;
  onRound: (report: RoundReport) => void;
  log: Logger;
  /** Re-probe a site at once when it failed after a success or the reverse (default true). */
  recheckChanges?: boolean;
  /** Delay before confirming a latency outlier (default shiftRecheckDelayMs(interval)). */
  shiftRecheckDelayMs?: number;
  /** Exposed for the metrics endpoint: called after every probe. */
  onProbe?: (result: Result) => void;
  probe?: (target: ProbeTarget, options: ProbeOptions) => Promise<Result>;
}

export interface Scheduler {
  setCatalogue(catalogue: Catalogue): void;
  start(): void;
  close(): Promise<void>;
  stats(): { rounds: number; targets: number; inFlight: number; seq: number };
}

/** Left free at the end of a round so its report goes out before the next starts. */
const ROUND_MARGIN_MS = 100;
/** Delay before a confirmation probe: long enough not to hit the same transient. */
const RECHECK_DELAY_MS = 200;
/** Round time that must be left after the delay for a confirmation to be worth starting. */
const RECHECK_MIN_TIME_MS = 50;
/** Delay before confirming a latency outlier: half an interval, within [200 ms, 2 s]. */
export function shiftRecheckDelayMs(intervalMs: number): number {
  return Math.min(2000, Math.max(RECHECK_DELAY_MS, intervalMs / 2));
}


const familyOf = (address: string): 4 | 6 => (address.includes(':') ? 6 : 4);

/**
 * One target per (service, site, family): the site's first address of each family in
 * `families` (DESIGN.md "Ranking", families). A site with no address in those families
 * is not probed from this POP: a path the POP cannot use says nothing about its clients.
 */
export function targetsOf(catalogue: Catalogue, families?: readonly (4 | 6)[]): ProbeTarget[] {
  const out: ProbeTarget[] = [];
  for (const svc of catalogue.services) {
    for (const site of svc.sites) {
      const all = site.addresses?.length ? site.addresses : [site.address];
      const picked = new Map<4 | 6, string>();
      for (const a of all) if (!picked.has(familyOf(a)) && (!families || families.includes(familyOf(a)))) picked.set(familyOf(a), a);
      for (const address of picked.values()) {
        out.push({
          service: svc.name, site: site.id, address,
          scheme: svc.probe.scheme, port: svc.probe.port, path: svc.probe.path, host: svc.probe.host,
          expectStatus: svc.probe.expectStatus, expectBody: svc.probe.expectBody, timeoutMs: svc.probe.timeoutMs,
        });
      }
    }
  }
  return out;
}

function unfinished(t: ProbeTarget): Result {
  return {
    service: t.service, site: t.site, address: t.address, ok: false, status: null,
    connectMs: null, tlsMs: null, ttfbMs: null, totalMs: null, bytes: 0, error: 'timeout',
  };
}

function shuffle<T>(items: T[]): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

export function createScheduler(opts: SchedulerOptions): Scheduler {
  const intervalMs = opts.intervalS * 1000;
  const runProbe = opts.probe ?? realProbe;
  const log = opts.log;
  let targets: ProbeTarget[] = [];
  let seq = opts.seqStart ?? Date.now();
  let rounds = 0;
  let inFlight = 0;
  let closed = false;
  let roundActive = false;
  let nextRoundTimer: NodeJS.Timeout | undefined;
  const waiting: (() => void)[] = [];
  const roundAborts = new Set<AbortController>();
  const pendingTimers = new Set<NodeJS.Timeout>();
  /** Last result per site, across rounds, to notice changes. */
  const lastResult = new Map<string, Result>();
  const recheck = opts.recheckChanges ?? true;
  const local4 = opts.localAddress && familyOf(opts.localAddress) === 4 ? opts.localAddress : undefined;
  const local6 = opts.localAddress6 ?? (opts.localAddress && familyOf(opts.localAddress) === 6 ? opts.localAddress : undefined);
  /** The bind address of the target's family (a v4 source cannot reach a v6 address). */
  const localFor = (address: string): string | undefined => (familyOf(address) === 6 ? local6 : local4);
  /** Latency spread per site, to notice shifts worth confirming at once. */
  const shifts = new Map<string, ShiftDetector>();
  const shiftDelayMs = opts.shiftRecheckDelayMs ?? shiftRecheckDelayMs(intervalMs);

  const later = (fn: () => void, ms: number): void => {
    const t = setTimeout(() => { pendingTimers.delete(t); fn(); }, Math.max(0, ms));
    pendingTimers.add(t);
  };

  function release(): void {
    inFlight--;
    const next = waiting.shift();
    if (next) next();
  }

  function runRound(): void {
    if (closed) return;
    const startedAt = Date.now();
    nextRoundTimer = setTimeout(runRound, intervalMs);
    const planned = shuffle([...targets]);
    if (planned.length === 0) return;
    roundActive = true;
    const endAt = startedAt + intervalMs - ROUND_MARGIN_MS;
    const abort = new AbortController();
    // One listener per probe in flight (bounded by concurrency), not a leak.
    setMaxListeners(opts.concurrency + 8, abort.signal);
    roundAborts.add(abort);
    const results = new Map<ProbeTarget, Result[]>();
    let settled = 0;
    let expected = planned.length;
    let reported = false;

    const report = (): void => {
      if (reported) return;
      reported = true;
      roundActive = false;
      roundAborts.delete(abort);
      abort.abort();
      rounds++;
      const ordered = planned.flatMap((t) => results.get(t) ?? [unfinished(t)]);
      const current = seq++;
      try {
        opts.onRound({ seq: current, startedAt, results: ordered });
      } catch (err) {
        log.error({ err }, 'round report failed');
      }
    };

    const enqueue = (t: ProbeTarget, confirm: boolean): void => {
      if (inFlight < opts.concurrency) launch(t, confirm);
      else waiting.push(() => launch(t, confirm));
    };

    const launch = (t: ProbeTarget, confirm: boolean): void => {
      if (abort.signal.aborted || closed) {
        // This slot is free: hand it to the next waiting probe (of a later round).
        waiting.shift()?.();
        return;
      }
      inFlight++;
      const timeoutMs = Math.min(t.timeoutMs, Math.max(1, endAt - Date.now()));
      // A confirmation cut short by the round's end proves nothing if it times out.
      const cutShort = confirm && timeoutMs < t.timeoutMs;
      runProbe({ ...t, timeoutMs }, { localAddress: localFor(t.address), ca: opts.ca, signal: abort.signal })
        .catch((err: unknown): Result => {
          log.error({ err, site: t.site }, 'probe threw');
          return { ...unfinished(t), error: 'other' };
        })
        .then((r) => {
          release();
          if (reported) return;
          if (cutShort && r.error === 'timeout') {
            if (++settled === expected) report();
            return;
          }
          const key = `${t.service}\u0000${t.site}\u0000${t.address}`;
          const prev = lastResult.get(key);
          lastResult.set(key, r);
          const list = results.get(t);
          if (list) list.push(r);
          else results.set(t, [r]);
          opts.onProbe?.(r);
          let shifted = false;
          if (r.ok && r.totalMs !== null) {
            let det = shifts.get(key);
            if (!det) shifts.set(key, (det = new ShiftDetector()));
            shifted = det.observe(r.totalMs) === 'suspect';
          }
          if (recheck && !confirm && prev && prev.ok !== r.ok && endAt - Date.now() > RECHECK_DELAY_MS + RECHECK_MIN_TIME_MS) {
            expected++;
            later(() => enqueue(t, true), RECHECK_DELAY_MS);
          } else if (recheck && !confirm && shifted) {
            // Half an interval if the round has room for it, else as late as the round allows
            // (a probe as slow as this one must still fit), but not sooner than a failure's recheck.
            const delayMs = Math.min(shiftDelayMs, endAt - Date.now() - (r.totalMs ?? 0) - RECHECK_MIN_TIME_MS);
            if (delayMs >= RECHECK_DELAY_MS) {
              expected++;
              later(() => enqueue(t, true), delayMs);
            }
          }
          if (++settled === expected) report();
        });
    };

    // Stratified offsets: slot i starts at a random point inside its own share of
    // the spread window, so starts are even on average yet never in lock-step.
    const spreadMs = Math.max(0, intervalMs - ROUND_MARGIN_MS - Math.max(...planned.map((t) => t.timeoutMs)));
    const slotMs = planned.length > 0 ? spreadMs / planned.length : 0;
    planned.forEach((t, i) => {
      later(() => enqueue(t, false), (i + Math.random()) * slotMs);
    });
    // The round closes at its end whatever is still running (reported as timeout).
    later(report, endAt - Date.now());
  }

  return {
    setCatalogue(catalogue) {
      const wasEmpty = targets.length === 0;
      targets = targetsOf(catalogue, opts.families);
      const live = new Set(targets.map((t) => `${t.service}\u0000${t.site}\u0000${t.address}`));
      for (const key of lastResult.keys()) if (!live.has(key)) lastResult.delete(key);
      for (const key of shifts.keys()) if (!live.has(key)) shifts.delete(key);
      log.info({ targets: targets.length, services: catalogue.services.length }, 'catalogue applied');
      // Start measuring at once instead of waiting for the next tick of an idle clock.
      if (wasEmpty && targets.length > 0 && !roundActive && nextRoundTimer && !closed) {
        clearTimeout(nextRoundTimer);
        runRound();
      }
    },
    start() {
      if (nextRoundTimer || closed) return;
      runRound();
    },
    async close() {
      closed = true;
      clearTimeout(nextRoundTimer);
      for (const t of pendingTimers) clearTimeout(t);
      pendingTimers.clear();
      waiting.length = 0;
      for (const a of roundAborts) a.abort();
      roundAborts.clear();
    },
    stats: () => ({ rounds, targets: targets.length, inFlight, seq }),
  };
}
