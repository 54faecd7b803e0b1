// Broker URL lists shared by the agent and the selector: `mqtt.urls` (a cluster, tried
// in order) or `mqtt.url` (the one-URL form). mqtt.js rotates through `servers` on each
// reconnect, so a client whose node fails moves to the next one; the delay between
// attempts grows only after a whole round of the list has failed, so failover to a
// live node is quick while a dead cluster is not hammered.
import { z } from 'zod';

export const zMqttUrl = z.string().refine((s) => /^(mqtts?|wss?):\/\/[^/]+/.test(s), 'expected mqtt://host:port or mqtts://host:port');
export const zMqttUrls = z.array(zMqttUrl).min(1, 'expected at least one broker URL').max(32);
/**
 * `mqtt.stallTimeoutMs`: with several URLs, a CONNECT or QoS 1 publish a broker leaves
 * unanswered this long drops the connection and the next URL is tried (broker-failover.ts).
 * 1.8 s: a NATS node holds a CONNECT 4 s and keeps the client ID locked meanwhile (another
 * CONNECT waits up to 1 s for it); with two surviving nodes, abandoning after 1.8 s lands
 * each attempt on a node when its previous hold ends, so a CONNECT goes out about every 2 s
 * (a model of nats-server 2.9.10's timers: the first answered CONNECT came at most 2.1 s
 * after the election with 1.8 s, 3.3 s with 1.5 s, 2.4 s with 2.2 s).
 */
export const zStallTimeoutMs = z.number().int().min(200).max(60_000).default(1800);

export interface BrokerServer {
  protocol: 'mqtt' | 'mqtts' | 'ws' | 'wss';
  host: string;
  port: number;
}

const DEFAULT_PORTS: Record<BrokerServer['protocol'], number> = { mqtt: 1883, mqtts: 8883, ws: 80, wss: 443 };

/** The configured URLs, `urls` first (a config sets one of the two forms). */
export function brokerUrls(mqtt: { url?: string | undefined; urls?: readonly string[] | undefined }): string[] {
  if (mqtt.urls?.length) return [...mqtt.urls];
  return mqtt.url ? [mqtt.url] : [];
}

/** mqtt.js `servers` entries for a URL list (validated by zMqttUrl). */
export function brokerServers(urls: readonly string[]): BrokerServer[] {
  return urls.map((u) => {
    const url = new URL(u);
    const protocol = url.protocol.replace(/:$/, '') as BrokerServer['protocol'];
    return { protocol, host: url.hostname.replace(/^\[|\]$/g, ''), port: url.port ? Number(url.port) : DEFAULT_PORTS[protocol] };
  });
}

/**
 * Delay before the next connection attempt after `failures` consecutive failed
 * attempts on a list of `servers` URLs: `minMs` within a round, doubled per failed round.
 */
export function reconnectDelayMs(failures: number, servers: number, minMs: number, maxMs: number): number {
  const rounds = Math.floor(failures / Math.max(1, servers));
  return Math.min(maxMs, minMs * 2 ** Math.min(rounds, 30));
}

/** The URL an mqtt.js client is connected (or connecting) to: mqtt.js rotates its `servers`. */
export function connectedUrl(c: { options: { protocol?: string | undefined; host?: string | undefined; port?: number | undefined } }): string {
  return `${c.options.protocol ?? 'mqtt'}://${c.options.host ?? ''}:${c.options.port ?? ''}`;
}
