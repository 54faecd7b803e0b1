// Runs a proxy-cache world (a world with a `proxy:` section, DESIGN.md "Proxy-cache
// mode"): the simulated sites (cacheable `/static/…`, `no-store` `/dynamic/…`), the real
// selector with the service in `mode: proxy` plus the same sites as a plain service
// (`direct.<zone>`), and one agent per POP whose proxy listens on the POP address. Every
// world second, each POP's simulated clients ask the selector (ECS with the POP's
// prefix) for both names and fetch the same paths twice: through the address answered
// for the proxied service (the POP's proxy, or a site when the selector fell back), and
// directly from the site answered for the plain service. Clients connect from the POP's
// address, so the sites add that POP's path latency (site-server.ts). Real HTTP all the way.
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent } from 'undici';
import type { Logger } from '../../shared/log.js';
import { WorldClock } from './clock.js';
import { createEcsClient, type EcsClient } from './ecs-client.js';
import { startSiteServers } from './site-server.js';
import { directServiceOf, startStack, type AgentMode } from './stack.js';
import type { World, WorldPop } from './world.js';

/** How one client request went: through the proxy (its X-Vantage-Cache), or to a site (direct, or the selector's fallback). */
export type FetchOutcome = 'hit' | 'miss' | 'revalidated' | 'site' | 'error';

export interface FetchSample {
  s: number;
  pop: string;
  via: 'proxy' | 'direct';
  path: string;
  /** The address answered (the POP's proxy or a site); null when the selector answered nothing. */
  address: string | null;
  outcome: FetchOutcome;
  /** The site that answered (X-Vantage-Site: the proxy's upstream choice, or the site fetched directly). */
  site: string | null;
  /** Request sent to body fully read; null on error. */
  ms: number | null;
}

export interface ProxyRunOptions {
  world: World;
  agents: AgentMode;
  log: Logger;
  /** Upper bound of the warm-up (until every POP is answered its own proxy), in seconds. */
  maxWarmupS?: number;
  signal?: AbortSignal;
}

export interface ProxyRunResult {
  world: World;
  samples: FetchSample[];
  warmupS: number;
  converged: boolean;
}

/** A port free on every address given (the proxies of all POPs share one port, like the sites). */
async function commonFreePort(hosts: readonly string[]): Promise<number> {
  const tryListen = (host: string, port: number): Promise<number | null> => new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(null));
    s.listen({ host, port, exclusive: true }, () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
  });
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = await tryListen(hosts[0] as string, 0);
    if (port === null) continue;
    const rest = await Promise.all(hosts.slice(1).map((h) => tryListen(h, port)));
    if (rest.every((p) => p !== null)) return port;
  }
  throw new Error(`no common free port on ${hosts.join(', ')}`);
}

/** The paths one POP's clients fetch in one second (the same list through the proxy and directly). */
function pathsFor(world: World, pop: WorldPop, s: number): string[] {
  const p = world.proxy as NonNullable<World['proxy']>;
  return Array.from({ length: p.requestsPerPopPerS }, (_, i) => (Math.random() * 100 < p.dynamicPct
    ? `/dynamic/${pop.id}/${s}/${i}`
    : `/static/${Math.floor(Math.random() * p.objects)}`));
}

async function fetchOne(agent: Agent, address: string, port: number, world: World, path: string): Promise<{ outcome: FetchOutcome; ms: number | null; cache?: string; site?: string }> {
  const t0 = performance.now();
  try {
    const res = await agent.request({ origin: `http://${address}:${port}`, path, method: 'GET', headers: { host: world.service }, headersTimeout: 5000, bodyTimeout: 5000 });
    await res.body.dump({ limit: 1 << 20 });
    const ms = performance.now() - t0;
    if (res.statusCode !== 200) return { outcome: 'error', ms: null };
    return { outcome: 'site', ms, cache: res.headers['x-vantage-cache'] as string | undefined, site: res.headers['x-vantage-site'] as string | undefined };
  } catch {
    return { outcome: 'error', ms: null };
  }
}

