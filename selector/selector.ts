// The selector daemon: store, broker (embedded or external), ingest, ranking,
// answer table, client mapper and the DNS server, wired together.
// createSelector(config).start() opens the DB, rebuilds the ranking windows from
// SQLite and precomputes every answer BEFORE the DNS server starts answering, so the
// first answer after a restart already uses measurements.
import type { Logger } from '../shared/log.js';
import { silentLogger } from '../shared/log.js';
import { CATALOGUE_TOPIC } from '../shared/protocol.js';
import { MemoryAnswerTable } from './dns/answer-table.js';
import { createEmbeddedBroker } from './mqtt/embedded-broker.js';
import type { MessageBus } from './mqtt/bus.js';
import { buildCatalogue } from './mqtt/catalogue.js';
import { ClientMapFeeder } from './mapping/feeder.js';
import type { SelectorConfig } from './config.js';
import { createExternalBus } from './mqtt/external-client.js';
import { Freshness, type AgentState } from './ranking/freshness.js';
import { createIngest, type Ingest } from './mqtt/ingest.js';
import { PrefixClientMapper } from './mapping/mapper.js';
import { RankEngine } from './ranking/engine.js';
import { CapacityPlanner, type SiteCapacity } from './ranking/capacity.js';
import { createDnsServer, type DnsServer } from './dns/index.js';
import { createAdmin, type Admin } from './admin/admin.js';
import { loadAdminState } from './admin/catalogue-admin.js';
import { ResultWriter } from './store/results.js';
import { Store, type EventRecord } from './store/store.js';

export interface SelectorOptions {
  log?: Logger;
  /** Freshness re-evaluation period (ms); default 1000. */
  tickMs?: number;
  /** Retention pruning period (ms); default 10 minutes. */
  pruneEveryMs?: number;
  /** Replaces the DNS server factory (embedding the core without DNS). */
  createDns?: typeof createDnsServer;
}

/** Site capacities from the config (issue #10 §3); undefined when no site has one (today's behaviour). */
function capacityPlanner(config: Readonly<SelectorConfig>): CapacityPlanner | undefined {
  const byService = new Map<string, Map<string, SiteCapacity>>();
  for (const svc of config.services) {
    const caps = new Map(svc.sites.flatMap((s) => (s.capacity ? [[s.id, s.capacity] as const] : [])));
    if (caps.size) byService.set(svc.name, caps);
  }
  return byService.size ? new CapacityPlanner(byService, { hysteresisPct: config.ranking.hysteresisPct, demandWindowMs: 30_000 }) : undefined;
}

