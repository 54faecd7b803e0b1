// A backbone on an external broker (Mosquitto as a process, password file and the shipped
// ACL plus the LB lines from systemd/mosquitto.acl): the LB logs in as lb.{id}, its map
// and rankings reach the backbone, the catalogue reaches the LB, and the ACL keeps an LB
// from writing another LB's topics.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { lbTopic } from '../../shared/lb-protocol.js';
import { startMosquitto } from '../helpers/mosquitto.js';
import { until } from '../helpers/fixtures.js';
import { addrs, bootBackbone, bootLb, query, resetSeqs, round, SERVICE, type Closer } from './helpers.js';

const open: Closer[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  resetSeqs();
});

describe('backbone on Mosquitto', () => {
  it('carries LB maps, rankings and the catalogue under the shipped ACL', async () => {
    // The shipped ACL with its commented LB example switched on for two LBs.
    const shipped = readFileSync(join(process.cwd(), 'systemd/mosquitto.acl'), 'utf8');
    const lbLines = (id: string): string => `\nuser lb.${id}\ntopic write vantage/v1/lbs/${id}/#\ntopic read vantage/v1/config/#\n`;
    const broker = await startMosquitto({
      users: { 'vantage-selector': 'bb-secret', 'lb.isp-a': 'a-secret', 'lb.isp-b': 'b-secret' },
      acl: shipped + lbLines('isp-a') + lbLines('isp-b'),
    });
    open.push({ close: () => broker.stop() });
    const bb = await bootBackbone(open, {}, { mqtt: { url: broker.url, username: 'vantage-selector', password: 'bb-secret' } });
    const a = await bootLb(open, bb, 'isp-a', { url: broker.url, password: 'a-secret' });
    await round(a, 'pop-a', ['198.51.100.0/24'], { 'us-east': 10, 'eu-west': 80, 'ap-south': 200 });
    const reg = bb.backbone()?.registry;
    await until(() => reg?.get('isp-a')?.rankings?.services[0]?.default[0] === '127.2.0.1' && reg.get('isp-a')?.map?.prefixes.length, 10_000, 'isp-a through Mosquitto');
    expect(addrs(await query(bb.dnsAddresses()[0]?.port as number, SERVICE, { ecs: '198.51.100.0/24' }))[0]).toBe('127.2.0.1');
    // lb.isp-b may not write isp-a's topics: Mosquitto drops the message (MQTT 3.1.1 has no negative PUBACK).
    const rogue = await mqtt.connectAsync(broker.url, { username: 'lb.isp-b', password: 'b-secret', reconnectPeriod: 0 });
    open.push({ close: () => rogue.endAsync() });
    await rogue.publishAsync(lbTopic('isp-a', 'status'), JSON.stringify({ v: 1, lb: 'isp-a', state: 'offline', ts: Date.now() }), { qos: 1 });
    await rogue.publishAsync(lbTopic('isp-b', 'status'), JSON.stringify({ v: 1, lb: 'isp-b', state: 'online', ts: Date.now() }), { qos: 1 });
    await until(() => reg?.get('isp-b')?.status === 'online', 5000, 'isp-b own status');
    expect(reg?.get('isp-a')?.status).toBe('online');
  });
});
