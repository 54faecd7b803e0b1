// What the backbone knows about each LB: its map (static config + the retained map it
// publishes), its status (the last will says offline), and its last pushed rankings.
// Every message on vantage/v1/lbs/+/+ is validated here at the edge and rejected with a
// counted reason, like an agent's. States use arrival times (LB clocks may be skewed).
import { ProtocolError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { parseLbMap, parseLbRankings, parseLbStatus, parseLbTopic, type LbMap, type LbRankings } from '../../shared/lb-protocol.js';
import type { Nameserver, StaticLb } from './config.js';

/** online: takes referrals; push-fresh additionally needs rankings newer than the stale threshold. */
export type LbState = 'online' | 'offline' | 'unknown';

export type LbReject = 'topic' | 'json' | 'schema' | 'version' | 'lb_mismatch' | 'future_ts' | 'oversize' | 'stale_seq' | 'label_taken' | 'too_many_lbs';

/** More LB ids than this are refused: without broker auth, anyone could otherwise grow the registry without bound. */
export const MAX_LBS = 10_000;

export interface LbRecord {
  id: string;
  label: string;
  nameservers: readonly Nameserver[];
  resolvers: readonly string[];
  prefixes: readonly string[];
  /** The static entry of backbone.lbs, if any (its prefixes/resolvers are kept alongside the map's). */
  configured: boolean;
  map?: LbMap;
  mapAt?: number;
  status?: 'online' | 'offline';
  statusAt?: number;
  rankings?: LbRankings;
  rankingsAt?: number;
}

export interface LbCounters {
  accepted: { map: number; status: number; rankings: number };
  rejected: Partial<Record<LbReject, number>>;
}

export interface LbRegistryOptions {
  lbs: readonly StaticLb[];
  staleIntervals: number;
  log: Logger;
  /** Called after an accepted message: the LB's `kind` data changed. */
  onChange(lb: string, kind: 'map' | 'status' | 'rankings'): void;
  now?: () => number;
}

export class LbRegistry {
  private readonly records = new Map<string, LbRecord>();
  readonly counters: LbCounters = { accepted: { map: 0, status: 0, rankings: 0 }, rejected: {} };
  private readonly now: () => number;

  constructor(private readonly opts: LbRegistryOptions) {
    this.now = opts.now ?? Date.now;
    for (const s of opts.lbs) {
      this.records.set(s.id, {
        id: s.id, label: s.label ?? s.id, nameservers: s.nameservers, resolvers: s.resolvers, prefixes: s.prefixes, configured: true,
      });
    }
  }

  get(id: string): LbRecord | undefined {
    return this.records.get(id);
  }

  list(): LbRecord[] {
    return [...this.records.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  /** A static LB counts as online until its status says otherwise; an announced one once online. */
  state(r: LbRecord): LbState {
    if (r.status === 'offline') return 'offline';
    if (r.status === 'online' || r.configured) return 'online';
    return r.map ? 'online' : 'unknown';
  }

  /** Rankings newer than staleIntervals × their intervalS, from an LB not offline. */
  pushFresh(r: LbRecord, nowMs = this.now()): boolean {
    return r.status !== 'offline' && this.rankingsRecent(r, nowMs);
  }

  /** Rankings newer than the stale threshold, whatever the LB's status (its last pushed view). */
  rankingsRecent(r: LbRecord, nowMs = this.now()): boolean {
    if (!r.rankings || r.rankingsAt === undefined) return false;
    return nowMs - r.rankingsAt <= this.opts.staleIntervals * r.rankings.intervalS * 1000;
  }

  private reject(reason: LbReject, lb: string | undefined, detail: string): void {
    this.counters.rejected[reason] = (this.counters.rejected[reason] ?? 0) + 1;
    this.opts.log.debug({ lb, reason, detail }, 'lb message rejected');
  }

  private record(id: string): LbRecord {
    let r = this.records.get(id);
    if (!r) this.records.set(id, (r = { id, label: id, nameservers: [], resolvers: [], prefixes: [], configured: false }));
    return r;
  }

  /** One MQTT message on vantage/v1/lbs/{id}/{kind}. Never throws. */
  handle(topic: string, payload: Buffer): void {
    const t = parseLbTopic(topic);
    if (!t) return this.reject('topic', undefined, topic);
    const { lb, kind } = t;
    if (!this.records.has(lb) && this.records.size >= MAX_LBS) return this.reject('too_many_lbs', lb, `more than ${MAX_LBS} LBs`);
    // An empty retained payload clears the topic (MQTT 3.3.1.3): nothing to apply.
    if (payload.length === 0) return;
    try {
      const check = { topicLb: lb, now: this.now() };
      if (kind === 'map') {
        const m = parseLbMap(payload, check);
        const owner = [...this.records.values()].find((x) => x.id !== lb && x.label === m.label);
        if (owner) return this.reject('label_taken', lb, `label "${m.label}" belongs to lb "${owner.id}"`);
        const r = this.record(lb);
        r.map = m;
        r.mapAt = this.now();
        r.label = m.label;
        this.counters.accepted.map++;
      } else if (kind === 'status') {
        const s = parseLbStatus(payload, check);
        const r = this.record(lb);
        r.status = s.state;
        r.statusAt = this.now();
        this.counters.accepted.status++;
      } else {
        const m = parseLbRankings(payload, check);
        const r = this.record(lb);
        // A replay is older in both seq and ts; a restarted LB starts its seq again with a newer ts.
        if (r.rankings && m.seq <= r.rankings.seq && m.ts <= r.rankings.ts) {
          return this.reject('stale_seq', lb, `seq ${m.seq} ≤ ${r.rankings.seq}`);
        }
        r.rankings = m;
        r.rankingsAt = this.now();
        this.counters.accepted.rankings++;
      }
      this.opts.onChange(lb, kind);
    } catch (err) {
      if (err instanceof ProtocolError) return this.reject(err.reason as LbReject, lb, err.message);
      this.opts.log.error({ err, lb, topic }, 'lb message failure');
    }
  }

  /** The LB's effective map: static entries plus what its map message announces. */
  effective(r: LbRecord): { nameservers: readonly Nameserver[]; resolvers: string[]; prefixes: string[] } {
    const nameservers = r.map?.nameservers.length ? r.map.nameservers : r.nameservers;
    return {
      nameservers,
      resolvers: [...new Set([...r.resolvers, ...(r.map?.resolvers ?? [])])],
      prefixes: [...new Set([...r.prefixes, ...(r.map?.prefixes ?? [])])],
    };
  }
}
