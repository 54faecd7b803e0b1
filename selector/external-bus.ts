// External broker mode (`mqtt.url` set): the selector is an ordinary mqtt.js client
// of Mosquitto or any MQTT 3.1.1/5 broker/cluster; authentication and ACLs are the
// broker's job (see systemd/mosquitto-vantage.conf and systemd/mosquitto.acl).
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import mqtt, { type MqttClient } from 'mqtt';
import { VantageError } from '../shared/errors.js';
import type { Logger } from '../shared/log.js';
import { INGEST_TOPIC, type MessageBus, type MessageHandler } from './bus.js';
import type { SelectorConfig } from './config.js';

const PUBLISH_TIMEOUT_MS = 10_000;

export function createExternalBus(cfg: SelectorConfig['mqtt'], onMessage: MessageHandler, log: Logger): MessageBus {
  let client: MqttClient | undefined;
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
      c.on('message', (topic, payload) => onMessage(topic, payload));
      c.on('error', (err) => log.warn({ err: err.message }, 'MQTT client error'));
      // Re-subscribe on every reconnect: with clean sessions the broker forgets us.
      c.on('connect', () => {
        c.subscribe(INGEST_TOPIC, { qos: 1 }, (err) => err && log.error({ err }, 'resubscribe failed'));
      });
      const granted = await c.subscribeAsync(INGEST_TOPIC, { qos: 1 });
      if (granted.some((g) => g.qos === 128)) throw new VantageError('BROKER_ERR', `broker refused subscription to ${INGEST_TOPIC}`);
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
