// External broker mode: a real Mosquitto with a password file made by
// `mosquitto_passwd -b` and exactly the ACL shipped in systemd/mosquitto.acl.
import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAgent } from '../../selector/mqtt/credentials.js';
import { createSelector, type Selector } from '../../selector/selector.js';
import { Store } from '../../selector/store/store.js';
import { agentTopic, CATALOGUE_TOPIC } from '../../shared/protocol.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { freeTcpPort } from '../helpers/net.js';
import { queryA } from '../helpers/dns-client.js';
import { announce, metrics, result, selectorConfig, SERVICE, until } from './fixtures.js';

const ACL = resolve(__dirname, '../../systemd/mosquitto.acl');
let broker: MosquittoHandle;
let sel: Selector;
let url: string;
const passwords: Record<string, string> = { 'vantage-selector': 'selector-secret-1' };
const clients: MqttClient[] = [];

beforeAll(async () => {
  const port = await freeTcpPort();
  url = `mqtt://127.0.0.1:${port}`;
  const cfg = selectorConfig({ mqtt: { url, username: 'vantage-selector', password: passwords['vantage-selector'] }, auth: { agents: 'required' } });
  // The same password in the selector DB (enrolment) and in Mosquitto's password file.
  const store = new Store(cfg.db);
  passwords['pop-nyc'] = await addAgent(store, 'pop-nyc');
  passwords['pop-lon'] = await addAgent(store, 'pop-lon');
  store.close();
  broker = await startMosquitto({ port, users: passwords, aclFile: ACL });
  sel = createSelector(cfg);
  await sel.start();
});

afterAll(async () => {
  for (const c of clients) await c.endAsync();
  await sel?.close();
  await broker?.stop();
});

async function agent(id: string): Promise<MqttClient> {
  const c = await mqtt.connectAsync(url, { username: id, password: passwords[id], reconnectPeriod: 0 });
  clients.push(c);
  return c;
}

describe('external Mosquitto mode', () => {
  it('agents read the retained catalogue the selector published', async () => {
    const c = await agent('pop-nyc');
    const got = new Promise<string>((res) => c.on('message', (_t, p) => res(p.toString())));
    await c.subscribeAsync(CATALOGUE_TOPIC, { qos: 1 });
    expect(JSON.parse(await got).services[0].name).toBe(SERVICE);
  });

  it('ingests metrics through Mosquitto and answers DNS from them', async () => {
    const c = await agent('pop-nyc');
    await c.publishAsync(agentTopic('pop-nyc', 'announce'), announce('pop-nyc', ['198.51.100.0/24']), { qos: 1, retain: true });
    await c.publishAsync(agentTopic('pop-nyc', 'metrics'), metrics('pop-nyc', 1, [result('us-east', 70), result('eu-west', 9), result('ap-south', 40)]), { qos: 1 });
    await until(() => sel.ingestCounters()?.accepted.metrics === 1, 5000, 'metrics via mosquitto');
    const reply = await queryA('127.0.0.1', sel.dnsAddresses()[0]?.port as number, SERVICE, { ip: '198.51.100.0', length: 24 });
    expect(reply.addresses).toEqual(['127.2.0.2', '127.2.0.3', '127.2.0.1']);
  });

  it("the ACL drops an agent's publish under another agent's id and to the catalogue", async () => {
    const c = await agent('pop-lon');
    await c.publishAsync(agentTopic('pop-nyc', 'metrics'), metrics('pop-nyc', 99, [result('us-east', 1)]), { qos: 1 });
    await c.publishAsync(CATALOGUE_TOPIC, '{"v":1,"ts":1,"services":[]}', { qos: 1, retain: true });
    await c.publishAsync(agentTopic('pop-lon', 'metrics'), metrics('pop-lon', 1, [result('us-east', 5)]), { qos: 1 });
    await until(() => sel.ingestCounters()?.accepted.metrics === 2, 5000, 'own metrics');
    await sleep(100);
    expect(sel.ingestCounters()?.accepted.metrics).toBe(2);
    const fresh = await agent('pop-nyc');
    const got = new Promise<string>((res) => fresh.on('message', (_t, p) => res(p.toString())));
    await fresh.subscribeAsync(CATALOGUE_TOPIC, { qos: 1 });
    expect(JSON.parse(await got).services).toHaveLength(1);
  });

  it('Mosquitto refuses a wrong password', async () => {
    const err = await mqtt.connectAsync(url, { username: 'pop-nyc', password: 'nope', reconnectPeriod: 0 }).then((c) => { clients.push(c); return 0; }, (e: { code?: number }) => e.code);
    expect(err).toBe(5);
  });
});
