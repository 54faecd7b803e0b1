// The admin API on `http.listen` (createAdmin(deps) → { start(), close(), address() }):
// JSON endpoints for every CLI command, Prometheus `/metrics`, and the status page
// at `/`. Started by createSelector after the DNS server; reads the daemon's live
// state (freshness, rankings, DNS decide) and reads the store through its typed
// methods (no SQL here). Operator changes (catalogue, drains, prefixes, agents) are
// applied to the live daemon at once.
import type { Registry } from 'prom-client';
import type { Logger } from '../../shared/log.js';
import type { ClientMapFeeder } from '../mapping/feeder.js';
import type { SelectorConfig } from '../config.js';
import type { DnsServer } from '../dns/index.js';
import type { DnsStats } from '../dns/stats.js';
import type { Freshness } from '../ranking/freshness.js';
import type { Ingest } from '../mqtt/ingest.js';
import { createSelectorMetrics } from './metrics.js';
import { registerHealthMetrics } from './health-metrics.js';
import { registerBrokerMetrics, type BrokerMetricsSources } from './broker-metrics.js';
import { registerHistoryMetrics } from './history-metrics.js';
import type { RankEngine } from '../ranking/engine.js';
import type { ResultWriter } from '../store/results.js';
import { queryEvents } from '../store/events-query.js';
import { metricsSource, queryMetrics } from '../store/metrics-query.js';
import type { Store } from '../store/store.js';
import { AGENT_ID_RE } from '../../shared/protocol.js';
import { statusData } from './status-page/data.js';
import { STATUS_PAGE_HTML } from './status-page/page.js';
import { timelineSvg } from './status-page/timeline-svg.js';
import { queryTimeline, type Timeline } from '../store/timeline.js';
import { agentsView, type LiveAgents } from './agents-view.js';
import { AdminError, CatalogueAdmin } from './catalogue-admin.js';
import { explain, type ExplainDeps } from './explain.js';
import { createHttpServer, type Request, type Route } from './http-server.js';
import type { ProxyStatsView } from './proxy-stats.js';

export interface AdminDeps {
  config: Readonly<SelectorConfig>;
  store: Store;
  engine: RankEngine;
  freshness: Freshness;
  feeder: ClientMapFeeder;
  dns: DnsServer;
  ingest: Ingest;
  writer: ResultWriter;
  dbWriteErrors(): number;
  /** Reloads services from the DB, re-ranks and republishes the retained catalogue. */
  servicesChanged(): Promise<void>;
  /** Enrols an agent in the running daemon (DB and memory); returns its one-time password. */
  addAgent(id: string): Promise<string>;
  /** Removes an agent: credentials, connection, windows, answers and prefixes; false if unknown. */
  removeAgent(id: string): Promise<boolean>;
  /** Broker link and catalogue replication state (`/metrics`, `/api/status`). */
  broker?: BrokerMetricsSources;
  log: Logger;
  /** Proxy-cache mode decisions, shown by explain. */
  proxy?: ExplainDeps['proxy'];
  /** Proxy-cache counters per agent, shown by metrics. */
  proxyStats?: ProxyStatsView;
  /** A backbone's LB views (selector/backbone/): `lbs list`, the explain chain, per-LB metrics. */
  backbone?: {
    lbs(): unknown;
    explain(name: string, client: string, source?: string): unknown;
    registerMetrics(registry: Registry): void;
  };
}

function durationParam(req: Request, name: string, fallbackMs: number): number {
  const v = req.query.get(name);
  if (v === null) return fallbackMs;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new AdminError(400, `${name}: expected a positive number of milliseconds`);
  return n;
}

function agentId(id: unknown): string {
  if (typeof id !== 'string' || !AGENT_ID_RE.test(id)) throw new AdminError(400, `agent id ${JSON.stringify(id ?? null)} must match [a-z0-9][a-z0-9-]{0,62}`);
  return id;
}

function required(req: Request, name: string): string {
  const v = req.query.get(name);
  if (!v) throw new AdminError(400, `missing query parameter "${name}"`);
  return v;
}

