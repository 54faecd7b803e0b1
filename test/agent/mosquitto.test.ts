// The real agent process (dist/agent/cli.js, built by `npm run build`) against a real
// Mosquitto: last will on SIGKILL, rounds made while the broker is down arrive after
// it restarts on the same port, SIGTERM publishes offline and exits 0.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { CATALOGUE_TOPIC, agentTopic, parseMetrics, parseStatus, parseAnnounce } from '../../shared/protocol.js';
import { startBadServer, type BadServer } from '../helpers/bad-server.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';
import { watch, type Watcher } from '../helpers/mqtt-watch.js';

const CLI = join(process.cwd(), 'dist/agent/cli.js');
let site: BadServer;
let broker: MosquittoHandle;
let dir: string;
let child: ChildProcess | undefined;
let watcher: Watcher | undefined;

function startAgent(id: string): ChildProcess {
  const conf = join(dir, `${id}.yaml`);
  writeFileSync(conf, [
    `id: ${id}`, 'pop: Mosquitto POP', `mqtt: { url: "${broker.url}", keepaliveS: 5 }`,
    'bindAddress: 127.1.2.1', 'prefixes: [203.0.113.0/24]', 'resolvers: auto', 'intervalS: 1', 'concurrency: 4',
    'log: { level: warn }',
  ].join('\n'));
  const c = spawn(process.execPath, [CLI, 'run', '--config', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  c.stderr?.on('data', () => undefined);
  return c;
}

async function publishCatalogue(): Promise<void> {
  const c = await mqtt.connectAsync(broker.url, { protocolVersion: 4 });
  await c.publishAsync(CATALOGUE_TOPIC, JSON.stringify({
    v: 1, ts: Date.now(),
    services: [{ name: 'www.example.test', probe: { scheme: 'http', port: site.port, path: '/ok', expectStatus: [200], timeoutMs: 400 },
      sites: [{ id: 'm1', address: site.host }] }],
  }), { qos: 1, retain: true });
  await c.endAsync();
}

const exited = (c: ChildProcess): Promise<number | null> =>
  new Promise((resolve) => (c.exitCode !== null || c.signalCode !== null ? resolve(c.exitCode) : c.once('exit', (code) => resolve(code))));

beforeAll(async () => {
  if (!existsSync(CLI)) execFileSync('npx', ['tsc', '-p', '.'], { stdio: 'ignore' });
  dir = mkdtempSync(join(tmpdir(), 'vantage-agent-'));
  site = await startBadServer({ host: '127.2.3.1' });
  broker = await startMosquitto();
  await publishCatalogue();
});
afterEach(async () => {
  if (child && child.exitCode === null && child.signalCode === null) {
    child.kill('SIGKILL');
    await exited(child);
  }
  child = undefined;
  await watcher?.close();
  watcher = undefined;
});
afterAll(async () => {
  await broker?.stop();
  await site?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('agent process with Mosquitto', () => {
  it('publishes v1 messages; the last will says offline when the process is killed', async () => {
    watcher = await watch(broker.url, 'vantage/v1/agents/pop-kill/#');
    child = startAgent('pop-kill');
    const statusTopic = agentTopic('pop-kill', 'status');
    await watcher.waitFor((m) => m.topic === statusTopic && parseStatus(m.payload).state === 'online', 10_000, 'online');
    const ann = parseAnnounce((await watcher.waitFor((m) => m.topic.endsWith('/announce'))).payload, { topicAgent: 'pop-kill' });
    expect(ann).toMatchObject({ addresses: ['127.1.2.1'], prefixes: ['203.0.113.0/24'] });
    const metrics = parseMetrics((await watcher.waitFor((m) => m.topic.endsWith('/metrics'), 10_000)).payload, { topicAgent: 'pop-kill' });
    expect(metrics.results[0]).toMatchObject({ site: 'm1', ok: true, status: 200 });

    child.kill('SIGKILL');
    await exited(child);
    const off = await watcher.waitFor((m) => m.topic === statusTopic && parseStatus(m.payload).state === 'offline', 10_000, 'will');
    expect(off.retain).toBe(false); // delivered live; the retained copy is checked below
    const late = await watch(broker.url, statusTopic);
    const retained = await late.waitFor(() => true, 3000, 'retained status');
    expect(parseStatus(retained.payload).state).toBe('offline');
    await late.close();
  });

  it('rounds made while Mosquitto is down arrive after it restarts on the same port', async () => {
    child = startAgent('pop-restart');
    watcher = await watch(broker.url, agentTopic('pop-restart', 'metrics'));
    await watcher.waitFor(() => true, 10_000, 'first metrics');
    await watcher.close();
    watcher = undefined;
    await broker.stop();
    const downAt = Date.now();
    await new Promise((r) => setTimeout(r, 3000));
    await broker.start();
    const upAt = Date.now();
    // persistence is off: the retained catalogue is gone, the agent keeps the one it has.
    await publishCatalogue();
    watcher = await watch(broker.url, agentTopic('pop-restart', 'metrics'), { reconnectPeriod: 100 });
    const during = await watcher.waitFor((m) => { const ts = parseMetrics(m.payload).ts; return ts > downAt && ts < upAt; }, 15_000, 'a round from the outage');
    expect(parseMetrics(during.payload).results[0]).toMatchObject({ site: 'm1', ok: true });
  });

  it('SIGTERM publishes offline and exits 0', async () => {
    watcher = await watch(broker.url, agentTopic('pop-term', 'status'));
    child = startAgent('pop-term');
    await watcher.waitFor((m) => parseStatus(m.payload).state === 'online', 10_000, 'online');
    child.kill('SIGTERM');
    expect(await exited(child)).toBe(0);
    await watcher.waitFor((m) => parseStatus(m.payload).state === 'offline', 5000, 'offline');
  });
});
