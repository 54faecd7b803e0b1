// `npm run bench:dns`: dnsperf against the Vantage DNS server (child process, 3 sites,
// 100 agents, 10,000 prefixes, queries with ECS) and against gdnsd serving the same
// record with multifo, in the same run. Prints QPS, lost queries, average latency and
// the ratio. Env: BENCH_SECONDS (default 20), BENCH_ROUNDS (default 1: rounds of one run
// against each server, alternating, both servers up throughout), BENCH_WORKERS (DNS worker threads, default 1;
// 0 = the event loop; BENCH_DNS_MODE=cluster for node:cluster processes), BENCH_GDNSD_THREADS
// (default 1, like our one DNS thread), BENCH_ECS (default 2001:db8:1::/48, one of the
// 10,000 loaded prefixes; 198.51.100.0/24 for IPv4), BENCH_UDP_ENGINE (auto: the native
// batch engine if built; batch; dgram), BENCH_PACKET_CACHE (default on, as in the selector; 0 = off:
// every query through JS). dnsperf repeats one query, so with the cache nearly all are hits;
// BENCH_NAMES=50000 asks 50,000 distinct names (NXDOMAIN) instead: nearly all miss.
import { fork, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dgram from 'node:dgram';
import { fileURLToPath } from 'node:url';
import { parsePrefix } from '../shared/prefix.js';
import { pickPort } from './free-port.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const GDNSD_THREADS = Number(process.env.BENCH_GDNSD_THREADS ?? 1);
const ECS = process.env.BENCH_ECS ?? '2001:db8:1::/48';
const OUTSTANDING = Number(process.env.BENCH_OUTSTANDING ?? 100);
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
const NAMES = Number(process.env.BENCH_NAMES ?? 1);
/**
 * dnsperf clients (-c: one socket, one source port each). gdnsd's udp_threads share the port
 * with SO_REUSEPORT's 4-tuple hash, so one client reaches one thread only (our workers spread
 * at random): default 8 when either side runs several threads, else 1.
 */
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? (Math.max(WORKERS, GDNSD_THREADS) > 1 ? 8 : 1));

interface PerfResult { name: string; sent: number; completed: number; lost: number; qps: number; avgLatencyMs: number; cpuMs?: number }

/**
 * CPU time (user + system, every thread) a process has used, from /proc (clock ticks of
 * 10 ms): CPU per answered query is steadier than q/s on a machine others load too.
 */
function cpuMs(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10; // utime, stime (fields 14, 15 of stat(5))
  } catch {
    return NaN;
  }
}

async function measured(name: string, pid: number | undefined, port: number, dataFile: string): Promise<PerfResult> {
  const before = cpuMs(pid);
  const r = await dnsperf(name, port, dataFile);
  return { ...r, cpuMs: cpuMs(pid) - before };
}

/** dnsperf -E value for an ECS option (RFC 7871 §6): code 8, FAMILY, SOURCE, SCOPE=0, ADDRESS. */
function ecsOption(text: string): string {
  const p = parsePrefix(text);
  const addr = Buffer.from(p.bytes.subarray(0, (p.length + 7) >> 3));
  const body = Buffer.concat([Buffer.from([0, p.family === 4 ? 1 : 2, p.length, 0]), addr]);
  return `8:${body.toString('hex')}`;
}

/** Sends one A query until an answer arrives (the server is up). */
async function waitForDns(port: number, timeoutMs = 10_000): Promise<void> {
  const name = Buffer.from('\x03www\x07example\x04test\x00', 'latin1');
  const query = Buffer.concat([Buffer.from([0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), name, Buffer.from([0, 1, 0, 1])]);
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = dgram.createSocket('udp4');
      const t = setTimeout(() => { s.close(); resolve(false); }, 200);
      s.on('message', () => { clearTimeout(t); s.close(); resolve(true); });
      s.send(query, port, '127.0.0.1');
    });
    if (ok) return;
  }
  throw new Error(`no DNS server on port ${port}`);
}

function dnsperf(name: string, port: number, dataFile: string): Promise<PerfResult> {
  return new Promise((resolve, reject) => {
    const args = ['-s', '127.0.0.1', '-p', String(port), '-d', dataFile, '-l', String(SECONDS), '-q', String(OUTSTANDING), '-c', String(CLIENTS), '-E', ecsOption(ECS)];
    const p = spawn('dnsperf', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    p.stdout.on('data', (d) => { out += d; });
    p.stderr.on('data', (d) => { out += d; });
    p.on('error', reject);
    p.on('close', (code) => {
      const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
      if (code !== 0) return reject(new Error(`dnsperf exited ${code}:\n${out}`));
      resolve({
        name,
        sent: num(/Queries sent:\s+(\d+)/),
        completed: num(/Queries completed:\s+(\d+)/),
        lost: num(/Queries lost:\s+(\d+)/),
        qps: num(/Queries per second:\s+([\d.]+)/),
        avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000,
      });
    });
  });
}

function gdnsdConfig(dir: string, port: number): void {
  mkdirSync(join(dir, 'zones'), { recursive: true });
  mkdirSync(join(dir, 'run'), { recursive: true });
  mkdirSync(join(dir, 'state'), { recursive: true });
  writeFileSync(join(dir, 'config'), `options => {
  listen => [ 127.0.0.1:${port} ]
  run_dir => ${join(dir, 'run')}
  state_dir => ${join(dir, 'state')}
  udp_threads => ${GDNSD_THREADS}
  tcp_threads => 1
}
plugins => {
  multifo => {
    www => { service_types => up, s1 => 192.0.2.1, s2 => 192.0.2.2, s3 => 192.0.2.3 }
  }
}
`);
  writeFileSync(join(dir, 'zones', 'example.test'), `$TTL 3600
@ SOA ns1 hostmaster 1 3600 600 604800 30
@ NS ns1
ns1 A 192.0.2.53
www 30 DYNA multifo!www
`);
}

/** Rounds of (vantage, gdnsd), interleaved so that drift in the machine's load hits both alike. */
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);

