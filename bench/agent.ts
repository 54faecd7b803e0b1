// npm run bench:agent [-- --duration-s 120 --sites 1000 --interval-s 10]
// One agent process probing SITES local HTTP sites (each on its own loopback
// address 127.4.x.y, served by this process) every INTERVAL seconds, publishing to
// an in-process aedes broker. The agent is a separate process so that its CPU time
// (/proc/PID/stat utime+stime) and peak RSS (/proc/PID/status VmHWM) are its own.
// Prints the average share of one core (whole run, and steady state after the
// first round) and the peak RSS. Targets: < 5 % of a core, < 120 MB.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { Aedes } from 'aedes';
import { CATALOGUE_TOPIC, agentTopic, parseMetrics } from '../shared/protocol.js';
import { pickPort } from './free-port.js';

function arg(name: string, dflt: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : dflt;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name}: expected a positive number`);
  return v;
}

const DURATION_S = arg('duration-s', 120);
const SITES = arg('sites', 1000);
const INTERVAL_S = arg('interval-s', 10);
const CLK_TCK = 100; // sysconf(_SC_CLK_TCK) on Linux
const BODY = Buffer.alloc(2048, 0x61);

const siteAddress = (i: number): string => `127.4.${Math.floor(i / 250)}.${(i % 250) + 1}`;

/** utime and stime (fields 14 and 15 of /proc/PID/stat) in clock ticks. */
function cpuSplit(pid: number): { user: number; sys: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return { user: Number(fields[11]), sys: Number(fields[12]) };
}

function cpuTicks(pid: number): number {
  const { user, sys } = cpuSplit(pid);
  return user + sys;
}

function statusKb(pid: number, key: string): number {
  const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

async function main(): Promise<void> {
  const handler: http.RequestListener = (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html', 'content-length': BODY.length });
    res.end(BODY);
  };
  const sitePort = await pickPort(siteAddress(0));
  const servers: http.Server[] = [];
  for (let i = 0; i < SITES; i++) {
    const server = http.createServer({ keepAliveTimeout: 1000 }, handler);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(sitePort, siteAddress(i), () => resolve());
    });
    servers.push(server);
  }

  const broker = await Aedes.createBroker();
  const mqttServer = net.createServer(broker.handle);
  await new Promise<void>((r) => mqttServer.listen(0, '127.0.0.1', r));
  const mqttPort = (mqttServer.address() as net.AddressInfo).port;
  const catalogue = {
    v: 1, ts: Date.now(),
    services: [{
      name: 'www.example.test',
      probe: { scheme: 'http', port: sitePort, path: '/', expectStatus: [200], timeoutMs: 3000 },
      sites: Array.from({ length: SITES }, (_, i) => ({ id: `site-${i}`, address: siteAddress(i) })),
    }],
  };
  await new Promise<void>((resolve, reject) => broker.publish({
    cmd: 'publish', topic: CATALOGUE_TOPIC, payload: Buffer.from(JSON.stringify(catalogue)), qos: 1, retain: true, dup: false,
  }, (err) => (err ? reject(err) : resolve())));

  let messages = 0;
  let results = 0;
  let failed = 0;
  let firstRoundAt = 0;
  let ticksAtFirstRound = 0;
  let agentPid = 0;
  await new Promise<void>((resolve) => broker.subscribe(agentTopic('pop-bench', 'metrics'), (packet, cb) => {
    const m = parseMetrics(packet.payload as Buffer);
    messages++;
    results += m.results.length;
    failed += m.results.filter((r) => !r.ok).length;
    if (messages === 1 && agentPid) {
      firstRoundAt = Date.now();
      ticksAtFirstRound = cpuTicks(agentPid);
    }
    cb();
  }, resolve));

  const dir = mkdtempSync(join(tmpdir(), 'vantage-bench-agent-'));
  const conf = join(dir, 'agent.yaml');
  writeFileSync(conf, [
    'id: pop-bench', 'pop: Bench', `mqtt: { url: "mqtt://127.0.0.1:${mqttPort}" }`, ...(process.env.BENCH_AGENT_NO_BIND ? [] : ['bindAddress: 127.1.9.1']),
    'prefixes: [198.51.100.0/24]', 'resolvers: [192.0.2.53]', `intervalS: ${INTERVAL_S}`, 'concurrency: 32', 'log: { level: warn }',
  ].join('\n'));
  const cli = fileURLToPath(new URL('../agent/cli.js', import.meta.url));
  // BENCH_AGENT_NODE_ARGS, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof", profiles the agent.
  const nodeArgs = (process.env.BENCH_AGENT_NODE_ARGS ?? '').split(' ').filter(Boolean);
  // NODE_OPTIONS as in systemd/vantage-agent.service, so the agent is measured as deployed.
  const env = { ...process.env, NODE_OPTIONS: process.env.BENCH_AGENT_NODE_OPTIONS ?? '--max-semi-space-size=2' };
  const child = spawn(process.execPath, [...nodeArgs, cli, 'run', '--config', conf], { stdio: ['ignore', 'inherit', 'inherit'], env });
  agentPid = child.pid as number;
  const started = Date.now();
  const startTicks = cpuTicks(agentPid);
  console.log(`bench:agent ${SITES} sites, every ${INTERVAL_S} s, for ${DURATION_S} s (agent pid ${agentPid})`);

  let peakRssKb = 0;
  let peakAtS = 0;
  while (Date.now() - started < DURATION_S * 1000) {
    await sleep(200);
    if (child.exitCode !== null) throw new Error(`agent exited with ${child.exitCode}`);
    const rss = statusKb(agentPid, 'VmRSS');
    if (rss > peakRssKb) {
      peakRssKb = rss;
      peakAtS = (Date.now() - started) / 1000;
    }
  }
  const endTicks = cpuTicks(agentPid);
  const split = cpuSplit(agentPid);
  const hwmKb = statusKb(agentPid, 'VmHWM');
  const ended = Date.now();
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  child.kill('SIGTERM');
  const code = await exited;

  const share = (ticks: number, ms: number): string => `${((ticks / CLK_TCK) / (ms / 1000) * 100).toFixed(2)} %`;
  console.log(`rounds received        ${messages} (${results} results, ${failed} failed)`);
  console.log(`probes per second      ${(results / ((ended - started) / 1000)).toFixed(1)}`);
  console.log(`CPU, whole run         ${share(endTicks - startTicks, ended - started)} of one core`);
  console.log(`  of which user / sys   ${(split.user / CLK_TCK).toFixed(2)} s / ${(split.sys / CLK_TCK).toFixed(2)} s (since process start)`);
  if (firstRoundAt) console.log(`CPU, after 1st round   ${share(endTicks - ticksAtFirstRound, ended - firstRoundAt)} of one core`);
  console.log(`peak RSS (VmHWM)       ${(hwmKb / 1024).toFixed(1)} MB (sampled VmRSS max ${(peakRssKb / 1024).toFixed(1)} MB at ${peakAtS.toFixed(1)} s)`);
  console.log(`agent exit on SIGTERM  ${code}`);

  for (const s of servers) s.close();
  await new Promise<void>((r) => broker.close(() => r()));
  mqttServer.close();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((err: unknown) => {
  console.error(`bench:agent: ${(err as Error).stack ?? err}`);
  process.exit(1);
});
