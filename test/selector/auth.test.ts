// Embedded broker auth (auth.agents: required): scrypt credentials from the DB,
// per-agent topic confinement, catalogue write protection. Real aedes, real mqtt.js.
import mqtt, { type MqttClient } from 'mqtt';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEmbeddedBroker, mayPublish, maySubscribe } from '../../selector/mqtt/embedded-broker.js';
import type { MessageBus } from '../../selector/mqtt/bus.js';
import { addAgent, Enrolment } from '../../selector/mqtt/credentials.js';
import { Store } from '../../selector/store/store.js';
import { silentLogger } from '../../shared/log.js';
import { CATALOGUE_TOPIC } from '../../shared/protocol.js';
import { selectorConfig, until } from '../helpers/fixtures.js';

const cfg = selectorConfig();
let store: Store;
let enrolment: Enrolment;
let bus: MessageBus;
let url: string;
const received: { topic: string; payload: string }[] = [];
const clients: MqttClient[] = [];
let passA: string;

beforeAll(async () => {
  store = new Store(cfg.db);
  passA = await addAgent(store, 'pop-a');
  await addAgent(store, 'pop-b');
  enrolment = new Enrolment(store);
  bus = createEmbeddedBroker({
    mqtt: cfg.mqtt, authRequired: true, store, enrolment, log: silentLogger(),
    onMessage: (topic, payload) => received.push({ topic, payload: payload.toString() }),
  });
  await bus.start();
  url = `mqtt://127.0.0.1:${bus.address()?.port}`;
  await bus.publishRetained(CATALOGUE_TOPIC, '{"v":1,"ts":1,"services":[]}');
});

afterAll(async () => {
  for (const c of clients) c.end(true);
  await bus?.close();
  store?.close();
});

async function connect(username: string, password: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { username, password, reconnectPeriod: 0 });
  clients.push(c);
  return c;
}

async function refused(username: string, password: string): Promise<string> {
  try {
    await connect(username, password);
    return 'connected';
  } catch (err) {
    return (err as { code?: number }).code === 4 ? 'bad credentials' : (err as Error).message;
  }
}

