// npm run bench:soak [-- --duration-s 300 --agents 500 --qps 2000 --interval-s 2 --window-s 60]
// The selector runs as its own process (`vantage-selector run`, embedded aedes, SQLite);
// this process plays N synthetic agents (one mqtt.js client each, announce + metrics
// every interval) while dnsperf queries the selector with ECS. Reports messages and
// results published vs ingested vs rejected (from /metrics), DNS QPS and losses, and the
// selector's RSS sampled over the run (start, samples, end, least-squares slope over the
// second half: the ranking windows fill for windowS, then memory should stay flat).
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { agentTopic } from '../shared/protocol.js';
import { runDnsperf } from './dnsperf.js';
import { pickPort } from './free-port.js';

const { values: args } = parseArgs({
  options: {
    'duration-s': { type: 'string', default: '300' },
    agents: { type: 'string', default: '500' },
    qps: { type: 'string', default: '2000' },
    'interval-s': { type: 'string', default: '2' },
    'window-s': { type: 'string', default: '60' },
  },
});
const DURATION_S = Number(args['duration-s']);
const AGENTS = Number(args.agents);
const QPS = Number(args.qps);
const INTERVAL_S = Number(args['interval-s']);
const WINDOW_S = Number(args['window-s']);
const SERVICE = 'www.example.test';
const SITES = Array.from({ length: 4 }, (_, i) => ({ id: `site-${i}`, address: `127.2.0.${i + 1}` }));
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'selector', 'cli.js');

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : NaN;
}

/** Reads one Prometheus sample (sum over labels matching `labels`, if given). */
function sample(text: string, name: string, labels = ''): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith(`${name}{${labels}`) || line.startsWith(`${name} `)) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

async function scrape(httpPort: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
}

function startSelector(dir: string, ports: { dns: number; mqtt: number; http: number }): ChildProcess {
  const config = join(dir, 'selector.yaml');
  writeFileSync(config, JSON.stringify({
    dns: { listen: [`127.0.0.1:${ports.dns}`], zones: [{ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'h.example.test' }] },
    mqtt: { listen: `127.0.0.1:${ports.mqtt}` },
    http: { listen: `127.0.0.1:${ports.http}` },
    db: join(dir, 'selector.db'),
    auth: { agents: 'off' },
    ranking: { windowS: WINDOW_S },
    services: [{ name: SERVICE, answers: 2, probe: { port: 8080 }, sites: SITES }],
    log: { level: 'warn' },
  }));
  const child = spawn(process.execPath, [CLI, 'run', '--config', config], { stdio: ['ignore', 'ignore', 'inherit'] });
  return child;
}

interface Fleet { published: { messages: number; results: number }; failed: number; clients: MqttClient[]; stop(): Promise<void> }

/** N agents: announce once, then one metrics message every interval (spread over it). */
async function startFleet(mqttPort: number, untilMs: number): Promise<Fleet> {
  const published = { messages: 0, results: 0 };
  let failed = 0;
  const clients: MqttClient[] = [];
  const loops: Promise<void>[] = [];
  for (let a = 0; a < AGENTS; a++) {
    const agent = `soak-${a}`;
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { clientId: agent, reconnectPeriod: 1000 });
    clients.push(client);
    const prefix = `2001:db8:${a.toString(16)}::/48`;
    await client.publishAsync(agentTopic(agent, 'announce'),
      JSON.stringify({ v: 1, agent, pop: agent, addresses: [], prefixes: [prefix], resolvers: [], ts: Date.now() }), { qos: 1, retain: true });
    loops.push((async () => {
      let seq = Date.now();
      await sleep(Math.random() * INTERVAL_S * 1000);
      while (Date.now() < untilMs) {
        const t = Date.now();
        const results = SITES.map((s, i) => {
          const ok = Math.random() > 0.05;
          const total = 10 + ((a * 7 + i * 13) % 80) + Math.random() * 5;
          return { service: SERVICE, site: s.id, address: s.address, ok, status: ok ? 200 : null, connectMs: ok ? 1 : null, tlsMs: null,
            ttfbMs: ok ? total / 2 : null, totalMs: ok ? total : null, bytes: ok ? 512 : 0, error: ok ? null : 'reset' };
        });
        try {
          await client.publishAsync(agentTopic(agent, 'metrics'), JSON.stringify({ v: 1, agent, seq: seq++, ts: Date.now(), intervalS: INTERVAL_S, results }), { qos: 1 });
          published.messages++;
          published.results += results.length;
        } catch {
          failed++;
        }
        await sleep(Math.max(0, INTERVAL_S * 1000 - (Date.now() - t)));
      }
    })());
  }
  return {
    published, get failed() { return failed; }, clients,
    async stop() {
      await Promise.all(loops);
      await Promise.all(clients.map((c) => c.endAsync()));
    },
  };
}

