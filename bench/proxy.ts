// npm run bench:proxy [-- --duration-s 6 --rounds 3 --warmup 5000 --concurrency 32 --body-bytes 4096 --paths 100]
// Requests/s and latency through the agent's proxy-cache and through nginx
// (proxy_pass + proxy_cache, Debian nginx) in the same run, against the same two
// loopback sites (a second nginx serving one static file with max-age=60):
// - hit:  PATHS URLs requested once to warm the cache, then only those;
// - miss: every request a URL never seen before (fetched from the site and stored).
// Each proxy is its own process with ONE worker (the agent's proxy is one Node.js
// thread), so the comparison is per core. The load generator is a closed loop of
// CONCURRENCY undici connections in this process. Prints a table, the agent's RSS
// (now and peak) and the agent/nginx ratios, plus each proxy's CPU time per request
// (utime + stime from /proc, nginx master and worker summed): on a shared machine
// req/s moves with the load of others, CPU per request much less. `node-floor` is a
// bare node:http server answering from memory: what any Node.js proxy costs at least.
import { spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Pool } from 'undici';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name}: expected a positive number`);
  return v;
}

const DURATION_S = arg('duration-s', 6);
const ROUNDS = arg('rounds', 3);
const WARMUP = arg('warmup', 5000);
const CONCURRENCY = arg('concurrency', 32);
const BODY_BYTES = arg('body-bytes', 4096);
const PATHS = arg('paths', 100);
const SERVICE = 'www.example.test';
const SITES = ['127.6.0.1', '127.6.0.2'];
const NGINX_PROXY = '127.6.0.10';
const AGENT_PROXY = '127.6.0.11';
const NODE_FLOOR = '127.6.0.12';

async function freePort(hosts: string[]): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const s = net.createServer();
      s.once('error', reject);
      s.listen(0, hosts[0], () => { const p = (s.address() as net.AddressInfo).port; s.close(() => resolve(p)); });
    });
    const free = await Promise.all(hosts.slice(1).map((h) => new Promise<boolean>((resolve) => {
      const s = net.createServer();
      s.once('error', () => resolve(false));
      s.listen(port, h, () => s.close(() => resolve(true)));
    })));
    if (free.every(Boolean)) return port;
  }
}

async function waitTcp(host: string, port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, host, () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(50);
  }
  throw new Error(`nothing listening on ${host}:${port}`);
}

function startNginx(prefix: string, conf: string): ChildProcess {
  mkdirSync(join(prefix, 'logs'), { recursive: true });
  writeFileSync(join(prefix, 'nginx.conf'), conf);
  const child = spawn('nginx', ['-p', prefix, '-c', join(prefix, 'nginx.conf'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'inherit'] });
  child.on('error', (err) => { throw new Error(`cannot start nginx: ${err.message}`); });
  return child;
}

const common = (prefix: string): string => `worker_processes 1;
pid ${prefix}/nginx.pid;
error_log ${prefix}/logs/error.log warn;
events { worker_connections 4096; }
`;
const temps = (prefix: string): string => ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi']
  .map((t) => `  ${t}_temp_path ${prefix}/${t}_temp;`).join('\n');

interface Stats { requests: number; errors: number; rps: number; p50Ms: number; p99Ms: number; cpuUsPerReq: number }

const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux

/** utime + stime (clock ticks) of `pid` and its children (nginx master + worker). */
function cpuTicks(pid: number): number {
  let pids = [pid];
  try {
    pids = pids.concat(readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number));
  } catch { /* gone */ }
  let ticks = 0;
  for (const p of pids) {
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(f[11]) + Number(f[12]);
    } catch { /* gone */ }
  }
  return ticks;
}

interface Run { lat: number[]; errors: number; elapsedS: number; cpuTicks: number }

/** A closed loop: CONCURRENCY requests in flight for `durationS`, each path from `next()`. */
async function load(host: string, port: number, next: () => string, durationS: number, pid: number): Promise<Run> {
  const ticks0 = cpuTicks(pid);
  const pool = new Pool(`http://${host}:${port}`, { connections: CONCURRENCY, pipelining: 1 });
  const lat: number[] = [];
  let errors = 0;
  const end = performance.now() + durationS * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < end) {
      const t0 = process.hrtime.bigint();
      try {
        const res = await pool.request({ path: next(), method: 'GET', headers: { host: SERVICE } });
        await res.body.dump({ limit: 1 << 30 });
        if (res.statusCode !== 200) errors++;
      } catch {
        errors++;
      }
      lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const elapsedS = (performance.now() - t0) / 1000;
  await pool.close();
  return { lat, errors, elapsedS, cpuTicks: cpuTicks(pid) - ticks0 };
}