export function createSelector(config: Readonly<SelectorConfig>, opts: SelectorOptions = {}) {
  const log = opts.log ?? silentLogger();
  const authRequired = config.auth.agents === 'required';
  const table = new MemoryAnswerTable();
  const mapper = new PrefixClientMapper();
  const feeder = new ClientMapFeeder(mapper, config.prefixes);
  const freshness = new Freshness(config.ranking.staleIntervals);
  let store: Store | undefined;
  let writer: ResultWriter | undefined;
  let engine: RankEngine | undefined;
  let ingest: Ingest | undefined;
  let bus: MessageBus | undefined;
  let dns: DnsServer | undefined;
  let admin: Admin | undefined;
  let dbWriteErrors = 0;
  let firstEvaluation = true;
  const timers: NodeJS.Timeout[] = [];

  /** Decision log: stored for `events`, and logged at info (state changes only; never per query). */
  const event = (e: EventRecord): void => {
    writer?.addEvent(e);
    log.info({ event: e.kind, agent: e.agent, service: e.service, site: e.site, detail: e.detail }, e.kind.replace(/_/g, ' '));
  };

  /** Re-evaluates agent states, feeds the mapper and the aggregate, records changes. */
  function evaluateAgents(): void {
    if (!engine) return;
    const { states, changes } = freshness.evaluate(Date.now());
    if (!firstEvaluation) {
      for (const c of changes) event({ ts: Date.now(), kind: `agent_${c.to === 'fresh' ? 'online' : c.to}`, agent: c.agent, detail: { from: c.from ?? null } });
    }
    firstEvaluation = false;
    mapper.setAgentStates(states as ReadonlyMap<string, AgentState>);
    engine.setFresh(new Set([...states].filter(([, s]) => s === 'fresh').map(([a]) => a)));
  }

  async function publishCatalogue(): Promise<void> {
    if (!bus || !engine) return;
    await bus.publishRetained(CATALOGUE_TOPIC, JSON.stringify(buildCatalogue(engine.serviceList(), Date.now())));
  }

  /** Re-reads services from the DB (after an admin change), re-ranks, republishes the catalogue. */
  async function servicesChanged(): Promise<void> {
    if (!store || !engine) return;
    engine.setServices(store.loadServices());
    await publishCatalogue();
  }

  function prune(): void {
    try {
      const n = writer?.prune(Date.now(), config.retention.rawHours, config.retention.rollupDays);
      if (n && (n.results || n.rollups)) log.info(n, 'pruned old results');
    } catch (err) {
      log.error({ err }, 'prune failed');
    }
  }

  /** Loads agents and the last windowS of results from SQLite; no events while replaying. */
  function rebuild(s: Store, w: ResultWriter, e: RankEngine, i: Ingest): void {
    e.live = false;
    const agents = s.listAgents();
    for (const a of agents) {
      if (a.lastSeq !== null) i.setLastSeq(a.id, a.lastSeq);
      // Offline before the restart: stays offline until its metrics arrive again.
      if (a.state === 'offline') freshness.noteStatus(a.id, 'offline', Date.now());
      const ann = a.announce as { prefixes?: string[]; resolvers?: string[] } | null;
      if (ann?.prefixes && ann.resolvers) feeder.setAnnounce(a.id, { prefixes: ann.prefixes, resolvers: ann.resolvers });
    }
    const newest = new Map<string, number>();
    let rows = 0;
    for (const r of w.resultsSince(Date.now() - config.ranking.windowS * 1000)) {
      e.add(r.agent, r.service, r.site, { ts: r.ts, ok: r.ok, totalMs: r.totalMs });
      newest.set(r.agent, Math.max(newest.get(r.agent) ?? 0, r.ts));
      rows++;
    }
    for (const a of agents) {
      const ts = newest.get(a.id);
      if (ts !== undefined && a.intervalS !== null) freshness.noteMetrics(a.id, ts, a.intervalS);
    }
    feeder.apply();
    evaluateAgents();
    e.rankAll();
    e.live = true;
    log.info({ agents: agents.length, results: rows }, 'rebuilt ranking windows from the database');
  }

  return {
    table,
    mapper,
    async start(): Promise<void> {
      const s = (store = new Store(config.db));
      s.syncConfigServices(config.services);
      s.setStaticPrefixes(config.prefixes);
      loadAdminState(s, feeder, config.prefixes);
      const w = (writer = new ResultWriter(s, { onError: (err) => { dbWriteErrors++; log.error({ err }, 'result write failed'); } }));
      const e = (engine = new RankEngine({ ranking: config.ranking, table, event, capacity: capacityPlanner(config) }));
      e.setServices(s.loadServices());
      const i = (ingest = createIngest({
        store: s, writer: w, engine: e, freshness, authRequired, log: log.child({ component: 'ingest' }),
        maxAgeMs: config.retention.rawHours * 3_600_000,
        onAnnounce: (agent, a) => {
          feeder.setAnnounce(agent, a);
          feeder.apply();
        },
        onAgentActivity: () => evaluateAgents(),
      }));
      rebuild(s, w, e, i);
      prune();
      const onMessage = (topic: string, payload: Buffer): void => i.handle(topic, payload);
      bus = config.mqtt.url
        ? createExternalBus(config.mqtt, onMessage, log.child({ component: 'mqtt' }))
        : createEmbeddedBroker({ mqtt: config.mqtt, authRequired, store: s, onMessage, log: log.child({ component: 'broker' }) });
      await bus.start();
      await publishCatalogue();
      dns = (opts.createDns ?? createDnsServer)({
        dns: config.dns, table, mapper, log: log.child({ component: 'dns' }), services: e.serviceList().map((x) => x.name),
      });
      await dns.start();
      admin = createAdmin({
        config, store: s, engine: e, freshness, feeder, dns, ingest: i, writer: w, log: log.child({ component: 'admin' }),
        dbWriteErrors: () => dbWriteErrors, servicesChanged,
      });
      await admin.start();
      timers.push(setInterval(evaluateAgents, opts.tickMs ?? 1000).unref());
      timers.push(setInterval(prune, opts.pruneEveryMs ?? 600_000).unref());
      log.info({ dns: dns.addresses(), mqtt: bus.address() ?? config.mqtt.url, http: admin.address() }, 'selector started');
    },
    async close(): Promise<void> {
      for (const t of timers.splice(0)) clearInterval(t);
      await admin?.close().catch((err: unknown) => log.error({ err }, 'admin close failed'));
      admin = undefined;
      await dns?.close().catch((err: unknown) => log.error({ err }, 'dns close failed'));
      await bus?.close().catch((err: unknown) => log.error({ err }, 'mqtt close failed'));
      engine?.close();
      writer?.close();
      store?.close();
      dns = undefined;
      bus = undefined;
      writer = undefined;
      store = undefined;
    },
    dnsAddresses: () => dns?.addresses() ?? [],
    mqttAddress: () => bus?.address(),
    /** The admin API's bound address (http.listen). */
    adminAddress: () => admin?.address(),
    dnsStats: () => dns?.stats(),
    ingestCounters: () => ingest?.counters,
    /** Rows committed to SQLite since start. */
    committedResults: () => writer?.committed ?? 0,
    flush: () => writer?.flush(),
    store: () => store,
    engine: () => engine,
    agentStates: () => freshness.current(),
    servicesChanged,
  };
}

export type Selector = ReturnType<typeof createSelector>;
