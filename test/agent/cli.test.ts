// vantage-agent as a process (dist/agent/cli.js, built by `npm run build`).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseResult } from '../../shared/protocol.js';
import { startBadServer, type BadServer } from '../helpers/bad-server.js';
import { makeTestCerts, type TestCerts } from '../helpers/certs.js';

const CLI = join(process.cwd(), 'dist/agent/cli.js');
let http: BadServer;
let https: BadServer;
let certs: TestCerts;

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { timeout: 15_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? -1) : 0, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  if (!existsSync(CLI)) execFileSync('npx', ['tsc', '-p', '.'], { stdio: 'ignore' });
  certs = makeTestCerts(['www.example.test']);
  http = await startBadServer({ host: '127.2.5.1', expectHost: 'www.example.test' });
  https = await startBadServer({ host: '127.2.5.2', tls: { key: certs.key, cert: certs.cert } });
});
afterAll(async () => {
  await http?.close();
  await https?.close();
  certs?.cleanup();
});

describe('vantage-agent probe', () => {
  it('prints exactly a v1 Result with --json', async () => {
    const r = await run(['probe', `http://www.example.test:${http.port}/ok`, '--address', '127.2.5.1', '--json']);
    expect(r.code).toBe(0);
    const result = parseResult(JSON.parse(r.stdout));
    expect(result).toMatchObject({ service: 'www.example.test', address: '127.2.5.1', ok: true, status: 200, bytes: 27 });
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
  });

  it('exits 0 when the probe ran but failed', async () => {
    const r = await run(['probe', `http://www.example.test:${http.port}/reset`, '--address', '127.2.5.1', '--json']);
    expect(r.code).toBe(0);
    expect(parseResult(JSON.parse(r.stdout))).toMatchObject({ ok: false, error: 'reset' });
  });

  it('--host sets Host: a wrong one gets 421 → http_status; human output is one line', async () => {
    const r = await run(['probe', `http://127.2.5.1:${http.port}/ok`, '--address', '127.2.5.1', '--host', 'other.example.test']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^FAIL http_status status=421 other\.example\.test via 127\.2\.5\.1 /);
  });

  it('https with --ca verifies; without it fails as tls', async () => {
    const url = `https://www.example.test:${https.port}/ok`;
    const good = await run(['probe', url, '--address', '127.2.5.2', '--ca', certs.caFile, '--json']);
    expect(parseResult(JSON.parse(good.stdout))).toMatchObject({ ok: true, status: 200 });
    const bad = await run(['probe', url, '--address', '127.2.5.2', '--json', '--timeout-ms', '2000']);
    expect(parseResult(JSON.parse(bad.stdout))).toMatchObject({ ok: false, error: 'tls' });
  });

  it.each([
    [['probe', 'http://x.test/'], /^vantage-agent: required option '--address <ip>' not specified\n$/],
    [['probe', 'http://x.test/', '--address', '300.1.1.1'], /^vantage-agent: --address: not an IP address: "300.1.1.1"\n$/],
    [['probe', 'ftp://x.test/', '--address', '127.0.0.1'], /^vantage-agent: URL: scheme must be http or https/],
    [['probe', 'http://x.test/', '--address', '127.0.0.1', '--timeout-ms', '0'], /^vantage-agent: --timeout-ms: expected an integer/],
    [['probe', 'http://x.test/', '--address', '127.0.0.1', '--expect-status', '2x0'], /^vantage-agent: --expect-status:/],
    [['nope'], /^vantage-agent: unknown command 'nope'\n$/],
  ])('bad arguments %j → exit 2, one line', async (args, message) => {
    const r = await run(args as string[]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
  });

  it.each([[['--help']], [['run', '--help']], [['probe', '--help']]])('%j exits 0 with usage', async (args) => {
    const r = await run(args);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Usage: vantage-agent/);
  });
});

describe('vantage-agent run', () => {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it.each([
    ['id: Bad_Id\nmqtt: { url: "mqtt://127.0.0.1:1" }\n', /^vantage-agent: id: expected/],
    ['id: pop-a\nmqtt: { url: "http://127.0.0.1:1" }\n', /^vantage-agent: mqtt\.url: expected mqtt:\/\//],
    ['id: pop-a\nmqtt: { url: "mqtt://127.0.0.1:1" }\nintervalS: 0\n', /^vantage-agent: intervalS: /],
    ['id: pop-a\nmqtt: { url: "mqtt://127.0.0.1:1" }\nbogus: 1\n', /^vantage-agent: bogus: unknown key\n$/],
  ])('bad config %j → exit 2 naming the key', async (yaml, message) => {
    const file = join(dir, `c${Math.random()}.yaml`);
    writeFileSync(file, yaml);
    const r = await run(['run', '--config', file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('missing config file → exit 2', async () => {
    const r = await run(['run', '--config', join(dir, 'missing.yaml')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^vantage-agent: cannot read config file .*missing\.yaml: ENOENT\n$/);
  });
});
