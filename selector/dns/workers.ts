// DNS on worker threads (`dns.workers` ≥ 1), so ingest and ranking on the main thread do
// not delay answers. Each worker owns UDP sockets bound with SO_REUSEPORT (native batch
// engine) on every listen address; worker 0 also owns TCP (Node 20's net has no
// reusePort). The main thread ships answer-table and mapper changes to every worker, at
// the end of the turn that made them (snapshot.ts). To the rest of the selector this is one DnsServer:
// `decide()` runs on the main thread over the same table and mapper, stats() sums workers.
import fs from 'node:fs';
import os from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { VantageError } from '../../shared/errors.js';
import { silentLogger, type Logger } from '../../shared/log.js';
import type { DnsConfig } from './config.js';
import type { ChildZones } from './resolve.js';
import { createResponder } from './responder.js';
import type { DnsAddress, DnsServer, UdpEngine } from './server.js';
import { startSerial } from './zones.js';
import type { TrackedAnswerTable, TrackedMapper } from './snapshot.js';
import { DnsCounters, type DnsStats } from './stats.js';
import { loadUdpBatch } from './udp-batch.js';
import type { FromWorker, ToWorker, WorkerInit } from './worker-entry.js';

export interface DnsWorkersOptions {
  dns: DnsConfig;
  table: TrackedAnswerTable;
  mapper: TrackedMapper;
  /** Worker threads wanted (dns.workers); only 1 is started without the batch engine (no SO_REUSEPORT). */
  workers: number;
  /** File URL and export name of the ClientMapper class each worker builds (injected: dns/ imports no mapper). */
  mapperModule: string;
  mapperExport: string;
  services?: readonly string[];
  serial?: number;
  /** An LB's delegated child names (resolve.ts ChildZones). */
  child?: ChildZones;
  log?: Logger;
  /** Longest a table change waits before it is shipped; default 0: at the end of the current turn. */
  flushMs?: number;
}

/** Default for `dns.workers`: one per core. */
export function defaultDnsWorkers(): number {
  return Math.max(1, os.availableParallelism());
}

const STATS_EVERY_MS = 100;
const COUNTS_EVERY_MS = 1000;
const START_TIMEOUT_MS = 20_000;
// A worker that stops after start is started again after 100 ms, doubling to 10 s while
// it keeps failing; a worker that served for a minute starts the next count from 100 ms.
const RESTART_FIRST_MS = 100;
const RESTART_MAX_MS = 10_000;
const HEALTHY_AFTER_MS = 60_000;

/** One worker position (index): the thread serving it now, replaced when it stops. */
interface Slot {
  index: number;
  worker: Worker | undefined;
  stats: DnsStats | undefined;
  exited: Promise<void>;
  /** When the current thread said ready (0 until then). */
  readyAt: number;
  restartMs: number;
  timer: NodeJS.Timeout | undefined;
}

export interface DnsWorkers extends DnsServer {
  /** Each worker's last reported counters (worker 0 first). */
  workerStats(): DnsStats[];
  /** The live worker threads (worker 0 first; a stopped one is absent until restarted), for tests and diagnostics. */
  threads(): Worker[];
}

