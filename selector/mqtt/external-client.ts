// External broker mode (`mqtt.url` set): the selector is an ordinary mqtt.js client
// of Mosquitto or any MQTT 3.1.1/5 broker/cluster; authentication and ACLs are the
// broker's job (see systemd/mosquitto-vantage.conf and systemd/mosquitto.acl).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { VantageError } from '../../shared/errors.js';
import type { Logger } from '../../shared/log.js';
import { INGEST_TOPIC, type MessageBus, type MessageHandler } from './bus.js';
import type { SelectorConfig } from '../config.js';

const PUBLISH_TIMEOUT_MS = 10_000;
/**
 * A broker that shuts down (Mosquitto on SIGTERM) sends every connected agent's last
 * will to us just before it drops our connection too: an "offline" status is held this
 * long and dropped if our connection closes meanwhile (regression: a broker restart
 * marked every agent offline at once instead of letting them go stale after the threshold).
 */
const WILL_HOLD_MS = 500;

/** True for a status payload saying offline (cheap check; ingest validates it properly). */
function isOffline(topic: string, payload: Buffer): boolean {
  return topic.endsWith('/status') && payload.includes('"offline"');
}

export function createExternalBus(cfg: SelectorConfig['mqtt'], onMessage: MessageHandler, log: Logger, extraTopics: readonly string[] = []): MessageBus {
  let client: MqttClient | undefined;
  const topics = [INGEST_TOPIC, ...extraTopics];
  return {
    async start() {
      const url = cfg.url as string;
      try {
        client = await mqtt.connectAsync(url, {
          clientId: `vantage-selector-${randomBytes(4).toString('hex')}`,
          username: cfg.username,
          password: cfg.password,
          ca: cfg.ca ? readFileSync(cfg.ca) : undefined,
          clean: true,
          reconnectPeriod: 1000,
          connectTimeout: 10_000,
        });
      } catch (err) {
        throw new VantageError('BROKER_ERR', `cannot connect to ${url}: ${(err as Error).message}`, { cause: err });
      }
      const c = client;
      const held = new Map<string, { payload: Buffer; timer: NodeJS.Timeout }>();
      const flush = (topic: string): void => {
        const h = held.get(topic);
        if (!h) return;
        held.delete(topic);
        clearTimeout(h.timer);
        onMessage(topic, h.payload);
      };
      c.on('message', (topic, payload) => {
        // Keep per-agent order: a held status goes first.
        const statusTopic = topic.replace(/\/[^/]+$/, '/status');
        if (held.has(statusTopic)) flush(statusTopic);
        if (!isOffline(topic, payload)) return onMessage(topic, payload);
        held.set(topic, { payload, timer: setTimeout(() => flush(topic), WILL_HOLD_MS) });
      });
      c.on('close', () => {
        if (held.size) log.info({ agents: held.size }, 'broker connection lost: offline statuses just received are ignored');
        for (const h of held.values()) clearTimeout(h.timer);
        held.clear();
      });
      c.on('error', (err) => log.warn({ err: err.message }, 'MQTT client error'));
      // Re-subscribe on every reconnect: with clean sessions the broker forgets us.
      c.on('connect', () => {
        c.subscribe(topics, { qos: 1 }, (err) => err && log.error({ err }, 'resubscribe failed'));
      });
      const granted = await c.subscribeAsync(topics, { qos: 1 });
      if (granted.some((g) => g.qos === 128)) throw new VantageError('BROKER_ERR', `broker refused subscription to ${topics.join(', ')}`);
      log.info({ url }, 'connected to external MQTT broker');
    },
    async publishRetained(topic, payload) {
      if (!client) throw new VantageError('BROKER_ERR', 'not connected');
      // A broker ACL that refuses us drops the connection and mqtt.js would retry
      // forever: bound the wait so start() fails with a reason instead of hanging.
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new VantageError('BROKER_ERR', `no PUBACK for ${topic} within ${PUBLISH_TIMEOUT_MS} ms (is the selector allowed to publish it?)`)), PUBLISH_TIMEOUT_MS);
      });
      try {
        await Promise.race([client.publishAsync(topic, payload, { qos: 1, retain: true }), timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
    address: () => undefined,
    async close() {
      const c = client;
      client = undefined;
      if (c) await c.endAsync();
    },
  };
}
