// External broker over mqtts: the selector as an mqtt.js client verifying the
// broker's certificate against `mqtt.ca`. The broker is a plain real aedes
// instance listening with TLS (no auth, no ACL), standing in for any external broker.
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Aedes } from 'aedes';
import tls from 'node:tls';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createSelector, type Selector } from '../../selector/selector.js';
import { agentTopic } from '../../shared/protocol.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';
import { queryA } from '../helpers/dns-client.js';
import { announce, metrics, result, selectorConfig, SERVICE, until } from '../helpers/fixtures.js';

let certs: TestCerts;
let broker: Aedes;
let server: tls.Server;
let sel: Selector | undefined;
let url: string;

beforeAll(async () => {
  certs = makeTestCerts(['localhost']);
  broker = await Aedes.createBroker();
  server = tls.createServer({ cert: certs.cert, key: certs.key }, broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `mqtts://localhost:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  await sel?.close();
  await new Promise<void>((resolve) => (broker ? broker.close(() => resolve()) : resolve()));
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  certs?.cleanup();
});

describe('external broker over mqtts', () => {
  it('never connects when the broker certificate is not trusted, and says why (DNS still starts)', async () => {
    const s = createSelector(selectorConfig({ mqtt: { url } }));
    await s.start();
    await until(() => s.brokerStatus()?.lastError, 5000, 'TLS error reported');
    expect(s.brokerStatus()).toMatchObject({ connected: false, connects: 0 });
    expect(s.brokerStatus()?.lastError).toMatch(/certificate/i);
    expect((await queryA('127.0.0.1', s.dnsAddresses()[0]?.port as number, SERVICE)).addresses).toHaveLength(3);
    await s.close();
  });

  it('connects with mqtt.ca and ingests', async () => {
    sel = createSelector(selectorConfig({ mqtt: { url, ca: certs.caFile } }));
    await sel.start();
    const agent = await mqtt.connectAsync(url, { ca: certs.ca, reconnectPeriod: 0 });
    await agent.publishAsync(agentTopic('pop-nyc', 'announce'), announce('pop-nyc', ['198.51.100.0/24']), { qos: 1 });
    await agent.publishAsync(agentTopic('pop-nyc', 'metrics'), metrics('pop-nyc', 1, [result('us-east', 60), result('eu-west', 50), result('ap-south', 4)]), { qos: 1 });
    await until(() => sel?.ingestCounters()?.accepted.metrics === 1, 5000, 'metrics over mqtts');
    const reply = await queryA('127.0.0.1', sel.dnsAddresses()[0]?.port as number, SERVICE, { ip: '198.51.100.0', length: 24 });
    expect(reply.addresses[0]).toBe('127.2.0.3');
    await agent.endAsync();
  });

  it('mqtt.urls over mqtts: the next node is verified under its own name (regression: the first host name stuck as SNI)', async () => {
    // Two brokers, each with a certificate for one name only: localhost and vm (both 127.0.0.1 here).
    const other = makeTestCerts(['vm']);
    const b2 = await Aedes.createBroker();
    const s2 = tls.createServer({ cert: other.cert, key: other.key }, b2.handle);
    await new Promise<void>((r) => s2.listen(0, '127.0.0.1', r));
    const b1 = await Aedes.createBroker();
    const s1 = tls.createServer({ cert: certs.cert, key: certs.key }, b1.handle);
    await new Promise<void>((r) => s1.listen(0, '127.0.0.1', r));
    const bundle = join(certs.dir, 'both-cas.pem');
    writeFileSync(bundle, certs.ca + other.ca);
    const urls = [`mqtts://localhost:${(s1.address() as { port: number }).port}`, `mqtts://vm:${(s2.address() as { port: number }).port}`];
    const s = createSelector(selectorConfig({ mqtt: { urls, ca: bundle } }));
    try {
      await s.start();
      expect(s.brokerStatus()).toMatchObject({ connected: true, url: urls[0] });
      await new Promise<void>((r) => b1.close(() => r()));
      await new Promise<void>((r) => s1.close(() => r()));
      await until(() => s.brokerStatus()?.connected && s.brokerStatus()?.url === urls[1], 10_000, 'connected to the second node');
    } finally {
      await s.close();
      await new Promise<void>((r) => b2.close(() => r()));
      await new Promise<void>((r) => s2.close(() => r()));
      other.cleanup();
    }
  }, 20_000);
});
