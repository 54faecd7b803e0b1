// Starts a real Unbound (Debian `unbound`, built with subnetcache) on a loopback port,
// with a stub zone pointing at the selector and EDNS Client Subnet sent to it.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeUdpPort } from './net.js';
import { waitForDns } from './dns-client.js';

export interface UnboundHandle {
  port: number;
  process: ChildProcess;
  close(): Promise<void>;
}

/**
 * `rrsetRoundrobin: 'default'` leaves Unbound's own default (1.17: yes, rotating cached
 * RRsets); otherwise `rrset-roundrobin: no` keeps the selector's order.
 */
export async function startUnbound(opts: { zone: string; upstream: { host: string; port: number }; host?: string; rrsetRoundrobin?: 'no' | 'default' }): Promise<UnboundHandle> {
  const host = opts.host ?? '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'vantage-unbound-'));
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
  module-config: "subnetcache iterator"
  send-client-subnet: ${opts.upstream.host}
  max-client-subnet-ipv4: 24
  max-client-subnet-ipv6: 56
  domain-insecure: "${opts.zone}"
  # Unbound serves RFC 6761 names like test. itself; let the stub zone through.
  local-zone: "${opts.zone}." transparent
  harden-referral-path: no
  qname-minimisation: no
  minimal-responses: yes
${opts.rrsetRoundrobin === 'default' ? '' : `  # The order is the answer: Unbound 1.17 rotates RRsets by default, which would undo the ranking.
  rrset-roundrobin: no
`}  local-zone: "health.invalid." static
  local-data: "health.invalid. A 127.0.0.1"
stub-zone:
  name: "${opts.zone}"
  stub-addr: ${opts.upstream.host}@${opts.upstream.port}
  stub-first: no
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
    port,
    process: child,
    async close() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
