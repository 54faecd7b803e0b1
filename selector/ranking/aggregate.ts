// The aggregate of fresh agents per (service, site/family), kept incrementally (issue #12).
// Recomputing it from scratch reads every fresh agent's window: O(agents × sites) per
// ranking of the default answer, O(n²) while 1,000 agents join. Here each cell keeps the
// contributions of the fresh agents (sorted medians, failure shares and newest ts, running
// sums of samples, failures and down flags), and only the windows that changed since the
// last read are re-read: a window that got a sample, an agent that joined or left the
// fresh set, or a window whose oldest sample expired (a min-heap of expiry times, so a
// read at `now` sees exactly what pruning every window at `now` would show). The result
// equals `aggregateStats()` over every fresh agent's `statsOf()` at the same `now`
// (test/selector/aggregate.test.ts checks it against the from-scratch computation).
import { shareOf } from './policy.js';
import type { SiteStats, SiteWindow } from './window.js';

/** One (agent, service, site/family) window as the aggregate tracks it. */
interface Ref {
  agent: string;
  cell: Cell;
  w: SiteWindow;
  /** Its contribution now (undefined: none, e.g. an agent that is not fresh). */
  stats: SiteStats | undefined;
  /** When its oldest sample expires (`SiteWindow.expiresAt`), as of the last read. */
  expiresAt: number;
  /** The expiry time of its entry in the heap, if it has one. */
  heapAt: number | undefined;
}

/** The first index of ascending `a` whose value is not below `v`. */
function lowerBound(a: readonly number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((a[mid] as number) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

function insertSorted(a: number[], v: number): void {
  a.splice(lowerBound(a, v), 0, v);
}

function removeSorted(a: number[], v: number): void {
  const lo = lowerBound(a, v);
  const i = a[lo] === v ? lo : a.indexOf(v); // indexOf: only for values that do not compare (NaN)
  if (i >= 0) a.splice(i, 1);
}

/** The median of an ascending array, as `median()` in window.ts computes it after sorting. */
function sortedMedian(a: readonly number[]): number | null {
  if (!a.length) return null;
  const mid = a.length >> 1;
  return a.length % 2 ? (a[mid] as number) : ((a[mid - 1] as number) + (a[mid] as number)) / 2;
}

class Cell {
  private readonly medians: number[] = [];
  private readonly shares: number[] = [];
  private readonly newest: number[] = [];
  private count = 0;
  private samples = 0;
  private failures = 0;
  private down = 0;
  private cached: SiteStats | undefined | null = undefined;

  apply(s: SiteStats, sign: 1 | -1): void {
    this.cached = null;
    this.count += sign;
    this.samples += sign * s.samples;
    this.failures += sign * s.failures;
    if (s.down) this.down += sign;
    const edit = sign > 0 ? insertSorted : removeSorted;
    if (s.medianMs !== null) edit(this.medians, s.medianMs);
    edit(this.shares, shareOf(s));
    edit(this.newest, s.newestTs);
  }

  /** The same fields, in the same order, as `aggregateStats()` in policy.ts. */
  stats(): SiteStats | undefined {
    if (this.cached !== null) return this.cached;
    this.cached = this.count === 0 ? undefined : {
      samples: this.samples,
      failures: this.failures,
      failureShare: sortedMedian(this.shares) ?? 0,
      medianMs: sortedMedian(this.medians),
      down: this.down * 2 > this.count,
      streak: 0,
      newestTs: this.newest[this.newest.length - 1] as number,
    };
    return this.cached;
  }
}

/** A binary min-heap of (expiry time, window). */
class ExpiryHeap {
  private readonly at: number[] = [];
  private readonly refs: Ref[] = [];

  get size(): number {
    return this.at.length;
  }

  push(t: number, ref: Ref): void {
    let i = this.at.length;
    this.at.push(t);
    this.refs.push(ref);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((this.at[p] as number) <= t) break;
      this.at[i] = this.at[p] as number;
      this.refs[i] = this.refs[p] as Ref;
      i = p;
    }
    this.at[i] = t;
    this.refs[i] = ref;
  }

  /** Pops the entry with the smallest time if it is before `t`. */
  popBefore(t: number): [number, Ref] | undefined {
    if (!this.at.length || (this.at[0] as number) >= t) return undefined;
    const top: [number, Ref] = [this.at[0] as number, this.refs[0] as Ref];
    const lastT = this.at.pop() as number;
    const lastR = this.refs.pop() as Ref;
    const n = this.at.length;
    if (n) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        const c = r < n && (this.at[r] as number) < (this.at[l] as number) ? r : l;
        if ((this.at[c] as number) >= lastT) break;
        this.at[i] = this.at[c] as number;
        this.refs[i] = this.refs[c] as Ref;
        i = c;
      }
      this.at[i] = lastT;
      this.refs[i] = lastR;
    }
    return top;
  }
}

