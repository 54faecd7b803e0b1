// Every invalid config value, for both daemons, as a table: `run --config BAD` exits 2
// with exactly one stderr line that starts by naming the key (the real CLIs from dist/).
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'vantage-badcfg-'));

type Patch = [path: string, value: unknown];

const selectorBase = () => ({
  dns: { listen: ['127.0.0.1:0'], zones: [{ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'h.example.test' }] },
  mqtt: { listen: '127.0.0.1:0' },
  http: { listen: '127.0.0.1:0' },
  db: join(dir, 'selector.db'),
  auth: { agents: 'off' },
  prefixes: [{ agent: 'pop-a', prefixes: ['198.51.100.0/24'] }],
  ranking: {},
  retention: {},
  services: [{ name: 'www.example.test', probe: { port: 8080 }, sites: [{ id: 'us-east', address: '127.2.0.1' }, { id: 'eu-west', address: '127.2.0.2' }] }],
  log: { level: 'info' },
});

const agentBase = () => ({
  id: 'pop-a', pop: 'A', mqtt: { url: 'mqtt://127.0.0.1:1', username: 'pop-a', password: 'x' },
  bindAddress: '127.0.0.1', prefixes: ['198.51.100.0/24'], resolvers: ['127.0.0.53'], intervalS: 10, concurrency: 4, queueMax: 10,
  http: { listen: '127.0.0.1:0' }, log: { level: 'info' },
});

/** Sets `a.b[0].c` in obj; value undefined deletes the key. */
function patch(obj: Record<string, unknown>, [path, value]: Patch): Record<string, unknown> {
  const keys = path.replace(/\[(\d+)\]/g, '.$1').split('.');
  let at = obj as Record<string, unknown>;
  for (const k of keys.slice(0, -1)) at = at[k] as Record<string, unknown>;
  const last = keys.at(-1) as string;
  if (value === undefined) delete at[last];
  else at[last] = value;
  return obj;
}

const SELECTOR_CASES: [key: string, p: Patch][] = [
  ['dns.listen[0]', ['dns.listen', ['nowhere']]],
  ['dns.listen', ['dns.listen', []]],
  ['dns.zones', ['dns.zones', []]],
  ['dns.zones[0].name', ['dns.zones[0].name', 'bad name!']],
  ['dns.zones[0].ns', ['dns.zones[0].ns', []]],
  ['dns.maxTcpConnections', ['dns.maxTcpConnections', 0]],
  ['dns.tcpIdleTimeoutMs', ['dns.tcpIdleTimeoutMs', 5]],
  ['dns.rateLimit', ['dns.rateLimit', -1]],
  ['dns.bogus', ['dns.bogus', 1]],
  ['mqtt.url', ['mqtt.url', 'http://127.0.0.1:1883']],
  ['mqtt.listen', ['mqtt.listen', '1.2.3.4']],
  // An embedded broker without agent auth must not listen beyond loopback.
  ['auth.agents', ['mqtt.listen', '0.0.0.0:0']],
  ['mqtt.urls[1]', ['mqtt.urls', ['mqtt://127.0.0.1:1', 'tcp://x']]],
  ['mqtt.urls', ['mqtt.urls', []]],
  ['mqtt.tls.key', ['mqtt.tls', { cert: '/x.pem' }]],
  ['http.listen', ['http.listen', 'x']],
  ['http.token', ['http.token', 'short']],
  ['http.token', ['http.listen', '0.0.0.0:0']],
  ['db', ['db', '']],
  ['auth.agents', ['auth.agents', 'maybe']],
  ['prefixes[0].agent', ['prefixes[0].agent', 'BAD']],
  ['prefixes[0].prefixes[0]', ['prefixes[0].prefixes[0]', '198.51.100.0/33']],
  ['ranking.windowS', ['ranking.windowS', 0]],
  ['ranking.hysteresisPct', ['ranking.hysteresisPct', -1]],
  ['ranking.staleIntervals', ['ranking.staleIntervals', 'three']],
  ['ranking.downAfter', ['ranking.downAfter', 1.5]],
  ['retention.rawHours', ['retention.rawHours', 0]],
  ['retention.rollupDays', ['retention.rollupDays', 0]],
  ['retention.maxDbMiB', ['retention.maxDbMiB', 0]],
  ['services[0].name', ['services[0].name', 'www.other.test']],
  ['services[0].ttl', ['services[0].ttl', -5]],
  ['services[0].answers', ['services[0].answers', 0]],
  ['services[0].policy', ['services[0].policy', 'random']],
  ['services[0].probe.scheme', ['services[0].probe.scheme', 'ftp']],
  ['services[0].probe.port', ['services[0].probe.port', 70000]],
  ['services[0].probe.path', ['services[0].probe.path', 'nopath']],
  ['services[0].probe.expectStatus[0]', ['services[0].probe.expectStatus', [99]]],
  ['services[0].probe.timeoutMs', ['services[0].probe.timeoutMs', 0]],
  ['services[0].sites[0].address', ['services[0].sites[0].address', '999.1.1.1']],
  ['services[0].sites[0].id', ['services[0].sites[0].id', '-bad']],
  ['services[0].sites[1].id', ['services[0].sites[1].id', 'us-east']],
  ['services[0].sites[0].cost', ['services[0].sites[0].cost', -1]],
  ['services[0].sites[0].weight', ['services[0].sites[0].weight', 0]],
  ['log.level', ['log.level', 'loud']],
  ['bogus', ['bogus', 1]],
];