export async function runProxyWorld(opts: ProxyRunOptions): Promise<ProxyRunResult> {
  const { world, log } = opts;
  if (!world.proxy) throw new Error(`world ${world.name} has no proxy section`);
  const direct = directServiceOf(world);
  const clock = new WorldClock(1);
  const sites = await startSiteServers(world, clock);
  const popAddresses = new Set(world.pops.map((p) => p.address));
  const siteAddresses = new Set(world.sites.map((s) => s.address));
  // Each POP's clients: connections from the POP's address (the sites judge the path by it).
  const agents = new Map(world.pops.map((p) => [p.id, new Agent({ localAddress: p.address, connections: 64, keepAliveTimeout: 4000 })]));
  let stack: Awaited<ReturnType<typeof startStack>> | undefined;
  let client: EcsClient | undefined;
  try {
    const proxyPort = await commonFreePort(world.pops.map((p) => p.address));
    stack = await startStack(world, { sitePort: sites.port, intervalS: world.probeIntervalS, agents: opts.agents, log, proxyPort });
    client = await createEcsClient(stack.dns);
    const ask = (name: string, pop: WorldPop): Promise<string[]> => (client as EcsClient).query(name, pop.prefixes[0] as string);

    // Warm-up: until every POP is answered its own proxy (the agent announced it and measured a site up), twice in a row.
    const startMs = Date.now();
    const maxWarmupS = opts.maxWarmupS ?? Math.max(30, 8 * world.probeIntervalS);
    let streak = 0;
    let converged = false;
    while (Date.now() - startMs < maxWarmupS * 1000) {
      await sleep(1000, undefined, { signal: opts.signal });
      const answers = await Promise.all(world.pops.map((p) => ask(world.service, p)));
      streak = world.pops.every((p, i) => answers[i]?.[0] === p.address) ? streak + 1 : 0;
      if (streak >= 2) { converged = true; break; }
    }
    const warmupS = Math.round((Date.now() - startMs) / 1000);
    if (!converged) log.warn({ warmupS }, 'warm-up ended before every POP was answered its proxy');

    const samples: FetchSample[] = [];
    clock.start();
    for (let s = 0; s < world.durationS; s++) {
      const waitMs = clock.wallMsUntil(s);
      if (waitMs > 0) await sleep(waitMs, undefined, { signal: opts.signal });
      opts.signal?.throwIfAborted();
      await Promise.all(world.pops.map(async (pop) => {
        const agent = agents.get(pop.id) as Agent;
        const [viaProxy, viaSites] = await Promise.all([ask(world.service, pop), ask(direct, pop)]);
        const paths = pathsFor(world, pop, s);
        const fetchVia = async (via: FetchSample['via'], answer: string[], path: string): Promise<void> => {
          const address = answer[0];
          if (address === undefined) { samples.push({ s, pop: pop.id, via, path, address: null, outcome: 'error', site: null, ms: null }); return; }
          const toProxy = popAddresses.has(address);
          if (!toProxy && !siteAddresses.has(address)) throw new Error(`${pop.id}: answer ${address} is neither a proxy nor a site`);
          const r = await fetchOne(agent, address, toProxy ? proxyPort : sites.port, world, path);
          const outcome: FetchOutcome = r.outcome === 'error' || !toProxy ? r.outcome
            : r.cache === 'hit' || r.cache === 'miss' || r.cache === 'revalidated' ? r.cache : 'error';
          samples.push({ s, pop: pop.id, via, path, address, outcome, site: r.site ?? null, ms: outcome === 'error' ? null : r.ms });
        };
        // Spread over the second (clients arrive one by one); each path through the proxy and directly at once.
        const spacingMs = 1000 / paths.length;
        await Promise.all(paths.map(async (path, i) => {
          if (i > 0) await sleep(i * spacingMs, undefined, { signal: opts.signal });
          await Promise.all([fetchVia('proxy', viaProxy, path), fetchVia('direct', viaSites, path)]);
        }));
      }));
    }
    return { world, samples, warmupS, converged };
  } finally {
    await client?.close();
    await Promise.all([...agents.values()].map((a) => a.close()));
    await stack?.close();
    await sites.close();
  }
}
