// `npm run bench:backbone`: dnsperf against the backbone's DNS path in push mode and in
// refer mode (child processes: 10 LBs × 10 agents, 10,000 prefixes, every query with
// ECS inside an LB's prefix) and against gdnsd serving the same name (multifo), in the
// same run. Env: BENCH_SECONDS (default 5), BENCH_ECS (default 2001:db8:1::/48),
// BENCH_UDP_ENGINE (auto | batch | dgram), BENCH_GDNSD_THREADS (default 1).
import { fork, spawn } from 'node:child_process';
import dgram from 'node:dgram';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runDnsperf } from './dnsperf.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5);
const ECS = process.env.BENCH_ECS ?? '2001:db8:1::/48';
const GDNSD_THREADS = Number(process.env.BENCH_GDNSD_THREADS ?? 1);
const QUERIES = ['www.example.test A'];

interface Row { server: string; qps: number; completed: number; lost: number; avgLatencyMs: number }

function parse(server: string, out: string): Row {
  const num = (re: RegExp): number => Number(re.exec(out)?.[1] ?? NaN);
  return { server, qps: num(/Queries per second:\s+([\d.]+)/), completed: num(/Queries completed:\s+(\d+)/), lost: num(/Queries lost:\s+(\d+)/), avgLatencyMs: num(/Average Latency \(s\):\s+([\d.]+)/) * 1000 };
}

async function waitForDns(port: number): Promise<void> {
  const query = Buffer.concat([Buffer.from([0xab, 0xcd, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from('\x03www\x07example\x04test\x00', 'latin1'), Buffer.from([0, 1, 0, 1])]);
  for (const deadline = Date.now() + 10_000; Date.now() < deadline;) {
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

async function backbone(mode: 'push' | 'refer'): Promise<Row> {
  const child = fork(fileURLToPath(new URL('./backbone/server-child.js', import.meta.url)), [], { env: { ...process.env, BENCH_MODE: mode }, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  try {
    const info = await new Promise<{ port: number; prefixes: number; lbs: number; udpEngine: string }>((resolve, reject) => {
      child.once('message', (m) => resolve(m as { port: number; prefixes: number; lbs: number; udpEngine: string }));
      child.once('exit', (c) => reject(new Error(`backbone child exited ${c}`)));
    });
    await waitForDns(info.port);
    console.log(`backbone ${mode}: 127.0.0.1:${info.port}, ${info.lbs} LBs, ${info.prefixes} prefixes; ECS ${ECS}; UDP engine ${info.udpEngine}; ${SECONDS} s`);
    const row = parse(`backbone ${mode}`, await runDnsperf({ port: info.port, seconds: SECONDS, queries: QUERIES, ecs: ECS }));
    const counts = await new Promise<{ counts: { lb: string; push: number; refer: number }[] }>((resolve) => {
      child.once('message', (m) => resolve(m as { counts: { lb: string; push: number; refer: number }[] }));
      child.send('counts');
    });
    const lb0 = counts.counts.find((c) => c.lb === 'lb-0');
    console.log(`  answered by kind at lb-0: push ${lb0?.push}, refer ${lb0?.refer}`);
    return row;
  } finally {
    child.disconnect();
  }
}

async function gdnsd(): Promise<Row> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-bench-bb-'));
  const port = await new Promise<number>((resolve) => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); }); });
  for (const d of ['zones', 'run', 'state']) mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'config'), `options => {\n  listen => [ 127.0.0.1:${port} ]\n  run_dir => ${join(dir, 'run')}\n  state_dir => ${join(dir, 'state')}\n  udp_threads => ${GDNSD_THREADS}\n  tcp_threads => 1\n}\nplugins => { multifo => { www => { service_types => up, s1 => 192.0.2.1, s2 => 192.0.2.2, s3 => 192.0.2.3 } } }\n`);
  writeFileSync(join(dir, 'zones', 'example.test'), '$TTL 3600\n@ SOA ns1 hostmaster 1 3600 600 604800 30\n@ NS ns1\nns1 A 192.0.2.53\nwww 30 DYNA multifo!www\n');
  const gd = spawn('gdnsd', ['-c', dir, 'start'], { stdio: ['ignore', 'ignore', 'pipe'] });
  try {
    await waitForDns(port);
    console.log(`gdnsd: 127.0.0.1:${port}, multifo with 3 addresses, udp_threads ${GDNSD_THREADS}; ${SECONDS} s`);
    return parse('gdnsd', await runDnsperf({ port, seconds: SECONDS, queries: QUERIES, ecs: ECS }));
  } finally {
    gd.kill('SIGTERM');
    await new Promise((r) => gd.once('close', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const rows = [await backbone('push'), await backbone('refer'), await gdnsd()];
  console.table(rows.map((r) => ({ server: r.server, qps: Math.round(r.qps), completed: r.completed, lost: r.lost, 'avg latency ms': r.avgLatencyMs.toFixed(3) })));
  const g = rows[2] as Row;
  for (const r of rows.slice(0, 2)) console.log(`ratio ${r.server}/gdnsd: ${(r.qps / g.qps).toFixed(2)} (goal ≥ 0.70)`);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
