// A plain mqtt.js subscriber that records every message, for asserting on what
// reached the broker.
import mqtt, { type MqttClient } from 'mqtt';
import { setTimeout as sleep } from 'node:timers/promises';

export interface Seen { topic: string; payload: string; retain: boolean; at: number }

export interface Watcher {
  client: MqttClient;
  seen: Seen[];
  on(topic: string): Seen[];
  waitFor(pred: (m: Seen) => boolean, timeoutMs?: number, what?: string): Promise<Seen>;
  close(): Promise<void>;
}

export async function watch(url: string, filter: string | string[], opts: mqtt.IClientOptions = {}): Promise<Watcher> {
  const client = mqtt.connect(url, { protocolVersion: 4, reconnectPeriod: 200, ...opts });
  const seen: Seen[] = [];
  client.on('message', (topic, payload, packet) => seen.push({ topic, payload: payload.toString(), retain: packet.retain, at: Date.now() }));
  client.on('error', () => undefined);
  client.on('connect', () => client.subscribe(filter, { qos: 1 }));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('watcher could not connect')), 5000);
    client.once('connect', () => { clearTimeout(t); resolve(); });
  });
  await sleep(100);
  return {
    client,
    seen,
    on: (topic) => seen.filter((m) => m.topic === topic),
    async waitFor(pred, timeoutMs = 10_000, what = 'message') {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = seen.find(pred);
        if (m) return m;
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; saw ${seen.map((s) => s.topic).join(', ')}`);
        await sleep(25);
      }
    },
    close: () => client.endAsync(true).then(() => undefined),
  };
}
