// Regression (found by bench:soak): aedes sends a QoS 1 PUBACK before the selector has
// handled the message, so under overload the ingest queue grew without bound (RSS up,
// and the backlog was lost at shutdown). Now a PUBACK is held while the queue is long:
// when a publisher's last PUBACK arrives, almost everything it sent has been handled.
import mqtt from 'mqtt';
import { afterAll, describe, expect, it } from 'vitest';
import { createEmbeddedBroker } from '../../selector/mqtt/embedded-broker.js';
import { Store } from '../../selector/store/store.js';
import { silentLogger } from '../../shared/log.js';
import { agentTopic } from '../../shared/protocol.js';
import { selectorConfig } from '../helpers/fixtures.js';

const cfg = selectorConfig();
const store = new Store(cfg.db);
afterAll(() => store.close());

describe('embedded broker back-pressure', () => {
  it('QoS 1 publishers are paced by PUBACKs: acknowledged but unhandled messages stay bounded', async () => {
    let handled = 0;
    const bus = createEmbeddedBroker({
      mqtt: cfg.mqtt, authRequired: false, store, log: silentLogger(),
      onMessage: () => {
        // A slow ingest: 1 ms of work per message.
        const end = performance.now() + 1;
        while (performance.now() < end);
        handled++;
      },
    });
    await bus.start();
    const url = `mqtt://127.0.0.1:${bus.address()?.port}`;
    const clients = await Promise.all([0, 1, 2, 3].map(() => mqtt.connectAsync(url, { reconnectPeriod: 0 })));
    const PER_CLIENT = 500;
    let acked = 0;
    let worstGap = 0;
    await Promise.all(clients.map((c, i) => Promise.all(Array.from({ length: PER_CLIENT }, (_, j) =>
      c.publishAsync(agentTopic(`pop-${i}`, 'metrics'), `{"n":${j}}`, { qos: 1 }).then(() => {
        acked++;
        worstGap = Math.max(worstGap, acked - handled);
    })))));
    expect(acked).toBe(4 * PER_CLIENT);
    // Without the hold, all 2,000 are acknowledged long before 2 s of handling is done.
    expect(worstGap).toBeLessThanOrEqual(300);
    await Promise.all(clients.map((c) => c.endAsync()));
    await bus.close();
  }, 30_000);
});
