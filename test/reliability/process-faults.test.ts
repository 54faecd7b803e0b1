// Faults with real processes: the real agent (dist/agent/cli.js) probing real HTTP sites,
// the real selector (embedded aedes, or external Mosquitto), DNS over real UDP.
// - agent SIGKILL: its last will marks it offline and its clients fall back to the
//   aggregate within one interval; once restarted, its data is used again;
// - Mosquitto restart on the same port: DNS keeps answering from the last rankings, the
//   selector and the agent reconnect, and rounds queued by the agent arrive.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, beforeAll, afterAll, describe, expect, it } from 'vitest';
import { createSelector, type Selector } from '../../selector/selector.js';
import { parseSelectorConfig } from '../../selector/config.js';
import { agentTopic } from '../../shared/protocol.js';
import { freeTcpPort } from '../helpers/net.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { queryA } from '../helpers/dns-client.js';
import { tmpDb, until } from '../helpers/fixtures.js';

const AGENT_CLI = join(process.cwd(), 'dist/agent/cli.js');
const SERVICE = 'www.example.test';
const FAST = '127.2.9.1';
const SLOW = '127.2.9.2';
const POP_A = { ip: '198.51.100.0', length: 24 };
const dir = mkdtempSync(join(tmpdir(), 'vantage-faults-'));
let sitePort: number;
const servers: http.Server[] = [];

beforeAll(async () => {
  sitePort = await freeTcpPort(FAST);
  for (const [host, delayMs] of [[FAST, 0], [SLOW, 40]] as const) {
    const s = http.createServer((_req, res) => setTimeout(() => res.end('ok'), delayMs));
    await new Promise<void>((r) => s.listen(sitePort, host, () => r()));
    servers.push(s);
  }
});
afterAll(async () => {
  for (const s of servers) await new Promise((r) => s.close(r));
});

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

/** The slow site is listed first: FAST first in an answer can only come from measurements. */
function selectorConfig(mqttCfg: Record<string, unknown>, staleIntervals = 3) {
  return parseSelectorConfig({
    dns: { listen: ['127.0.0.1:0'], zones: [{ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'h.example.test' }] },
    mqtt: mqttCfg, http: { listen: '127.0.0.1:0' }, db: tmpDb(), auth: { agents: 'off' },
    ranking: { staleIntervals },
    services: [{ name: SERVICE, answers: 2, probe: { port: sitePort, timeoutMs: 1000 }, sites: [{ id: 'slow', address: SLOW }, { id: 'fast', address: FAST }] }],
  });
}

function startAgent(url: string, intervalS: number): ChildProcess {
  const conf = join(dir, `pop-a-${Date.now()}.yaml`);
  writeFileSync(conf, JSON.stringify({
    id: 'pop-a', pop: 'A', mqtt: { url, keepaliveS: 5 }, bindAddress: '127.1.9.1', prefixes: ['198.51.100.0/24'],
    resolvers: [], intervalS, concurrency: 4, log: { level: 'warn' },
  }));
  const c = spawn(process.execPath, [AGENT_CLI, 'run', '--config', conf], { stdio: ['ignore', 'ignore', 'ignore'] });
  open.push({ close: () => stop(c, 'SIGKILL') });
  return c;
}

function stop(c: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  const done = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill(signal);
  return done;
}

