// The selector's second connection to an external broker, for its retained QoS 1
// publishes (the catalogue) and nothing else. Why apart from the ingest connection
// (external-client.ts): a broker handles one connection's packets in order, and a NATS
// node holds a retained publish until it is stored in the replicated `$MQTT_rmsgs` and
// `$MQTT_msgs` streams — up to its 4 s JetStream API timeout during a leader election.
// On the ingest connection that held back our acknowledgements of the results being
// delivered, and leaving a held connection for the next node (shared/broker-failover.ts)
// strands the deliveries in flight: JetStream redelivers them only after ack_wait, behind
// newer ones, where ingest's (agent, seq) check would drop them. This connection has no
// subscription, so leaving it costs nothing. Clean session; the latest payload per topic
// is kept until the broker acknowledges it and sent again after each connect.
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { createBrokerFailover } from '../../shared/broker-failover.js';
import { brokerServers, brokerUrls, connectedUrl } from '../../shared/broker-urls.js';
import type { Logger } from '../../shared/log.js';
import type { SelectorConfig } from '../config.js';

const PUBLISH_TIMEOUT_MS = 10_000;

export interface RetainedPublisherOptions {
  clientId: string;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Kept payloads go out only once this is true (the ingest connection subscribed: flush()). */
  ready: () => boolean;
  /** Reported in BrokerStatus.lastError. */
  onError: (message: string) => void;
}

export interface RetainedPublisher {
  start(): void;
  /**
   * Keeps `payload` as the latest for `topic` and publishes it (QoS 1, retained) when
   * connected and ready. Resolves once acknowledged, kept for the next connect, or after
   * PUBLISH_TIMEOUT_MS (logged); never rejects.
   */
  publish(topic: string, payload: string): Promise<void>;
  /** Publishes every kept payload (if connected). */
  flush(): void;
  kept(): [string, string][];
  connected(): boolean;
  close(): Promise<void>;
}

export function createRetainedPublisher(cfg: SelectorConfig['mqtt'], opts: RetainedPublisherOptions, log: Logger): RetainedPublisher {
  const urls = brokerUrls(cfg);
  const servers = brokerServers(urls);
  const failover = createBrokerFailover({ servers: servers.length, reconnectMinMs: opts.reconnectMinMs, reconnectMaxMs: opts.reconnectMaxMs, stallMs: cfg.stallTimeoutMs, log });
  const pending = new Map<string, string>();
  let client: MqttClient | undefined;

  /** Publishes one kept payload; it stays kept until the broker acknowledges it. */
  function send(c: MqttClient, topic: string, payload: string): Promise<void> {
    return new Promise((resolve) => {
      // A broker ACL that refuses us drops the connection (MQTT 3.1.1 has no PUBACK
      // reason code): bound the wait so the caller is never stuck on it.
      const timer = setTimeout(() => {
        const message = `no PUBACK for ${topic} within ${PUBLISH_TIMEOUT_MS} ms (is the selector allowed to publish it?)`;
        opts.onError(message);
        log.error({ topic }, message);
        resolve();
      }, PUBLISH_TIMEOUT_MS);
      c.publish(topic, payload, { qos: 1, retain: true }, failover.track((err?: Error) => {
        clearTimeout(timer);
        if (err) log.warn({ topic, err: err.message }, 'retained publish failed; kept for the next connect');
        else if (pending.get(topic) === payload) pending.delete(topic);
        resolve();
      }));
    });
  }

  function flush(): void {
    const c = client;
    if (!c?.connected || !opts.ready()) return;
    for (const [topic, payload] of pending) void send(c, topic, payload);
  }

  return {
    start() {
      if (client) return;
      const c = mqtt.connect(urls[0] as string, {
        servers: servers.length > 1 ? servers : undefined,
        clientId: opts.clientId,
        username: cfg.username,
        password: cfg.password,
        ca: cfg.ca ? readFileSync(cfg.ca) : undefined,
        clean: true,
        resubscribe: false,
        queueQoSZero: false,
        ...failover.options(),
      });
      client = c;
      failover.attach(c);
      c.on('connect', () => {
        log.info({ url: connectedUrl(c), pending: pending.size }, 'catalogue connection up');
        flush();
      });
      c.on('close', () => {
        // Unacknowledged publishes come back to `pending` (their callbacks resolve now);
        // mqtt.js would otherwise re-send them ahead of everything on the next connect.
        const outgoing = c.outgoing as Record<number, { cmd?: string }>;
        for (const [id, entry] of Object.entries(outgoing)) {
          if (entry.cmd === 'publish') c.removeOutgoingMessage(Number(id));
        }
        // mqtt.js sets the TLS servername from the first host and keeps it.
        if (servers.length > 1) delete c.options.servername;
      });
      c.on('error', (err) => log.debug({ err: err.message }, 'catalogue connection error'));
    },
    async publish(topic, payload) {
      pending.set(topic, payload);
      const c = client;
      if (c?.connected && opts.ready()) await send(c, topic, payload);
    },
    flush,
    kept: () => [...pending],
    connected: () => client?.connected ?? false,
    async close() {
      const c = client;
      client = undefined;
      failover.close();
      if (c) await c.endAsync(!c.connected).catch(() => undefined);
    },
  };
}
