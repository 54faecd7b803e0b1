// External broker mode (`mqtt.url` or `mqtt.urls` set): the selector is an ordinary
// mqtt.js client of Mosquitto, a NATS cluster or any MQTT 3.1.1/5 broker;
// authentication and ACLs are the broker's job (systemd/mosquitto.acl,
// systemd/nats-vantage.conf). DESIGN.md: DNS never waits for the bus — start()
// returns at once and connects in the background, moving to the next URL of the
// list when a node fails; retained publishes made while no broker is reachable are
// kept (the latest per topic) and sent on the next connect.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { brokerServers, brokerUrls, reconnectDelayMs } from '../../shared/broker-urls.js';
import { VantageError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { CATALOGUE_TOPIC } from '../../shared/protocol.js';
import { INGEST_TOPIC, type BrokerStatus, type MessageBus, type MessageHandler } from './bus.js';
import type { SelectorConfig } from '../config.js';

const PUBLISH_TIMEOUT_MS = 10_000;
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
  let client: MqttClient | undefined;
  let failures = 0;
  const pending = new Map<string, string>();
  const st: Omit<BrokerStatus, 'pendingPublishes'> = { mode: 'external', connected: false, url: null, sinceMs: Date.now(), connects: 0, lastError: null };
  const held = new Map<string, { payload: Buffer; timer: NodeJS.Timeout }>();
  let subscribed = false;
  const waiters = new Set<(ok: boolean) => void>();

  const currentUrl = (c: MqttClient): string => `${c.options.protocol ?? 'mqtt'}://${c.options.host ?? ''}:${c.options.port ?? ''}`;
  const flushHeld = (topic: string): void => {
    const h = held.get(topic);
    if (!h) return;
    held.delete(topic);
    clearTimeout(h.timer);
    opts.onMessage(topic, h.payload);
  };

  /** Publishes one kept payload; it stays kept until the broker acknowledges it. */
  function send(c: MqttClient, topic: string, payload: string): Promise<void> {
    return new Promise((resolve) => {
      // A broker ACL that refuses us drops the connection (MQTT 3.1.1 has no PUBACK
      // reason code): bound the wait so the caller is never stuck on it.
      const timer = setTimeout(() => {
        st.lastError = `no PUBACK for ${topic} within ${PUBLISH_TIMEOUT_MS} ms (is the selector allowed to publish it?)`;
        log.error({ topic }, st.lastError);
        resolve();
      }, PUBLISH_TIMEOUT_MS);
      c.publish(topic, payload, { qos: 1, retain: true }, (err) => {
        clearTimeout(timer);
        if (err) log.warn({ topic, err: err.message }, 'retained publish failed; kept for the next connect');
        else if (pending.get(topic) === payload) pending.delete(topic);
        resolve();
      });
    });
  }

  function onConnect(c: MqttClient): void {
    failures = 0;
    c.options.reconnectPeriod = minMs;
    st.connected = true;
    st.sinceMs = Date.now();
    st.connects++;
    st.url = currentUrl(c);
    st.lastError = null;
    log.info({ url: st.url, pending: pending.size }, 'connected to external MQTT broker');
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
      for (const [topic, payload] of pending) void send(c, topic, payload);
      opts.onConnect?.();
    });
  }

  function onClose(c: MqttClient): void {
    subscribed = false;
    if (held.size) log.info({ agents: held.size }, 'broker connection lost: offline statuses just received are ignored');
    for (const h of held.values()) clearTimeout(h.timer);
    held.clear();
    if (client !== c) return;
    // mqtt.js sets the TLS servername from the first host and keeps it: the next node
    // of the list must be verified under its own name.
    if (servers.length > 1) delete c.options.servername;
    failures++;
    c.options.reconnectPeriod = reconnectDelayMs(failures, servers.length, minMs, maxMs);
    if (st.connected) {
      st.connected = false;
      st.sinceMs = Date.now();
      log.warn({ url: st.url, retryMs: c.options.reconnectPeriod }, 'broker connection lost; DNS keeps answering, reconnecting');
    } else if (failures % servers.length === 0) {
      log.warn({ urls, retryMs: c.options.reconnectPeriod, err: st.lastError }, 'no broker reachable; DNS keeps answering, retrying');
    }
  }

  return {
    async start() {
      if (client) return;
      const c = mqtt.connect(urls[0] as string, {
        servers: servers.length > 1 ? servers : undefined,
        clientId: opts.clientId && cfg.persistentSession ? opts.clientId : `vantage-selector-${randomBytes(4).toString('hex')}`,
        username: cfg.username,
        password: cfg.password,
        ca: cfg.ca ? readFileSync(cfg.ca) : undefined,
        // Persistent: messages published while we reconnect (another node, a restart) are
        // delivered afterwards; repeats are dropped by ingest's (agent, seq) check.
        clean: !(opts.clientId && cfg.persistentSession),
        resubscribe: false,
        reconnectPeriod: minMs,
        connectTimeout: 10_000,
      });
      client = c;
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
      pending.set(topic, payload);
      if (client.connected) await send(client, topic, payload);
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
    status: () => ({ ...st, pendingPublishes: pending.size }),
    async close() {
      const c = client;
      client = undefined;
      for (const h of held.values()) clearTimeout(h.timer);
      held.clear();
      for (const w of [...waiters]) w(false);
      if (c) await c.endAsync(!c.connected).catch(() => undefined);
    },
  };
}
