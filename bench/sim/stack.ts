// The real Vantage pieces a world runs against: the selector (embedded broker, auth
// off, DNS on 127.0.0.1 port 0, a throwaway database) and one agent per POP bound to
// the POP's address. Agents run as child processes (`node dist/agent/cli.js run`) —
// the real deployment shape — or in-process for the short test world.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../shared/log.js';
import { parseSelectorConfig, type RankingConfig, type SelectorConfig } from '../../selector/config.js';
import { parseAgentConfig } from '../../agent/config.js';
import { createSelector } from '../../selector/selector.js';
import type { World } from './world.js';

/** Probe timeout configured for the simulated service; also the cost of a failed site. */
export const PROBE_TIMEOUT_MS = 1000;

export type AgentMode = 'process' | 'inprocess';

interface Runnable { start(): Promise<void>; close(): Promise<void> }

export interface Stack {
  dns: { host: string; port: number };
  mqttUrl: string;
  /** The selector's admin API and status page (http.listen, no token: loopback only). */
  adminUrl: string;
  close(): Promise<void>;
}

/**
 * Ranking tuned to the world's probe interval: the window is the last 3 rounds
 * (windowS of one interval prunes everything older, minRounds keeps 3), so the median
 * follows a path change after 2 rounds and ignores a single outlier; a site is down
 * after 2 failed probes. Hysteresis and failure penalty stay at the design defaults.
 */
export function rankingFor(intervalS: number): Partial<RankingConfig> {
  return { windowS: intervalS, minRounds: 3, downAfter: 2, upAfter: 2, staleIntervals: 3 };
}

const zoneOfService = (service: string): string => service.split('.').slice(1).join('.');

/** Proxy worlds: the same sites as a plain (`mode: sites`) service, for the direct-steering comparison. */
export const directServiceOf = (world: World): string => `direct.${zoneOfService(world.service)}`;

export function selectorConfigFor(world: World, sitePort: number, intervalS: number, dbPath: string, ranking: Partial<RankingConfig> = {}, capacity = false, proxy = false): Readonly<SelectorConfig> {
  const zone = zoneOfService(world.service);
  const service = {
    // A short TTL: the simulator asks every second and wants the current answer.
    ttl: 1,
    answers: Math.min(2, world.sites.length),
    policy: 'latency',
    probe: { scheme: 'http', port: sitePort, path: '/', expectStatus: [200], timeoutMs: PROBE_TIMEOUT_MS },
    sites: world.sites.map((s) => ({ id: s.id, address: s.address, ...(capacity && s.capacityShare !== undefined ? { capacity: { share: s.capacityShare } } : {}) })),
  };
  return parseSelectorConfig({
    dns: { listen: ['127.0.0.1:0'], zones: [{ name: zone, ns: [`ns1.${zone}`], hostmaster: `hostmaster.${zone}` }] },
    mqtt: { listen: '127.0.0.1:0' },
    http: { listen: '127.0.0.1:0' },
    db: dbPath,
    auth: { agents: 'off' },
    prefixes: world.pops.map((p) => ({ agent: p.id, prefixes: [...p.prefixes] })),
    ranking: { ...rankingFor(intervalS), ...ranking },
    services: proxy
      ? [{ name: world.service, mode: 'proxy', ...service }, { name: directServiceOf(world), ...service }]
      : [{ name: world.service, ...service }],
    log: { level: 'warn' },
  });
}

/** A bound address the selector reports ({host, port}); missing means it did not start. */
function bound(what: string, hp: { host: string; port: number } | undefined): { host: string; port: number } {
  if (!hp) throw new Error(`the selector reports no ${what} address`);
  return hp;
}

function repoRoot(): string {
  // bench/sim/stack.ts (vitest) or dist/bench/sim/stack.js (built).
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
}

