// shared/broker-failover.ts with real sockets: a real aedes broker as the live node and
// raw TCP servers that behave like a NATS node during a JetStream leader election —
// accept the connection, then hold the CONNECT (no CONNACK), or answer the CONNECT but
// never acknowledge a publish, or hold the attempt and close it themselves.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import mqtt, { type MqttClient } from 'mqtt';
import { Aedes } from 'aedes';
import { createPublisher } from '../../agent/publisher.js';
import { parseAgentConfig } from '../../agent/config.js';
import { parseSelectorConfig } from '../../selector/config.js';
import { createExternalBus } from '../../selector/mqtt/external-client.js';
import { createBrokerFailover, HOP_MS, LONG_MS, stallTimeoutMs } from '../../shared/broker-failover.js';
import { silentLogger } from '../../shared/log.js';
import { CATALOGUE_TOPIC, agentTopic, parseMetrics } from '../../shared/protocol.js';
import { until } from '../helpers/fixtures.js';
import { watch, type Watcher } from '../helpers/mqtt-watch.js';

type Mode = 'hold-connect' | 'hold-publish' | 'close-after-700ms';
const CONNACK_OK = Buffer.from([0x20, 0x02, 0x00, 0x00]);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()?.();
});

/** A node that accepts TCP and then misbehaves as `mode` says; counts its connections. */
async function fakeNode(mode: Mode): Promise<{ url: string; connections: () => number }> {
  let n = 0;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((sock) => {
    n++;
    sockets.add(sock);
    sock.on('error', () => undefined);
    sock.on('close', () => sockets.delete(sock));
    if (mode === 'close-after-700ms') setTimeout(() => sock.destroy(), 700);
    // hold-publish: the first bytes are the CONNECT; answer it, then swallow everything.
    if (mode === 'hold-publish') sock.once('data', () => sock.write(CONNACK_OK));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  cleanups.push(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  return { url: `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`, connections: () => n };
}

/** A real aedes broker; `ports` listeners on the same broker (several URLs, one broker). */
async function aedesNode(ports = 1): Promise<{ urls: string[]; clientIds: () => string[] }> {
  const aedes = await Aedes.createBroker();
  const ids: string[] = [];
  aedes.on('client', (c) => ids.push(c.id));
  const servers = await Promise.all(Array.from({ length: ports }, async () => {
    const s = net.createServer(aedes.handle);
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    return s;
  }));
  cleanups.push(async () => {
    await new Promise<void>((r) => aedes.close(() => r()));
    for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  });
  return { urls: servers.map((s) => `mqtt://127.0.0.1:${(s.address() as net.AddressInfo).port}`), clientIds: () => [...ids] };
}

function client(urls: string[], stallMs: number): { c: MqttClient; failover: ReturnType<typeof createBrokerFailover>; delays: number[] } {
  const servers = urls.map((u) => ({ host: '127.0.0.1', port: Number(new URL(u).port) }));
  const failover = createBrokerFailover({ servers: servers.length, reconnectMinMs: 1000, reconnectMaxMs: 8000, stallMs, log: silentLogger() });
  const c = mqtt.connect(urls[0] as string, { servers, protocolVersion: 4, clean: true, ...failover.options() });
  failover.attach(c);
  const delays: number[] = [];
  c.on('close', () => delays.push(c.options.reconnectPeriod ?? -1));
  c.on('error', () => undefined);
  cleanups.push(async () => {
    failover.close();
    await c.endAsync(true);
  });
  return { c, failover, delays };
}

describe('stall timeout', () => {
  it('stays at stallMs for three rounds of the list, then doubles up to 10 s', () => {
    expect([0, 8, 9, 12, 15, 40].map((k) => stallTimeoutMs(k, 3, 1500))).toEqual([1500, 1500, 3000, 6000, LONG_MS, LONG_MS]);
    expect(stallTimeoutMs(0, 3, 20_000)).toBe(20_000);
  });
});

describe('failover over mqtt.urls', () => {
  it('leaves a node that holds the CONNECT for the next URL at once', async () => {
    const held = await fakeNode('hold-connect');
    const live = await aedesNode();
    const { c, failover, delays } = client([held.url, live.urls[0] as string], 300);
    await until(() => c.connected, 5000, 'connected to the live node');
    expect(c.options.port).toBe(Number(new URL(live.urls[0] as string).port));
    expect(held.connections()).toBe(1);
    expect(failover.lastStall()).toBe('connect');
    expect(delays).toEqual([HOP_MS]);
  });

  it('counts an attempt the node held and closed itself (no CONNACK) as held, not refused', async () => {
    const held = await fakeNode('close-after-700ms');
    const live = await aedesNode();
    const { c, failover, delays } = client([held.url, live.urls[0] as string], 5000);
    await until(() => c.connected, 5000, 'connected to the live node');
    expect(failover.lastStall()).toBe('held');
    expect(delays).toEqual([HOP_MS]);
  });

  it('tries the list twice at once after refusals, then backs off', async () => {
    const dead = await fakeNode('hold-connect');
    const deadUrl = dead.url;
    await cleanups.pop()?.(); // nothing listens there any more: connections are refused
    const { delays } = client([deadUrl, deadUrl, deadUrl], 300);
    await until(() => delays.length >= 7, 10_000, 'seven refusals');
    expect(delays.slice(0, 7)).toEqual([HOP_MS, HOP_MS, HOP_MS, HOP_MS, HOP_MS, 1000, 1000]);
  });

  it('agent: a metrics message the node never acknowledges goes out again on the next URL', async () => {
    const held = await fakeNode('hold-publish');
    const live = await aedesNode();
    const watcher: Watcher = await watch(live.urls[0] as string, 'vantage/v1/agents/#');
    cleanups.push(() => watcher.close());
    const config = parseAgentConfig({ id: 'pop-held', mqtt: { urls: [held.url, live.urls[0]], stallTimeoutMs: 300 }, resolvers: [], prefixes: [] });
    const pub = createPublisher({ config, log: silentLogger(), announce: () => ({ v: 1, agent: 'pop-held', pop: 'x', addresses: [], prefixes: [], resolvers: [], ts: Date.now() }), onCatalogue: () => undefined });
    cleanups.push(() => pub.close());
    pub.start();
    pub.enqueueMetrics({ v: 1, agent: 'pop-held', seq: 1, ts: Date.now(), intervalS: 10, results: [] });
    const got = await watcher.waitFor((m) => m.topic === agentTopic('pop-held', 'metrics'), 5000, 'metrics on the live node');
    expect(parseMetrics(got.payload).seq).toBe(1);
    expect(held.connections()).toBe(1);
    // Leaving a node that held it is not a refusal: the message was not dropped or counted.
    expect(pub.stats()).toMatchObject({ published: 1, rejected: 0, queueDepth: 0, stalls: 1 });
  });

  it('agent: after a connect the queued metrics go before status and announce', async () => {
    const live = await aedesNode();
    const watcher: Watcher = await watch(live.urls[0] as string, 'vantage/v1/agents/#');
    cleanups.push(() => watcher.close());
    const config = parseAgentConfig({ id: 'pop-q', mqtt: { url: live.urls[0] }, resolvers: [], prefixes: [] });
    const pub = createPublisher({ config, log: silentLogger(), announce: () => ({ v: 1, agent: 'pop-q', pop: 'x', addresses: [], prefixes: [], resolvers: [], ts: Date.now() }), onCatalogue: () => undefined });
    cleanups.push(() => pub.close());
    for (const seq of [1, 2, 3]) pub.enqueueMetrics({ v: 1, agent: 'pop-q', seq, ts: Date.now(), intervalS: 10, results: [] });
    pub.start();
    await watcher.waitFor((m) => m.topic === agentTopic('pop-q', 'announce'), 5000, 'announce');
    // A retained publish can wait for one more replicated stream (NATS $MQTT_rmsgs) and the
    // broker handles a connection's packets in order: the backlog must not queue behind it.
    expect(watcher.seen.map((m) => m.topic.split('/').pop())).toEqual(['metrics', 'metrics', 'metrics', 'status', 'announce']);
  });

  it('selector: a retained publish goes on a connection of its own, after a QoS 0 copy', async () => {
    const live = await aedesNode(2);
    const cfg = parseSelectorConfig({
      dns: { listen: ['127.0.0.1:0'], zones: [{ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'h.example.test' }] },
      mqtt: { urls: live.urls }, auth: { agents: 'off' },
    });
    const watcher: Watcher = await watch(live.urls[0] as string, CATALOGUE_TOPIC);
    cleanups.push(() => watcher.close());
    const bus = createExternalBus(cfg.mqtt, { onMessage: () => undefined, onCatalogue: () => undefined, clientId: 'vantage-selector-sel-test' }, silentLogger());
    cleanups.push(() => bus.close());
    await bus.start();
    expect(await bus.waitConnected(5000)).toBe(true);
    const payload = JSON.stringify({ v: 1, ts: Date.now(), services: [], rev: 7, origin: 'sel-test' });
    await bus.publishRetained(CATALOGUE_TOPIC, payload);
    await until(() => watcher.on(CATALOGUE_TOPIC).filter((m) => m.payload === payload).length === 2, 5000, 'the copy and the retained message');
    expect(bus.status().pendingPublishes).toBe(0);
    expect(live.clientIds()).toEqual(expect.arrayContaining(['vantage-selector-sel-test', 'vantage-selector-sel-test-pub']));
    // The retained one is what a later subscriber gets.
    const later: Watcher = await watch(live.urls[1] as string, CATALOGUE_TOPIC);
    cleanups.push(() => later.close());
    const kept = await later.waitFor((m) => m.topic === CATALOGUE_TOPIC, 5000, 'retained catalogue');
    expect(kept).toMatchObject({ retain: true, payload });
  });
});
