// MQTT ingest: validates every agent message at the edge (shared/protocol.ts), counts
// rejections by reason, queues results for the batched writer, folds them into the
// ranking windows and re-ranks the affected (agent, service) pairs at once.
import { ProtocolError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import {
  parseAgentTopic, parseAnnounce, parseMetrics, parseStatus, type Announce, type Metrics, type RejectReason, type Result, type Status,
} from '../../shared/protocol.js';
import type { Freshness } from '../ranking/freshness.js';
import type { RankEngine } from '../ranking/engine.js';
import { familyOf } from '../ranking/families.js';
import type { ResultWriter, StoredResult } from '../store/results.js';
import type { Store } from '../store/store.js';
import { Enrolment } from './credentials.js';

/** Message-level rejection reasons (shared RejectReason + the selector's own). */
export type IngestReject = RejectReason | 'not_enrolled' | 'stale_seq' | 'old_ts';
/** Result-level rejection reasons: the rest of the message is still used. */
export type ResultReject = 'unknown_service' | 'unknown_site' | 'address_mismatch' | 'impossible';

export interface IngestCounters {
  accepted: { status: number; announce: number; metrics: number };
  rejected: Partial<Record<IngestReject, number>>;
  results: number;
  resultsRejected: Partial<Record<ResultReject, number>>;
  /** Status/announce rows the database refused (the in-memory state was still updated). */
  dbWriteErrors: number;
}

export interface IngestDeps {
  store: Store;
  writer: ResultWriter;
  engine: RankEngine;
  freshness: Freshness;
  authRequired: boolean;
  /** Enrolled agents in memory (shared with the broker and the admin API); default: loaded from `store`. */
  enrolment?: Enrolment;
  log: Logger;
  /** Called after an announce: prefixes/resolvers must be rebuilt. */
  onAnnounce(agent: string, announce: Announce): void;
  /** Called with the proxy-cache totals a metrics message carries (optional field). */
  onProxyTotals?(agent: string, totals: NonNullable<Metrics['proxy']>): void;
  /** Called with every valid status (proxy-cache health rides on it). */
  onStatus?(agent: string, status: Status): void;
  /** Called after a status or metrics message that may change the agent's state. */
  onAgentActivity(agent: string): void;
  now?: () => number;
  /** Metrics older than this are rejected (old_ts); default 48 h (retention.rawHours). */
  maxAgeMs?: number;
}

/** A phase can never exceed the total (allow 1 ms for rounding of separate clocks). */
function impossible(r: Result): boolean {
  if (r.totalMs === null) return false;
  const limit = r.totalMs + 1;
  return (r.connectMs ?? 0) > limit || (r.tlsMs ?? 0) > limit || (r.ttfbMs ?? 0) > limit;
}

export function createIngest(deps: IngestDeps) {
  const { store, writer, engine, freshness, log } = deps;
  const now = deps.now ?? Date.now;
  const counters: IngestCounters = { accepted: { status: 0, announce: 0, metrics: 0 }, rejected: {}, results: 0, resultsRejected: {}, dbWriteErrors: 0 };
  const lastSeq = new Map<string, number>();
  const maxAgeMs = deps.maxAgeMs ?? 48 * 3_600_000;
  const enrolment = deps.authRequired ? deps.enrolment ?? new Enrolment(store) : undefined;

  function reject(reason: IngestReject, agent: string | undefined, detail: string): void {
    counters.rejected[reason] = (counters.rejected[reason] ?? 0) + 1;
    log.debug({ agent, reason, detail }, 'message rejected');
  }

  /** A refused write (locked or full disk) must not undo what memory already knows. */
  function persist(agent: string, write: () => void): void {
    try {
      write();
    } catch (err) {
      counters.dbWriteErrors++;
      log.error({ err, agent }, 'database write failed; state kept in memory');
    }
  }

  function dropResult(reason: ResultReject): void {
    counters.resultsRejected[reason] = (counters.resultsRejected[reason] ?? 0) + 1;
  }

  function onMetrics(agent: string, m: Metrics): void {
    // A round older than raw retention would be pruned at once and could drag a window
    // back in time (ts 0 is schema-valid): reject it before it touches seq or the store.
    if (m.ts < now() - maxAgeMs) return reject('old_ts', agent, `ts ${m.ts} older than ${maxAgeMs} ms`);
    const last = lastSeq.get(agent);
    if (last !== undefined && m.seq <= last) return reject('stale_seq', agent, `seq ${m.seq} ≤ ${last}`);
    lastSeq.set(agent, m.seq);
    const rows: StoredResult[] = [];
    const services = new Set<string>();
    for (const r of m.results) {
      const site = engine.site(r.service, r.site);
      if (site === null) { dropResult('unknown_service'); continue; }
      if (site === undefined) { dropResult('unknown_site'); continue; }
      if (site.address !== r.address && !site.addresses?.includes(r.address)) { dropResult('address_mismatch'); continue; }
      if (impossible(r)) { dropResult('impossible'); continue; }
      rows.push({
        agent, service: r.service, site: r.site, address: r.address, ts: m.ts, ok: r.ok, status: r.status, connectMs: r.connectMs,
        tlsMs: r.tlsMs, ttfbMs: r.ttfbMs, totalMs: r.totalMs, bytes: r.bytes, error: r.error,
      });
      engine.add(agent, r.service, r.site, { ts: m.ts, ok: r.ok, totalMs: r.totalMs }, familyOf(r.address));
      services.add(r.service);
    }
    counters.accepted.metrics++;
    counters.results += rows.length;
    if (m.proxy) deps.onProxyTotals?.(agent, m.proxy);
    writer.addResults(rows);
    writer.markSeen(agent, m.seq, m.intervalS, m.ts);
    // Arrival time, not the agent's clock: a skewed agent clock must not make it look stale.
    freshness.noteMetrics(agent, now(), m.intervalS);
    if (!engine.isFresh(agent)) deps.onAgentActivity(agent);
    for (const svc of services) engine.rankAgent(agent, svc);
    if (engine.isFresh(agent)) for (const svc of services) engine.scheduleDefault(svc);
  }

  function handle(topic: string, payload: Buffer): void {
    const t = parseAgentTopic(topic);
    if (!t) return reject('topic', undefined, topic);
    const { agent, kind } = t;
    try {
      if (enrolment && !enrolment.has(agent)) return reject('not_enrolled', agent, 'agent has no credentials');
      const check = { topicAgent: agent, now: now() };
      if (kind === 'metrics') {
        onMetrics(agent, parseMetrics(payload, check));
      } else if (kind === 'status') {
        // An empty retained payload clears the topic (MQTT 3.3.1.3); nothing to do.
        if (payload.length === 0) return;
        const s = parseStatus(payload, check);
        counters.accepted.status++;
        // Arrival time: a last will carries the ts of the agent's connect, older than its metrics.
        freshness.noteStatus(agent, s.state, now());
        writer.addEvent({ ts: s.ts, kind: `agent_status_${s.state}`, agent });
        deps.onStatus?.(agent, s);
        deps.onAgentActivity(agent);
        persist(agent, () => store.recordStatus(agent, s.state, s.ts));
      } else {
        if (payload.length === 0) return;
        const a = parseAnnounce(payload, check);
        counters.accepted.announce++;
        deps.onAnnounce(agent, a);
        persist(agent, () => store.recordAnnounce(agent, a.pop, a, a.prefixes, a.ts));
      }
    } catch (err) {
      if (err instanceof ProtocolError) return reject(err.reason, agent, err.message);
      log.error({ err, agent, topic }, 'ingest failure');
    }
  }

  return {
    handle,
    counters,
    /** Seeds replay protection from the DB at start. */
    setLastSeq(agent: string, seq: number): void {
      lastSeq.set(agent, seq);
    },
    /** A removed agent: its replay mark goes too (a re-enrolled agent may start again at seq 1). */
    forget(agent: string): void {
      lastSeq.delete(agent);
    },
  };
}

export type Ingest = ReturnType<typeof createIngest>;
