// The shipped Prometheus alert rules (systemd/prometheus/vantage.rules.yml):
// - `promtool test rules` runs their unit tests (what fires each alert, and what must not);
// - a real `prometheus` scrapes a real selector fed by a real agent process; the agent is
//   killed (SIGKILL) and VantageAgentOffline fires in Prometheus's alerts API; the per
//   agent × site latency series is in Prometheus while the agent runs.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { parseSelectorConfig } from '../../selector/config.js';
import { createSelector, type Selector } from '../../selector/selector.js';
import { freeTcpPort, freeUdpPort, waitForTcp } from '../helpers/net.js';

const run = promisify(execFile);
const RULES_DIR = join(process.cwd(), 'systemd/prometheus');
const PROMTOOL = '/usr/bin/promtool';
const PROMETHEUS = '/usr/bin/prometheus';
const AGENT_CLI = join(process.cwd(), 'dist/agent/cli.js');
const SITE = '127.2.0.61';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!existsSync(PROMTOOL))('alert rules (promtool)', () => {
  it('are valid and pass their unit tests', async () => {
    const check = await run(PROMTOOL, ['check', 'rules', 'vantage.rules.yml'], { cwd: RULES_DIR });
    expect(check.stdout).toMatch(/SUCCESS: 7 rules found/);
    const test = await run(PROMTOOL, ['test', 'rules', 'vantage.rules.test.yml'], { cwd: RULES_DIR });
    expect(test.stdout).toMatch(/SUCCESS/);
  });

  it('name every alert the operators rely on, each with a unit test', () => {
    const rules = readFileSync(join(RULES_DIR, 'vantage.rules.yml'), 'utf8');
    const tests = readFileSync(join(RULES_DIR, 'vantage.rules.test.yml'), 'utf8');
    for (const name of ['VantageAgentOffline', 'VantageSiteDown', 'VantageAllSitesDown', 'VantageDnsServfail', 'VantageDnsWorkerRestarted', 'VantageIngestRejects', 'VantageStaleRankings']) {
      expect(rules).toContain(`alert: ${name}`);
      expect(tests).toContain(`alertname: ${name}`);
    }
  });
});