export class FreshAggregate {
  private readonly cells = new Map<string, Map<string, Cell>>(); // service → site/family → cell
  private readonly refs = new Map<SiteWindow, Ref>();
  private readonly byAgent = new Map<string, Set<Ref>>();
  private readonly fresh = new Set<string>();
  private readonly pending = new Set<Ref>();
  private readonly heap = new ExpiryHeap();

  /** A window was created or got a sample (call after `SiteWindow.add`). */
  touched(agent: string, service: string, key: string, w: SiteWindow): void {
    let ref = this.refs.get(w);
    if (!ref) {
      let byKey = this.cells.get(service);
      if (!byKey) this.cells.set(service, (byKey = new Map()));
      let cell = byKey.get(key);
      if (!cell) byKey.set(key, (cell = new Cell()));
      ref = { agent, cell, w, stats: undefined, expiresAt: Infinity, heapAt: undefined };
      this.refs.set(w, ref);
      let mine = this.byAgent.get(agent);
      if (!mine) this.byAgent.set(agent, (mine = new Set()));
      mine.add(ref);
    }
    if (this.fresh.has(agent)) this.pending.add(ref);
  }

  /** The agent's windows count (true) or stop counting (false). */
  setFresh(agent: string, fresh: boolean): void {
    if (fresh === this.fresh.has(agent)) return;
    if (fresh) this.fresh.add(agent);
    else this.fresh.delete(agent);
    for (const ref of this.byAgent.get(agent) ?? []) this.pending.add(ref);
  }

  /** A removed agent: its windows leave the aggregate and are no longer tracked. */
  forget(agent: string): void {
    this.fresh.delete(agent);
    for (const ref of this.byAgent.get(agent) ?? []) {
      this.pending.delete(ref);
      this.refs.delete(ref.w);
      if (ref.stats) ref.cell.apply(ref.stats, -1);
      ref.stats = undefined;
    }
    this.byAgent.delete(agent);
  }

  /** The aggregate of (service, site/family) at `now`: undefined without any fresh agent's samples. */
  stats(service: string, key: string, now: number): SiteStats | undefined {
    this.catchUp(now);
    return this.cells.get(service)?.get(key)?.stats();
  }

  /** Re-reads the windows that changed or whose oldest sample expired by `now`. */
  private catchUp(now: number): void {
    for (let e = this.heap.popBefore(now); e; e = this.heap.popBefore(now)) {
      const [t, ref] = e;
      if (ref.heapAt !== t) continue; // a newer entry of this window is in the heap
      ref.heapAt = undefined;
      if (this.refs.get(ref.w) !== ref || !this.fresh.has(ref.agent)) continue;
      if (ref.expiresAt < now) this.pending.add(ref);
      else this.schedule(ref); // it got samples since: its oldest one expires later
    }
    if (!this.pending.size) return;
    for (const ref of this.pending) {
      const fresh = this.fresh.has(ref.agent);
      let next: SiteStats | undefined;
      if (fresh) {
        ref.w.prune(now);
        next = ref.w.size > 0 ? ref.w.stats() : undefined;
        if (next && next.samples <= 0) next = undefined;
      }
      if (next !== ref.stats) {
        if (ref.stats) ref.cell.apply(ref.stats, -1);
        if (next) ref.cell.apply(next, 1);
        ref.stats = next;
      }
      ref.expiresAt = fresh ? ref.w.expiresAt() : Infinity;
      if (fresh) this.schedule(ref);
    }
    this.pending.clear();
  }

  private schedule(ref: Ref): void {
    if (ref.expiresAt === Infinity) return;
    // One entry per window: one that fires earlier is re-pushed with the later time then.
    if (ref.heapAt !== undefined && ref.heapAt <= ref.expiresAt) return;
    ref.heapAt = ref.expiresAt;
    this.heap.push(ref.expiresAt, ref);
  }

  /** Entries in the expiry heap (for tests and the benchmark). */
  get heapSize(): number {
    return this.heap.size;
  }
}
