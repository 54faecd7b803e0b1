// Proxy-cache mode end to end: a real agent with a `proxy:` section probes two real
// sites and announces its proxy over the embedded broker; the selector answers a
// `mode: proxy` service with the proxy's address (asked with dig, ECS from the POP's
// prefix), and with the sites once the proxy measures no site up or the agent goes
// offline. explain says which and why.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createAgent, type Agent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../agent/config.js';
import { createSelector, type Selector } from '../../selector/selector.js';
import { curl } from '../helpers/curl.js';
import { freeTcpPort } from '../helpers/net.js';
import { startOriginSite, type OriginSite } from '../helpers/origin-site.js';
import { selectorConfig, until } from '../helpers/fixtures.js';

const run = promisify(execFile);
const NAME = 'www.example.test';
const PROXY = '127.3.1.10';
const CLIENT = '198.51.100.7';
let sites: OriginSite[] = [];
let sel: Selector;
let agent: Agent;
let dnsPort: number;
let adminBase: string;
let agentMetricsPort: number;

async function dig(subnet = `${CLIENT}/32`): Promise<string[]> {
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(dnsPort), NAME, 'A', '+short', '+tries=1', '+time=2', `+subnet=${subnet}`]);
  return stdout.trim().split('\n').filter(Boolean).sort();
}

async function digUntil(want: string[], timeoutMs = 15_000): Promise<string[]> {
  const end = Date.now() + timeoutMs;
  let got: string[] = [];
  while (Date.now() < end) {
    got = await dig();
    if (got.join() === [...want].sort().join()) return got;
    await new Promise((r) => setTimeout(r, 200));
  }
  return got;
}

async function explain(): Promise<{ addresses: string[]; ttl: number; proxy: { answer: string; reason: string } | null; answerKey: string }> {
  const res = await fetch(`${adminBase}/api/explain?name=${NAME}&client=${CLIENT}/32`);
  return res.json() as Promise<never>;
}

beforeAll(async () => {
  const port = await freeTcpPort('127.3.1.1');
  sites = [await startOriginSite('a', '127.3.1.1', port), await startOriginSite('b', '127.3.1.2', port)];
  sel = createSelector(selectorConfig({
    // answerSet: ordered — both sites in the sites answer, so it is told apart from the proxy's.
    services: [{ name: NAME, mode: 'proxy', ttl: 10, answers: 2, answerSet: 'ordered', probe: { port, path: '/' }, sites: [
      { id: 'a', address: '127.3.1.1' }, { id: 'b', address: '127.3.1.2' },
    ] }],
  }));
  await sel.start();
  dnsPort = sel.dnsAddresses()[0]?.port as number;
  adminBase = `http://127.0.0.1:${sel.adminAddress()?.port}`;
  agentMetricsPort = await freeTcpPort('127.0.0.1');
  agent = createAgent(parseAgentConfig({
    id: 'pop-a', mqtt: { url: `mqtt://127.0.0.1:${sel.mqttAddress()?.port}` }, prefixes: ['198.51.100.0/24'], resolvers: [],
    intervalS: 1, proxy: { listen: [`${PROXY}:0`], services: [NAME] }, http: { listen: `127.0.0.1:${agentMetricsPort}` },
  }), { reconnectMinMs: 100, reconnectMaxMs: 200 });
  await agent.start();
});

afterAll(async () => {
  await agent?.close();
  await sel?.close();
  await Promise.all(sites.map((s) => s.close()));
});

