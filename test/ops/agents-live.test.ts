// Operator changes through a running selector (a real `vantage-selector run` process
// with `auth.agents: required`): `agents add` enrols through the admin API and the
// agent can connect at once; `agents remove` closes its MQTT connection, refuses its
// old password, and forgets its windows, answers and prefixes (its clients get the
// default answer, in dig and in explain); a drain applies at once. With the selector
// stopped, the same commands write the database of --config.
import mqtt, { type MqttClient } from 'mqtt';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../selector/store/store.js';
import { dig } from '../helpers/dns-client.js';
import { SERVICE, SITES, writeConfig } from '../helpers/fixtures.js';
import { cli, ensureBuilt, startDaemon, type Daemon } from '../helpers/selector-process.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let env: Awaited<ReturnType<typeof writeConfig>>;
let daemon: Daemon;
let cfg: string[];
const passwords: Record<string, string> = {};
const clients: MqttClient[] = [];
const ADDR = Object.fromEntries(SITES.map((s) => [s.id, s.address]));

async function json(args: string[]): Promise<Json> {
  const r = await cli([...args, ...cfg, '--json']);
  expect(r.stderr, args.join(' ')).toBe('');
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout) as Json;
}

function connect(id: string, password: string): Promise<MqttClient> {
  return mqtt.connectAsync(`mqtt://127.0.0.1:${env.ports.mqtt}`, { username: id, password, reconnectPeriod: 0, clientId: `${id}-${Math.random().toString(16).slice(2)}` })
    .then((c) => { clients.push(c); return c; });
}

/** One agent's status, announce and three rounds in which `best` is fastest. */
async function feed(c: MqttClient, id: string, prefix: string, best: string): Promise<void> {
  const now = Date.now();
  const pub = (kind: string, body: Json, retain = false) => c.publishAsync(`vantage/v1/agents/${id}/${kind}`, JSON.stringify({ v: 1, agent: id, ...body }), { qos: 1, retain });
  await pub('status', { state: 'online', ts: now }, true);
  await pub('announce', { pop: id, addresses: ['127.1.0.1'], prefixes: [prefix], resolvers: [], ts: now }, true);
  for (let seq = 1; seq <= 3; seq++) {
    const results = SITES.map((s) => {
      const totalMs = s.id === best ? 10 : s.id === 'ap-south' ? 200 : 90;
      return { service: SERVICE, site: s.id, address: s.address, ok: true, status: 200, connectMs: 1, tlsMs: null, ttfbMs: totalMs / 2, totalMs, bytes: 100, error: null };
    });
    await pub('metrics', { seq, ts: now - (3 - seq) * 1000, intervalS: 60, results });
  }
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  ensureBuilt();
  env = await writeConfig({ auth: 'required' });
  expect(readFileSync(env.conf, 'utf8')).toContain('"agents": "required"');
  cfg = ['--config', env.conf];
  daemon = await startDaemon(env.conf);
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.end(true);
  await daemon?.stop();
});