/** Least-squares slope of y over x (MB per minute when x is minutes). */
function slope(points: [number, number][]): number {
  const n = points.length;
  const mx = points.reduce((s, [x]) => s + x, 0) / n;
  const my = points.reduce((s, [, y]) => s + y, 0) / n;
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0);
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-soak-'));
  const ports = { dns: await pickPort('127.0.0.1', true), mqtt: await pickPort(), http: await pickPort() };
  const selector = startSelector(dir, ports);
  const exited = new Promise<number | null>((r) => selector.on('exit', (code) => r(code)));
  for (let i = 0; ; i++) {
    try { await scrape(ports.http); break; } catch { if (i > 100) throw new Error('selector did not start'); await sleep(100); }
  }
  const pid = selector.pid as number;
  console.log(`bench:soak — ${AGENTS} agents every ${INTERVAL_S} s for ${DURATION_S} s, dnsperf at ${QPS} q/s with ECS; selector pid ${pid}`);
  const rss: [number, number][] = [];
  const t0 = Date.now();
  rss.push([0, rssMb(pid)]);
  console.log(`selector RSS at start (idle): ${rss[0]?.[1].toFixed(1)} MB`);
  const fleet = await startFleet(ports.mqtt, t0 + DURATION_S * 1000);
  console.log(`${AGENTS} agents connected in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  // ECS from soak-1's prefix (2001:db8:1::/48).
  const dnsperf = runDnsperf({ port: ports.dns, seconds: Math.max(1, DURATION_S - (Date.now() - t0) / 1000), qps: QPS, ecs: '2001:db8:1::/48', queries: [`${SERVICE} A`] });
  const sampleEveryMs = Math.max(1000, (DURATION_S * 1000) / 20);
  const sampler = setInterval(() => {
    const min = (Date.now() - t0) / 60_000;
    rss.push([min, rssMb(pid)]);
  }, sampleEveryMs);
  await fleet.stop();
  clearInterval(sampler);
  const dnsOut = await dnsperf;
  // Let the last QoS 1 messages be ingested and flushed.
  let text = await scrape(ports.http);
  for (let i = 0; i < 50; i++) {
    await sleep(200);
    const next = await scrape(ports.http);
    if (sample(next, 'vantage_selector_db_results_committed_total') === sample(text, 'vantage_selector_db_results_committed_total') && i > 5) { text = next; break; }
    text = next;
  }
  rss.push([(Date.now() - t0) / 60_000, rssMb(pid)]);
  selector.kill('SIGTERM');
  const code = await exited;
  const db = new Database(join(dir, 'selector.db'), { readonly: true });
  const stored = (db.prepare('SELECT COUNT(*) AS n FROM results').get() as { n: number }).n;
  db.close();
  rmSync(dir, { recursive: true, force: true });

  const accepted = sample(text, 'vantage_selector_ingest_accepted_total', 'kind="metrics"');
  const rejected = sample(text, 'vantage_selector_ingest_rejected_total');
  const results = sample(text, 'vantage_selector_ingest_results_total');
  const resultsRejected = sample(text, 'vantage_selector_ingest_results_rejected_total');
  const committed = sample(text, 'vantage_selector_db_results_committed_total');
  const dbErrors = sample(text, 'vantage_selector_db_write_errors_total');
  const lost = fleet.published.messages - accepted - rejected;
  const pick = (re: RegExp): string => re.exec(dnsOut)?.[1]?.trim() ?? '?';
  console.log(`messages: published ${fleet.published.messages} (publish failures ${fleet.failed}), accepted ${accepted}, rejected ${rejected}, unaccounted ${lost}`);
  console.log(`results: published ${fleet.published.results}, ingested ${results}, rejected ${resultsRejected}, committed at the last scrape ${committed}, rows in SQLite after exit ${stored}, db write errors ${dbErrors}`);
  console.log(`DNS: ${pick(/Queries per second:\s+([\d.]+)/)} q/s, sent ${pick(/Queries sent:\s+(\d+)/)}, completed ${pick(/Queries completed:\s+(.+)/)}, lost ${pick(/Queries lost:\s+(.+)/)}, avg latency ${pick(/Average Latency \(s\):\s+([\d.]+)/)} s`);
  console.log(`selector RSS (MB) over time: ${rss.map(([m, v]) => `${m.toFixed(1)}m ${v.toFixed(0)}`).join(', ')}`);
  const secondHalf = rss.filter(([m]) => m >= DURATION_S / 120);
  console.log(`RSS start ${rss[0]?.[1].toFixed(1)} MB, end ${rss.at(-1)?.[1].toFixed(1)} MB, max ${Math.max(...rss.map(([, v]) => v)).toFixed(1)} MB, slope over the second half ${secondHalf.length > 2 ? slope(secondHalf).toFixed(2) : '?'} MB/min (ranking window ${WINDOW_S} s)`);
  console.log(`selector exit code after SIGTERM: ${code}`);
  if (lost !== 0 || results + resultsRejected !== fleet.published.results || stored !== results) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
