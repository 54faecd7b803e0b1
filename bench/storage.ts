// npm run bench:storage — how big the selector's database gets, and what bounding it costs.
// 1,000 synthetic agents × 50 sites every 10 s for 10 minutes (BENCH_AGENTS, BENCH_SITES,
// BENCH_MINUTES), in compressed time: a child process publishes every agent's metrics
// rounds, stamped with synthetic timestamps (the last BENCH_MINUTES up to now), as fast as
// the selector acknowledges them, through the real path: the selector's embedded aedes
// broker, ingest (validation, ranking) and the ResultWriter (raw rows + 1-minute rollups).
// Prints DB size and growth per hour and per day, ingest CPU and RSS; then one retention
// pass under a size budget (half the DB) and one tiering pass (a day later), with the
// longest batch (how long a pass holds the event loop). BENCH_DEADLINE_S stops the feed early
// and reports on what was ingested (progress lines every 30 s show the steady-state cost).
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import { parseSelectorConfig } from '../selector/config.js';
import { createSelector } from '../selector/selector.js';
import { databaseBytes, Retention, type RetentionReport } from '../selector/store/retention.js';
import type { Store } from '../selector/store/store.js';
import { agentTopic } from '../shared/protocol.js';

const AGENTS = Number(process.env.BENCH_AGENTS ?? 1000);
const SITES = Number(process.env.BENCH_SITES ?? 50);
const MINUTES = Number(process.env.BENCH_MINUTES ?? 10);
const INTERVAL_S = 10;
const CLIENTS = 8;
const INFLIGHT = 8;
const SERVICE = 'www.example.test';
const MIB = 1024 * 1024;
const rounds = (MINUTES * 60) / INTERVAL_S;

/** Child: CLIENTS mqtt.js connections, each publishing for AGENTS / CLIENTS agents, round by round. */
async function publisher(port: number, t0: number): Promise<void> {
  await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
    // No keepalive: a busy selector may answer PINGREQ late (the event-loop lag during ingest is printed).
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { reconnectPeriod: 0, keepalive: 0 });
    const agents = Array.from({ length: AGENTS }, (_, a) => a).filter((a) => a % CLIENTS === c);
    const jobs: (() => Promise<unknown>)[] = [];
    for (let r = 0; r < rounds; r++) {
      for (const a of agents) {
        jobs.push(() => {
          const ts = t0 + r * INTERVAL_S * 1000 + (a % 100) * 10;
          const results = Array.from({ length: SITES }, (_, i) => {
            const fail = (a + i + r) % 29 === 0;
            return { service: SERVICE, site: `site-${i}`, address: siteAddress(i), ok: !fail, status: fail ? null : 200, connectMs: 2 + (i % 5),
              tlsMs: null, ttfbMs: fail ? null : 8 + ((a * 3 + i) % 40), totalMs: fail ? null : 50 + ((a * 7 + i * 13 + r) % 150), bytes: fail ? 0 : 4096,
              error: fail ? (i % 2 ? 'reset' : 'timeout') : null };
          });
          return client.publishAsync(agentTopic(`pop-${a}`, 'metrics'),
            JSON.stringify({ v: 1, agent: `pop-${a}`, seq: r + 1, ts, intervalS: INTERVAL_S, results }), { qos: 1 });
        });
      }
    }
    let next = 0;
    await Promise.all(Array.from({ length: INFLIGHT }, async () => {
      while (next < jobs.length) await (jobs[next++] as () => Promise<unknown>)();
    }));
    await client.endAsync();
  }));
}

function siteAddress(i: number): string {
  return `127.3.${Math.floor(i / 250)}.${(i % 250) + 1}`;
}

function fileSize(path: string): number {
  try {
    return statSync(path).size;
  } catch {
    return 0;
  }
}

/** Bytes of each tier, tables with their indexes (dbstat). */
function tierBytes(store: Store): { raw: number; minute: number; hourly: number } {
  const rows = store.db.prepare('SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name').all() as { name: string; bytes: number }[];
  const sum = (names: string[]): number => rows.filter((r) => names.includes(r.name)).reduce((a, r) => a + r.bytes, 0);
  return {
    raw: sum(['results', 'results_ts', 'results_key_ts']),
    minute: sum(['rollups', 'sqlite_autoindex_rollups_1', 'rollups_minute']),
    hourly: sum(['rollups_hourly', 'rollups_hourly_hour']),
  };
}

