// The vantage-selector command line (dist/selector/cli.js, built by `npm run build`):
// help, the one-line config error contract, agent enrolment, run + SIGTERM.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { Store } from '../../selector/store/store.js';
import { checkAgentPassword } from '../../selector/mqtt/credentials.js';

const CLI = join(process.cwd(), 'dist/selector/cli.js');
const run = promisify(execFile);
const dir = mkdtempSync(join(tmpdir(), 'vantage-cli-'));
const db = join(dir, 'var', 'selector.db');
const conf = join(dir, 'selector.yaml');

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
    'mqtt: { listen: "127.0.0.1:0" }', 'http: { listen: "127.0.0.1:0" }', `db: ${db}`,
    'services:', '  - name: www.example.test', '    sites: [{ id: us-east, address: 127.2.0.1 }]', '',
  ].join('\n'));
});

describe('vantage-selector CLI', () => {
  for (const args of [['--help'], ['run', '--help'], ['agents', '--help'], ['agents', 'add', '--help'], ['agents', 'remove', '--help']]) {
    it(`${args.join(' ')} exits 0 with usage`, async () => {
      const r = await cli(args);
      expect(r.code).toBe(0);
      expect(r.stdout).toMatch(/^Usage: vantage-selector/);
    });
  }

  it('bad config: one line naming the key, exit 2', async () => {
    const bad = join(dir, 'bad.yaml');
    writeFileSync(bad, 'dns:\n  listen: ["nowhere"]\n  zones: [{ name: example.test, ns: [ns1.example.test], hostmaster: h.example.test }]\n');
    const r = await cli(['run', '--config', bad]);
    expect(r.code).toBe(2);
    expect(r.stderr).toBe('vantage-selector: dns.listen[0]: expected host:port (IPv6 as [addr]:port)\n');
  });

  it('unknown key and missing file: exit 2', async () => {
    const bad = join(dir, 'unknown.yaml');
    writeFileSync(bad, 'dns: { zones: [{ name: example.test, ns: [ns1.example.test], hostmaster: h.example.test }] }\nbogus: 1\n');
    expect(await cli(['agents', 'add', 'pop-a', '--config', bad])).toMatchObject({ code: 2, stderr: 'vantage-selector: bogus: unknown key\n' });
    const missing = await cli(['run', '--config', join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.split('\n')).toHaveLength(2);
  });

  it('agents add --json prints the password once and stores only a scrypt hash', async () => {
    const r = await cli(['agents', 'add', 'pop-nyc', '--config', conf, '--json']);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { id: string; password: string };
    expect(out.id).toBe('pop-nyc');
    expect(out.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    const store = new Store(db);
    try {
      const row = store.db.prepare('SELECT * FROM agents WHERE id = ?').get('pop-nyc') as Record<string, unknown>;
      expect(JSON.stringify(row)).not.toContain(out.password);
      expect(await checkAgentPassword(store, 'pop-nyc', out.password)).toBe(true);
      expect(await checkAgentPassword(store, 'pop-nyc', 'wrong')).toBe(false);
    } finally {
      store.close();
    }
  });

  it('agents add rejects a bad id (exit 2); remove works and reports unknown ids', async () => {
    expect(await cli(['agents', 'add', 'Bad_Id', '--config', conf])).toMatchObject({ code: 2 });
    await cli(['agents', 'add', 'pop-gone', '--config', conf]);
    expect(await cli(['agents', 'remove', 'pop-gone', '--config', conf])).toMatchObject({ code: 0, stdout: 'agent pop-gone removed\n' });
    expect(await cli(['agents', 'remove', 'pop-gone', '--config', conf])).toMatchObject({ code: 1, stderr: 'vantage-selector: agent pop-gone is not enrolled\n' });
  });

  it('run starts and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, [CLI, 'run', '--config', conf, '--log-level', 'info'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    const deadline = Date.now() + 15_000;
    while (!stderr.includes('selector started') && Date.now() < deadline && child.exitCode === null) await new Promise((r) => setTimeout(r, 50));
    expect(stderr).toContain('selector started');
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
