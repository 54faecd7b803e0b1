// MQTT side of the agent (protocol v1 over MQTT 3.1.1, which both aedes and
// Mosquitto speak). Keeps a retained `status` (online, with a retained offline last
// will) and `announce`, receives the retained service catalogue, and delivers metrics
// with QoS 1 from a bounded queue of its own:
// - broker down: rounds queue up (the oldest is dropped and counted past queueMax)
//   and go out in order after the reconnect; reconnects back off up to a cap;
// - mqtt.js would re-send every unacknowledged QoS 1 publish from its outgoing store
//   on each reconnect, forever, so a message the broker refuses (MQTT 3.1.1 has no
//   PUBACK reason code: brokers refuse by closing the connection) would loop. We
//   take unacknowledged publishes back out of mqtt.js's store on every disconnect and
//   retry them ourselves a bounded number of times, then drop and log them;
// - `mqtt.urls` (a cluster): each reconnect goes to the next URL of the list, so the
//   agent leaves a failed node at once; the backoff grows per failed round of the list.
//   A node that holds our CONNECT or a publish unanswered for mqtt.stallTimeoutMs (NATS
//   during a JetStream leader election) is left for the next one (shared/broker-failover.ts);
// - after each connect the queued metrics go first and status/announce once the queue is
//   empty (or PRESENCE_AFTER of them went out, for a long backlog on a slow link): a
//   retained publish waits for one more replicated stream on a clustered broker (NATS
//   $MQTT_rmsgs), and the broker handles a connection's packets in order.
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { createBrokerFailover } from '../shared/broker-failover.js';
import { brokerServers, brokerUrls, connectedUrl } from '../shared/broker-urls.js';
import { VantageError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import {
  CATALOGUE_TOPIC, agentTopic, parseAgentTopic, parseCatalogue,
  type Announce, type Catalogue, type Metrics, type Status,
} from '../shared/protocol.js';
import type { AgentConfig } from './config.js';
import { AGENT_VERSION } from './version.js';

export interface PublisherOptions {
  config: Readonly<AgentConfig>;
  log: Logger;
  /** Built on every (re)connect so the addresses are current. */
  announce: () => Announce;
  onCatalogue: (catalogue: Catalogue) => void;
  /** Optional status fields (status.proxy), read whenever a status is published. */
  statusExtra?: () => Pick<Status, 'proxy'>;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Connections a metrics message may see closed under it before it is dropped. */
  maxAttempts?: number;
}

export interface PublisherStats {
  connected: boolean;
  /** The broker URL in use while connected. */
  broker: string | null;
  queueDepth: number;
  published: number;
  /** Dropped because the queue was full. */
  dropped: number;
  /** Dropped after maxAttempts (refused by the broker). */
  rejected: number;
  cataloguesRejected: number;
  connects: number;
  /** Connections or attempts left because the broker held our CONNECT or a publish (mqtt.stallTimeoutMs). */
  stalls: number;
}

export interface Publisher {
  start(): void;
  enqueueMetrics(message: Metrics): void;
  /** Re-publishes the retained online status (after statusExtra changed). */
  refreshStatus(): void;
  close(): Promise<void>;
  stats(): PublisherStats;
}

interface Pending {
  payload: string;
  seq: number;
  attempts: number;
}

const CLOSE_ACK_TIMEOUT_MS = 2000;
/** Metrics messages acknowledged on a connection before its status/announce go out anyway. */
const PRESENCE_AFTER = 10;

function checkedTopic(agent: string, kind: 'status' | 'announce' | 'metrics'): string {
  const topic = agentTopic(agent, kind);
  if (parseAgentTopic(topic)?.agent !== agent) throw new VantageError('BROKER_ERR', `invalid topic ${topic}`);
  return topic;
}

export function createPublisher(opts: PublisherOptions): Publisher {
  const { config, log } = opts;
  const minMs = opts.reconnectMinMs ?? 1000;
  const maxMs = opts.reconnectMaxMs ?? 60_000;
  const maxAttempts = opts.maxAttempts ?? 5;
  const topics = {
    status: checkedTopic(config.id, 'status'),
    announce: checkedTopic(config.id, 'announce'),
    metrics: checkedTopic(config.id, 'metrics'),
  };
  const status = (state: Status['state']): string => JSON.stringify({
    v: 1, agent: config.id, state, ts: Date.now(), version: AGENT_VERSION, ...(state === 'online' ? opts.statusExtra?.() : undefined),
  } satisfies Status);

  const queue: Pending[] = [];
  let inFlight: Pending | undefined;
  let client: MqttClient | undefined;
  let closing = false;
  const counters = { published: 0, dropped: 0, rejected: 0, cataloguesRejected: 0, connects: 0 };
  const urls = brokerUrls(config.mqtt);
  const servers = brokerServers(urls);
  const failover = createBrokerFailover({ servers: servers.length, reconnectMinMs: minMs, reconnectMaxMs: maxMs, stallMs: config.mqtt.stallTimeoutMs, log });
  let url: string | undefined;
  /** Status and announce of this connection are still to be published (after the queue). */
  let presencePending = false;
  let ackedOnConnection = 0;

  function drain(): void {
    const c = client;
    if (!c || !c.connected || inFlight || closing) return;
    const next = queue[0];
    if (presencePending && (!next || ackedOnConnection >= PRESENCE_AFTER)) publishPresence(c);
    if (!next) return;
    inFlight = next;
    next.attempts++;
    c.publish(topics.metrics, next.payload, { qos: 1 }, failover.track((err?: Error) => {
      inFlight = undefined;
      const at = queue.indexOf(next);
      if (!err) {
        if (at >= 0) queue.splice(at, 1);
        counters.published++;
        ackedOnConnection++;
      } else if (failover.lastStall() !== null && err.message === 'Message removed') {
        // We left a node that held the connection (failover): not a refusal, no attempt used.
        next.attempts--;
      } else if (next.attempts >= maxAttempts) {
        if (at >= 0) queue.splice(at, 1);
        counters.rejected++;
        log.warn({ seq: next.seq, attempts: next.attempts, err: err.message }, 'metrics message refused by the broker; dropped');
      }
      setImmediate(drain);
    }));
  }

  function onConnect(): void {
    const c = client as MqttClient;
    counters.connects++;
    url = connectedUrl(c);
    log.info({ url }, 'connected to broker');
    // Clean session: subscribe on every connect; the broker then re-sends the retained
    // catalogue, which also covers a broker that restarted and lost nothing else.
    subscribeCatalogue(c, counters.connects);
    presencePending = true;
    ackedOnConnection = 0;
    drain();
  }

  /** The retained online status and announce of this connection. */
  function publishPresence(c: MqttClient): void {
    presencePending = false;
    c.publish(topics.status, status('online'), { qos: 1, retain: true }, failover.track((err?: Error) => {
      if (err) log.warn({ err: err.message }, 'status publish failed');
    }));
    let announce: Announce | undefined;
    try {
      announce = opts.announce();
    } catch (err) {
      log.error({ err }, 'cannot build announce');
    }
    if (announce) {
      c.publish(topics.announce, JSON.stringify(announce), { qos: 1, retain: true }, failover.track((err?: Error) => {
        if (err) log.warn({ err: err.message }, 'announce publish failed');
      }));
    }
  }

  /**
   * QoS 0: the catalogue is retained, so the broker sends the current one on every
   * subscribe (each connect); a change sent while the link drops is the retained message
   * at the next connect. A QoS 1 subscription costs a clustered broker a replicated
   * session object: NATS keeps one JetStream consumer per QoS 1 subscription, and after a
   * node is lost the agent's next CONNECT (deleting the old consumer, clean session) and
   * SUBSCRIBE (creating one) each waited 4 s for that consumer's group to elect a leader,
   * holding up the metrics queued behind them (bench:failover: results flowed 10 s after
   * a node was killed). Retried while this connection lasts, in case a broker refuses it.
   */
  function subscribeCatalogue(c: MqttClient, connection: number): void {
    c.subscribe(CATALOGUE_TOPIC, { qos: 0 }, (err) => {
      if (!err || closing || client !== c || counters.connects !== connection || !c.connected) return;
      log.warn({ err: err.message }, 'catalogue subscribe failed; retrying');
      setTimeout(() => subscribeCatalogue(c, connection), 1000).unref();
    });
  }

  function onClose(): void {
    const c = client as MqttClient;
    // Take every unacknowledged publish back from mqtt.js (see the header comment);
    // their callbacks fire with an error and our queue decides what to retry.
    const outgoing = c.outgoing as Record<number, { cmd?: string }>;
    for (const [id, entry] of Object.entries(outgoing)) {
      if (entry.cmd === 'publish') c.removeOutgoingMessage(Number(id));
    }
    presencePending = false;
    if (closing) return;
    // mqtt.js sets the TLS servername from the first host and keeps it: the next node
    // of the list must be verified under its own name.
    if (servers.length > 1) delete c.options.servername;
    // failover (attached first) has set reconnectPeriod for this reconnect.
    log.warn({ url, retryMs: c.options.reconnectPeriod, queued: queue.length, stall: failover.lastStall() }, 'broker connection closed');
  }

  function onMessage(topic: string, payload: Buffer): void {
    if (topic !== CATALOGUE_TOPIC || payload.length === 0) return;
    try {
      opts.onCatalogue(parseCatalogue(payload));
    } catch (err) {
      counters.cataloguesRejected++;
      log.warn({ err: (err as Error).message }, 'catalogue rejected');
    }
  }

  return {
    start() {
      if (client) return;
      client = mqtt.connect(urls[0] as string, {
        servers: servers.length > 1 ? servers : undefined,
        protocolVersion: 4,
        clientId: `vantage-agent-${config.id}`,
        clean: true,
        username: config.mqtt.username,
        password: config.mqtt.password,
        ca: config.mqtt.ca ? readFileSync(config.mqtt.ca) : undefined,
        keepalive: config.mqtt.keepaliveS,
        ...failover.options(),
        queueQoSZero: false,
        resubscribe: false,
        will: { topic: topics.status, payload: Buffer.from(status('offline')), qos: 1, retain: true },
      });
      failover.attach(client);
      client.on('connect', onConnect);
      client.on('close', onClose);
      client.on('message', onMessage);
      client.on('error', (err) => log.warn({ err: err.message }, 'broker error'));
    },
    enqueueMetrics(message) {
      queue.push({ payload: JSON.stringify(message), seq: message.seq, attempts: 0 });
      while (queue.length > config.queueMax) {
        // Never drop the message on the wire: its callback still refers to it.
        const victim = queue[0] === inFlight ? 1 : 0;
        queue.splice(victim, 1);
        counters.dropped++;
      }
      drain();
    },
    refreshStatus() {
      const c = client;
      if (!c?.connected || closing) return;
      c.publish(topics.status, status('online'), { qos: 1, retain: true }, failover.track((err?: Error) => {
        if (err) log.warn({ err: err.message }, 'status publish failed');
      }));
    },
    async close() {
      closing = true;
      failover.close();
      const c = client;
      if (!c) return;
      if (c.connected) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, CLOSE_ACK_TIMEOUT_MS);
          c.publish(topics.status, status('offline'), { qos: 1, retain: true }, () => {
            clearTimeout(timer);
            resolve();
          });
        });
        await c.endAsync().catch(() => undefined);
      } else {
        await c.endAsync(true).catch(() => undefined);
      }
    },
    stats: () => ({ connected: client?.connected ?? false, broker: client?.connected ? url ?? null : null, queueDepth: queue.length, ...counters, stalls: failover.stalls() }),
  };
}
