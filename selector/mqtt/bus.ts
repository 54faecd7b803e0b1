// The selector's view of MQTT, whichever broker carries it: the embedded aedes
// broker (broker.ts) or an external one reached with mqtt.js (external-bus.ts).

/** Agent topics the selector ingests: vantage/v1/agents/{id}/{status|announce|metrics}. */
export const INGEST_TOPIC = 'vantage/v1/agents/+/+';

export type MessageHandler = (topic: string, payload: Buffer) => void;

export interface MessageBus {
  start(): Promise<void>;
  /** Publishes a retained QoS 1 message (the catalogue). */
  publishRetained(topic: string, payload: string): Promise<void>;
  /** Listen address of the embedded broker; undefined for an external broker. */
  address(): { host: string; port: number } | undefined;
  /**
   * A removed agent: closes its connections (its last will is dropped) and clears its
   * retained status/announce. Returns the connections closed, or undefined when the
   * broker is external (its own password file and ACL decide; the caller logs that).
   */
  disconnectAgent(agent: string): Promise<number | undefined>;
  close(): Promise<void>;
}