/** Polls an async condition (fixtures.until takes sync ones). */
async function eventually(fn: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function first(sel: Selector, client = POP_A): Promise<string | undefined> {
  return (await queryA('127.0.0.1', sel.dnsAddresses()[0]?.port as number, SERVICE, client)).addresses[0];
}

/** A second, synthetic agent that sees the slow site as the better one: it shapes the aggregate. */
function fakeAgent(client: MqttClient, intervalS: number): { close(): void } {
  let seq = 1;
  const r = (site: string, address: string, totalMs: number) => ({ service: SERVICE, site, address, ok: true, status: 200, connectMs: 1, tlsMs: null, ttfbMs: 1, totalMs, bytes: 2, error: null });
  const send = () => void client.publishAsync(agentTopic('pop-b', 'metrics'), JSON.stringify({
    v: 1, agent: 'pop-b', seq: seq++, ts: Date.now(), intervalS, results: [r('fast', FAST, 300), r('slow', SLOW, 10)],
  }), { qos: 1 }).catch(() => undefined);
  send();
  const t = setInterval(send, intervalS * 500);
  return { close: () => clearInterval(t) };
}

describe('agent killed with SIGKILL (embedded broker)', () => {
  it('falls back to the aggregate within one interval, and uses its data again after a restart', async () => {
    const INTERVAL_S = 2;
    const sel = createSelector(selectorConfig({ listen: '127.0.0.1:0' }));
    open.push(sel);
    await sel.start();
    const url = `mqtt://127.0.0.1:${sel.mqttAddress()?.port}`;
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    open.push({ close: () => client.endAsync() });
    open.push(fakeAgent(client, INTERVAL_S));
    let agent = startAgent(url, INTERVAL_S);
    await until(() => sel.agentStates().get('pop-a') === 'fresh', 15_000, 'pop-a fresh');
    await until(() => sel.agentStates().get('pop-b') === 'fresh', 5000, 'pop-b fresh');
    // pop-a measured the fast site itself; the aggregate (pop-a + pop-b) prefers slow.
    let got: string | undefined;
    const end = Date.now() + 10_000;
    while ((got = await first(sel)) !== FAST && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(got).toBe(FAST);
    expect(await first(sel, { ip: '192.0.2.0', length: 24 })).toBe(SLOW);

    agent.kill('SIGKILL');
    const t0 = Date.now();
    await eventually(async () => (await first(sel)) === SLOW, INTERVAL_S * 1000, 'fallback to the aggregate within one interval');
    const fallbackMs = Date.now() - t0;
    expect(fallbackMs).toBeLessThanOrEqual(INTERVAL_S * 1000);
    expect(sel.agentStates().get('pop-a')).toBe('offline');

    agent = startAgent(url, INTERVAL_S);
    await until(() => sel.agentStates().get('pop-a') === 'fresh', 15_000, 'pop-a fresh again');
    const end2 = Date.now() + 10_000;
    while ((got = await first(sel)) !== FAST && Date.now() < end2) await new Promise((r) => setTimeout(r, 100));
    expect(got).toBe(FAST);
  }, 60_000);
});

describe('Mosquitto restart on the same port (external mode)', () => {
  let broker: MosquittoHandle;
  beforeAll(async () => { broker = await startMosquitto(); });
  afterAll(async () => { await broker?.stop(); });

  it('DNS keeps answering from the last rankings; selector and agent reconnect; queued rounds arrive', async () => {
    const sel = createSelector(selectorConfig({ url: broker.url }, 20));
    open.push(sel);
    await sel.start();
    startAgent(broker.url, 1);
    await until(() => sel.agentStates().get('pop-a') === 'fresh', 15_000, 'pop-a fresh');
    let got: string | undefined;
    const end = Date.now() + 10_000;
    while ((got = await first(sel)) !== FAST && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(got).toBe(FAST);

    await broker.stop();
    const downAt = Date.now();
    const acceptedBefore = sel.ingestCounters()?.accepted.metrics ?? 0;
    for (let i = 0; i < 6; i++) {
      expect(await first(sel)).toBe(FAST);
      await new Promise((r) => setTimeout(r, 500));
    }
    await broker.start();
    const upAt = Date.now();
    // Rounds the agent made while the broker was down (ts inside the outage) reach SQLite.
    await until(() => {
      sel.flush();
      const n = sel.store()?.db.prepare('SELECT COUNT(*) AS n FROM results WHERE agent = ? AND ts > ? AND ts < ?').get('pop-a', downAt, upAt) as { n: number };
      return n.n >= 2 * 2;
    }, 15_000, 'rounds queued during the outage stored');
    // And live rounds flow again.
    const after = sel.ingestCounters()?.accepted.metrics ?? 0;
    await until(() => (sel.ingestCounters()?.accepted.metrics ?? 0) > after, 5000, 'live rounds after the restart');
    expect(after).toBeGreaterThan(acceptedBefore);
    expect(await first(sel)).toBe(FAST);
  }, 60_000);
});

describe('selector (embedded broker) restart under a running agent', () => {
  it('answers from persisted state at once; the agent reconnects and its queued rounds arrive', async () => {
    const cfg = selectorConfig({ listen: `127.0.0.1:${await freeTcpPort()}` }, 30);
    let sel = createSelector(cfg);
    await sel.start();
    const url = `mqtt://127.0.0.1:${sel.mqttAddress()?.port}`;
    startAgent(url, 1);
    let got: string | undefined;
    const end = Date.now() + 15_000;
    while ((got = await first(sel)) !== FAST && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
    expect(got).toBe(FAST);
    await until(() => (sel.ingestCounters()?.accepted.metrics ?? 0) >= 2, 5000, 'two rounds before the restart');
    await sel.close();
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, 2500));
    sel = createSelector(cfg);
    open.push(sel);
    await sel.start();
    const upAt = Date.now();
    // Before the agent is back: persisted rankings.
    expect(sel.ingestCounters()?.accepted.metrics).toBe(0);
    expect(await first(sel)).toBe(FAST);
    await until(() => {
      sel.flush();
      const n = sel.store()?.db.prepare('SELECT COUNT(*) AS n FROM results WHERE agent = ? AND ts > ? AND ts < ?').get('pop-a', downAt, upAt) as { n: number };
      return n.n >= 2;
    }, 20_000, 'rounds queued while the selector was down stored');
    expect(sel.agentStates().get('pop-a')).toBe('fresh');
  }, 60_000);
});