const count = (store: Store, table: string): number => (store.db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;

/** Bytes per table and index (dbstat), when SQLite was built with it. */
function perTable(store: Store): string {
  try {
    const rows = store.db.prepare('SELECT name, SUM(pgsize) AS bytes FROM dbstat GROUP BY name ORDER BY bytes DESC LIMIT 6').all() as { name: string; bytes: number }[];
    return rows.map((r) => `${r.name} ${(r.bytes / MIB).toFixed(1)}`).join(', ') + ' MiB';
  } catch {
    return '(dbstat not available)';
  }
}

function passLine(name: string, r: RetentionReport, ms: number, lagMs: number): string {
  return `${name}: ${(ms / 1000).toFixed(1)} s; raw deleted ${r.results + r.sizeResults}, minute rollups folded ${r.folded}, deleted ${r.rollups + r.sizeRollups}; `
    + `${r.batches} batches, longest ${r.maxBatchMs.toFixed(0)} ms, max event-loop lag ${lagMs.toFixed(0)} ms; vacuumed ${r.vacuumedPages} pages; `
    + `used ${(r.usedBytes / MIB).toFixed(1)} MiB, file ${(r.fileBytes / MIB).toFixed(1)} MiB${r.overBudget ? ' (OVER BUDGET)' : ''}`;
}

async function timedPass(store: Store, policy: ConstructorParameters<typeof Retention>[1], nowMs: number): Promise<string> {
  let lag = 0;
  const timer = setInterval(() => {
    const t = performance.now();
    setImmediate(() => { lag = Math.max(lag, performance.now() - t); });
  }, 20);
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const r = await new Retention(store, policy, { keepRawMs: 300_000 }).run(nowMs);
  const cpu = process.cpuUsage(cpu0);
  const ms = performance.now() - t0;
  clearInterval(timer);
  // On a busy machine wall time overstates a stall; the CPU per batch is what an idle one would pay.
  const name = policy.maxDbMiB ? `size pass (maxDbMiB ${policy.maxDbMiB})` : 'tiering pass (a day later)';
  return `${passLine(name, r, ms, lag)}; CPU ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms = ${((cpu.user + cpu.system) / 1000 / r.batches).toFixed(1)} ms per batch`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-bench-storage-'));
  const db = join(dir, 'selector.db');
  const config = parseSelectorConfig({
    dns: { listen: ['127.0.0.1:0'], zones: [{ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'h.example.test' }] },
    mqtt: { listen: '127.0.0.1:0' },
    http: { listen: '127.0.0.1:0' },
    db,
    auth: { agents: 'off' },
    services: [{ name: SERVICE, sites: Array.from({ length: SITES }, (_, i) => ({ id: `site-${i}`, address: siteAddress(i) })) }],
    log: { level: 'warn' },
  });
  // The selector's own retention timer stays out of the way; the passes below are timed on their own.
  const selector = createSelector(config, { pruneEveryMs: 24 * 3_600_000 });
  await selector.start();
  const expected = AGENTS * SITES * rounds;
  console.log(`bench:storage — ${AGENTS} agents × ${SITES} sites every ${INTERVAL_S} s for ${MINUTES} min = ${expected} results `
    + `(${(AGENTS * SITES) / INTERVAL_S} results/s of synthetic time), compressed: fed as fast as the embedded broker + ingest + ResultWriter take them`);
  const t0Synthetic = Date.now() - MINUTES * 60_000;
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  let rssMax = 0;
  let heapMax = 0;
  let lagMax = 0;
  const rssTimer = setInterval(() => {
    const mem = process.memoryUsage();
    rssMax = Math.max(rssMax, mem.rss);
    heapMax = Math.max(heapMax, mem.heapUsed);
    const t = performance.now();
    setImmediate(() => { lagMax = Math.max(lagMax, performance.now() - t); });
  }, 250);
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), 'publisher', String(selector.mqttAddress()?.port), String(t0Synthetic)], { stdio: 'inherit' });
  const childDone = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? 1)));
  // Progress every 30 s: the first round (1,000 new agents) costs more than the steady state.
  let mark = { n: 0, cpu: process.cpuUsage(), t: performance.now() };
  const progress = setInterval(() => {
    const n = selector.committedResults();
    const cpuNow = process.cpuUsage();
    const cpuS = (cpuNow.user - mark.cpu.user + cpuNow.system - mark.cpu.system) / 1e6;
    const dn = n - mark.n;
    console.log(`  ${((performance.now() - wall0) / 1000).toFixed(0)} s: ${n} results committed (${(n / AGENTS / SITES).toFixed(1)} rounds); last 30 s: `
      + `${Math.round(dn / ((performance.now() - mark.t) / 1000))} results/s, ${dn ? ((cpuS / dn) * 1e6).toFixed(0) : '–'} µs CPU per result`);
    mark = { n, cpu: cpuNow, t: performance.now() };
  }, 30_000);
  const deadlineS = Number(process.env.BENCH_DEADLINE_S ?? 0);
  const deadline = deadlineS ? setTimeout(() => { console.log(`BENCH_DEADLINE_S=${deadlineS} reached: stopping the feed`); child.kill('SIGTERM'); }, deadlineS * 1000) : undefined;
  const code = await childDone; // every message acknowledged by the broker (or the deadline)
  clearTimeout(deadline);
  clearInterval(progress);
  let last = -1;
  for (let idle = 0; idle < 10 && selector.committedResults() < expected;) {
    await sleep(500);
    const n = selector.committedResults();
    idle = n === last ? idle + 1 : 0;
    last = n;
  }
  if (code !== 0) console.log(`publisher exited with ${code}`);
  await sleep(5500); // the rollups of the open minutes are written every 5 s
  selector.flush();
  const wallS = (performance.now() - wall0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  clearInterval(rssTimer);
  const store = selector.store() as Store;
  store.db.pragma('wal_checkpoint(TRUNCATE)');
  const committed = selector.committedResults();
  const size = databaseBytes(store);
  const rollups = (store.db.prepare('SELECT COUNT(*) AS n FROM rollups').get() as { n: number }).n;
  const cpuS = (cpu.user + cpu.system) / 1e6;
  // node --expose-gc: the live heap after the feed (windows, rankings, open rollups), not garbage.
  const gc = (globalThis as { gc?: () => void }).gc;
  gc?.();
  const heapAfter = process.memoryUsage().heapUsed;
  // Synthetic time covered by what was committed (all of it, unless BENCH_DEADLINE_S cut the feed).
  const coveredMin = (committed / (AGENTS * SITES)) * (INTERVAL_S / 60);
  const perHour = (size.fileBytes * 60) / coveredMin;
  console.log(`ingested: ${committed} of ${expected} results in ${wallS.toFixed(1)} s wall = ${Math.round(committed / wallS)} results/s; ingest counters ${JSON.stringify(selector.ingestCounters() ?? {})}`);
  console.log(`ingest CPU (selector process: broker + ingest + ranking + SQLite): ${cpuS.toFixed(1)} s = ${((cpuS / committed) * 1e6).toFixed(1)} µs per result `
    + `→ ${((cpuS / (coveredMin * 60)) * 100).toFixed(1)} % of one core at the real rate; RSS max ${(rssMax / MIB).toFixed(0)} MiB (JS heap used max ${(heapMax / MIB).toFixed(0)} MiB, `
    + `after the feed ${(heapAfter / MIB).toFixed(0)} MiB${gc ? ' after a full GC' : ''}); max event-loop lag ${lagMax.toFixed(0)} ms`);
  console.log(`database: file ${(size.fileBytes / MIB).toFixed(1)} MiB (used ${(size.usedBytes / MIB).toFixed(1)}), WAL ${(fileSize(`${db}-wal`) / MIB).toFixed(1)} MiB, `
    + `${(size.fileBytes / committed).toFixed(0)} bytes per result, ${rollups} 1-minute rollup rows; ${perTable(store)}`);
  console.log(`growth: ${(perHour / MIB).toFixed(0)} MiB per hour, ${(perHour * 24 / 1024 / MIB).toFixed(1)} GiB per day of raw + 1-minute rollups (file size extrapolated linearly from ${coveredMin.toFixed(1)} min of synthetic time)`);
  // Per tier: raw grows with results, 1-minute rollups with keys × minutes (one row per key per minute however many results).
  const tiers0 = tierBytes(store);
  const rawPerResult = tiers0.raw / count(store, 'results');
  const minutePerRow = tiers0.minute / Math.max(1, rollups);
  const keys = AGENTS * SITES;
  const perSecond = keys / INTERVAL_S;
  const GIB = 1024 * MIB;

  // A day later (rawHours 48 keeps every raw row): fold the 1-minute rollups into hours; then a budget of half the file.
  const later = Date.now() + 25 * 3_600_000;
  console.log(await timedPass(store, { rawHours: 48, rollupDays: 30 }, later));
  const budget = Math.max(1, Math.floor(databaseBytes(store).usedBytes / MIB / 2));
  console.log(await timedPass(store, { rawHours: 48, rollupDays: 30, maxDbMiB: budget }, later));
  const hourly = count(store, 'rollups_hourly');
  const hourPerRow = tierBytes(store).hourly / Math.max(1, hourly);
  console.log(`1-hour rollup rows: ${hourly} (${keys} keys); ${perTable(store)}`);
  console.log(`per tier: raw ${rawPerResult.toFixed(0)} B per result, 1-minute rollup ${minutePerRow.toFixed(0)} B per row, 1-hour rollup ${hourPerRow.toFixed(0)} B per row`);
  console.log(`per day at ${perSecond} results/s (${keys} agent × site keys): raw ${((rawPerResult * perSecond * 86_400) / GIB).toFixed(1)} GiB, `
    + `1-minute rollups ${((minutePerRow * keys * 1440) / GIB).toFixed(1)} GiB (kept a day), 1-hour rollups ${((hourPerRow * keys * 24) / GIB).toFixed(2)} GiB `
    + `(× rollupDays: ${((hourPerRow * keys * 24 * 30) / GIB).toFixed(1)} GiB for 30 days)`);
  await selector.close();
  rmSync(dir, { recursive: true, force: true });
}

if (process.argv[2] === 'publisher') {
  publisher(Number(process.argv[3]), Number(process.argv[4])).catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
} else {
  main().catch((err: unknown) => {
    console.error(err);
    process.exit(1);
  });
}
