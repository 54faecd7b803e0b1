// One DNS worker thread (started by workers.ts): rebuilds the answer table and the client
// mapper from the main thread's snapshot, serves DNS on its own sockets (UDP with
// SO_REUSEPORT; TCP only in worker 0) and applies the deltas the main thread posts.
// Messages out: ready | failed | stats | counts | closed. In: delta | close.
import { parentPort, workerData } from 'node:worker_threads';
import type { LevelWithSilent } from 'pino';
import type { ClientMapper } from './contract.js';
import type { DnsConfig } from './config.js';
import type { ChildZones } from './resolve.js';
import { MemoryAnswerTable } from './answer-table.js';
import { applyDelta, applySnapshot, drainCounts, type CountBatch, type Delta, type Snapshot } from './snapshot.js';
import { createDnsServer } from './server.js';
import { createLogger } from '../../shared/log.js';

export interface WorkerInit {
  index: number;
  dns: DnsConfig;
  snapshot: Snapshot;
  /** Module (file URL) and export name of the ClientMapper class to build (the selector injects it). */
  mapperModule: string;
  mapperExport: string;
  services: string[];
  serial: number;
  child: ChildZones | undefined;
  reusePort: boolean;
  tcp: boolean;
  logLevel: LevelWithSilent;
  statsEveryMs: number;
  /** How often the per-answer-key query counts (capacity demand) go to the main thread. */
  countsEveryMs: number;
}

export type FromWorker =
  | { type: 'ready'; addresses: { host: string; port: number; family: 4 | 6 }[]; udpEngine: 'batch' | 'dgram' }
  | { type: 'failed'; message: string; code?: string }
  | { type: 'stats'; stats: ReturnType<ReturnType<typeof createDnsServer>['stats']> }
  | { type: 'counts'; counts: CountBatch }
  | { type: 'closed' };

export type ToWorker = { type: 'delta'; delta: Delta } | { type: 'close' };

async function main(): Promise<void> {
  const port = parentPort;
  if (!port) throw new Error('worker-entry.ts runs only as a worker thread');
  const init = workerData as WorkerInit;
  const send = (m: FromWorker): void => port.postMessage(m);
  const log = createLogger({ level: init.logLevel }).child({ component: 'dns', worker: init.index });
  let server: ReturnType<typeof createDnsServer> | undefined;
  let statsTimer: NodeJS.Timeout | undefined;
  let countsTimer: NodeJS.Timeout | undefined;
  try {
    const mod = (await import(init.mapperModule)) as Record<string, new () => ClientMapper>;
    const Mapper = mod[init.mapperExport];
    if (typeof Mapper !== 'function') throw new Error(`${init.mapperModule} has no export ${init.mapperExport}`);
    const table = new MemoryAnswerTable();
    const mapper = new Mapper();
    applySnapshot(table, mapper, init.snapshot);
    server = createDnsServer({
      dns: init.dns, table, mapper, log, services: init.services, serial: init.serial, child: init.child, reusePort: init.reusePort, tcp: init.tcp,
      packetCache: true, // invalidated below on every delta
    });
    const s = server;
    const sendCounts = (): void => {
      s.foldCacheHits?.(); // cache hits count in the demand too
      const counts = drainCounts(table);
      if (counts.length) send({ type: 'counts', counts });
    };
    port.on('message', (m: ToWorker) => {
      if (m.type === 'delta') {
        try {
          s.foldCacheHits?.(); // into the counts maps as they are before the change
          applyDelta(table, mapper, m.delta);
        } catch (err) {
          log.error({ err }, 'dns worker: a table update failed');
        } finally {
          // Before the next datagram: no cached answer from before the change is served.
          s.invalidateCache?.();
        }
      } else if (m.type === 'close') {
        if (statsTimer) clearInterval(statsTimer);
        if (countsTimer) clearInterval(countsTimer);
        void s.close().finally(() => {
          sendCounts();
          send({ type: 'stats', stats: s.stats() });
          send({ type: 'closed' });
          port.close();
        });
      }
    });
    await s.start();
    send({ type: 'ready', addresses: s.addresses(), udpEngine: s.udpEngine });
    // Counters go to the main thread when they moved (for /metrics and stats()).
    let last = -1;
    statsTimer = setInterval(() => {
      const st = s.stats();
      const sig = st.queries + st.dropped + st.tcpConnections + st.tcpOpen + st.internalErrors;
      if (sig === last) return;
      last = sig;
      send({ type: 'stats', stats: st });
    }, init.statsEveryMs);
    countsTimer = setInterval(sendCounts, init.countsEveryMs);
  } catch (err) {
    await server?.close().catch(() => undefined);
    const e = err as NodeJS.ErrnoException;
    send({ type: 'failed', message: e.message, code: e.code });
    port.close();
  }
}

void main();