describe('agents add / remove and drains through the running selector', () => {
  it('agents add (admin API) prints {"id","password"} once; the agent connects at once', async () => {
    for (const id of ['pop-nyc', 'pop-lon']) {
      const r = await cli(['agents', 'add', id, ...cfg, '--json']);
      expect(r).toMatchObject({ code: 0, stderr: '' });
      const out = JSON.parse(r.stdout) as { id: string; password: string };
      expect(Object.keys(out)).toEqual(['id', 'password']);
      expect(out.id).toBe(id);
      passwords[id] = out.password;
    }
    // Through the API, not the file: the daemon logged it (never the password).
    expect(daemon.stderr()).toContain('"agent":"pop-nyc","msg":"agent enrolled"');
    expect(daemon.stderr()).not.toContain(passwords['pop-nyc']);
    await feed(await connect('pop-nyc', passwords['pop-nyc'] as string), 'pop-nyc', '198.51.100.0/24', 'us-east');
    await feed(await connect('pop-lon', passwords['pop-lon'] as string), 'pop-lon', '203.0.113.0/24', 'eu-west');
    await until('both agents ranked', async () => {
      const e = await json(['explain', SERVICE, '--client', '198.51.100.7']);
      const l = await json(['explain', SERVICE, '--client', '203.0.113.7']);
      return e.answerKey === 'pop-nyc' && l.answerKey === 'pop-lon';
    });
    expect((await dig(env.ports.dns, SERVICE, { subnet: '198.51.100.7/32' })).addresses[0]).toBe(ADDR['us-east']);
  }, 90_000);

  it('a drain applies at once: the drained site leaves every answer', async () => {
    expect(await cli(['sites', 'drain', SERVICE, 'us-east', ...cfg])).toMatchObject({ code: 0, stdout: `site us-east of ${SERVICE} drained\n` });
    const d = await dig(env.ports.dns, SERVICE, { subnet: '198.51.100.7/32' });
    expect(d.addresses).not.toContain(ADDR['us-east']);
    expect(d.addresses.length).toBeGreaterThan(0);
    expect(await cli(['sites', 'undrain', SERVICE, 'us-east', ...cfg])).toMatchObject({ code: 0 });
    expect((await dig(env.ports.dns, SERVICE, { subnet: '198.51.100.7/32' })).addresses[0]).toBe(ADDR['us-east']);
  }, 60_000);

  it('agents remove closes its connection, refuses the old password and maps its clients to the default', async () => {
    const nyc = clients[0] as MqttClient;
    const closed = new Promise<void>((resolve) => nyc.once('close', () => resolve()));
    const r = await cli(['agents', 'remove', 'pop-nyc', ...cfg, '--json']);
    expect(r).toMatchObject({ code: 0, stdout: '{"id":"pop-nyc","removed":true}\n' });
    await closed;
    const again = await connect('pop-nyc', passwords['pop-nyc'] as string).then(() => 'connected', (e: { code?: number }) => e.code);
    expect(again).toBe(4); // CONNACK 4: bad user name or password
    // The default is now pop-lon's view alone: eu-west first.
    const e = await json(['explain', SERVICE, '--client', '198.51.100.7']);
    expect(e.match.via).toBe('default');
    expect(e.answerKey).toBe('default');
    expect(e.defaultAgents).toEqual(['pop-lon']);
    expect(e.order[0]).toBe('eu-west');
    const d = await dig(env.ports.dns, SERVICE, { subnet: '198.51.100.7/32' });
    expect(d.addresses).toEqual(e.addresses);
    expect(d.addresses[0]).toBe(ADDR['eu-west']);
    expect(d.addresses).toEqual((await dig(env.ports.dns, SERVICE, { subnet: '192.0.2.77/32' })).addresses);
    // Nothing of it is left in the lists either.
    expect((await json(['agents', 'list']) as unknown as Json[]).map((a) => a.id)).toEqual(['pop-lon']);
    expect((await json(['prefixes', 'list']) as unknown as Json[]).some((p) => p.agent === 'pop-nyc')).toBe(false);
    // Removing it again: nothing to remove (exit 1 in text mode, removed=false with --json).
    expect(await cli(['agents', 'remove', 'pop-nyc', ...cfg])).toMatchObject({ code: 1, stderr: 'vantage-selector: agent pop-nyc is not enrolled\n' });
    expect(await cli(['agents', 'add', 'Bad_Id', ...cfg])).toMatchObject({ code: 2 });
  }, 90_000);

  it('with the selector stopped, agents add/remove and drains write the database of --config', async () => {
    expect(await daemon.stop()).toBe(0);
    const r = await cli(['agents', 'add', 'pop-new', ...cfg, '--json']);
    expect(r.code).toBe(0);
    expect(await cli(['sites', 'drain', SERVICE, 'ap-south', ...cfg])).toMatchObject({ code: 0 });
    expect(await cli(['agents', 'remove', 'pop-lon', ...cfg])).toMatchObject({ code: 0, stdout: 'agent pop-lon removed\n' });
    const store = new Store(env.db, 'readonly');
    try {
      expect(store.listAgents().map((a) => [a.id, a.enrolled])).toEqual([['pop-new', true]]);
      expect(store.listServices()[0]?.sites.find((s) => s.id === 'ap-south')?.drained).toBe(true);
    } finally {
      store.close();
    }
    // The next start serves them: the new agent connects, the drain holds.
    daemon = await startDaemon(env.conf);
    await connect('pop-new', (JSON.parse(r.stdout) as { password: string }).password);
    expect((await dig(env.ports.dns, SERVICE, { subnet: '192.0.2.77/32' })).addresses).not.toContain(ADDR['ap-south']);
  }, 90_000);
});