describe('selector answers for a mode: proxy service', () => {
  it('answers the mapped agent\'s proxy address once the proxy is healthy', async () => {
    expect(await digUntil([PROXY])).toEqual([PROXY]);
    const e = await explain();
    expect(e.answerKey).toBe('pop-a');
    expect(e.addresses).toEqual([PROXY]);
    expect(e.ttl).toBe(10);
    expect(e.proxy).toMatchObject({ answer: 'proxy' });
    const cli = join(process.cwd(), 'dist/selector/cli.js');
    if (!existsSync(cli)) execFileSync('npx', ['tsc', '-p', '.'], { stdio: 'ignore' });
    const { stdout } = await run(process.execPath, [cli, 'explain', NAME, '--client', `${CLIENT}/32`, '--url', adminBase]);
    expect(stdout).toMatch(new RegExp(`^proxy mode: answering with the agent's proxy \\(${PROXY.replace(/\./g, '\\.')}\\): agent pop-a's proxy serves ${NAME.replace(/\./g, '\\.')} and reports healthy$`, 'm'));
    // A client elsewhere (no agent) gets the sites.
    expect(await dig('203.0.113.9/32')).toEqual(['127.3.1.1', '127.3.1.2']);
  });

  it('the proxy at that address serves the service through a site', async () => {
    const hp = agent.proxy?.addresses().http[0] as string;
    const r = await curl(['--resolve', `${NAME}:${hp.split(':')[1]}:${PROXY}`, `http://${NAME}:${hp.split(':')[1]}/cache?maxAge=60`]);
    expect(r.status).toBe(200);
    expect(r.body).toMatch(/cached body from [ab]/);
    // The agent's own /metrics counts it, with the site chosen.
    const text = await (await fetch(`http://127.0.0.1:${agentMetricsPort}/metrics`)).text();
    expect(text).toMatch(/vantage_agent_proxy_requests_total\{service="www.example.test",cache="miss"\} 1\n/);
    expect(text).toMatch(new RegExp(`vantage_agent_proxy_upstream_requests_total\\{service="www.example.test",site="${r.headers['x-vantage-site']}"\\} 1\n`));
  });

  it('vantage-selector metrics shows the proxy hit ratio the agent reports', async () => {
    const hp = agent.proxy?.addresses().http[0] as string;
    await curl(['--resolve', `${NAME}:${hp.split(':')[1]}:${PROXY}`, `http://${NAME}:${hp.split(':')[1]}/cache?maxAge=60`]); // a hit
    type Row = { agent: string; requests: number; hits: number; misses: number; hitRatio: number | null };
    let got: Row | undefined;
    for (let i = 0; i < 50 && !(got && got.requests >= 2); i++) {
      const report = await (await fetch(`${adminBase}/api/metrics?agent=pop-a`)).json() as { proxy: Row[] };
      got = report.proxy.find((r) => r.agent === 'pop-a');
      if (!(got && got.requests >= 2)) await new Promise((r) => setTimeout(r, 200));
    }
    expect(got).toMatchObject({ requests: 2, hits: 1, misses: 1, hitRatio: 0.5 });
    const cli = join(process.cwd(), 'dist/selector/cli.js');
    if (!existsSync(cli)) execFileSync('npx', ['tsc', '-p', '.'], { stdio: 'ignore' });
    const { stdout } = await run(process.execPath, [cli, 'metrics', '--url', adminBase]);
    expect(stdout).toMatch(/proxy-cache \(counters since each agent started\):/);
    expect(stdout).toMatch(/^pop-a\s+2\s+50\.0%\s+1\s+0\s+1\s/m);
  });

  it('answers the sites when the proxy measures no site up', async () => {
    await Promise.all(sites.map((s) => s.close()));
    const got = await digUntil(['127.3.1.1', '127.3.1.2']);
    expect(got).toEqual(['127.3.1.1', '127.3.1.2']);
    const e = await explain();
    expect(e.proxy).toMatchObject({ answer: 'sites' });
    // Its only service has no site up: the agent reports the proxy unhealthy.
    expect(e.proxy?.reason).toMatch(/reports its proxy unhealthy/);
  });

  it('answers the sites (default) once the agent is offline', async () => {
    await agent.close();
    await until(() => sel.agentStates().get('pop-a') === 'offline', 5000, 'agent offline');
    expect(await dig()).toEqual(['127.3.1.1', '127.3.1.2']);
    const e = await explain();
    expect(e.answerKey).toBe('default');
    expect(e.proxy).toMatchObject({ answer: 'sites' });
  });
});
