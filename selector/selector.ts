// The selector daemon: store, broker (embedded or external), ingest, ranking,
// answer table, client mapper and the DNS server, wired together.
// createSelector(config).start() opens the DB, rebuilds the ranking windows from
// SQLite and precomputes every answer BEFORE the DNS server starts answering, so the
// first answer after a restart already uses measurements.
import { AdminError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { silentLogger } from '../shared/log.js';
import { brokerUrls } from '../shared/broker-urls.js';
import { CATALOGUE_TOPIC } from '../shared/protocol.js';
import type { SettingRejection } from '../shared/catalogue-settings.js';
import { MemoryAnswerTable } from './dns/answer-table.js';
import { createEmbeddedBroker } from './mqtt/embedded-broker.js';
import type { MessageBus } from './mqtt/bus.js';
import { ClientMapFeeder } from './mapping/feeder.js';
import { isExternalBroker, type SelectorConfig } from './config.js';
import { createExternalBus } from './mqtt/external-client.js';
import { Freshness, type AgentState } from './ranking/freshness.js';
import { createIngest, type Ingest } from './mqtt/ingest.js';
import { Enrolment } from './mqtt/credentials.js';
import { PrefixClientMapper } from './mapping/mapper.js';
import { RankEngine } from './ranking/engine.js';
import { ProxyAnswers } from './ranking/proxy-answers.js';
import { ProxyStatsView } from './admin/proxy-stats.js';
import { familyOf } from './ranking/families.js';
import { CapacityPlanner, type SiteCapacity } from './ranking/capacity.js';
import { createDnsServer, type DnsServer } from './dns/index.js';
import { TrackedAnswerTable, TrackedMapper } from './dns/snapshot.js';
import { createDnsWorkers, defaultDnsWorkers } from './dns/workers.js';
import { createAdmin, type Admin } from './admin/admin.js';
import { CatalogueAdmin, loadAdminState } from './admin/catalogue-admin.js';
import { createCatalogueSync, type CatalogueSync } from './replica/catalogue-sync.js';
import { ResultWriter } from './store/results.js';
import { Retention } from './store/retention.js';
import { Store, type EventRecord } from './store/store.js';
import { MirrorTable } from './uplink/mirror-table.js';
import { createUplink, type Uplink } from './uplink/uplink.js';
import { labelOf } from './uplink/payloads.js';
import { applyBackboneCatalogue } from './uplink/catalogue-sync.js';
import { createBackbone, type Backbone } from './backbone/backbone.js';
import type { BackboneConfig } from './backbone/config.js';
import { registerBackboneMetrics } from './backbone/metrics.js';
import { explainChain, lbRows } from './backbone/view.js';
import { checkLbPassword } from './backbone/credentials.js';
import { LBS_PREFIX, LBS_TOPIC } from '../shared/lb-protocol.js';

export interface SelectorOptions {
  log?: Logger;
  /** Freshness re-evaluation period (ms); default 1000. */
  tickMs?: number;
  /** Retention pass period (ms): age, tiering, size budget; default 1 minute (a pass with nothing to do costs a few index probes). */
  pruneEveryMs?: number;
  /** How long start() waits for the first broker connection after DNS is up; default 3000. */
  brokerWaitMs?: number;
  /** Replaces the DNS server factory (embedding the core without DNS). */
  createDns?: typeof createDnsServer;
}

/** Site capacities per service (issue #10 §3), from selector.yaml or the catalogue in the store. */
function capacities(services: readonly { name: string; sites: readonly { id: string; capacity?: SiteCapacity | undefined }[] }[]): Map<string, Map<string, SiteCapacity>> {
  const byService = new Map<string, Map<string, SiteCapacity>>();
  for (const svc of services) {
    const caps = new Map(svc.sites.flatMap((s) => (s.capacity ? [[s.id, s.capacity] as const] : [])));
    if (caps.size) byService.set(svc.name, caps);
  }
  return byService;
}

/** `fn` at once; asked again before the end of this turn, once more at its end (setImmediate). */
function oncePerTurn(fn: () => void): { (): void; cancel(): void } {
  let pending: NodeJS.Immediate | undefined;
  let again = false;
  const call = (): void => {
    if (pending) { again = true; return; }
    fn();
    pending = setImmediate(() => {
      pending = undefined;
      if (again) { again = false; fn(); }
    });
  };
  return Object.assign(call, { cancel: (): void => { if (pending) clearImmediate(pending); pending = undefined; again = false; } });
}

export function createSelector(config: Readonly<SelectorConfig>, opts: SelectorOptions = {}) {
  const log = opts.log ?? silentLogger();
  const authRequired = config.auth.agents === 'required';
  // dns.workers > 0: DNS on worker threads, which get every change of the table and mapper.
  // A backbone answers through its own query path in front of the standard one: in this loop.
  // Capacity-aware services count queries per answer key: each worker counts its own and
  // posts them every second into `table` (TrackedAnswerTable.mergeCounts), where ranking reads them.
  const dnsWorkers = opts.createDns || config.backbone ? 0 : config.dns.workers ?? defaultDnsWorkers();
  // DNS in this loop with the batch engine's packet cache: the table and mapper report each
  // change, which empties the cache before the next datagram (their ops are not shipped).
  const cacheInLoop = dnsWorkers === 0 && !opts.createDns && !config.backbone && config.dns.packetCache !== false && config.dns.rateLimit === 0;
  const tracked = dnsWorkers > 0 || cacheInLoop;
  const table = tracked ? new TrackedAnswerTable() : new MemoryAnswerTable();
  // Proxy-mode services: the engine writes ranked sites through this decorator, DNS reads `table`.
  const proxyStats = new ProxyStatsView();
  // An LB (uplink:) also answers {label}.{service} and pushes answer changes to its backbone.
  let uplink: Uplink | undefined;
  const engineTable = config.uplink ? new MirrorTable(table, labelOf(config.uplink), () => uplink?.changed()) : table;
  const answers = new ProxyAnswers(engineTable, new Set(config.services.filter((s) => s.mode === 'proxy').map((s) => s.name.toLowerCase())));
  // Capacities and proxy mode come from the store's services (selector.yaml, admin, or a catalogue): see setServices.
  const planner = new CapacityPlanner(capacities(config.services), { hysteresisPct: config.ranking.hysteresisPct, demandWindowMs: 30_000 });
  const mapper = tracked ? new TrackedMapper(new PrefixClientMapper()) : new PrefixClientMapper();
  const feeder = new ClientMapFeeder(mapper, config.prefixes);
  const freshness = new Freshness(config.ranking.staleIntervals);
  let store: Store | undefined;
  let writer: ResultWriter | undefined;
  let retention: Retention | undefined;
  let engine: RankEngine | undefined;
  let ingest: Ingest | undefined;
  let bus: MessageBus | undefined;
  let dns: DnsServer | undefined;
  let admin: Admin | undefined;
  let enrolment: Enrolment | undefined;
  let sync: CatalogueSync | undefined;
  // A backbone (backbone:) takes the LBs' maps and rankings and answers in front of the standard path.
  const backbone: Backbone | undefined = config.backbone
    ? createBackbone({ config: config.backbone, zones: config.dns.zones, staleIntervals: config.ranking.staleIntervals, log: log.child({ component: 'backbone' }) })
    : undefined;
  let dbWriteErrors = 0;
  /** Set by close(): a start() still waiting for the broker stops there. */
  let closing = false;
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
    backbone?.evaluate();
  }

  /** Loads the services from the store into the engine (with their proxy mode and capacities) and the backbone. */
  function setServices(s: Store, e: RankEngine): void {
    const list = s.loadServices();
    answers.setProxyServices(new Set(list.filter((x) => x.mode === 'proxy').map((x) => x.name.toLowerCase())));
    planner.setCapacity(capacities(list));
    e.setServices(list);
    backbone?.setServices(e.serviceList());
  }

  // Agent activity and announces each cost O(agents) (every state re-evaluated, the whole
  // prefix map rebuilt): the first in a turn is applied at once, the rest of that turn once
  // at its end, so a burst of 1,000 agents joining or announcing is not O(agents²) (issue #12).
  const agentActivity = oncePerTurn(() => evaluateAgents());
  const announced = oncePerTurn(() => { feeder.apply(); uplink?.changed(); });

  /** Re-reads services from the DB (after an admin change), re-ranks, publishes a new catalogue revision. */
  async function servicesChanged(): Promise<void> {
    if (!store || !engine) return;
    setServices(store, engine);
    await sync?.localChange();
  }

  /**
   * Removes an agent from the running daemon: credentials (DB and memory), its broker
   * connection and retained topics, its replay mark, freshness, windows, rankings,
   * answers and prefixes. Clients it served get the default answer at once.
   */
  async function removeAgent(id: string): Promise<boolean> {
    if (!store || !engine || !enrolment) throw new AdminError(503, 'selector not started');
    const removed = enrolment.remove(id);
    const closed = await bus?.disconnectAgent(id);
    if (closed === undefined) log.warn({ agent: id }, 'agent removed; the external broker keeps its own credentials: remove them there to close its connection');
    ingest?.forget(id);
    writer?.forgetAgent(id);
    freshness.forget(id);
    feeder.forget(id);
    feeder.setConfigured([...config.prefixes, ...store.adminPrefixes()]);
    feeder.apply();
    engine.forgetAgent(id);
    evaluateAgents();
    log.info({ agent: id, removed, connectionsClosed: closed }, 'agent removed');
    return removed;
  }

  /** One retention pass, in batches (store/retention.ts); never throws. */
  async function prune(): Promise<void> {
    try {
      const n = await retention?.run();
      if (n?.overBudget) log.warn(n, 'database over retention.maxDbMiB even without raw results and rollups');
      else if (n && (n.results || n.sizeResults || n.rollups || n.sizeRollups || n.hourly)) log.info(n, 'pruned old results');
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
      const ann = a.announce as { prefixes?: string[]; resolvers?: string[]; proxy?: { addresses: string[]; services: string[] } } | null;
      if (ann?.prefixes && ann.resolvers) feeder.setAnnounce(a.id, { prefixes: ann.prefixes, resolvers: ann.resolvers });
      answers.setAnnounce(a.id, ann?.proxy);
    }
    const newest = new Map<string, number>();
    let rows = 0;
    // Results outlive a removed agent (retention); its windows must not come back at a restart.
    const known = new Set(agents.map((a) => a.id));
    for (const r of w.resultsSince(Date.now() - config.ranking.windowS * 1000)) {
      if (!known.has(r.agent)) continue;
      e.add(r.agent, r.service, r.site, { ts: r.ts, ok: r.ok, totalMs: r.totalMs }, r.address ? familyOf(r.address) : undefined);
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
    /** Proxy-cache mode decisions (explain, tests). */
    proxyAnswers: answers,
    async start(): Promise<void> {
      closing = false;
      const s = (store = new Store(config.db));
      s.syncConfigServices(config.services);
      s.setStaticPrefixes(config.prefixes);
      loadAdminState(s, feeder, config.prefixes);
      const enrolled = (enrolment = new Enrolment(s));
      const w = (writer = new ResultWriter(s, { onError: (err) => { dbWriteErrors++; log.error({ err }, 'result write failed'); } }));
      const e = (engine = new RankEngine({ ranking: config.ranking, table: answers, event, capacity: planner }));
      setServices(s, e);
      const i = (ingest = createIngest({
        store: s, writer: w, engine: e, freshness, authRequired, enrolment: enrolled, log: log.child({ component: 'ingest' }),
        maxAgeMs: config.retention.rawHours * 3_600_000,
        onAnnounce: (agent, a) => {
          feeder.setAnnounce(agent, a);
          answers.setAnnounce(agent, a.proxy);
          announced();
        },
        onStatus: (agent, st) => answers.setStatus(agent, st.state, st.proxy),
        onProxyTotals: (agent, totals) => proxyStats.update(agent, totals, Date.now()),
        onAgentActivity: agentActivity,
      }));
      rebuild(s, w, e, i);
      retention = new Retention(s, config.retention, { keepRawMs: config.ranking.windowS * 1000 });
      void prune(); // in batches, while the selector starts
      const cs = (sync = createCatalogueSync({
        store: s, admin: new CatalogueAdmin(s, config.dns.zones, feeder, config.prefixes), configServices: config.services,
        services: () => e.serviceList(), log: log.child({ component: 'catalogue' }),
        publish: (payload) => bus?.publishRetained(CATALOGUE_TOPIC, payload) ?? Promise.resolve(),
        applied: () => setServices(s, e), replicate: isExternalBroker(config),
      }));
      cs.noteConfig();
      // DNS first: it answers from the persisted state rebuilt above whatever the bus does
      // (DNS worker threads take a moment to start).
      const dnsServices = e.serviceList().map((x) => x.name);
      // An LB is authoritative for the child names its backbone delegates to it: `{label}.{service}`.
      const child = config.uplink ? { label: labelOf(config.uplink), ns: config.uplink.nameservers.map((n) => n.name) } : undefined;
      dns = dnsWorkers > 0 && table instanceof TrackedAnswerTable && mapper instanceof TrackedMapper
        ? createDnsWorkers({
          dns: config.dns, table, mapper, workers: dnsWorkers, services: dnsServices, child, log,
          mapperModule: new URL('./mapping/mapper.js', import.meta.url).href, mapperExport: PrefixClientMapper.name,
        })
        : (opts.createDns ?? createDnsServer)({
          dns: config.dns, table, mapper, log: log.child({ component: 'dns' }), services: dnsServices, child, wrapResponder: backbone?.wrap(table),
          packetCache: cacheInLoop,
        });
      if (cacheInLoop && table instanceof TrackedAnswerTable && mapper instanceof TrackedMapper) {
        const server = dns;
        table.onChange = mapper.onChange = () => {
          table.takeOps();
          mapper.takeInputs();
          server.invalidateCache?.();
        };
      }
      await dns.start();
      const onMessage = (topic: string, payload: Buffer): void => {
        if (backbone && topic.startsWith(LBS_PREFIX)) backbone.handle(topic, payload);
        else i.handle(topic, payload);
      };
      const extraTopics = backbone ? [LBS_TOPIC] : [];
      // External broker: start() only begins connecting (DNS never waits for the bus);
      // the catalogue is kept and published on connect.
      // Replicas: other selectors' catalogues arrive on the retained topic; ours is
      // published after the broker had its moment to deliver a newer one (catalogue-sync.ts).
      const external = isExternalBroker(config);
      const b = (bus = external
        ? createExternalBus(config.mqtt, { onMessage, onCatalogue: cs.onCatalogue, onConnect: cs.onConnect, clientId: `vantage-selector-${cs.replicaId}`, extraTopics }, log.child({ component: 'mqtt' }))
        : createEmbeddedBroker({
          mqtt: config.mqtt, authRequired, store: s, enrolment: enrolled, onMessage, log: log.child({ component: 'broker' }), extraTopics,
          checkLb: backbone ? (id, password) => checkLbPassword(s, id, password) : undefined,
        }));
      await b.start();
      if (!external) await cs.publishCurrent();
      admin = createAdmin({
        config, store: s, engine: e, freshness, feeder, dns, ingest: i, writer: w, log: log.child({ component: 'admin' }), proxy: answers, proxyStats,
        dbWriteErrors: () => dbWriteErrors, servicesChanged, addAgent: (id) => enrolled.add(id), removeAgent,
        broker: { broker: () => bus?.status(), catalogueSync: () => sync?.counters },
        backbone: backbone && config.backbone && {
          lbs: () => lbRows(backbone),
          explain: (name, client, source) => explainChain(backbone, config.backbone as BackboneConfig, name, client, source),
          registerMetrics: (registry) => registerBackboneMetrics(registry, backbone),
        },
      });
      await admin.start();
      const http = admin.address();
      try {
        s.markDaemon({ pid: process.pid, http: http ? `${http.host}:${http.port}` : null, startedAt: Date.now() });
      } catch (err) {
        log.warn({ err }, 'cannot mark the database as in use (CLI commands may write it directly)');
      }
      // Everything answers already; give a reachable broker a moment so start() usually
      // returns subscribed (no agent message is missed), but never wait for a dead one.
      const connected = await b.waitConnected(opts.brokerWaitMs ?? 3000);
      // A SIGTERM while we waited: close() has run (or is running); nothing more to start.
      if (closing) return;
      if (!connected) log.warn({ urls: brokerUrls(config.mqtt) }, 'no broker reachable yet; answering DNS from persisted state and connecting in the background');
      if (config.uplink) {
        const configured = new Set(config.services.map((x) => x.name));
        uplink = createUplink({
          config: config.uplink, table, services: () => e.serviceList().map((x) => x.name), agents: () => feeder.agentMap(),
          log: log.child({ component: 'uplink' }),
          onCatalogue: (cat) => {
            const rejected: SettingRejection[] = [];
            const changed = applyBackboneCatalogue(s, cat, configured, rejected);
            if (rejected.length) uplink?.settingsRejected(rejected);
            if (changed) servicesChanged().catch((err: unknown) => log.error({ err }, 'catalogue from the backbone not applied'));
          },
        });
        uplink.start();
      }
      timers.push(setInterval(evaluateAgents, opts.tickMs ?? 1000).unref());
      timers.push(setInterval(() => void prune(), opts.pruneEveryMs ?? 60_000).unref());
      log.info({ dns: dns.addresses(), mqtt: b.address() ?? brokerUrls(config.mqtt), brokerConnected: connected, http: admin.address() }, 'selector started');
    },
    async close(): Promise<void> {
      closing = true;
      for (const t of timers.splice(0)) clearInterval(t);
      agentActivity.cancel();
      announced.cancel();
      sync?.close();
      await uplink?.close().catch((err: unknown) => log.error({ err }, 'uplink close failed'));
      uplink = undefined;
      await admin?.close().catch((err: unknown) => log.error({ err }, 'admin close failed'));
      admin = undefined;
      await dns?.close().catch((err: unknown) => log.error({ err }, 'dns close failed'));
      await bus?.close().catch((err: unknown) => log.error({ err }, 'mqtt close failed'));
      engine?.close();
      await retention?.close(); // never close the database under a pass in progress
      retention = undefined;
      writer?.close();
      try {
        store?.markDaemon(undefined);
      } catch (err) {
        log.warn({ err }, 'cannot clear the in-use mark of the database');
      }
      store?.close();
      dns = undefined;
      bus = undefined;
      writer = undefined;
      store = undefined;
    },
    dnsAddresses: () => dns?.addresses() ?? [],
    mqttAddress: () => bus?.address(),
    brokerStatus: () => bus?.status(),
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
    /** Catalogue replication: replica id, revision, counters. */
    catalogueSync: () => sync,
    uplink: () => uplink,
    backbone: () => backbone,
  };
}

export type Selector = ReturnType<typeof createSelector>;