/** Several runs of one (proxy, workload) summed: req/s over their total time, percentiles over all samples. */
function summarize(runs: Run[]): Stats {
  const lat = runs.flatMap((r) => r.lat).sort((a, b) => a - b);
  const elapsedS = runs.reduce((a, r) => a + r.elapsedS, 0);
  const ticks = runs.reduce((a, r) => a + r.cpuTicks, 0);
  const q = (p: number): number => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))] ?? NaN;
  return {
    requests: lat.length, errors: runs.reduce((a, r) => a + r.errors, 0), rps: lat.length / elapsedS,
    p50Ms: q(0.5), p99Ms: q(0.99), cpuUsPerReq: ((ticks / CLK_TCK) * 1e6) / Math.max(1, lat.length),
  };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-bench-proxy-'));
  // nginx workers run as an unprivileged user (when started as root): they must reach the files.
  chmodSync(dir, 0o755);
  const children: ChildProcess[] = [];
  try {
    const sitePort = await freePort(SITES);
    const nginxPort = await freePort([NGINX_PROXY]);
    const agentPort = await freePort([AGENT_PROXY]);
    const floorPort = await freePort([NODE_FLOOR]);
    // The sites: one static file for every path, cacheable for 60 s (ETag and Last-Modified from the file).
    const origin = join(dir, 'origin');
    mkdirSync(join(origin, 'www'), { recursive: true });
    writeFileSync(join(origin, 'www', 'body.html'), Buffer.alloc(BODY_BYTES, 0x61));
    children.push(startNginx(origin, `${common(origin)}http {
  access_log off;
${temps(origin)}
  server {
    ${SITES.map((s) => `listen ${s}:${sitePort};`).join(' ')}
    root ${origin}/www;
    location / { try_files /body.html =404; expires 60s; }
  }
}
`));
    const proxyDir = join(dir, 'nginx-proxy');
    mkdirSync(proxyDir, { recursive: true });
    children.push(startNginx(proxyDir, `${common(proxyDir)}http {
  access_log off;
${temps(proxyDir)}
  proxy_cache_path ${proxyDir}/cache keys_zone=c:16m max_size=64m inactive=10m;
  upstream sites { server ${SITES[0]}:${sitePort}; server ${SITES[1]}:${sitePort} backup; keepalive 64; }
  server {
    listen ${NGINX_PROXY}:${nginxPort};
    location / {
      proxy_pass http://sites;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_set_header Host ${SERVICE};
      proxy_cache c;
      proxy_next_upstream error timeout;
    }
  }
}
`));
    const childJs = fileURLToPath(new URL('./proxy/child.js', import.meta.url));
    // BENCH_PROXY_NODE_ARGS: extra node flags for the agent's process (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`).
    const nodeArgs = (process.env.BENCH_PROXY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);
    const agent = spawn(process.execPath, [...nodeArgs, childJs, `${AGENT_PROXY}:${agentPort}`, SERVICE, SITES.join(','), String(sitePort), '64'], { stdio: ['pipe', 'pipe', 'inherit'] });
    children.push(agent);
    const lines = createInterface({ input: agent.stdout! });
    const replies: ((line: string) => void)[] = [];
    lines.on('line', (line) => replies.shift()?.(line));
    const ask = (cmd: string): Promise<string> => new Promise((resolve) => { replies.push(resolve); agent.stdin!.write(`${cmd}\n`); });
    await new Promise<void>((resolve) => replies.push(() => resolve()));
    const floor = spawn(process.execPath, [fileURLToPath(new URL('./proxy/node-floor.js', import.meta.url)), NODE_FLOOR, String(floorPort), String(BODY_BYTES)], { stdio: ['ignore', 'ignore', 'inherit'] });
    children.push(floor);
    await Promise.all([waitTcp(SITES[0] as string, sitePort), waitTcp(NGINX_PROXY, nginxPort), waitTcp(AGENT_PROXY, agentPort), waitTcp(NODE_FLOOR, floorPort)]);

    let missSeq = 0;
    const nginxProxy = children[1] as ChildProcess;
    const targets: [string, string, number, number][] = [
      ['nginx', NGINX_PROXY, nginxPort, nginxProxy.pid as number], ['agent', AGENT_PROXY, agentPort, agent.pid as number],
      ['node-floor', NODE_FLOOR, floorPort, floor.pid as number],
    ];
    const runs = new Map<string, Run[]>();
    const add = (key: string, r: Run): void => { runs.set(key, [...(runs.get(key) ?? []), r]); };
    for (const [, host, port, pid] of targets) {
      // Warm-up: every hit path (and the connections), then hits until WARMUP requests so the JIT
      // has optimised the hit path (undici's cache path costs ~5x more CPU in its first 2,000 calls).
      let i = 0;
      let done = 0;
      while (done < WARMUP) done += (await load(host, port, () => `/hit/${i++ % PATHS}`, 1, pid)).lat.length;
    }
    // Interleaved rounds: the load of other processes on the machine falls on both proxies alike.
    const sliceS = DURATION_S / ROUNDS;
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, host, port, pid] of targets) {
        let i = 0;
        add(`${name} hit`, await load(host, port, () => `/hit/${i++ % PATHS}`, sliceS, pid));
        if (name !== 'node-floor') add(`${name} miss`, await load(host, port, () => `/miss/${name}/${missSeq++}`, sliceS, pid));
      }
    }
    const rows = [...runs].map(([key, list]) => ({ proxy: key.split(' ')[0] as string, workload: key.split(' ')[1] as string, s: summarize(list) }));
    const [rss, peak, totals] = (await ask('rss')).split(' ').slice(1);

    const fmt = (n: number, d = 0): string => n.toFixed(d).padStart(9);
    console.log(`proxy bench: ${DURATION_S} s per workload in ${ROUNDS} interleaved rounds, concurrency ${CONCURRENCY}, body ${BODY_BYTES} B, ${PATHS} hit paths, one worker each`);
    console.log('proxy      workload   requests    req/s   p50 ms   p99 ms   errors  CPU µs/req');
    for (const r of rows) {
      console.log(`${r.proxy.padEnd(10)} ${r.workload.padEnd(8)} ${fmt(r.s.requests)}${fmt(r.s.rps)}${fmt(r.s.p50Ms, 2)}${fmt(r.s.p99Ms, 2)}${fmt(r.s.errors)}${fmt(r.s.cpuUsPerReq).padStart(12)}`);
    }
    const get = (p: string, w: string): Stats => (rows.find((r) => r.proxy === p && r.workload === w) as { s: Stats }).s;
    console.log(`nginx/agent CPU per request (load-independent efficiency): hit ${(get('nginx', 'hit').cpuUsPerReq / get('agent', 'hit').cpuUsPerReq).toFixed(2)}x, miss ${(get('nginx', 'miss').cpuUsPerReq / get('agent', 'miss').cpuUsPerReq).toFixed(2)}x`);
    console.log(`agent/nginx req/s: hit ${(get('agent', 'hit').rps / get('nginx', 'hit').rps).toFixed(2)}x, miss ${(get('agent', 'miss').rps / get('nginx', 'miss').rps).toFixed(2)}x (goal on hits: >= 0.5x)`);
    console.log(`agent proxy RSS: ${(Number(rss) / 1_048_576).toFixed(1)} MiB now, ${(Number(peak) / 1_048_576).toFixed(1)} MiB peak; counters ${totals}`);
    agent.stdin!.write('exit\n');
    // A clean exit (a CPU profile is written then), not SIGTERM.
    await Promise.race([new Promise((resolve) => agent.once('exit', resolve)), sleep(5000)]);
  } finally {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    await sleep(300);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`bench:proxy: ${(err as Error).message}`);
  process.exitCode = 1;
});
