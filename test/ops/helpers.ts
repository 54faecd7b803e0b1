// Helpers for the operator-surface tests: a selector config on free loopback ports,
// the selector as a real `vantage-selector run` process, the CLI as a process, v1
// traffic from mqtt.js (dig is in ../helpers/dns-client.ts).
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { freeTcpPort, freeUdpPort } from '../helpers/net.js';

export const CLI = join(process.cwd(), 'dist/selector/cli.js');
export const SERVICE = 'www.example.test';
export const SITES = [
  { id: 'us-east', address: '127.2.0.1' },
  { id: 'eu-west', address: '127.2.0.2' },
  { id: 'ap-south', address: '127.2.0.3' },
];
const run = promisify(execFile);

/**
 * The CLI runs from dist/, which `npm test` builds first (pretest), as the agent and
 * simulator tests assume too. Build only when it is missing: rebuilding here while another
 * test file runs the CLI rewrote files under it (a flaky `--help` exit 1).
 */
export function ensureBuilt(): void {
  if (existsSync(CLI)) return;
  const lock = join(tmpdir(), 'vantage-ops-tsc.lock');
  for (let i = 0; i < 600; i++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  try {
    if (!existsSync(CLI)) execFileSync('npx', ['tsc', '-p', '.'], { stdio: 'ignore' });
  } catch {
    // Type errors elsewhere in the tree still emit JavaScript; a missing CLI fails below.
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  if (!existsSync(CLI)) throw new Error('dist/selector/cli.js was not built');
}

export interface Ports { dns: number; mqtt: number; http: number }

export async function writeConfig(extra: { token?: string } = {}): Promise<{ dir: string; conf: string; db: string; ports: Ports }> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-ops-'));
  const ports = { dns: await freeUdpPort(), mqtt: await freeTcpPort(), http: await freeTcpPort() };
  const db = join(dir, 'selector.db');
  const conf = join(dir, 'selector.yaml');
  writeFileSync(conf, [
    'dns:', `  listen: ["127.0.0.1:${ports.dns}"]`,
    '  zones: [{ name: example.test, ns: [ns1.example.test], hostmaster: hostmaster.example.test }]',
    `mqtt: { listen: "127.0.0.1:${ports.mqtt}" }`,
    `http: { listen: "127.0.0.1:${ports.http}"${extra.token ? `, token: "${extra.token}"` : ''} }`,
    `db: ${db}`, 'auth: { agents: off }', 'log: { level: info }',
    'services:', `  - name: ${SERVICE}`, '    answers: 3', '    probe: { port: 8080 }', '    sites:',
    ...SITES.map((s) => `      - { id: ${s.id}, address: ${s.address} }`), '',
  ].join('\n'));
  return { dir, conf, db, ports };
}

export interface Daemon { child: ChildProcess; stderr: () => string; stop(): Promise<number | null> }

export async function startDaemon(conf: string): Promise<Daemon> {
  const child = spawn(process.execPath, [CLI, 'run', '--config', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 15_000;
  while (!err.includes('selector started')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`selector did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface CliResult { code: number; stdout: string; stderr: string }

export async function cli(args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

type R = Record<string, unknown>;
function res(site: string, totalMs: number | null, error = 'reset'): R {
  const s = SITES.find((x) => x.id === site) as { address: string };
  const ok = totalMs !== null;
  return {
    service: SERVICE, site, address: s.address, ok, status: ok ? 200 : null, connectMs: ok ? 1 : null, tlsMs: null,
    ttfbMs: ok ? totalMs / 2 : null, totalMs, bytes: ok ? 100 : 0, error: ok ? null : error,
  };
}

/**
 * A small world: pop-nyc (198.51.100.0/24) sees us-east best; pop-lon (203.0.113.0/24,
 * resolver 127.0.0.53) sees eu-west best and ap-south down (2 resets); pop-old
 * (192.0.2.0/25) measured, then went offline (its status topic says so). intervalS 60:
 * agents stay online for 3 × 60 s, longer than any test file takes.
 */
export async function feedWorld(mqttPort: number, rounds = 4): Promise<void> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0 });
  const now = Date.now();
  const pub = (topic: string, body: R, retain = false) => c.publishAsync(topic, JSON.stringify({ v: 1, ...body }), { qos: 1, retain });
  const agents = [
    { id: 'pop-nyc', pop: 'New York', prefixes: ['198.51.100.0/24'], resolvers: [] as string[] },
    { id: 'pop-lon', pop: 'London', prefixes: ['203.0.113.0/24'], resolvers: ['127.0.0.53'] },
    { id: 'pop-old', pop: 'Old Town', prefixes: ['192.0.2.0/25'], resolvers: [] as string[] },
  ];
  for (const a of agents) {
    await pub(`vantage/v1/agents/${a.id}/status`, { agent: a.id, state: 'online', ts: now }, true);
    await pub(`vantage/v1/agents/${a.id}/announce`, { agent: a.id, pop: a.pop, addresses: ['127.1.0.1'], prefixes: a.prefixes, resolvers: a.resolvers, ts: now }, true);
  }
  for (let i = 0; i < rounds; i++) {
    const ts = now - (rounds - 1 - i) * 1000;
    await pub('vantage/v1/agents/pop-nyc/metrics', { agent: 'pop-nyc', seq: i + 1, ts, intervalS: 60, results: [res('us-east', 10 + i), res('eu-west', 80 + i), res('ap-south', i === 1 ? null : 200, 'timeout')] });
    await pub('vantage/v1/agents/pop-lon/metrics', { agent: 'pop-lon', seq: i + 1, ts, intervalS: 60, results: [res('us-east', 120), res('eu-west', 8 + i), res('ap-south', i >= rounds - 2 ? null : 150)] });
    await pub('vantage/v1/agents/pop-old/metrics', { agent: 'pop-old', seq: i + 1, ts, intervalS: 60, results: [res('us-east', 300), res('eu-west', 5), res('ap-south', 5)] });
  }
  await new Promise((r) => setTimeout(r, 50));
  await pub('vantage/v1/agents/pop-old/status', { agent: 'pop-old', state: 'offline', ts: Date.now() + 5 }, true);
  await c.endAsync();
}

/**
 * A live selector daemon booted from a fresh config and fed the test world; resolves
 * once `ready(cfgArgs)` says the selector has taken it all in (polled every 100 ms).
 */
export async function startFedDaemon(ready: (cfg: string[]) => Promise<boolean>): Promise<{ env: Awaited<ReturnType<typeof writeConfig>>; daemon: Daemon; cfg: string[] }> {
  ensureBuilt();
  const env = await writeConfig();
  const cfg = ['--config', env.conf];
  const daemon = await startDaemon(env.conf);
  await feedWorld(env.ports.mqtt);
  for (let i = 0; i < 100; i++) {
    if (await ready(cfg)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { env, daemon, cfg };
}