describe('embedded broker auth', () => {
  it('refuses a wrong password, an unknown agent and no credentials', async () => {
    expect(await refused('pop-a', 'wrong')).toBe('bad credentials');
    expect(await refused('pop-x', passA)).toBe('bad credentials');
    const anon = await mqtt.connectAsync(url, { reconnectPeriod: 0 }).then(() => 'connected', (e: { code?: number }) => e.code);
    expect(anon).toBe(4);
  });

  it('lets an agent publish under its own topics and read the catalogue', async () => {
    const a = await connect('pop-a', passA);
    const got = new Promise<string>((resolve) => a.on('message', (_t, p) => resolve(p.toString())));
    const granted = await a.subscribeAsync('vantage/v1/config/#', { qos: 1 });
    expect(granted[0]?.qos).toBe(1);
    expect(await got).toBe('{"v":1,"ts":1,"services":[]}');
    await a.publishAsync('vantage/v1/agents/pop-a/status', 'hello', { qos: 1 });
    await until(() => received.find((r) => r.topic === 'vantage/v1/agents/pop-a/status'), 3000, 'own publish');
  });

  it("refuses an agent publishing under another agent's topic (connection closed, nothing delivered)", async () => {
    const a = await connect('pop-a', passA);
    const closed = new Promise<void>((resolve) => a.once('close', () => resolve()));
    a.publish('vantage/v1/agents/pop-b/metrics', 'spoof', { qos: 1 });
    await closed;
    await sleep(100);
    expect(received.filter((r) => r.topic.includes('pop-b'))).toEqual([]);
  });

  it('refuses an agent publishing the catalogue', async () => {
    const a = await connect('pop-a', passA);
    const closed = new Promise<void>((resolve) => a.once('close', () => resolve()));
    a.publish(CATALOGUE_TOPIC, '{"v":1,"ts":2,"services":[]}', { qos: 1, retain: true });
    await closed;
    const b = await connect('pop-b', (await enrolment.add('pop-b')));
    const got = new Promise<string>((resolve) => b.on('message', (_t, p) => resolve(p.toString())));
    await b.subscribeAsync(CATALOGUE_TOPIC, { qos: 1 });
    expect(await got).toBe('{"v":1,"ts":1,"services":[]}');
  });

  it("refuses an agent subscribing to other agents' topics (SUBACK 0x80)", async () => {
    const a = await connect('pop-a', passA);
    // mqtt.js turns a 0x80 grant into an error carrying the SUBACK packet.
    const err = await a.subscribeAsync('vantage/v1/agents/#', { qos: 1 }).then(() => undefined, (e: { packet?: { granted?: number[] } }) => e);
    expect(err?.packet?.granted).toEqual([128]);
    expect(a.connected).toBe(true);
  });

  it('sees new and removed credentials without a restart (in memory: no SQLite read per connect)', async () => {
    const pass = await enrolment.add('pop-new');
    expect(await refused('pop-new', pass)).toBe('connected');
    expect(enrolment.remove('pop-new')).toBe(true);
    expect(store.getCredentials('pop-new')).toBeUndefined();
    expect(await refused('pop-new', pass)).toBe('bad credentials');
    // Written behind the daemon's back: not seen until the next start (the CLI goes through the admin API).
    const direct = await addAgent(store, 'pop-direct');
    expect(await refused('pop-direct', direct)).toBe('bad credentials');
  });

  it('disconnectAgent closes the agent, drops its last will and clears its retained topics', async () => {
    const pass = await enrolment.add('pop-gone');
    const c = await mqtt.connectAsync(url, {
      username: 'pop-gone', password: pass, reconnectPeriod: 0,
      will: { topic: 'vantage/v1/agents/pop-gone/status', payload: Buffer.from('{"v":1,"agent":"pop-gone","state":"offline","ts":1}'), qos: 1, retain: true },
    });
    clients.push(c);
    await c.publishAsync('vantage/v1/agents/pop-gone/status', '{"v":1,"agent":"pop-gone","state":"online","ts":2}', { qos: 1, retain: true });
    const closed = new Promise<void>((resolve) => c.once('close', () => resolve()));
    enrolment.remove('pop-gone');
    expect(await bus.disconnectAgent('pop-gone')).toBe(1);
    await closed;
    await sleep(200);
    const statuses = received.filter((m) => m.topic === 'vantage/v1/agents/pop-gone/status').map((m) => m.payload);
    expect(statuses).toEqual(['{"v":1,"agent":"pop-gone","state":"online","ts":2}', '']);
    expect(await refused('pop-gone', pass)).toBe('bad credentials');
  });

  it('ACL rules as a table', () => {
    const cases: [string | undefined, string, boolean, boolean][] = [
      ['pop-a', 'vantage/v1/agents/pop-a/metrics', true, true],
      ['pop-a', 'vantage/v1/agents/pop-ab/metrics', true, false],
      ['pop-a', 'vantage/v1/agents/pop-b/metrics', true, false],
      ['pop-a', 'vantage/v1/config/services', true, false],
      [undefined, 'vantage/v1/config/services', false, false],
      [undefined, 'vantage/v1/agents/anyone/metrics', false, true],
      ['pop-a', '$SYS/x', false, false],
    ];
    for (const [agent, topic, auth, want] of cases) expect([agent, topic, auth, mayPublish(agent, topic, auth)]).toEqual([agent, topic, auth, want]);
    expect(maySubscribe('vantage/v1/config/#', true)).toBe(true);
    expect(maySubscribe('vantage/v1/#', true)).toBe(false);
    expect(maySubscribe('#', true)).toBe(false);
    expect(maySubscribe('#', false)).toBe(true);
  });
});

describe('embedded broker over TLS (mqtts)', () => {
  it('serves mqtts with the configured cert and still authenticates', async () => {
    const { makeTestCerts } = await import('../helpers/certs.js');
    const { writeFileSync } = await import('node:fs');
    const { join } = await import('node:path');
    const certs = makeTestCerts(['localhost']);
    const cert = join(certs.dir, 'srv.pem');
    const key = join(certs.dir, 'srv.key');
    writeFileSync(cert, certs.cert);
    writeFileSync(key, certs.key);
    const tlsBus = createEmbeddedBroker({
      mqtt: { listen: { host: '127.0.0.1', port: 0 }, tls: { cert, key } }, authRequired: true, store, log: silentLogger(), onMessage: () => undefined,
    });
    await tlsBus.start();
    try {
      const port = tlsBus.address()?.port;
      const c = await mqtt.connectAsync(`mqtts://localhost:${port}`, { username: 'pop-a', password: passA, ca: certs.ca, reconnectPeriod: 0 });
      expect(c.connected).toBe(true);
      await c.endAsync();
      // A plain-MQTT client gets no CONNACK from the TLS listener.
      const plain = mqtt.connect(`mqtt://127.0.0.1:${port}`, { username: 'pop-a', password: passA, reconnectPeriod: 0, connectTimeout: 500 });
      const outcome = await new Promise<string>((resolve) => {
        plain.once('connect', () => resolve('connected'));
        plain.once('close', () => resolve('closed'));
        plain.once('error', () => resolve('closed'));
      });
      plain.end(true);
      expect(outcome).toBe('closed');
    } finally {
      await tlsBus.close();
      certs.cleanup();
    }
  });
});
