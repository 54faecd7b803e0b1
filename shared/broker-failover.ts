// Failover timing of an mqtt.js client over `mqtt.urls`, shared by the agent and the
// selector's external client (issue #12): when to give up on a node and how soon to try
// the next one.
//
// Why a held request is abandoned (nats-server 2.9.10, server/mqtt.go): a NATS node
// answers a CONNECT only once it has read the client's session record from the replicated
// `$MQTT_sess` stream, and acknowledges a QoS 1 PUBLISH only once it is stored in
// `$MQTT_msgs` (a retained one in `$MQTT_rmsgs` first). When the node that led such a
// stream dies, the survivors elect a new RAFT leader 3-9 s later (server/raft.go: a random
// 4-9 s election timeout from the last heartbeat, not configurable). A request sent before
// that is dropped: the node holds the client for its 4 s JetStream API timeout
// (mqttJSAPITimeout), then closes the connection, and while a CONNECT is held the client
// ID stays locked on that node (mqttProcessConnect: another CONNECT with it waits up to
// 1 s, then fails). A request sent after the election is answered at once.
//
// So, with several URLs: a CONNECT or QoS 1 PUBLISH left unanswered for `stallMs` drops the
// connection, and the next node is tried after HOP_MS; the client alternates between the
// surviving nodes and reaches the new leader about 2 s after the election at most, instead
// of up to 4 s + the reconnect delay. An attempt the node held and closed itself without a
// CONNACK (its lock wait, its JetStream timeout) is logged as 'held'. A connection that
// worked for a while and dropped, and the first two rounds of refused or held attempts (a
// dead node in the list), also go on after HOP_MS; failures after that back off as before
// (reconnectDelayMs). stallMs doubles, up to LONG_MS, after three whole rounds of the list
// stalled in a row, so a link slower than stallMs still connects and delivers. With one
// URL there is nowhere else to go: mqtt.js's 10 s CONNACK timeout, no PUBACK watchdog.
import type { MqttClient } from 'mqtt';
import type { Logger } from './log.js';
import { reconnectDelayMs } from './broker-urls.js';

/** Delay before trying the next node after a stall or after a working connection dropped. */
export const HOP_MS = 100;
/** mqtt.js's CONNACK timeout as configured before issue #12; the cap of the stall timeout. */
export const LONG_MS = 10_000;
/** A connection up this long counts as working: its loss is a node failure, not a refusal. */
const STEADY_MS = 2000;
const CHECK_MS = 100;
/** An attempt open this long without a CONNACK was held by a live node, not refused. */
const HELD_MS = 500;

/** Why we left a node: it held our CONNECT, our publish, or held and closed our attempt itself. */
export type Stall = 'connect' | 'publish' | 'held';

export interface BrokerFailoverOptions {
  /** Number of broker URLs (mqtt.js `servers`). */
  servers: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** `mqtt.stallTimeoutMs`: unanswered CONNECT or QoS 1 PUBLISH before moving on (several URLs). */
  stallMs: number;
  log: Logger;
}

export interface BrokerFailover {
  /** mqtt.js options for the first attempt (mqtt.connect starts it at once). */
  options(): { connectTimeout: number; reconnectPeriod: number };
  /** Hooks the client; call right after mqtt.connect(). */
  attach(c: MqttClient): void;
  /** Wraps a QoS 1 publish callback: the publish is outstanding (watched) until it runs. */
  track<A extends unknown[]>(cb: (...args: A) => void): (...args: A) => void;
  /** Why the last connection or attempt was dropped by us (null: it was not). */
  lastStall(): Stall | null;
  stalls(): number;
  close(): void;
}

/** Stall timeout after `k` consecutive stalls on a list of `servers` URLs (base for three rounds). */
export function stallTimeoutMs(k: number, servers: number, stallMs: number): number {
  const rounds = Math.floor(k / Math.max(1, servers));
  return Math.min(Math.max(LONG_MS, stallMs), stallMs * 2 ** Math.min(Math.max(0, rounds - 2), 30));
}

