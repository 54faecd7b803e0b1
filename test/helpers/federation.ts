// System-test parts for the backbone tier: loopback site servers whose latency depends
// on the prober's source address, LB selector processes (dist CLI) with DNS on
// 127.0.5.N:53, and an Unbound resolver at (nearly) default settings whose stub zone
// points at the backbone.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForDns } from './dns-client.js';
import { freeTcpPort, freeUdpPort } from './net.js';

export const SITE_IDS = ['us-east', 'eu-west', 'ap-south'] as const;
export const SITE_ADDRS = ['127.2.0.1', '127.2.0.2', '127.2.0.3'] as const;

/** One HTTP server per site on a common port; each response waits latency[source][site] ms. */
export async function startSites(latency: Record<string, readonly number[]>): Promise<{ port: number; close(): Promise<void> }> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await freeTcpPort(SITE_ADDRS[0]);
    const servers: Server[] = [];
    try {
      for (let i = 0; i < SITE_ADDRS.length; i++) {
        const srv = createServer((req, res) => {
          const ms = latency[req.socket.remoteAddress ?? '']?.[i] ?? 50;
          setTimeout(() => res.end('ok\n'), ms);
        });
        await new Promise<void>((resolve, reject) => {
          srv.once('error', reject);
          srv.listen({ host: SITE_ADDRS[i], port, exclusive: true }, () => resolve());
        });
        servers.push(srv);
      }
      return {
        port,
        close: async () => {
          for (const s of servers) { s.closeAllConnections(); await new Promise<void>((r) => s.close(() => r())); }
        },
      };
    } catch {
      for (const s of servers) s.close();
    }
  }
  throw new Error('no common free port for the site servers');
}

export interface LbProcess {
  conf: string;
  child: ChildProcess;
  stderr(): string;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

/** Writes an LB's selector.yaml: DNS on `host`:53, its own broker, uplink to the backbone. */
export async function writeLbConfig(opts: { id: string; host: string; backboneMqtt: string; services?: string; extra?: string }): Promise<{ conf: string; mqttPort: number }> {
  const dir = mkdtempSync(join(tmpdir(), `vantage-${opts.id}-`));
  const mqttPort = await freeTcpPort(opts.host);
  const httpPort = await freeTcpPort(opts.host);
  const conf = join(dir, 'selector.yaml');
  writeFileSync(conf, [
    `dns: { listen: ["${opts.host}:53"], zones: [{ name: example.test, ns: [ns1.example.test], hostmaster: hostmaster.example.test }] }`,
    `mqtt: { listen: "${opts.host}:${mqttPort}" }`,
    `http: { listen: "${opts.host}:${httpPort}" }`,
    `db: ${join(dir, 'lb.db')}`,
    'auth: { agents: off }',
    'log: { level: info }',
    opts.services ?? 'services: []',
    `uplink: { url: "${opts.backboneMqtt}", id: ${opts.id}, push: true, intervalS: 1, debounceMs: 50, nameservers: [{ name: ns.${opts.id}.example.test, address: ${opts.host} }] }`,
    opts.extra ?? '',
  ].join('\n'));
  return { conf, mqttPort };
}

export async function startLb(cli: string, conf: string): Promise<LbProcess> {
  const child = spawn(process.execPath, [cli, 'run', '--config', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const deadline = Date.now() + 15_000;
  while (!err.includes('selector started')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`LB did not start: ${err.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    conf, child, stderr: () => err,
    async kill(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      await exited;
    },
  };
}

export interface Resolver { host: string; port: number; close(): Promise<void> }

/**
 * Unbound as an ISP resolver: default settings (QNAME minimisation, RRset round robin,
 * infra cache...) except what loopback and the .test zone need; with `ecsTo`, subnetcache
 * sends ECS to those servers. Queries to servers leave from `host`.
 */
export async function startResolver(host: string, stub: string, ecsTo: readonly string[] = []): Promise<Resolver> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-isp-unbound-'));
  const port = await freeUdpPort(host);
  const conf = join(dir, 'unbound.conf');
  writeFileSync(conf, `server:
  interface: ${host}@${port}
  port: ${port}
  do-daemonize: no
  username: ""
  chroot: ""
  directory: "${dir}"
  pidfile: "${dir}/unbound.pid"
  use-syslog: no
  logfile: ""
  verbosity: 1
  num-threads: 1
  so-reuseport: no
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
${ecsTo.length ? '  module-config: "subnetcache iterator"\n' : ''}${ecsTo.map((a) => `  send-client-subnet: ${a}\n`).join('')}  # Queries leave from the resolver's own address (the LBs map it, Fig. 3).
  outgoing-interface: ${host}
  domain-insecure: "example.test"
  local-zone: "example.test." transparent
  local-zone: "health.invalid." static
  local-data: "health.invalid. A 127.0.0.1"
stub-zone:
  name: "example.test"
  stub-addr: ${stub}
`);
  const child = spawn('unbound', ['-d', '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForDns(host, port, 10_000, () => child.exitCode !== null);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`unbound did not start: ${stderr.trim().split('\n').slice(-3).join(' | ') || (err as Error).message}`);
  }
  return {
    host, port,
    async close() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
