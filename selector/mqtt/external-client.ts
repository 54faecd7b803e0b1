// External broker mode (`mqtt.url` or `mqtt.urls` set): the selector is an ordinary
// mqtt.js client of Mosquitto, a NATS cluster or any MQTT 3.1.1/5 broker;
// authentication and ACLs are the broker's job (systemd/mosquitto.acl,
// systemd/nats-vantage.conf). DESIGN.md: DNS never waits for the bus — start()
// returns at once and connects in the background, moving to the next URL of the
// list when a node fails; retained publishes made while no broker is reachable are
// kept (the latest per topic) and sent on the next connect — over a second connection of
// their own (retained-publisher.ts), so a broker holding one never holds up ingest.
// With several URLs (a cluster): a node that holds our CONNECT unanswered for
// mqtt.stallTimeoutMs is left for the next one (shared/broker-failover.ts), and each
// retained publish is preceded by a QoS 0 non-retained copy on this connection: a NATS
// node stores a retained message in a replicated stream before delivering it (up to 4 s
// during a leader election), the copy goes straight to the other replicas. The retained
// message stays the source of truth; receivers drop the repeat by its revision.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { createBrokerFailover } from '../../shared/broker-failover.js';
import { brokerServers, brokerUrls, connectedUrl } from '../../shared/broker-urls.js';
import { VantageError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { CATALOGUE_TOPIC } from '../../shared/protocol.js';
import { INGEST_TOPIC, type BrokerStatus, type MessageBus, type MessageHandler } from './bus.js';
import { createRetainedPublisher } from './retained-publisher.js';
import type { SelectorConfig } from '../config.js';

/**
 * A broker that shuts down (Mosquitto on SIGTERM) sends every connected agent's last
 * will to us just before it drops our connection too: an "offline" status is held this
 * long and dropped if our connection closes meanwhile (regression: a broker restart
 * marked every agent offline at once instead of letting them go stale after the threshold).
 */
const WILL_HOLD_MS = 500;
const SUBSCRIBE_RETRY_MS = 1000;
/** Refused SUBSCRIBEs on one node before moving to the next URL of the list. */
const SUBSCRIBE_ATTEMPTS = 5;

export interface ExternalBusOptions {
  onMessage: MessageHandler;
  /** Retained catalogue messages (replicas: the catalogue of another selector). */
  onCatalogue?: (payload: Buffer) => void;
  /** After each (re)connect and subscription. */
  onConnect?: () => void;
  /**
   * Stable client id (the replica id): with `mqtt.persistentSession` the broker keeps our
   * subscription while we are away, on any node of a cluster, and delivers what we missed.
   */
  clientId?: string;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** More topics to subscribe to (a backbone: its LBs' `vantage/v1/lbs/+/+`). */
  extraTopics?: readonly string[];
}

/** True for a status payload saying offline (cheap check; ingest validates it properly). */
function isOffline(topic: string, payload: Buffer): boolean {
  return topic.endsWith('/status') && payload.includes('"offline"');
}

export function createExternalBus(cfg: SelectorConfig['mqtt'], opts: ExternalBusOptions, log: Logger): MessageBus {
  const urls = brokerUrls(cfg);
  const servers = brokerServers(urls);
  const minMs = opts.reconnectMinMs ?? 1000;
  const maxMs = opts.reconnectMaxMs ?? 30_000;
  const failover = createBrokerFailover({ servers: servers.length, reconnectMinMs: minMs, reconnectMaxMs: maxMs, stallMs: cfg.stallTimeoutMs, log });
  let client: MqttClient | undefined;
  /** Failed attempts since the last connection was lost: one log line per round of the list. */
  let failedInOutage = 0;
  const st: Omit<BrokerStatus, 'pendingPublishes'> = { mode: 'external', connected: false, url: null, sinceMs: Date.now(), connects: 0, lastError: null };
  const held = new Map<string, { payload: Buffer; timer: NodeJS.Timeout }>();
  let subscribed = false;
  const clientId = opts.clientId && cfg.persistentSession ? opts.clientId : `vantage-selector-${randomBytes(4).toString('hex')}`;
  const publisher = createRetainedPublisher(cfg, {
    clientId: `${clientId}-pub`, reconnectMinMs: minMs, reconnectMaxMs: maxMs, ready: () => subscribed,
    onError: (message) => { st.lastError = message; },
  }, log.child({ connection: 'catalogue' }));
  const waiters = new Set<(ok: boolean) => void>();

  const flushHeld = (topic: string): void => {
    const h = held.get(topic);
    if (!h) return;
    held.delete(topic);
    clearTimeout(h.timer);
    opts.onMessage(topic, h.payload);
  };

  /** QoS 0 copy of a retained publish (several URLs: see the header). */
  function copy(topic: string, payload: string): void {
    const c = client;
    if (servers.length > 1 && c?.connected) c.publish(topic, payload, { qos: 0, retain: false });
  }

  function onConnect(c: MqttClient): void {
    st.connected = true;
    st.sinceMs = Date.now();
    st.connects++;
    st.url = connectedUrl(c);
    st.lastError = null;
    log.info({ url: st.url, pending: publisher.kept().length }, 'connected to external MQTT broker');
    subscribe(c, st.connects, 1);
  }

  /**
   * Subscribe on every connect (a clean session forgot them; a persistent one may have
   * lost them with a broker restart; the retained catalogue comes with each SUBSCRIBE).
   * A refused or failed SUBSCRIBE is retried (regression: a NATS node whose cluster just
   * lost a member refuses QoS 1 subscriptions for a while, and the selector stayed
   * connected without ingesting anything); after a few attempts we move to the next node.
   */
  function subscribe(c: MqttClient, connection: number, attempt: number): void {
    const topics = [INGEST_TOPIC, ...(opts.onCatalogue ? [CATALOGUE_TOPIC] : []), ...(opts.extraTopics ?? [])];
    c.subscribe(topics, { qos: 1 }, (err) => {
      if (client !== c || st.connects !== connection || !c.connected) return;
      if (err) {
        st.lastError = `subscribe to ${topics.join(', ')} refused: ${err.message}`;
        if (attempt >= SUBSCRIBE_ATTEMPTS && servers.length > 1) {
          log.error({ url: st.url, attempt, err: err.message }, 'subscribe refused; moving to the next broker');
          c.stream.destroy();
          return;
        }
        log.error({ url: st.url, attempt, err: err.message }, 'subscribe refused; retrying');
        setTimeout(() => subscribe(c, connection, attempt + 1), SUBSCRIBE_RETRY_MS).unref();
        return;
      }
      subscribed = true;
      for (const w of waiters) w(true);
      waiters.clear();
      for (const [topic, payload] of publisher.kept()) copy(topic, payload);
      publisher.flush();
      opts.onConnect?.();
    });
  }

  function onClose(c: MqttClient): void {
    subscribed = false;
    if (st.connected) failedInOutage = 0;
    if (held.size) log.info({ agents: held.size }, 'broker connection lost: offline statuses just received are ignored');
    for (const h of held.values()) clearTimeout(h.timer);
    held.clear();
    if (client !== c) return;
    // mqtt.js sets the TLS servername from the first host and keeps it: the next node
    // of the list must be verified under its own name.
    if (servers.length > 1) delete c.options.servername;
    // failover (attached first) has set reconnectPeriod for this reconnect.
    if (st.connected) {
      st.connected = false;
      st.sinceMs = Date.now();
      log.warn({ url: st.url, retryMs: c.options.reconnectPeriod }, 'broker connection lost; DNS keeps answering, reconnecting');
    } else if (++failedInOutage % servers.length === 0) {
      log.warn({ urls, retryMs: c.options.reconnectPeriod, err: st.lastError }, 'no broker reachable; DNS keeps answering, retrying');
    }
  }

  return {
    async start() {
      if (client) return;
      const c = mqtt.connect(urls[0] as string, {
        servers: servers.length > 1 ? servers : undefined,
        clientId,
        username: cfg.username,
        password: cfg.password,
        ca: cfg.ca ? readFileSync(cfg.ca) : undefined,
        // Persistent: messages published while we reconnect (another node, a restart) are
        // delivered afterwards; repeats are dropped by ingest's (agent, seq) check.
        clean: !(opts.clientId && cfg.persistentSession),
        resubscribe: false,
        ...failover.options(),
      });
      client = c;
      failover.attach(c);
      publisher.start();
      c.on('connect', () => onConnect(c));
      c.on('close', () => onClose(c));
      c.on('error', (err) => {
        st.lastError = err.message;
        log.warn({ err: err.message }, 'MQTT client error');
      });
      c.on('message', (topic, payload) => {
        if (topic === CATALOGUE_TOPIC) {
          opts.onCatalogue?.(payload);
          return;
        }
        // Keep per-agent order: a held status goes first.
        const statusTopic = topic.replace(/\/[^/]+$/, '/status');
        if (held.has(statusTopic)) flushHeld(statusTopic);
        if (!isOffline(topic, payload)) return opts.onMessage(topic, payload);
        held.set(topic, { payload, timer: setTimeout(() => flushHeld(topic), WILL_HOLD_MS) });
      });
      log.info({ urls }, 'connecting to the external MQTT broker in the background');
    },
    async publishRetained(topic, payload) {
      if (!client) throw new VantageError('BROKER_ERR', 'not started');
      copy(topic, payload);
      await publisher.publish(topic, payload);
    },
    address: () => undefined,
    // Credentials and ACLs are the external broker's; the selector cannot close others' connections.
    disconnectAgent: async () => undefined,
    waitConnected(timeoutMs) {
      if (subscribed) return Promise.resolve(true);
      return new Promise((resolve) => {
        const done = (ok: boolean): void => {
          clearTimeout(timer);
          waiters.delete(done);
          resolve(ok);
        };
        const timer = setTimeout(() => done(false), timeoutMs);
        waiters.add(done);
      });
    },
    status: () => ({ ...st, pendingPublishes: publisher.kept().length }),
    async close() {
      const c = client;
      client = undefined;
      for (const h of held.values()) clearTimeout(h.timer);
      held.clear();
      for (const w of [...waiters]) w(false);
      failover.close();
      await publisher.close();
      if (c) await c.endAsync(!c.connected).catch(() => undefined);
    },
  };
}
