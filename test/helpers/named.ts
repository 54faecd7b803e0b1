// Starts a real BIND 9 resolver (Debian `bind9`, `named -g`) on a loopback port with a
// forward zone to the selector, at default settings otherwise (random RRset order).
// BIND sends no ECS: the selector maps its clients by `query-source`, the address named
// sends its upstream queries from. named listens only on interface addresses, so it
// listens on 127.0.0.1 (a free port) and sends from `querySource` (any 127/8 address).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitForDns } from './dns-client.js';
import { freeUdpPort } from './net.js';

export interface NamedHandle {
  port: number;
  process: ChildProcess;
  close(): Promise<void>;
}

export async function startNamed(opts: { zone: string; upstream: { host: string; port: number }; querySource: string }): Promise<NamedHandle> {
  const host = '127.0.0.1';
  const dir = mkdtempSync(join(tmpdir(), 'vantage-named-'));
  const port = await freeUdpPort(host);
  const conf = join(dir, 'named.conf');
  writeFileSync(conf, `options {
  directory "${dir}";
  pid-file "${dir}/named.pid";
  listen-on port ${port} { ${host}; };
  listen-on-v6 { none; };
  recursion yes;
  allow-query { 127.0.0.0/8; };
  allow-recursion { 127.0.0.0/8; };
  query-source address ${opts.querySource};
  // The test zone is unsigned and there is no root to validate against.
  dnssec-validation no;
};
controls { };
zone "${opts.zone}" {
  type forward;
  forward only;
  forwarders { ${opts.upstream.host} port ${opts.upstream.port}; };
};
zone "health.invalid" { type primary; file "${dir}/health.zone"; };
`);
  writeFileSync(join(dir, 'health.zone'), `$TTL 60
@ IN SOA ns.health.invalid. h.health.invalid. 1 60 60 60 60
@ IN NS ns.health.invalid.
@ IN A 127.0.0.1
ns IN A 127.0.0.1
`);
  const child = spawn('named', ['-g', '-c', conf, '-n', '1'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    await waitForDns(host, port, 15_000, () => child.exitCode !== null);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`named did not start: ${stderr.trim().split('\n').slice(-3).join(' | ') || (err as Error).message}`);
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
