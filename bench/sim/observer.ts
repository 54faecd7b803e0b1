// Read-only MQTT observer for the live demo: keeps each agent's latest measurement
// per site, straight from the v1 metrics messages the selector also receives.
import mqtt, { type MqttClient } from 'mqtt';
import { agentTopic, parseMetrics, type Result } from '../../shared/protocol.js';

export interface Observer {
  /** Latest result per site id for an agent (POP id). */
  latest(agent: string): ReadonlyMap<string, Result>;
  close(): Promise<void>;
}

export async function createObserver(url: string): Promise<Observer> {
  // aedes speaks MQTT 3.1.1.
  const client: MqttClient = await mqtt.connectAsync(url, { protocolVersion: 4, clean: true, reconnectPeriod: 1000 });
  const latest = new Map<string, Map<string, Result>>();
  client.on('message', (topic, payload) => {
    try {
      const msg = parseMetrics(payload);
      if (topic !== agentTopic(msg.agent, 'metrics')) return;
      const sites = latest.get(msg.agent) ?? new Map<string, Result>();
      for (const r of msg.results) sites.set(r.site, r);
      latest.set(msg.agent, sites);
    } catch {
      // Not ours to judge: the selector counts rejected messages.
    }
  });
  await client.subscribeAsync(agentTopic('+', 'metrics'), { qos: 0 });
  return {
    latest: (agent) => latest.get(agent) ?? new Map(),
    close: async () => {
      await client.endAsync();
    },
  };
}
