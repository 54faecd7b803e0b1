// One DNS worker thread (started by workers.ts): rebuilds the answer table and the client
// mapper from the main thread's snapshot, serves DNS on its own sockets (UDP with
// SO_REUSEPORT; TCP only in worker 0) and applies the deltas the main thread posts.
// Messages out: ready | failed | stats | counts | closed. In: delta | close.
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
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
  /** The number of DNS worker threads sharing the UDP address (SO_REUSEPORT group), or false. */
  reusePort: false | number;
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
  if (!parentPort) throw new Error('worker-entry.ts runs only as a worker thread');
  const port: MessagePort = parentPort;
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
    // Deltas posted before the main thread emptied the caches (cacheClearAll) are applied
    // before the batch that noticed it is answered, not when the port's wake-up comes: the
    // addon's reader answers hits without this thread, so the usual order of events is gone.
    const pullChanges = (): void => {
      for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
        const msg = m.message as ToWorker;
        if (msg.type === 'delta') applyDeltaMessage(msg);
        else setImmediate(() => onMessage(msg)); // close: not from inside a batch
      }
    };
    server = createDnsServer({
      dns: init.dns, table, mapper, log, services: init.services, serial: init.serial, child: init.child, reusePort: init.reusePort, tcp: init.tcp,
      packetCache: true, // invalidated below on every delta
      pullChanges,
    });
    const s = server;
    const sendCounts = (): void => {
      s.foldCacheHits?.(); // cache hits count in the demand too
      const counts = drainCounts(table);
      if (counts.length) send({ type: 'counts', counts });
    };
    function applyDeltaMessage(m: Extract<ToWorker, { type: 'delta' }>): void {
      try {
        s.foldCacheHits?.(); // into the counts maps as they are before the change
        applyDelta(table, mapper, m.delta);
      } catch (err) {
        log.error({ err }, 'dns worker: a table update failed');
      } finally {
        // Before the next datagram: no cached answer from before the change is served.
        s.invalidateCache?.();
      }
    }
    function onMessage(m: ToWorker): void {
      if (m.type === 'delta') {
        applyDeltaMessage(m);
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
    }
    port.on('message', onMessage);
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