describe.skipIf(!existsSync(PROMETHEUS) || !existsSync(AGENT_CLI))('Prometheus scraping a selector', () => {
  const cleanup: (() => Promise<unknown> | void)[] = [];
  afterAll(async () => {
    for (const f of cleanup.reverse()) await f();
  });

  function spawnLogged(cmd: string, args: string[]): { child: ChildProcess; out: () => string } {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => { out += d.toString(); });
    child.stderr?.on('data', (d: Buffer) => { out += d.toString(); });
    cleanup.push(() => { if (child.exitCode === null) child.kill('SIGKILL'); });
    return { child, out: () => out };
  }

  async function promQuery(port: number, path: string): Promise<any> {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    return (await res.json()) as any;
  }

  it('fires VantageAgentOffline after the agent is killed, and not while it runs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vantage-prom-'));
    // A site for the agent to probe.
    const site = http.createServer((_req, res) => res.end('ok'));
    const sitePort = await new Promise<number>((resolve) => site.listen(0, SITE, () => resolve((site.address() as { port: number }).port)));
    cleanup.push(() => new Promise((r) => site.close(r)));

    const ports = { dns: await freeUdpPort(), mqtt: await freeTcpPort(), http: await freeTcpPort(), prom: await freeTcpPort() };
    const sel: Selector = createSelector(parseSelectorConfig({
      dns: { listen: [`127.0.0.1:${ports.dns}`], zones: [{ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'hostmaster.example.test' }] },
      mqtt: { listen: `127.0.0.1:${ports.mqtt}` },
      http: { listen: `127.0.0.1:${ports.http}` },
      db: join(dir, 'selector.db'),
      auth: { agents: 'off' },
      services: [{ name: 'www.example.test', probe: { port: sitePort }, sites: [{ id: 'site-a', address: SITE }] }],
    }));
    await sel.start();
    cleanup.push(() => sel.close());

    const agentConf = join(dir, 'agent.yaml');
    writeFileSync(agentConf, [
      'id: pop-prom', `mqtt: { url: "mqtt://127.0.0.1:${ports.mqtt}", keepaliveS: 5 }`,
      'bindAddress: 127.1.0.61', 'prefixes: [198.51.100.0/24]', 'resolvers: []', 'intervalS: 1', 'log: { level: warn }', '',
    ].join('\n'));
    const agent = spawnLogged(process.execPath, [AGENT_CLI, 'run', '--config', agentConf]);
    for (let i = 0; i < 150 && sel.agentStates().get('pop-prom') !== 'fresh'; i++) await sleep(100);
    expect(sel.agentStates().get('pop-prom'), agent.out()).toBe('fresh');
    // The health gauges the rules read, as the selector exports them.
    const metrics = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
    expect(metrics).toContain('vantage_selector_agent_up{agent="pop-prom"} 1');
    expect(metrics).toContain('vantage_selector_site_down{service="www.example.test",site="site-a",agent="pop-prom"} 0');
    expect(metrics).toContain('vantage_selector_service_fail_open{service="www.example.test"} 0');
    expect(metrics).toContain('vantage_selector_service_fresh_agents{service="www.example.test"} 1');
    // The per agent × site series that keep long-term history in Prometheus (docs/operations.md).
    expect(metrics).toMatch(/^vantage_selector_site_latency_ms\{service="www\.example\.test",site="site-a",agent="pop-prom"\} \d+(\.\d+)?$/m);
    expect(metrics).toContain('vantage_selector_site_failure_ratio{service="www.example.test",site="site-a",agent="pop-prom"} 0');

    // The shipped rules, with VantageAgentOffline's `for: 2m` cut to 2 s so the test does
    // not wait two minutes (the 2-minute hold itself is covered by the promtool unit test).
    const rules = readFileSync(join(RULES_DIR, 'vantage.rules.yml'), 'utf8');
    const fast = rules.replace(/(alert: VantageAgentOffline\n(?:.*\n)*?\s+for: )2m/, '$12s');
    expect(fast).not.toBe(rules);
    writeFileSync(join(dir, 'vantage.rules.yml'), fast);
    copyFileSync(join(RULES_DIR, 'vantage.rules.test.yml'), join(dir, 'vantage.rules.test.yml'));
    writeFileSync(join(dir, 'prometheus.yml'), [
      'global: { scrape_interval: 1s, evaluation_interval: 1s }',
      'rule_files: [vantage.rules.yml]',
      'scrape_configs:',
      '  - job_name: vantage-selector',
      `    static_configs: [{ targets: ["127.0.0.1:${ports.http}"] }]`, '',
    ].join('\n'));
    const prom = spawnLogged(PROMETHEUS, [
      `--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${ports.prom}`, '--log.level=warn',
    ]);
    await waitForTcp('127.0.0.1', ports.prom, 20_000).catch((err: unknown) => { throw new Error(`prometheus did not start: ${prom.out()}`, { cause: err }); });

    // Scraped while the agent runs: up, and the alert is not firing.
    let up: string | undefined;
    for (let i = 0; i < 100 && up !== '1'; i++) {
      await sleep(200);
      const q = await promQuery(ports.prom, '/api/v1/query?query=vantage_selector_agent_up%7Bagent%3D%22pop-prom%22%7D').catch(() => undefined);
      up = q?.data?.result?.[0]?.value?.[1];
    }
    expect(up, prom.out()).toBe('1');
    const latency = await promQuery(ports.prom, `/api/v1/query?query=${encodeURIComponent('vantage_selector_site_latency_ms{agent="pop-prom"}')}`);
    expect(latency.data.result.map((r: any) => r.metric)).toEqual([expect.objectContaining({ service: 'www.example.test', site: 'site-a', agent: 'pop-prom' })]);
    await sleep(3000); // longer than the shortened hold: a healthy agent must not fire
    const before = await promQuery(ports.prom, '/api/v1/alerts');
    expect(before.data.alerts.filter((a: any) => a.labels.alertname === 'VantageAgentOffline')).toEqual([]);

    agent.child.kill('SIGKILL');
    let firing: any;
    for (let i = 0; i < 150 && !firing; i++) {
      await sleep(200);
      const a = await promQuery(ports.prom, '/api/v1/alerts');
      firing = a.data.alerts.find((x: any) => x.labels.alertname === 'VantageAgentOffline' && x.state === 'firing');
    }
    expect(firing?.labels, prom.out()).toMatchObject({ alertname: 'VantageAgentOffline', agent: 'pop-prom', severity: 'warning' });
    expect(sel.agentStates().get('pop-prom')).not.toBe('fresh');
  }, 90_000);
});