export function createAdmin(deps: AdminDeps) {
  const { store, engine, freshness, config, log } = deps;
  const catalogue = new CatalogueAdmin(store, config.dns.zones, deps.feeder, config.prefixes);
  const live: LiveAgents = {
    state: (a) => freshness.current().get(a),
    lastMetricsTs: (a) => freshness.info(a)?.lastMetricsTs,
  };
  const agents = () => agentsView(store, Date.now(), config.ranking.staleIntervals, live);
  const dnsStats = (): DnsStats | undefined => deps.dns.stats();
  const siteIds = (): Map<string, Map<string, string>> =>
    new Map(engine.serviceList().map((s) => [s.name, new Map(s.sites.map((x) => [x.address, x.id]))]));
  const registry = createSelectorMetrics({
    dns: dnsStats,
    ingest: () => deps.ingest.counters,
    agentStates: () => freshness.current(),
    recomputations: () => engine.recomputations,
    dbWriteErrors: deps.dbWriteErrors,
    committedResults: () => deps.writer.committed,
    siteIds,
  });
  registerHealthMetrics(registry, { engine: () => engine, agentStates: () => freshness.current() });
  registerHistoryMetrics(registry, { engine: () => engine });

  const widthParam = (req: Request): number => {
    const w = Number(req.query.get('width') ?? 900);
    if (!Number.isInteger(w) || w < 300 || w > 4000) throw new AdminError(400, 'width: expected an integer from 300 to 4000');
    return w;
  };

  const brokerSrc: BrokerMetricsSources = deps.broker ?? { broker: () => undefined, catalogueSync: () => undefined };
  registerBrokerMetrics(registry, brokerSrc);
  deps.backbone?.registerMetrics(registry);

  const known = (service: string | null): void => {
    if (service && !engine.serviceList().some((s) => s.name === service)) throw new AdminError(404, `unknown service "${service}"`);
  };
  const changed = async (what: string, detail: Record<string, unknown>): Promise<void> => {
    await deps.servicesChanged();
    log.info(detail, what);
  };

  const routes: Route[] = [
    { method: 'GET', pattern: /^\/api\/services$/, handler: () => ({ json: store.listServices() }) },
    { method: 'POST', pattern: /^\/api\/services$/, handler: async (req) => {
      const name = catalogue.addService(req.body);
      await changed('service added', { service: name });
      return { status: 201, json: store.listServices().find((s) => s.name === name) };
    } },
    { method: 'DELETE', pattern: /^\/api\/services\/([^/]+)$/, handler: async ({ params: [name = ''] }) => {
      catalogue.removeService(name);
      await changed('service removed', { service: name });
      return { json: { removed: name } };
    } },
    { method: 'POST', pattern: /^\/api\/services\/([^/]+)\/settings$/, handler: async ({ params: [name = ''], body }) => {
      catalogue.updateSettings(name, body);
      await changed('service settings changed', { service: name, settings: body });
      return { json: store.listServices().find((s) => s.name === name) };
    } },
    { method: 'GET', pattern: /^\/api\/services\/([^/]+)\/sites$/, handler: ({ params: [name = ''] }) => {
      const svc = store.listServices().find((s) => s.name === name);
      if (!svc) throw new AdminError(404, `unknown service "${name}"`);
      return { json: svc.sites };
    } },
    { method: 'POST', pattern: /^\/api\/services\/([^/]+)\/sites$/, handler: async ({ params: [name = ''], body }) => {
      const id = catalogue.addSite(name, body);
      await changed('site added', { service: name, site: id });
      return { status: 201, json: store.listServices().find((s) => s.name === name)?.sites.find((s) => s.id === id) };
    } },
    { method: 'DELETE', pattern: /^\/api\/services\/([^/]+)\/sites\/([^/]+)$/, handler: async ({ params: [name = '', site = ''] }) => {
      catalogue.removeSite(name, site);
      await changed('site removed', { service: name, site });
      return { json: { service: name, removed: site } };
    } },
    { method: 'POST', pattern: /^\/api\/services\/([^/]+)\/sites\/([^/]+)\/(drain|undrain)$/, handler: async ({ params: [name = '', site = '', op] }) => {
      catalogue.setDrained(name, site, op === 'drain');
      await changed(op === 'drain' ? 'site drained' : 'site undrained', { service: name, site });
      return { json: { service: name, site, drained: op === 'drain' } };
    } },
    { method: 'GET', pattern: /^\/api\/agents$/, handler: () => ({ json: agents() }) },
    { method: 'POST', pattern: /^\/api\/agents$/, handler: async ({ body }) => {
      const id = agentId((body as { id?: unknown } | undefined)?.id);
      const password = await deps.addAgent(id);
      // Never log the password (secrets test): it is in this one response only.
      log.info({ agent: id }, 'agent enrolled');
      return { status: 201, json: { id, password } };
    } },
    { method: 'DELETE', pattern: /^\/api\/agents\/([^/]+)$/, handler: async ({ params: [id = ''] }) => {
      // 200 either way, as `agents remove --json` prints it: removed=false when it was unknown.
      return { json: { id, removed: await deps.removeAgent(agentId(id)) } };
    } },
    { method: 'GET', pattern: /^\/api\/prefixes$/, handler: () => ({ json: store.listPrefixes() }) },
    { method: 'POST', pattern: /^\/api\/prefixes$/, handler: async ({ body }) => {
      const b = (body ?? {}) as { prefix?: unknown; agent?: unknown };
      if (typeof b.prefix !== 'string' || typeof b.agent !== 'string') throw new AdminError(400, 'body must be {"prefix": "...", "agent": "..."}');
      const prefix = catalogue.addPrefix(b.prefix, b.agent);
      await changed('prefix added', { prefix, agent: b.agent });
      return { status: 201, json: { prefix, agent: b.agent, source: 'admin' } };
    } },
    { method: 'DELETE', pattern: /^\/api\/prefixes$/, handler: async (req) => {
      const prefix = required(req, 'prefix');
      catalogue.removePrefix(prefix);
      await changed('prefix removed', { prefix });
      return { json: { removed: prefix } };
    } },
    { method: 'GET', pattern: /^\/api\/metrics$/, handler: (req) => {
      const service = req.query.get('service');
      known(service);
      const agent = req.query.get('agent');
      if (agent && !store.getAgent(agent)) throw new AdminError(404, `unknown agent "${agent}"`);
      const site = req.query.get('site');
      if (site && !engine.serviceList().some((s) => (!service || s.name === service) && s.sites.some((x) => x.id === site))) throw new AdminError(404, `unknown site "${site}"`);
      deps.writer.flush();
      const now = Date.now();
      const buckets = Number(req.query.get('buckets') ?? 24);
      const report = queryMetrics(store, { agent: agent ?? undefined, service: service ?? undefined, site: site ?? undefined, sinceMs: now - durationParam(req, 'sinceMs', 15 * 60_000), nowMs: now, buckets: Number.isInteger(buckets) && buckets > 0 && buckets <= 200 ? buckets : 24 });
      return { json: { ...report, proxy: deps.proxyStats?.rows(agent ?? undefined) ?? [] } };
    } },
    { method: 'GET', pattern: /^\/api\/explain$/, handler: (req) => {
      const [name, client, source] = [required(req, 'name'), required(req, 'client'), req.query.get('source') ?? undefined];
      const json = explain({ decide: deps.dns.decide, engine, freshness, proxy: deps.proxy }, name, client, source, Date.now(), req.query.get('qtype') ?? 'A');
      return { json: deps.backbone ? { ...json, backbone: deps.backbone.explain(name, client, source) } : json };
    } },
    { method: 'GET', pattern: /^\/api\/lbs$/, handler: () => {
      if (!deps.backbone) throw new AdminError(404, 'this selector is not a backbone (no backbone: section)');
      return { json: deps.backbone.lbs() };
    } },
    { method: 'GET', pattern: /^\/api\/events$/, handler: (req) => {
      const agent = req.query.get('agent');
      if (agent && !store.getAgent(agent)) throw new AdminError(404, `unknown agent "${agent}"`);
      deps.writer.flush();
      return { json: queryEvents(store, Date.now() - durationParam(req, 'sinceMs', 3_600_000), { agent: agent ?? undefined }) };
    } },
    { method: 'GET', pattern: /^\/api\/stats$/, handler: () => {
      const dns = dnsStats();
      const ids = siteIds();
      const answersBySite: Record<string, Record<string, number>> = {};
      for (const [service, byAddr] of Object.entries(dns?.answers ?? {})) {
        for (const [addr, n] of Object.entries(byAddr)) (answersBySite[service] ??= {})[ids.get(service)?.get(addr) ?? addr] = n;
      }
      return { json: { ts: Date.now(), queries: dns?.queries ?? 0, byRcode: dns?.byRcode ?? {}, answersBySite, agents: agents(), ingest: deps.ingest.counters, recomputations: engine.recomputations } };
    } },
    { method: 'GET', pattern: /^\/api\/timeline$/, handler: (req) => ({ json: timeline(req) }) },
    { method: 'GET', pattern: /^\/api\/timeline\.svg$/, handler: (req) => {
      const t = timeline(req);
      const svc = engine.serviceList().find((s) => s.name === t.service);
      return { text: timelineSvg(t, svc?.sites.map((s) => s.id) ?? [], widthParam(req)), contentType: 'image/svg+xml; charset=utf-8' };
    } },
    { method: 'GET', pattern: /^\/api\/status$/, handler: () => ({
      json: { ...statusData(engine, agents(), Date.now()), broker: brokerSrc.broker() ?? null, catalogue: brokerSrc.catalogueSync() ?? null },
    }) },
    { method: 'GET', pattern: /^\/metrics$/, handler: async () => ({ text: await registry.metrics(), contentType: registry.contentType }) },
    { method: 'GET', pattern: /^\/$/, handler: () => ({ text: STATUS_PAGE_HTML, contentType: 'text/html; charset=utf-8' }) },
  ];

  /** `/api/timeline?service=&sinceMs=&width=`: bounded to `width` points per series (at most 2,000). */
  function timeline(req: Request): Timeline {
    const service = required(req, 'service');
    known(service);
    deps.writer.flush(true); // with the open minutes' rollups, so a rollup range ends now
    const now = Date.now();
    return queryTimeline(store, {
      service, sinceMs: now - durationParam(req, 'sinceMs', 3_600_000), untilMs: now, buckets: widthParam(req) / 3,
      // The size budget may have pruned raw results past rawHours: the coverage mark says.
      rawSinceMs: Math.max(now - config.retention.rawHours * 3_600_000, metricsSource(store, now).rawSinceMs),
    });
  }

  const server = createHttpServer({ listen: config.http.listen, token: config.http.token, routes, log });
  return {
    start: server.start,
    close: server.close,
    address: server.address,
  };
}

export type Admin = ReturnType<typeof createAdmin>;