function median(xs: number[]): number {
  const v = [...xs].sort((x, y) => x - y);
  return v.length % 2 ? v[(v.length - 1) / 2] as number : ((v[v.length / 2 - 1] as number) + (v[v.length / 2] as number)) / 2;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-bench-dns-'));
  const dataFile = join(dir, 'queries.txt');
  // BENCH_NAMES=n > 1: n distinct names (n0.example.test ... NXDOMAIN on both servers), so that
  // beyond the packet cache's 8,192 entries per socket nearly every query misses it.
  writeFileSync(dataFile, NAMES > 1 ? Array.from({ length: NAMES }, (_, i) => `n${i}.example.test A\n`).join('') : 'www.example.test A\n'.repeat(5000));
  const results: PerfResult[] = [];
  const child = fork(fileURLToPath(new URL('./dns/server-child.js', import.meta.url)), [], { execArgv: (process.env.BENCH_CHILD_NODE_ARGS ?? '').split(' ').filter(Boolean), stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const port = await pickPort('127.0.0.1', true);
  gdnsdConfig(dir, port);
  let gd: ReturnType<typeof spawn> | undefined;
  let gdLog = '';
  try {
    const info = await new Promise<{ port: number; prefixes: number; udpEngine: string; mode: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { port: number; prefixes: number; udpEngine: string; mode: string }));
      child.once('exit', (c) => reject(new Error(`DNS child exited ${c}`)));
    });
    await waitForDns(info.port);
    console.log(`vantage: 127.0.0.1:${info.port}, ${info.prefixes} prefixes, 100 agents, 3 sites; ECS ${ECS}; UDP engine ${info.udpEngine}; ${info.mode}; ${SECONDS} s per run`);
    gd = spawn('gdnsd', ['-c', dir, 'start'], { stdio: ['ignore', 'ignore', 'pipe'] });
    gd.stderr?.on('data', (d) => { gdLog += d; });
    await waitForDns(port).catch((err) => { throw new Error(`${(err as Error).message}\n${gdLog}`); });
    console.log(`gdnsd: 127.0.0.1:${port}, multifo with 3 addresses, udp_threads ${GDNSD_THREADS}; dnsperf clients ${CLIENTS} (both servers); ${ROUNDS} round(s), one run of each per round`);
    for (let r = 0; r < ROUNDS; r++) {
      results.push(await measured('vantage', child.pid, info.port, dataFile));
      results.push(await measured('gdnsd', gd.pid, port, dataFile));
    }
    // How the datagrams were spread over the workers' sockets (at random: about even).
    const split = await new Promise<number[] | undefined>((resolve) => {
      const timer = setTimeout(() => resolve(undefined), 2000);
      child.on('message', (m: { perWorker?: number[] }) => { if ('perWorker' in m) { clearTimeout(timer); resolve(m.perWorker); } });
      child.send('stats');
    });
    if (split && split.length > 1) console.log(`vantage UDP queries per worker: ${split.join(' / ')}`);
  } finally {
    child.disconnect();
    if (gd) {
      const g = gd;
      g.kill('SIGTERM');
      await new Promise((r) => g.once('close', r));
    }
    rmSync(dir, { recursive: true, force: true });
  }
  console.log('');
  console.table(results.map((r) => ({ server: r.name, qps: Math.round(r.qps), sent: r.sent, completed: r.completed, lost: r.lost, 'avg latency ms': r.avgLatencyMs.toFixed(3), 'CPU µs/query': r.cpuMs === undefined ? '' : ((r.cpuMs * 1000) / r.completed).toFixed(2) })));
  const v = results.filter((r) => r.name === 'vantage');
  const g = results.filter((r) => r.name === 'gdnsd');
  const ratios = v.map((r, i) => r.qps / (g[i] as PerfResult).qps);
  const lost = v.reduce((n, r) => n + r.lost, 0);
  const cpu = (rs: PerfResult[]): string => median(rs.map((r) => ((r.cpuMs ?? NaN) * 1000) / r.completed)).toFixed(2);
  console.log(`ratio vantage/gdnsd: ${ratios.map((x) => x.toFixed(2)).join(', ')}${ratios.length > 1 ? ` (median ${median(ratios).toFixed(2)})` : ''}; ` +
    `CPU µs/query median: vantage ${cpu(v)}, gdnsd ${cpu(g)} (nothing lost: ${lost === 0 ? 'yes' : `no, ${lost} lost`})`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