export function createDnsWorkers(opts: DnsWorkersOptions): DnsWorkers {
  const log = (opts.log ?? silentLogger()).child({ component: 'dns-workers' });
  const serial = opts.serial ?? startSerial();
  const services = [...(opts.services ?? [])];
  const mainCounters = new DnsCounters();
  // explain: the same decision on the main thread, over the same table and mapper.
  const responder = createResponder({ zones: opts.dns.zones, table: opts.table, mapper: opts.mapper, services, counters: mainCounters, serial, child: opts.child, log });
  const addon = opts.dns.udpEngine !== 'dgram' ? loadUdpBatch() : undefined;
  const batch = addon !== undefined;
  const count = batch ? Math.max(1, opts.workers) : 1;
  const udpEngine: UdpEngine = batch ? 'batch' : 'dgram';
  const slots: Slot[] = [];
  let addresses: DnsAddress[] = [];
  /** The listen config once worker 0 has bound (port 0 resolved): what a restarted worker binds. */
  let joined: DnsConfig = opts.dns;
  /** Counters of threads that stopped (their last report), so summed counters never go back. */
  let retired: DnsStats = new DnsCounters().snapshot();
  let restarts = 0;
  let flushTimer: NodeJS.Timeout | undefined;
  let started = false;
  let closing = false;

  function flush(): void {
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = undefined;
    const msg: ToWorker = { type: 'delta', delta: { ops: opts.table.takeOps(), mapper: opts.mapper.takeInputs() } };
    for (const s of slots) s.worker?.postMessage(msg);
    // The workers' readers answer cache hits without their JS thread (reader mode). Once the
    // message is queued, empty every cache: a query sent after this turn misses, and the worker
    // pulls this message before it answers that batch (worker-entry.ts, pullChanges).
    addon?.cacheClearAll?.();
  }
  // A burst of writes in one turn (rankAll) becomes one message, posted before the turn ends
  // (a microtask), so a query sent after the change reaches a worker after the change too.
  let queued = false;
  const schedule = (): void => {
    if (closing || queued || flushTimer) return;
    if (opts.flushMs === undefined || opts.flushMs === 0) {
      queued = true;
      queueMicrotask(() => { queued = false; flush(); });
    } else {
      flushTimer = setTimeout(flush, opts.flushMs);
    }
  };

  /** Starts the thread of `slot`; resolves with its addresses when it serves. */
  function launch(slot: Slot, dns: DnsConfig): Promise<DnsAddress[]> {
    const index = slot.index;
    flush(); // workers already running get every change made before this snapshot
    const init: WorkerInit = {
      index, dns, snapshot: { services: opts.table.exportAll(), mapper: opts.mapper.exportAll(), counting: opts.table.exportCounting() },
      mapperModule: runnable(opts.mapperModule), mapperExport: opts.mapperExport, services, serial, child: opts.child,
      reusePort: count > 1 ? count : false, tcp: index === 0, logLevel: log.level as WorkerInit['logLevel'],
      statsEveryMs: STATS_EVERY_MS, countsEveryMs: COUNTS_EVERY_MS,
    };
    const worker = new Worker(new URL(runnable(new URL('./worker-entry.js', import.meta.url).href)), { workerData: init });
    slot.worker = worker;
    slot.readyAt = 0;
    slot.exited = new Promise((resolve) => worker.once('exit', () => resolve()));
    let lastError: Error | undefined;
    return new Promise<DnsAddress[]>((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new VantageError('DNS_ERR_WORKER', `dns worker ${index} did not start in ${START_TIMEOUT_MS} ms`));
        void worker.terminate();
      }, START_TIMEOUT_MS);
      worker.on('message', (m: FromWorker) => {
        if (m.type === 'stats') slot.stats = m.stats;
        else if (m.type === 'counts') opts.table.mergeCounts(m.counts);
        else if (m.type === 'ready') {
          clearTimeout(timer);
          slot.readyAt = Date.now();
          resolve(m.addresses);
        } else if (m.type === 'failed') {
          clearTimeout(timer);
          lastError = Object.assign(new VantageError('DNS_ERR_WORKER', `dns worker ${index}: ${m.message}`), { errno: m.code });
          reject(lastError);
        }
      });
      worker.on('error', (err) => {
        clearTimeout(timer);
        lastError = err;
        if (!started) log.error({ err, worker: index }, 'dns worker failed');
        reject(new VantageError('DNS_ERR_WORKER', `dns worker ${index}: ${err.message}`, { cause: err }));
      });
      worker.on('exit', (code) => {
        clearTimeout(timer);
        reject(new VantageError('DNS_ERR_WORKER', `dns worker ${index} exited (${code})`));
        if (slot.worker !== worker) return;
        // Keep what it served in the sums; tcpOpen is a gauge: its connections are gone.
        if (slot.stats) retired = sumStats([retired, { ...slot.stats, tcpOpen: 0 }]);
        slot.stats = undefined;
        slot.worker = undefined;
        if (closing) return;
        if (started) restartLater(slot, code, lastError);
        else log.error({ worker: index, code }, 'dns worker stopped');
      });
    });
  }

  /** A worker stopped after start: start it again with backoff, one log line per restart. */
  function restartLater(slot: Slot, code: number, err: Error | undefined): void {
    if (slot.readyAt && Date.now() - slot.readyAt >= HEALTHY_AFTER_MS) slot.restartMs = RESTART_FIRST_MS;
    const delayMs = slot.restartMs;
    slot.restartMs = Math.min(RESTART_MAX_MS, delayMs * 2);
    log.error({ err, worker: slot.index, code, restartInMs: delayMs, restarts: restarts + 1 }, 'dns worker stopped; restarting it');
    slot.timer = setTimeout(() => {
      slot.timer = undefined;
      if (closing) return;
      restarts++;
      try {
        launch(slot, joined).then(
          () => log.info({ worker: slot.index, restarts }, 'dns worker restarted'),
          () => undefined, // its exit schedules the next attempt (logged there)
        );
      } catch (e) {
        // new Worker() itself failed (no build, no memory for a thread): try again later.
        restartLater(slot, -1, e as Error);
      }
    }, delayMs);
  }

  async function start(): Promise<void> {
    opts.table.onChange = schedule;
    opts.mapper.onChange = schedule;
    for (let index = 0; index < count; index++) {
      slots.push({ index, worker: undefined, stats: undefined, exited: Promise.resolve(), readyAt: 0, restartMs: RESTART_FIRST_MS, timer: undefined });
    }
    try {
      // Worker 0 binds the configured addresses (port 0 → a port chosen for UDP and TCP);
      // the others join the same ports with SO_REUSEPORT, UDP only.
      addresses = await launch(slots[0] as Slot, opts.dns);
      joined = { ...opts.dns, listen: addresses.map((a) => ({ host: a.host, port: a.port })) };
      await Promise.all(slots.slice(1).map((slot) => launch(slot, joined)));
      started = true;
      log.info({ workers: count, udpEngine, addresses, tcp: 'worker 0' }, 'dns serving on worker threads');
    } catch (err) {
      await close();
      throw err;
    }
  }

  async function close(): Promise<void> {
    closing = true;
    if (flushTimer) clearTimeout(flushTimer);
    flushTimer = undefined;
    opts.table.onChange = undefined;
    opts.mapper.onChange = undefined;
    await Promise.all(slots.map(async (s) => {
      if (s.timer) clearTimeout(s.timer);
      s.timer = undefined;
      const worker = s.worker;
      if (!worker) return;
      worker.postMessage({ type: 'close' } satisfies ToWorker);
      const stop = setTimeout(() => void worker.terminate(), 5_000);
      await s.exited;
      clearTimeout(stop);
    }));
    // Keep the last counters: stats() after close still shows what was served.
    addresses = [];
  }

  const live = (): DnsStats[] => slots.flatMap((s) => s.stats ?? []);
  return {
    start,
    close,
    addresses: () => addresses.map((a) => ({ ...a })),
    stats: () => ({ ...sumStats([mainCounters.snapshot(), retired, ...live()]), udpEngine, workerRestarts: restarts }),
    decide: responder.decide,
    resolve: responder.resolve,
    answer: (msg, srcFamily, src, limit) => responder.answer(msg, srcFamily, src, limit),
    udpEngine,
    workerStats: live,
    threads: () => slots.flatMap((s) => s.worker ?? []),
  };
}