const AGENT_CASES: [key: string, p: Patch][] = [
  ['id', ['id', 'BAD_ID']],
  ['id', ['id', undefined]],
  ['mqtt.url', ['mqtt.url', 'tcp://x']],
  ['mqtt', ['mqtt', undefined]],
  ['mqtt.url', ['mqtt.url', undefined]],
  ['mqtt.urls[0]', ['mqtt.urls', ['http://x']]],
  ['mqtt.keepaliveS', ['mqtt.keepaliveS', 1]],
  ['bindAddress', ['bindAddress', 'not-an-ip']],
  ['prefixes[0]', ['prefixes[0]', '1.2.3.0/40']],
  ['resolvers', ['resolvers', 'manual']],
  ['intervalS', ['intervalS', 0]],
  ['concurrency', ['concurrency', 0]],
  ['queueMax', ['queueMax', 0]],
  ['http.listen', ['http.listen', 'nope']],
  ['log.level', ['log.level', 'x']],
  ['bogus', ['bogus', true]],
];

function runCli(cli: string, config: string): Promise<{ code: number | null; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(process.cwd(), 'dist', cli, 'cli.js'), 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let stdout = '';
    child.stderr.on('data', (d: Buffer) => { stderr += d.toString(); });
    child.stdout.on('data', (d: Buffer) => { stdout += d.toString(); });
    // A config that is accidentally valid would start the daemon: stop it, the case fails.
    const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stderr, stdout }); });
  });
}

async function table(cli: 'selector' | 'agent', cases: [string, Patch][], base: () => Record<string, unknown>): Promise<void> {
  const prog = `vantage-${cli}`;
  // A few at a time: node start-up dominates and the machine is small.
  const outcomes: { key: string; p: Patch; r: Awaited<ReturnType<typeof runCli>> }[] = [];
  for (let i = 0; i < cases.length; i += 4) {
    outcomes.push(...await Promise.all(cases.slice(i, i + 4).map(async ([key, p], j) => {
      const file = join(dir, `${cli}-${i + j}.yaml`);
      writeFileSync(file, JSON.stringify(patch(base(), p)));
      return { key, p, r: await runCli(cli, file) };
    })));
  }
  for (const { key, p, r } of outcomes) {
    const what = `${prog} with ${p[0]} = ${JSON.stringify(p[1])}`;
    expect(r.code, what).toBe(2);
    expect(r.stdout, what).toBe('');
    expect(r.stderr.split('\n'), what).toHaveLength(2);
    expect(r.stderr.startsWith(`${prog}: ${key}: `), `${what}: ${r.stderr}`).toBe(true);
  }
}

describe('invalid config values: one line naming the key, exit 2', () => {
  it('the base configs are valid (control: the tables test the patched key only)', async () => {
    const { parseSelectorConfig } = await import('../../selector/config.js');
    const { parseAgentConfig } = await import('../../agent/config.js');
    expect(() => parseSelectorConfig(selectorBase())).not.toThrow();
    expect(() => parseAgentConfig(agentBase())).not.toThrow();
  });

  it(`vantage-selector run: ${SELECTOR_CASES.length} invalid values`, async () => {
    await table('selector', SELECTOR_CASES, selectorBase);
  }, 180_000);

  it(`vantage-agent run: ${AGENT_CASES.length} invalid values`, async () => {
    await table('agent', AGENT_CASES, agentBase);
  }, 180_000);

  it('unreadable YAML: one line naming the file, exit 2', async () => {
    const file = join(dir, 'broken.yaml');
    writeFileSync(file, 'dns: [\n');
    for (const cli of ['selector', 'agent'] as const) {
      const r = await runCli(cli, file);
      expect(r.code).toBe(2);
      expect(r.stderr.split('\n')).toHaveLength(2);
      expect(r.stderr).toContain(file);
    }
  });
});
