// The selector's view of MQTT, whichever broker carries it: the embedded aedes
// broker (embedded-broker.ts) or an external one/cluster reached with mqtt.js
// (external-client.ts).

/** Agent topics the selector ingests: vantage/v1/agents/{id}/{status|announce|metrics}. */
export const INGEST_TOPIC = 'vantage/v1/agents/+/+';

export type MessageHandler = (topic: string, payload: Buffer) => void;

/** Connection state for logs, `/metrics` and `/api/status`. */
export interface BrokerStatus {
  mode: 'embedded' | 'external';
  connected: boolean;
  /** The broker in use (external: the node currently or last connected to). */
  url: string | null;
  /** Epoch ms of the last change of `connected`. */
  sinceMs: number;
  /** Successful connections since start. */
  connects: number;
  lastError: string | null;
  /** Retained publishes kept until a broker is reachable. */
  pendingPublishes: number;
}

export interface MessageBus {
  /** Embedded: listens. External: starts connecting in the background and never waits for a broker. */
  start(): Promise<void>;
  /**
   * Publishes a retained QoS 1 message (the catalogue). While no broker is reachable
   * the latest payload per topic is kept and published on the next connect; resolves
   * once the broker acknowledged it or it was kept, never rejects for a broker outage.
   */
  publishRetained(topic: string, payload: string): Promise<void>;
  /** Listen address of the embedded broker; undefined for an external broker. */
  address(): { host: string; port: number } | undefined;
  /**
   * A removed agent: closes its connections (its last will is dropped) and clears its
   * retained status/announce. Returns the connections closed, or undefined when the
   * broker is external (its own password file and ACL decide; the caller logs that).
   */
  disconnectAgent(agent: string): Promise<number | undefined>;
  status(): BrokerStatus;
  /** Resolves true once connected and subscribed (embedded: at once), false after timeoutMs. */
  waitConnected(timeoutMs: number): Promise<boolean>;
  close(): Promise<void>;
}