export function createBrokerFailover(opts: BrokerFailoverOptions): BrokerFailover {
  const { servers, reconnectMinMs: minMs, reconnectMaxMs: maxMs, stallMs, log } = opts;
  const several = servers > 1;
  const hopMs = Math.min(HOP_MS, minMs);
  let failures = 0;
  let connectStalls = 0;
  let ackStalls = 0;
  let stalled: Stall | null = null;
  let lastStall: Stall | null = null;
  let total = 0;
  let connectedAt: number | undefined;
  /** When the current attempt began (the reconnect timer fired), and whether a CONNACK refused it. */
  let attemptAt = Date.now();
  let refused = false;
  let client: MqttClient | undefined;
  let timer: NodeJS.Timeout | undefined;
  let nextId = 0;
  const outstanding = new Map<number, number>();

  const connectTimeout = (): number => (several ? stallTimeoutMs(connectStalls, servers, stallMs) : LONG_MS);

  function check(): void {
    const c = client;
    if (!c?.connected || connectedAt === undefined || outstanding.size === 0 || stalled) return;
    const now = Date.now();
    let oldest = now;
    for (const queuedAt of outstanding.values()) oldest = Math.min(oldest, Math.max(queuedAt, connectedAt));
    const limit = stallTimeoutMs(ackStalls, servers, stallMs);
    if (now - oldest <= limit) return;
    stalled = 'publish';
    log.warn({ waitedMs: now - oldest, outstanding: outstanding.size }, 'broker holds our publish unacknowledged; trying the next node');
    c.stream.destroy();
  }

  function onClose(c: MqttClient): void {
    const now = Date.now();
    const upMs = connectedAt === undefined ? 0 : now - connectedAt;
    if (several && !stalled && connectedAt === undefined && !refused && now - attemptAt >= HELD_MS) stalled = 'held';
    connectedAt = undefined;
    refused = false;
    lastStall = stalled;
    // A connection that lasted: what follows is a new outage.
    if (upMs >= STEADY_MS) failures = 0;
    let delay: number;
    if (stalled) total++;
    if (stalled === 'connect' || stalled === 'publish') {
      if (stalled === 'connect') connectStalls++;
      else ackStalls++;
      delay = hopMs;
      // The node took our connection and kept it: the cluster is up (electing), not refusing
      // us; the stall timeout itself grows if this goes on (stallTimeoutMs).
      failures = 0;
    } else if (several && upMs >= STEADY_MS) {
      delay = hopMs;
    } else {
      // Refused, or held and closed by the node ('held': its lock wait, or a TLS failure on a
      // slow link): with several URLs two rounds of the list at once (during an election these
      // alternate with stalls, which reset the count), then the backoff of a list that keeps
      // failing (one URL: minMs doubled per failure, as before).
      failures++;
      const quick = several ? 2 * servers : 1;
      delay = failures < quick ? hopMs : reconnectDelayMs(failures - quick, servers, minMs, maxMs);
    }
    stalled = null;
    attemptAt = now + delay;
    c.options.reconnectPeriod = delay;
    c.options.connectTimeout = connectTimeout();
  }

  return {
    options: () => ({ connectTimeout: connectTimeout(), reconnectPeriod: minMs }),
    attach(c) {
      client = c;
      // CONNACK, not 'connect': with a persistent session mqtt.js emits 'connect' only after
      // the broker acknowledged every publish it re-sent, and those are what we watch.
      c.on('packetreceive', (packet) => {
        if (packet.cmd !== 'connack') return;
        if ((packet.returnCode ?? packet.reasonCode ?? 0) !== 0) {
          refused = true;
          return;
        }
        // failures are reset only by a connection that lasted (onClose): a broker that
        // accepts and drops us at once keeps backing off.
        connectedAt = Date.now();
        connectStalls = 0;
      });
      c.on('error', (err) => {
        // mqtt.js's CONNACK timer: the node accepted the connection and holds our CONNECT.
        if (err.message === 'connack timeout' && several) stalled = 'connect';
      });
      // Before mqtt.js's own 'close' listener, which schedules the reconnect with
      // options.reconnectPeriod: the delay chosen here applies to this reconnect.
      c.prependListener('close', () => onClose(c));
      if (several) {
        timer = setInterval(check, CHECK_MS);
        timer.unref();
      }
    },
    track(cb) {
      const id = nextId++;
      outstanding.set(id, Date.now());
      return (...args) => {
        outstanding.delete(id);
        if (args[0] == null) ackStalls = 0;
        cb(...args);
      };
    },
    lastStall: () => lastStall,
    stalls: () => total,
    close() {
      clearInterval(timer);
      outstanding.clear();
    },
  };
}