const SUMMED = ['queries', 'udpQueries', 'tcpQueries', 'dropped', 'truncated', 'rateLimited', 'internalErrors',
  'tcpConnections', 'tcpRejected', 'tcpTimeouts', 'tcpOpen', 'packetCacheHits'] as const;

/** One server's view of several: counters added, per-rcode/qtype/answer maps merged. */
export function sumStats(all: readonly DnsStats[]): DnsStats {
  const out = new DnsCounters().snapshot();
  for (const s of all) {
    for (const k of SUMMED) out[k] += s[k];
    for (const [k, n] of Object.entries(s.byRcode)) out.byRcode[k] = (out.byRcode[k] ?? 0) + n;
    for (const [k, n] of Object.entries(s.byQtype)) out.byQtype[k] = (out.byQtype[k] ?? 0) + n;
    for (const [svc, byAddr] of Object.entries(s.answers)) {
      const o = (out.answers[svc] ??= {});
      for (const [addr, n] of Object.entries(byAddr)) o[addr] = (o[addr] ?? 0) + n;
    }
  }
  return out;
}

/**
 * A module a worker thread can load: the compiled .js itself, or, when running from the
 * TypeScript sources (vitest), its build in dist/ (worker threads cannot load .ts).
 */
function runnable(href: string): string {
  const file = fileURLToPath(href);
  if (fs.existsSync(file)) return href;
  const root = fileURLToPath(new URL('../../', import.meta.url));
  const built = `${root}dist/${file.slice(root.length)}`;
  if (file.startsWith(root) && fs.existsSync(built)) return pathToFileURL(built).href;
  throw new VantageError('DNS_ERR_WORKER', `${file} not found: build first (npx tsc -p tsconfig.json), or set dns.workers: 0`);
}
