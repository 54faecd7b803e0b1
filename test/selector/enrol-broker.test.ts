// One-step enrolment for external brokers: `vantage-selector agents add ID --broker
// mosquitto|nats` (dist CLI) enrols the agent in the selector DB and prints the broker's
// entry. The Mosquitto line is used as it is by a real Mosquitto with the shipped ACL.
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkAgentPassword } from '../../selector/mqtt/credentials.js';
import { mosquittoPasswdLine } from '../../selector/mqtt/broker-entries.js';
import { Store } from '../../selector/store/store.js';
import { startMosquitto, type MosquittoHandle } from '../helpers/mosquitto.js';

const CLI = join(process.cwd(), 'dist/selector/cli.js');
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'vantage-enrol-'));
const db = join(dir, 'selector.db');
const conf = join(dir, 'selector.yaml');
let broker: MosquittoHandle | undefined;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args]);
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

beforeAll(() => {
  if (!existsSync(CLI)) execFileSync('npx', ['tsc', '-p', '.'], { stdio: 'ignore' });
  writeFileSync(conf, [
    'dns:', '  listen: ["127.0.0.1:0"]',
    '  zones: [{ name: example.test, ns: [ns1.example.test], hostmaster: hostmaster.example.test }]',
    `db: ${db}`, '',
  ].join('\n'));
});
afterAll(async () => { await broker?.stop(); });

describe('agents add --broker', () => {
  it('mosquitto: --json keeps id and password and adds the password-file line Mosquitto accepts', async () => {
    const r = await cli(['agents', 'add', 'pop-m', '--broker', 'mosquitto', '--json', '--config', conf]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { id: string; password: string; broker: { kind: string; entry: string; hint: string } };
    expect(Object.keys(out)).toEqual(['id', 'password', 'broker']);
    expect(out.broker.kind).toBe('mosquitto');
    expect(out.broker.entry).toMatch(/^pop-m:\$7\$101\$[A-Za-z0-9+/=]{16}\$[A-Za-z0-9+/=]{88}$/);
    const store = new Store(db);
    expect(await checkAgentPassword(store, 'pop-m', out.password)).toBe(true);
    store.close();

    broker = await startMosquitto({ passwdLines: [out.broker.entry], aclFile: resolve(__dirname, '../../systemd/mosquitto.acl') });
    const c = await mqtt.connectAsync(broker.url, { username: 'pop-m', password: out.password, reconnectPeriod: 0 });
    await c.endAsync();
    await expect(mqtt.connectAsync(broker.url, { username: 'pop-m', password: `${out.password}x`, reconnectPeriod: 0 }, false)).rejects.toThrow(/Not authorized|Bad username/i);
  }, 30_000);

  it('nats: prints the user block with the agent-only permissions', async () => {
    const r = await cli(['agents', 'add', 'pop-n', '--broker', 'nats', '--config', conf]);
    expect(r.code).toBe(0);
    const password = /^password: (\S+)$/m.exec(r.stdout)?.[1] as string;
    expect(r.stdout).toContain(`{ user: "pop-n", password: "${password}", allowed_connection_types: ["MQTT"], permissions: { publish: ["vantage.v1.agents.pop-n.>"], subscribe: ["vantage.v1.config", "vantage.v1.config.>", "$MQTT.sub.>"] } }`);
  }, 30_000);

  it('without --broker the --json output is unchanged; a bad --broker is a usage error', async () => {
    const plain = JSON.parse((await cli(['agents', 'add', 'pop-p', '--json', '--config', conf])).stdout) as Record<string, unknown>;
    expect(Object.keys(plain)).toEqual(['id', 'password']);
    const bad = await cli(['agents', 'add', 'pop-q', '--broker', 'rabbit', '--config', conf]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe('vantage-selector: --broker: expected mosquitto or nats, got "rabbit"\n');
  }, 30_000);

  it('the line has the same form mosquitto_passwd writes', () => {
    const file = join(dir, 'ref.passwd');
    writeFileSync(file, '');
    execFileSync('mosquitto_passwd', ['-b', file, 'u', 'p']);
    const ref = execFileSync('cat', [file]).toString().trim();
    const ours = mosquittoPasswdLine('u', 'p');
    expect(ours.replace(/\$[^$]+\$[^$]+$/, '')).toBe(ref.replace(/\$[^$]+\$[^$]+$/, ''));
  });
});
