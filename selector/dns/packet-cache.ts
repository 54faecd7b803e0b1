// The JS side of the batch engine's packet cache (native/udp-batch/packet_cache.h).
// C answers a repeated query without calling JS, so what JS would have counted for it is
// described by a "stats tag" given when the response was cached: qtype, rcode, answer
// label and the capacity-demand count (service counts map + answer key). C adds one per
// hit to `hits[tag]` and never resets it (its reader threads count while JS reads);
// fold() adds what grew since it last looked to the DnsCounters and the counts maps (on
// every stats() call, before the worker's count batch, and before the tags are reused).
// invalidate() empties every socket's cache at once (a new generation in C) and forgets
// the tags: called for every answer-table or mapper change before the next datagram.
import type { DnsCounters } from './stats.js';
import type { LastAnswer } from './responder.js';

/** Distinct stats tags per generation; a response needing one more is not cached. */
export const MAX_TAGS = 4096;

interface Tag {
  qtype: number;
  rcode: number;
  label: string;
  counted: Map<string, number> | undefined;
  countedKey: string;
}

export class PacketCacheTags {
  /** uint32 hit counters, one per tag (given to the addon's open()). */
  readonly hits: Buffer;
  private readonly view: Uint32Array;
  /** view[i] when fold() last counted tag i's hits. */
  private readonly seen: Uint32Array;
  private tags: Tag[] = [];
  private byKey = new Map<string, number>();
  private readonly clearers = new Set<() => void>();
  // counted maps get an id so the tag key tells two services' maps apart
  private mapIds = new WeakMap<Map<string, number>, number>();
  private nextMapId = 1;

  constructor(private readonly counters: DnsCounters, readonly maxTags = MAX_TAGS) {
    this.hits = Buffer.alloc(maxTags * 4);
    this.view = new Uint32Array(this.hits.buffer, this.hits.byteOffset, maxTags);
    this.seen = new Uint32Array(maxTags);
  }

  // The previous call's inputs and tag: a run of misses for the same name and type needs no lookup.
  private prevTag = -1;
  private readonly prev: LastAnswer = { cacheable: false, qtype: -1, rcode: -1, label: '', counted: undefined, countedKey: '' };

  /** The tag for what `last` counted, or -1 (not cacheable, or no tag left in this generation). */
  tagFor(last: LastAnswer): number {
    if (!last.cacheable) return -1;
    const p = this.prev;
    if (this.prevTag >= 0 && last.qtype === p.qtype && last.rcode === p.rcode && last.label === p.label &&
      last.counted === p.counted && (last.counted === undefined || last.countedKey === p.countedKey)) return this.prevTag;
    this.prevTag = this.lookup(last);
    Object.assign(p, last);
    return this.prevTag;
  }

  private lookup(last: LastAnswer): number {
    let mapId = 0;
    if (last.counted) {
      mapId = this.mapIds.get(last.counted) ?? 0;
      if (mapId === 0) this.mapIds.set(last.counted, mapId = this.nextMapId++);
    }
    const key = mapId === 0 ? `${last.qtype} ${last.rcode} ${last.label}` : `${last.qtype} ${last.rcode} ${last.label} ${mapId} ${last.countedKey}`;
    const found = this.byKey.get(key);
    if (found !== undefined) return found;
    if (this.tags.length >= this.maxTags) return -1;
    const tag = this.tags.length;
    this.tags.push({ qtype: last.qtype, rcode: last.rcode, label: last.label, counted: last.counted, countedKey: last.countedKey });
    this.byKey.set(key, tag);
    return tag;
  }

  /** Adds the hits since the last fold to the counters, as the JS path would have counted them. */
  fold(): void {
    const c = this.counters;
    const { view, seen } = this;
    for (let i = 0; i < this.tags.length; i++) {
      const now = view[i] as number;
      const n = (now - (seen[i] as number)) >>> 0; // uint32 wrap-around
      if (n === 0) continue;
      seen[i] = now;
      const t = this.tags[i] as Tag;
      c.queries += n;
      c.udpQueries += n;
      c.packetCacheHits += n;
      c.countQtype(t.qtype, n);
      c.rcodes[t.rcode] = (c.rcodes[t.rcode] ?? 0) + n;
      if (t.label) c.countAnswer(t.label, n);
      if (t.counted) t.counted.set(t.countedKey, (t.counted.get(t.countedKey) ?? 0) + n);
    }
  }

  /** Empties every registered socket's cache, then counts the hits so far under the old tags. */
  invalidate(): void {
    // A socket's clear returns after its reader's last hit on an old entry (reader mode):
    // folding after the clears leaves no hit of the old tags to be counted under new ones.
    for (const clear of this.clearers) clear();
    this.fold();
    this.tags = [];
    this.byKey.clear();
    this.prevTag = -1;
  }

  /** A socket's cacheClear; returns its unregister function. */
  register(clear: () => void): () => void {
    this.clearers.add(clear);
    return () => this.clearers.delete(clear);
  }
}
