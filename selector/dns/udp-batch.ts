// DNS over UDP through the optional native addon (native/udp-batch): recvmmsg/sendmmsg
// in batches of up to 64 datagrams and one JS call per batch, instead of dgram's one
// syscall and a few JS objects per datagram. Not built (non-Linux, no compiler) → the
// loader returns undefined and udp.ts's dgram path is used.
import { createRequire } from 'node:module';
import type { Family } from '../../shared/prefix.js';
import { udpResponseInto, type UdpOptions } from './udp.js';
import type { PacketCacheTags } from './packet-cache.js';
import type { LastAnswer } from './responder.js';

interface UdpBatchAddon {
  open(host: string, port: number, family: number, inBuf: Buffer, outBuf: Buffer, meta: Buffer,
    onBatch: (count: number, changed?: boolean) => void, onSendError: (failed: number, code: string) => void, reusePort?: boolean | number, hits?: Buffer,
    reader?: boolean): unknown;
  port(handle: unknown): number;
  close(handle: unknown): void;
  /** Empties the socket's packet cache (absent in an addon built before the cache). */
  cacheClear?(handle: unknown): void;
  /** Every socket of the process, on any thread, empties its cache before its next batch. */
  cacheClearAll?(): void;
  readonly BATCH: number;
  readonly IN_SLOT: number;
  readonly OUT_SLOT: number;
  readonly META_WORDS: number;
  readonly CACHE_ENTRIES?: number;
}

/** The packet cache of one server (all its sockets): tags and the responder's last answer. */
export interface BatchCache {
  tags: PacketCacheTags;
  last: LastAnswer;
  /**
   * Called before a batch is answered when another thread emptied the caches (the addon's
   * cacheClearAll, after posting a change): apply the changes queued for this server now.
   */
  pullChanges?: () => void;
}

/** Whether this addon build has the packet cache (an older build: no cache, same behaviour). */
export function hasPacketCache(addon: UdpBatchAddon): boolean {
  return typeof addon.cacheClear === 'function' && addon.META_WORDS >= 10;
}

// From selector/dns/ (vitest, tsx) and from dist/selector/dns/ (compiled).
const CANDIDATES = ['../../native/udp-batch/build/Release/udp_batch.node', '../../../native/udp-batch/build/Release/udp_batch.node'];
let loaded: UdpBatchAddon | null | undefined;

/** The addon if it was built, else undefined (loaded once). */
export function loadUdpBatch(): UdpBatchAddon | undefined {
  if (loaded === undefined) {
    loaded = null;
    const require = createRequire(import.meta.url);
    for (const path of CANDIDATES) {
      try {
        loaded = require(path) as UdpBatchAddon;
        break;
      } catch {
        // not built there: try the next place, else dgram
      }
    }
  }
  return loaded ?? undefined;
}

export interface BatchUdpSocket {
  readonly port: number;
  close(): void;
}

/**
 * Binds host:port now (throws with code EADDRINUSE etc. like dgram) and serves until close().
 * `reusePort`: SO_REUSEPORT, so DNS worker threads each own a socket on the same address;
 * a number N > 1 is the group's size: each datagram goes to a random socket of it (a cBPF
 * program) rather than by the 4-tuple hash, which keeps each client port on one socket.
 * `cache`: answer repeated queries from the addon's packet cache (never with a rate limiter:
 * each response must pass it). With the cache, the socket is read by a thread of the addon
 * (reader mode, native/udp-batch/reader.c): hits are answered there without an event-loop
 * turn, and onBatch runs here for batches with a miss while that thread waits for it.
 * VANTAGE_UDP_READER=0 keeps the JS thread polling the socket (for comparison in bench:dns).
 */
export function createBatchUdpSocket(addon: UdpBatchAddon, opts: UdpOptions, reusePort: boolean | number = false, cache?: BatchCache): BatchUdpSocket {
  const pc = cache && !opts.limiter && hasPacketCache(addon) ? cache : undefined;
  const { counters } = opts;
  const { BATCH, IN_SLOT, OUT_SLOT, META_WORDS } = addon;
  // allocUnsafe: only the bytes the kernel wrote (in) or we wrote (out) are ever read.
  const inBuf = Buffer.allocUnsafe(BATCH * IN_SLOT);
  const outBuf = Buffer.allocUnsafe(BATCH * OUT_SLOT);
  const metaBuf = Buffer.alloc(BATCH * META_WORDS * 4);
  const meta = new Uint32Array(metaBuf.buffer, metaBuf.byteOffset, BATCH * META_WORDS);
  // One address view and one output slot view per slot, made once (the responder does
  // not keep `src`, and writes each response straight into its slot).
  const v4: Uint8Array[] = [];
  const v6: Uint8Array[] = [];
  const outSlots: Buffer[] = [];
  for (let i = 0; i < BATCH; i++) {
    const at = metaBuf.byteOffset + (i * META_WORDS + 4) * 4;
    v4.push(new Uint8Array(metaBuf.buffer, at, 4));
    v6.push(new Uint8Array(metaBuf.buffer, at, 16));
    outSlots.push(outBuf.subarray(i * OUT_SLOT, (i + 1) * OUT_SLOT));
  }

  const onBatch = (count: number, changed?: boolean): void => {
    if (changed === true) pc?.pullChanges?.();
    const n = Math.min(count, BATCH);
    for (let i = 0; i < n; i++) {
      const m = i * META_WORDS;
      // Answered from the cache in C: counted when its tag's hits are folded.
      if (pc && meta[m + 8] === 1) continue;
      meta[m + 1] = 0;
      counters.udpQueries++;
      const port = meta[m + 2] as number;
      const fam = meta[m + 3] as number;
      // Source port 0 cannot be replied to: a spoofed packet (same as the dgram path).
      if (port === 0 || (fam !== 4 && fam !== 6)) {
        counters.dropped++;
        continue;
      }
      const family: Family = fam === 4 ? 4 : 6;
      const len = Math.min(meta[m] as number, IN_SLOT);
      const msg = inBuf.subarray(i * IN_SLOT, i * IN_SLOT + len);
      try {
        // A response never exceeds its slot: the responder cuts it to TC first.
        const len = udpResponseInto(opts, msg, family, family === 4 ? v4[i] as Uint8Array : v6[i] as Uint8Array, outSlots[i] as Buffer);
        meta[m + 1] = len;
        if (pc && len > 0) meta[m + 9] = pc.tags.tagFor(pc.last) + 1;
      } catch (err) {
        // The responder answers SERVFAIL on its own errors; this keeps a throwing rate
        // limiter from losing the rest of the batch.
        counters.internalErrors++;
        opts.onError(err as Error);
      }
    }
  };
  const onSendError = (failed: number, code: string): void => {
    counters.dropped += failed;
    opts.onError(Object.assign(new Error(`udp send failed (${failed}): ${code}`), { code }));
  };

  const reader = process.env.VANTAGE_UDP_READER !== '0';
  const handle = pc
    ? addon.open(opts.host, opts.port, opts.family, inBuf, outBuf, metaBuf, onBatch, onSendError, reusePort, pc.tags.hits, reader)
    : addon.open(opts.host, opts.port, opts.family, inBuf, outBuf, metaBuf, onBatch, onSendError, reusePort);
  const unregister = pc?.tags.register(() => addon.cacheClear?.(handle));
  let closed = false;
  return {
    port: addon.port(handle),
    close(): void {
      if (closed) return;
      closed = true;
      unregister?.();
      addon.close(handle);
    },
  };
}
