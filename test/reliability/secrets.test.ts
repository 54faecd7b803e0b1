// Security with real processes: the selector daemon (embedded broker over mqtts, auth
// required, admin token) and real agent processes. An agent pinned to the wrong CA never
// connects; a wrong password is refused; the admin API refuses requests without the
// token; and no secret (agent passwords, admin token) appears in any process's logs (at
// debug level) or in --json output, except the one-time `agents add` output.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';
import { freeTcpPort, freeUdpPort } from '../helpers/net.js';
import { until } from '../helpers/fixtures.js';

const SELECTOR = join(process.cwd(), 'dist/selector/cli.js');
const AGENT = join(process.cwd(), 'dist/agent/cli.js');
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'vantage-secrets-'));
const TOKEN = `tok-${randomBytes(12).toString('hex')}`;
const conf = join(dir, 'selector.yaml');
let certs: TestCerts;
let otherCa: TestCerts;
let mqttPort: number;
let httpPort: number;
const passwords: Record<string, string> = {};
const procs: { name: string; child: ChildProcess; stderr: string; stdout: string }[] = [];
const outputs: string[] = [];

function start(name: string, args: string[]): (typeof procs)[number] {
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const p = { name, child, stderr: '', stdout: '' };
  child.stderr?.on('data', (d: Buffer) => { p.stderr += d.toString(); });
  child.stdout?.on('data', (d: Buffer) => { p.stdout += d.toString(); });
  procs.push(p);
  return p;
}

function stop(p: (typeof procs)[number]): Promise<void> {
  const c = p.child;
  if (c.exitCode !== null || c.signalCode !== null) return Promise.resolve();
  const done = new Promise<void>((r) => c.once('exit', () => r()));
  c.kill('SIGTERM');
  return done;
}

async function selectorCli(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [SELECTOR, ...args, '--config', conf]);
  return stdout;
}

function agent(id: string, password: string, caFile: string): (typeof procs)[number] {
  const file = join(dir, `${id}.yaml`);
  writeFileSync(file, JSON.stringify({
    id, mqtt: { url: `mqtts://localhost:${mqttPort}`, username: id, password, ca: caFile, keepaliveS: 5 },
    bindAddress: '127.1.8.1', prefixes: ['198.51.100.0/24'], resolvers: [], intervalS: 1, log: { level: 'debug' },
  }));
  return start(id, [AGENT, 'run', '--config', file]);
}

async function api(path: string, token?: string): Promise<Response> {
  return fetch(`http://127.0.0.1:${httpPort}${path}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
}

beforeAll(async () => {
  certs = makeTestCerts(['localhost']);
  otherCa = makeTestCerts(['localhost']);
  writeFileSync(join(certs.dir, 'srv.pem'), certs.cert);
  writeFileSync(join(certs.dir, 'srv.key'), certs.key);
  mqttPort = await freeTcpPort();
  httpPort = await freeTcpPort();
  const dnsPort = await freeUdpPort();
  writeFileSync(conf, JSON.stringify({
    dns: { listen: [`127.0.0.1:${dnsPort}`], zones: [{ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'h.example.test' }] },
    mqtt: { listen: `127.0.0.1:${mqttPort}`, tls: { cert: join(certs.dir, 'srv.pem'), key: join(certs.dir, 'srv.key') } },
    http: { listen: `127.0.0.1:${httpPort}`, token: TOKEN },
    db: join(dir, 'selector.db'),
    auth: { agents: 'required' },
    services: [{ name: 'www.example.test', probe: { port: 9, timeoutMs: 200 }, sites: [{ id: 'a', address: '127.2.8.1' }] }],
    log: { level: 'debug' },
  }));
  for (const id of ['pop-a', 'pop-b']) {
    const out = await selectorCli(['agents', 'add', id, '--json']);
    const parsed = JSON.parse(out) as { id: string; password: string };
    expect(parsed.id).toBe(id);
    expect(parsed.password.length).toBeGreaterThanOrEqual(16);
    passwords[id] = parsed.password;
  }
  const sel = start('selector', [SELECTOR, 'run', '--config', conf, '--log-level', 'debug']);
  await until(() => sel.stderr.includes('selector started'), 15_000, 'selector started');
}, 60_000);

afterAll(async () => {
  for (const p of procs.reverse()) await stop(p);
  certs?.cleanup();
  otherCa?.cleanup();
});

describe('security with real processes', () => {
  it('an agent pinned to the right CA connects; the wrong CA or a wrong password never does', async () => {
    agent('pop-a', passwords['pop-a'] as string, certs.caFile);
    const wrongCa = agent('pop-b', passwords['pop-b'] as string, otherCa.caFile);
    const wrongPw = agent('pop-c', passwords['pop-a'] as string, certs.caFile);
    const online = async (id: string): Promise<boolean> => {
      // Enrolled but never connected shows as lastSeen null.
      const list = await (await api('/api/agents', TOKEN)).json() as { id: string; state: string; lastSeen: number | null }[];
      return list.some((a) => a.id === id && a.lastSeen !== null);
    };
    const end = Date.now() + 15_000;
    while (!(await online('pop-a'))) {
      if (Date.now() > end) throw new Error('pop-a never came online');
      await new Promise((r) => setTimeout(r, 200));
    }
    await new Promise((r) => setTimeout(r, 2500)); // several reconnect attempts of the others
    expect(await online('pop-b')).toBe(false);
    expect(await online('pop-c')).toBe(false);
    expect(wrongCa.stderr).toMatch(/certificate|self.signed|unable to verify|UNABLE_TO/i);
    const sel = procs.find((p) => p.name === 'selector') as (typeof procs)[number];
    expect(sel.stderr).toContain('MQTT authentication refused');
    expect(wrongPw.stderr.length).toBeGreaterThan(0);
  }, 30_000);

  it('the admin API refuses requests without the token, or with a wrong one', async () => {
    for (const path of ['/api/agents', '/metrics', '/api/explain?name=www.example.test&client=198.51.100.1', '/']) {
      expect((await api(path)).status).toBe(401);
      expect((await api(path, `${TOKEN}x`)).status).toBe(401);
    }
    expect((await api('/api/agents', TOKEN)).status).toBe(200);
  });

  it('no secret in --json outputs of the operator commands', async () => {
    for (const args of [['agents', 'list', '--json'], ['metrics', '--json'], ['events', '--json'], ['explain', 'www.example.test', '--client', '198.51.100.7', '--json']]) {
      outputs.push(await selectorCli(args));
    }
    expect(outputs.join('\n')).toContain('pop-a');
    for (const out of outputs) for (const secret of [TOKEN, ...Object.values(passwords)]) expect(out).not.toContain(secret);
  });

  it('no secret in any process log (debug level), nor in clear in the database files', async () => {
    for (const p of [...procs].reverse()) await stop(p);
    const secrets = [TOKEN, ...Object.values(passwords)];
    for (const p of procs) {
      expect(p.stderr.length, `${p.name} logged something`).toBeGreaterThan(0);
      for (const s of secrets) expect(p.stderr.includes(s) || p.stdout.includes(s), `${p.name} leaks a secret`).toBe(false);
    }
    for (const f of readdirSync(dir).filter((n) => n.startsWith('selector.db'))) {
      const bytes = readFileSync(join(dir, f));
      for (const s of Object.values(passwords)) expect(bytes.includes(Buffer.from(s)), `${f} holds a plaintext password`).toBe(false);
    }
  }, 30_000);
});
