// Embedded MQTT broker (aedes 1.x) for when `mqtt.url` is absent. With
// `auth.agents: required` it authenticates agents against the enrolled agents' scrypt
// hashes (held in memory by Enrolment) and confines each to its own
// `vantage/v1/agents/{id}/` topics; agents may only read `vantage/v1/config/#`. Nobody but the selector (in-process) publishes config.
import { Aedes, type AedesPublishPacket, type AuthenticateError, type Client } from 'aedes';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { formatHostPort } from '../../shared/config.js';
import { VantageError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { TOPIC_ROOT } from '../../shared/protocol.js';
import { INGEST_TOPIC, type BrokerStatus, type MessageBus, type MessageHandler } from './bus.js';
import type { SelectorConfig } from '../config.js';
import { Enrolment } from './credentials.js';
import type { Store } from '../store/store.js';

const AGENTS_PREFIX = `${TOPIC_ROOT}/agents/`;
const LBS_PREFIX = `${TOPIC_ROOT}/lbs/`;
/** Username prefix of an LB logging in to its backbone (selector/backbone/credentials.ts). */
const LB_USER = 'lb.';
const CONFIG_PREFIX = `${TOPIC_ROOT}/config/`;
const agentOf = new WeakMap<Client, string>();
/** Messages queued for ingest before PUBACKs are held, and the level that releases them. */
const QUEUE_HIGH_WATER = 256;
const QUEUE_LOW_WATER = 128;
const HOLD_MAX_MS = 5000;

export interface EmbeddedBrokerOptions {
  mqtt: SelectorConfig['mqtt'];
  authRequired: boolean;
  store: Store;
  /** The daemon's enrolled agents (shared with ingest and the admin API); default: loaded from `store`. */
  enrolment?: Enrolment;
  onMessage: MessageHandler;
  log: Logger;
  /** More topic filters delivered to onMessage (a backbone adds vantage/v1/lbs/+/+). */
  extraTopics?: readonly string[];
  /** A backbone's LB logins: username `lb.{id}`, confined to vantage/v1/lbs/{id}/. */
  checkLb?: (id: string, password: Buffer | string | undefined) => Promise<boolean>;
}

/** An agent may publish only under vantage/v1/agents/{its id}/ (never wildcards, never config). */
export function mayPublish(agent: string | undefined, topic: string, authRequired: boolean): boolean {
  if (topic.startsWith(CONFIG_PREFIX) || topic.startsWith('$')) return false;
  if (!authRequired) return true;
  if (agent?.startsWith(LB_USER)) return topic.startsWith(`${LBS_PREFIX}${agent.slice(LB_USER.length)}/`) && !/[+#]/.test(topic);
  return agent !== undefined && topic.startsWith(`${AGENTS_PREFIX}${agent}/`) && !/[+#]/.test(topic);
}

/** Agents read only the catalogue tree. */
export function maySubscribe(topic: string, authRequired: boolean): boolean {
  if (!authRequired) return true;
  // Any filter under the config prefix can only match config topics.
  return topic.startsWith(CONFIG_PREFIX);
}

export function createEmbeddedBroker(opts: EmbeddedBrokerOptions): MessageBus & { broker(): Aedes | undefined } {
  const { log, authRequired } = opts;
  const enrolment = opts.enrolment ?? new Enrolment(opts.store);
  /** Connections per agent id (the authenticated username, or with auth off the id it publishes as). */
  const clientsOf = new Map<string, Set<Client>>();
  /** Connections closed because their agent was removed: their last will is not published. */
  const removed = new WeakSet<Client>();
  const track = (agent: string, client: Client): void => {
    let set = clientsOf.get(agent);
    if (!set) clientsOf.set(agent, (set = new Set()));
    set.add(client);
  };
  const hp = opts.mqtt.listen;
  let aedes: Aedes | undefined;
  let server: net.Server | tls.Server | undefined;
  let bound: { host: string; port: number } | undefined;
  let startedMs = Date.now();
  // One message per event-loop turn: a burst of large metrics messages then yields to
  // the DNS sockets between messages. aedes sends the PUBACK as soon as authorizePublish
  // allows a message, before it is handled here; so while the queue is long the answer
  // is held, which paces QoS 1 publishers by their PUBACKs (regression: under overload
  // the queue grew without bound and its backlog was lost at shutdown).
  const queue: { topic: string; payload: Buffer; cb: () => void }[] = [];
  const held: { go: () => void; timer: NodeJS.Timeout }[] = [];
  let head = 0;
  let draining = false;
  // Allowed by authorizePublish but not yet delivered to us (aedes delivers later).
  let allowed = 0;
  const below = (mark: number): boolean => queue.length - head + allowed < mark;
  const release = (): void => {
    while (held.length && below(QUEUE_LOW_WATER)) {
      const h = held.shift() as (typeof held)[number];
      clearTimeout(h.timer);
      h.go();
    }
  };
  /** Holds a PUBACK; at most HOLD_MAX_MS, so a miscount can never hold a publisher for good. */
  const hold = (cb: (err: null) => void): void => {
    const h = {
      go: () => { allowed++; cb(null); },
      timer: setTimeout(() => {
        const i = held.indexOf(h);
        if (i >= 0) held.splice(i, 1);
        allowed = 0;
        h.go();
      }, HOLD_MAX_MS),
    };
    held.push(h);
  };
  const drainOne = (): void => {
    const item = queue[head++];
    if (item) {
      try {
        opts.onMessage(item.topic, item.payload);
      } finally {
        item.cb();
      }
    }
    if (head < queue.length) {
      release();
      setImmediate(drainOne);
      return;
    }
    queue.length = 0;
    head = 0;
    draining = false;
    release();
  };
  let closing = false;
  const deliver = (packet: AedesPublishPacket, cb: () => void): void => {
    // Closing aedes publishes every connected agent's last will: those say nothing about
    // the agents (regression: a selector restart marked them all offline in the DB).
    if (closing) return cb();
    allowed = Math.max(0, allowed - 1);
    queue.push({ topic: packet.topic, payload: packet.payload as Buffer, cb });
    if (!draining) {
      draining = true;
      setImmediate(drainOne);
    }
  };

  return {
    broker: () => aedes,
    async start() {
      closing = false;
      aedes = await Aedes.createBroker({
        authenticate: (client, username, password, done) => {
          if (!authRequired) return done(null, true);
          const id = username ?? '';
          const lb = id.startsWith(LB_USER) ? opts.checkLb : undefined;
          const check = lb ? lb(id.slice(LB_USER.length), password) : enrolment.check(id, password);
          check.then((ok) => {
            if (ok) {
              agentOf.set(client, id);
              track(id, client);
              return done(null, true);
            }
            log.warn({ agent: id, client: client.id }, 'MQTT authentication refused');
            // CONNACK 4 (MQTT 3.1.1 §3.2.2.3): bad user name or password.
            const err = Object.assign(new VantageError('AUTH_ERR_REFUSED', 'bad username or password'), { returnCode: 4 }) as AuthenticateError;
            done(err, null);
          }, (err: unknown) => {
            log.error({ err }, 'credential check failed');
            const e = Object.assign(new VantageError('STORE_ERR', 'server unavailable', { cause: err }), { returnCode: 3 }) as AuthenticateError;
            done(e, null);
          });
        },
        authorizePublish: (client, packet, cb) => {
          // client null: the broker itself (e.g. a will of a gone client) — already authorised at connect.
          if (client === null) return cb(null);
          if (removed.has(client)) return cb(new Error('agent removed'));
          if (!authRequired && packet.topic.startsWith(AGENTS_PREFIX)) {
            // Auth off: an agent is whoever publishes under its id (one client may publish for several).
            const end = packet.topic.indexOf('/', AGENTS_PREFIX.length);
            if (end > AGENTS_PREFIX.length) track(packet.topic.slice(AGENTS_PREFIX.length, end), client);
          }
          if (mayPublish(agentOf.get(client), packet.topic, authRequired)) {
            if (!packet.topic.startsWith(AGENTS_PREFIX)) return cb(null); // not for ingest
            // Never let a message overtake a held one: per-agent order is the seq
            // order, and a later seq handled first turns the earlier into stale_seq.
            if (held.length === 0 && below(QUEUE_HIGH_WATER)) {
              allowed++;
              return cb(null);
            }
            return hold(cb);
          }
          log.warn({ agent: agentOf.get(client), topic: packet.topic }, 'MQTT publish refused');
          cb(new Error(`publish to ${packet.topic} not allowed`));
        },
        authorizeSubscribe: (client, sub, cb) => {
          if (maySubscribe(sub.topic, authRequired)) return cb(null, sub);
          log.warn({ agent: agentOf.get(client), topic: sub.topic }, 'MQTT subscribe refused');
          cb(null, null); // negative SUBACK (0x80), connection stays
        },
      });
      aedes.on('clientDisconnect', (client) => {
        for (const [agent, set] of clientsOf) if (set.delete(client) && !set.size) clientsOf.delete(agent);
      });
      aedes.on('clientError', (client, err) => log.debug({ client: client?.id, err: err.message }, 'MQTT client error'));
      for (const filter of [INGEST_TOPIC, ...(opts.extraTopics ?? [])]) {
        await new Promise<void>((resolve) => aedes?.subscribe(filter, deliver, resolve));
      }
      const handle = aedes.handle;
      const tlsCfg = opts.mqtt.tls;
      server = tlsCfg
        ? tls.createServer({ cert: readFileSync(tlsCfg.cert), key: readFileSync(tlsCfg.key) }, handle)
        : net.createServer(handle);
      const srv = server;
      await new Promise<void>((resolve, reject) => {
        srv.once('error', (err) => reject(new VantageError('BROKER_ERR', `cannot listen on ${formatHostPort(hp)}: ${err.message}`, { cause: err })));
        srv.listen(hp.port, hp.host, () => resolve());
      });
      const addr = srv.address() as net.AddressInfo;
      bound = { host: hp.host, port: addr.port };
      startedMs = Date.now();
      log.info({ listen: `${hp.host}:${addr.port}`, tls: Boolean(tlsCfg), auth: authRequired }, 'embedded MQTT broker listening');
    },
    publishRetained(topic, payload) {
      const b = aedes;
      if (!b) return Promise.reject(new VantageError('BROKER_ERR', 'broker not started'));
      return new Promise((resolve, reject) => {
        b.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: true, dup: false }, (err) => (err ? reject(err) : resolve()));
      });
    },
    address: () => bound,
    async disconnectAgent(agent) {
      const b = aedes;
      const set = clientsOf.get(agent) ?? new Set<Client>();
      clientsOf.delete(agent);
      for (const c of set) {
        removed.add(c);
        c.close();
      }
      // An empty retained payload deletes the retained message (MQTT 3.1.1 §3.3.1.3);
      // ingest ignores empty payloads.
      if (b) {
        for (const kind of ['status', 'announce']) {
          await new Promise<void>((resolve) => {
            b.publish({ cmd: 'publish', topic: `${AGENTS_PREFIX}${agent}/${kind}`, payload: Buffer.alloc(0), qos: 0, retain: true, dup: false }, () => resolve());
          });
        }
      }
      return set.size;
    },
    waitConnected: async () => aedes !== undefined,
    status: (): BrokerStatus => ({
      mode: 'embedded', connected: aedes !== undefined && server?.listening === true,
      url: bound ? `${opts.mqtt.tls ? 'mqtts' : 'mqtt'}://${bound.host.includes(':') ? `[${bound.host}]` : bound.host}:${bound.port}` : null,
      sinceMs: startedMs, connects: bound ? 1 : 0, lastError: null, pendingPublishes: 0,
    }),
    async close() {
      const b = aedes;
      const srv = server;
      aedes = undefined;
      server = undefined;
      closing = true;
      // Messages still queued are dropped: the store behind onMessage is closing.
      queue.length = 0;
      for (const h of held.splice(0)) clearTimeout(h.timer);
      head = 0;
      allowed = 0;
      if (b) await new Promise<void>((resolve) => b.close(() => resolve()));
      if (srv) await new Promise<void>((resolve) => srv.close(() => resolve()));
    },
  };
}
