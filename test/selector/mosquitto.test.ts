// External broker mode: a real Mosquitto with a password file made by
// `mosquitto_passwd -b` and exactly the ACL shipped in systemd/mosquitto.acl.
import { copyFileSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { addAgent } from '../../selector/mqtt/credentials.js';
import { createSelector, type Selector } from '../../selector/selector.js';
import { Store } from '../../selector/store/store.js';
import { createLogger } from '../../shared/log.js';
import { agentTopic, CATALOGUE_TOPIC } from '../../shared/protocol.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { freeTcpPort } from '../helpers/net.js';
import { queryA } from '../helpers/dns-client.js';
import { announce, metrics, result, selectorConfig, SERVICE, until } from '../helpers/fixtures.js';

const ACL = resolve(__dirname, '../../systemd/mosquitto.acl');
let broker: MosquittoHandle;
let sel: Selector;
let url: string;
const passwords: Record<string, string> = { 'vantage-selector': 'selector-secret-1' };
const clients: MqttClient[] = [];
const logs: string[] = [];

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
  sel = createSelector(cfg, { log: createLogger({ level: 'info' }, new Writable({ write(c, _e, cb) { logs.push(String(c)); cb(); } })) });
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

  it('regression: the ACL of a checkout inside a mode-0700 directory still loads (Mosquitto runs as its own user)', async () => {
    const privateDir = mkdtempSync(join(tmpdir(), 'vantage-checkout-'));
    expect(statSync(privateDir).mode & 0o777).toBe(0o700);
    const aclFile = join(privateDir, 'mosquitto.acl');
    copyFileSync(ACL, aclFile);
    const users = { 'vantage-selector': 'pw-selector-123', 'pop-nyc': 'pw-nyc-123' };
    const other = await startMosquitto({ users, aclFile });
    try {
      const selector = await mqtt.connectAsync(other.url, { username: 'vantage-selector', password: users['vantage-selector'], reconnectPeriod: 0 });
      const seen: string[] = [];
      selector.on('message', (topic) => seen.push(topic));
      await selector.subscribeAsync('vantage/v1/#', { qos: 1 });
      const c = await mqtt.connectAsync(other.url, { username: 'pop-nyc', password: users['pop-nyc'], reconnectPeriod: 0 });
      // The shipped ACL is in force: another agent's topic is dropped, the agent's own arrives after it.
      await c.publishAsync(agentTopic('pop-lon', 'metrics'), 'x', { qos: 1 });
      await c.publishAsync(agentTopic('pop-nyc', 'metrics'), 'x', { qos: 1 });
      await until(() => seen.length > 0, 5000, 'the allowed publish');
      expect(seen).toEqual([agentTopic('pop-nyc', 'metrics')]);
      await c.endAsync();
      await selector.endAsync();
    } finally {
      await other.stop();
    }
  });

  it('Mosquitto refuses a wrong password', async () => {
    const err = await mqtt.connectAsync(url, { username: 'pop-nyc', password: 'nope', reconnectPeriod: 0 }).then((c) => { clients.push(c); return 0; }, (e: { code?: number }) => e.code);
    expect(err).toBe(5);
  });

  it('removing an agent: ingest refuses it at once; the log says Mosquitto keeps its credentials', async () => {
    const c = await agent('pop-lon');
    const http = sel.adminAddress() as { host: string; port: number };
    const res = await fetch(`http://127.0.0.1:${http.port}/api/agents/pop-lon`, { method: 'DELETE' });
    expect(await res.json()).toEqual({ id: 'pop-lon', removed: true });
    await until(() => logs.some((l) => l.includes('"agent":"pop-lon"') && l.includes('the external broker keeps its own credentials')), 5000, 'log line');
    const before = sel.ingestCounters()?.rejected.not_enrolled ?? 0;
    await c.publishAsync(agentTopic('pop-lon', 'metrics'), metrics('pop-lon', 2, [result('us-east', 5)]), { qos: 1 });
    await until(() => (sel.ingestCounters()?.rejected.not_enrolled ?? 0) === before + 1, 5000, 'not_enrolled');
    expect(sel.store()?.getAgent('pop-lon')).toBeUndefined();
  });
});