// Imported by computed specifier (only for in-process agents) so the child-process
// mode never loads agent code into the simulator; the shape is the documented contract.
async function importModule<T>(relative: string): Promise<T> {
  const spec = new URL(relative, import.meta.url).href;
  return (await import(spec)) as T;
}

function spawnAgent(cli: string, configPath: string, logPath: string): ChildProcess {
  const fd = openSync(logPath, 'a');
  try {
    return spawn(process.execPath, [cli, 'run', '--config', configPath], { stdio: ['ignore', 'ignore', fd] });
  } finally {
    closeSync(fd); // the child has its own copy
  }
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

export interface StackOptions {
  sitePort: number;
  intervalS: number;
  agents: AgentMode;
  log: Logger;
  /** Overrides of the tuned ranking (experiments: `--ranking hysteresisPct=0`). */
  ranking?: Partial<RankingConfig>;
  /** Pass each site's capacityShare to the selector as `capacity: { share }`. */
  capacity?: boolean | undefined;
  /** Proxy worlds: every agent's proxy listens on its POP address at this port (and the service is `mode: proxy`). */
  proxyPort?: number | undefined;
}

export async function startStack(world: World, opts: StackOptions): Promise<Stack> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-sim-'));
  const closers: (() => Promise<void>)[] = [];
  const close = async (): Promise<void> => {
    for (const c of closers.reverse()) await c().catch((err: unknown) => opts.log.warn({ err }, 'close failed'));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const selector = createSelector(selectorConfigFor(world, opts.sitePort, opts.intervalS, join(dir, 'selector.db'), opts.ranking, opts.capacity, opts.proxyPort !== undefined), { log: opts.log.child({ component: 'selector' }) });
    await selector.start();
    closers.push(() => selector.close());
    const dns = bound('DNS', selector.dnsAddresses()[0]);
    const mqtt = bound('MQTT', selector.mqttAddress());
    const mqttUrl = `mqtt://${mqtt.host}:${mqtt.port}`;
    const admin = bound('admin HTTP', selector.adminAddress());
    const adminUrl = `http://${admin.host}:${admin.port}`;

    const root = repoRoot();
    const cli = join(root, 'dist', 'agent', 'cli.js');
    if (opts.agents === 'process' && !existsSync(cli)) throw new Error(`${cli} not found: run npm run build first`);
    const agentModule = opts.agents === 'inprocess'
      ? await importModule<{ createAgent(c: unknown, o?: { log?: Logger }): Runnable }>('../../agent/agent.js')
      : undefined;
    for (const pop of world.pops) {
      const raw = {
        id: pop.id, pop: pop.id, mqtt: { url: mqttUrl }, bindAddress: pop.address,
        prefixes: [...pop.prefixes], resolvers: [], intervalS: opts.intervalS, log: { level: 'warn' },
        ...(opts.proxyPort !== undefined ? { proxy: { listen: [`${pop.address}:${opts.proxyPort}`], services: [world.service] } } : {}),
      };
      if (agentModule) {
        const agent = agentModule.createAgent(parseAgentConfig(raw), { log: opts.log.child({ component: 'agent', agent: pop.id }) });
        await agent.start();
        closers.push(() => agent.close());
      } else {
        const configPath = join(dir, `${pop.id}.json`);
        writeFileSync(configPath, JSON.stringify(raw));
        const logPath = join(dir, `${pop.id}.log`);
        const child = spawnAgent(resolve(cli), configPath, logPath);
        child.on('exit', (code, signal) => {
          if (code === 0 || signal === 'SIGTERM') return;
          // Its stderr file goes with the temp dir: keep the tail in our log.
          let tail = '';
          try { tail = readFileSync(logPath, 'utf8').slice(-2000); } catch { /* already removed */ }
          opts.log.warn({ agent: pop.id, code, signal, stderr: tail }, 'agent process exited');
        });
        closers.push(() => stopChild(child));
      }
    }
    return { dns, mqttUrl, adminUrl, close };
  } catch (err) {
    await close();
    throw err;
  }
}
