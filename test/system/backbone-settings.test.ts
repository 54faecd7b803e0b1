// Issue #11 with real parts: a backbone (in this process, DNS on 127.0.13.10:53, refer
// mode, itself the child zones' second name server) declares www.example.test with
// ttl 7, answers 1, policy availability and a site capacity; LB processes (dist CLI, DNS
// on 127.0.13.N:53) configure no service. Checked with dig and the CLI: the LB answers
// with TTL 7 and one address, `explain` on the LB shows the availability policy, an LB
// with `uplink.catalogue: false` keeps its own settings, a restarted LB keeps the
// backbone's settings with the backbone gone (SQLite); the LB is authoritative for
// `isp-a.www.example.test` (SOA/NS), and Unbound at default settings follows the
// backbone's CNAME + delegation to the LB and gets the 7 s answer.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSelectorConfig } from '../../selector/config.js';
import { createSelector, type Selector } from '../../selector/selector.js';
import { agentTopic } from '../../shared/protocol.js';
import { announce, metrics, result, SITES, until } from '../helpers/fixtures.js';
import { freeTcpPort } from '../helpers/net.js';
import { CLI, ensureBuilt } from '../helpers/selector-process.js';
import { startLb, startResolver, writeLbConfig, type LbProcess } from '../helpers/federation.js';

const run = promisify(execFile);
const SERVICE = 'www.example.test';
const BB = '127.0.13.10';
const LB_A = '127.0.13.1';
const LB_B = '127.0.13.2';
const RESOLVER = '127.0.13.3';
const ISP = '198.51.100.0/24';
const ZONES = [{ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'hostmaster.example.test' }];

interface Dug { status: string; flags: string; rows: string[][] }

async function dig(server: string, port: number, name: string, type: string, ...opts: string[]): Promise<Dug> {
  const { stdout } = await run('dig', [`@${server}`, '-p', String(port), name, type, '+tries=2', '+time=8', '+noall', '+comments', '+answer', ...opts]);
  return {
    status: /status: (\w+)/.exec(stdout)?.[1] ?? 'none',
    flags: /flags: ([^;]*);/.exec(stdout)?.[1] ?? '',
    rows: stdout.split('\n').filter((l) => l && !l.startsWith(';')).map((l) => l.split(/\s+/)),
  };
}

async function explainPolicy(conf: string): Promise<string | null> {
  const { stdout } = await run(process.execPath, [CLI, 'explain', SERVICE, '--client', '198.51.100.7', '--json', '--config', conf], { timeout: 20_000 });
  return (JSON.parse(stdout) as { policy: string | null }).policy;
}

/** pop-a at an LB: eu-west fastest but failing once in three, us-east slower, never failing. */
async function feed(mqttUrl: string, resolvers: string[]): Promise<void> {
  const c = await mqtt.connectAsync(mqttUrl, { reconnectPeriod: 0 });
  try {
    await c.publishAsync(agentTopic('pop-a', 'announce'), announce('pop-a', [ISP], resolvers), { qos: 1, retain: true });
    for (let seq = 1; seq <= 3; seq++) {
      const results = [result('us-east', 40), result('eu-west', seq === 1 ? null : 5), result('ap-south', 60)];
      await c.publishAsync(agentTopic('pop-a', 'metrics'), metrics('pop-a', seq, results, { intervalS: 60 }), { qos: 1 });
    }
  } finally {
    await c.endAsync();
  }
}

describe('catalogue settings and the child zone with LB processes', () => {
  let backbone: Selector | undefined;
  const procs: LbProcess[] = [];
  let confA = '';
  let confB = '';

  beforeAll(async () => {
    ensureBuilt();
    const bbMqtt = await freeTcpPort(BB);
    backbone = createSelector(parseSelectorConfig({
      dns: { listen: [`${BB}:53`], zones: ZONES },
      mqtt: { listen: `${BB}:${bbMqtt}` },
      http: { listen: `${BB}:0` },
      db: join(mkdtempSync(join(tmpdir(), 'vantage-bb-')), 'bb.db'),
      auth: { agents: 'off' },
      services: [{
        name: SERVICE, ttl: 7, ttlUnsettled: 7, answers: 1, policy: 'availability', probe: { port: 8080 },
        sites: SITES.map((s, i) => (i === 0 ? { ...s, capacity: { share: 0.9 } } : s)),
      }],
      backbone: { mode: 'refer', nameservers: [{ name: 'ns1.example.test', address: BB }] },
    }));
    await backbone.start();
    const url = `mqtt://${BB}:${bbMqtt}`;
    const a = await writeLbConfig({ id: 'isp-a', host: LB_A, backboneMqtt: url });
    const own = `services: [{ name: ${SERVICE}, ttl: 20, ttlUnsettled: 20, answerSet: ordered, probe: { port: 8080 }, sites: [${SITES.map((s) => `{ id: ${s.id}, address: ${s.address} }`).join(', ')}] }]`;
    const b = await writeLbConfig({ id: 'isp-b', host: LB_B, backboneMqtt: url, services: own });
    // isp-b keeps its own catalogue: uplink.catalogue false (a second uplink key would be a YAML error).
    writeFileSync(b.conf, readFileSync(b.conf, 'utf8').replace('push: true,', 'push: true, catalogue: false,'));
    confA = a.conf;
    confB = b.conf;
    procs.push(await startLb(CLI, a.conf), await startLb(CLI, b.conf));
    await feed(`mqtt://${LB_A}:${a.mqttPort}`, [RESOLVER]);
    await feed(`mqtt://${LB_B}:${b.mqttPort}`, []);
    // The backbone refers isp-a's resolver once isp-a's map (with pop-a's resolver) is in.
    await until(() => backbone?.backbone()?.registry.get('isp-a')?.map?.resolvers.includes(RESOLVER), 20_000, 'isp-a map at the backbone');
  }, 60_000);

  afterAll(async () => {
    for (const p of procs) await p.kill();
    await backbone?.close();
  });

  it("the LB answers with the backbone's ttl, answers and policy; explain shows the policy", async () => {
    let got: Dug | undefined;
    for (let i = 0; i < 100; i++) {
      got = await dig(LB_A, 53, SERVICE, 'A', `+subnet=${ISP}`);
      if (got.rows.length === 1 && got.rows[0]?.[4] === '127.2.0.1') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Availability: us-east (never failing) before the faster eu-west; one answer; TTL 7.
    expect(got?.rows.map((r) => [r[1], r[3], r[4]])).toEqual([['7', 'A', '127.2.0.1']]);
    expect(await explainPolicy(confA)).toBe('availability');
  });

  it('an LB with uplink.catalogue: false keeps its own settings', async () => {
    let got: Dug | undefined;
    for (let i = 0; i < 100; i++) {
      got = await dig(LB_B, 53, SERVICE, 'A', `+subnet=${ISP}`);
      if (got.rows[0]?.[4] === '127.2.0.2') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Its own: latency (the default) puts eu-west first despite the failure; two answers (the default); TTL 20.
    expect(got?.rows.map((r) => [r[1], r[4]])).toEqual([['20', '127.2.0.2'], ['20', '127.2.0.1']]);
    expect(await explainPolicy(confB)).toBe('latency');
  });

  it('the LB is authoritative for isp-a.www.example.test: SOA and NS at it, directly and through Unbound', async () => {
    const soa = await dig(LB_A, 53, `isp-a.${SERVICE}`, 'SOA');
    expect(soa.flags.split(' ')).toContain('aa');
    expect(soa.rows.map((r) => [r[0], r[3], r[4]])).toEqual([[`isp-a.${SERVICE}.`, 'SOA', 'ns.isp-a.example.test.']]);
    const ns = await dig(LB_A, 53, `isp-a.${SERVICE}`, 'NS');
    expect(ns.rows.map((r) => [r[0], r[3], r[4]])).toEqual([[`isp-a.${SERVICE}.`, 'NS', 'ns.isp-a.example.test.']]);
    // Unbound (defaults, no ECS) follows the backbone's CNAME and delegation to the LB, which
    // maps the resolver to pop-a: the 7 s answer; and it finds the child's SOA at the LB.
    const resolver = await startResolver(RESOLVER, `${BB}@53`);
    try {
      const a = await dig(RESOLVER, resolver.port, SERVICE, 'A');
      expect(a.status).toBe('NOERROR');
      expect(a.rows.find((r) => r[3] === 'CNAME')?.[4]).toBe(`isp-a.${SERVICE}.`);
      const addr = a.rows.filter((r) => r[3] === 'A');
      expect(addr.map((r) => r[4])).toEqual(['127.2.0.1']);
      expect(Number(addr[0]?.[1])).toBeLessThanOrEqual(7);
      const viaUnbound = await dig(RESOLVER, resolver.port, `isp-a.${SERVICE}`, 'SOA');
      expect(viaUnbound.rows.map((r) => [r[0], r[3]])).toEqual([[`isp-a.${SERVICE}.`, 'SOA']]);
      const nx = await dig(RESOLVER, resolver.port, `nothing.isp-a.${SERVICE}`, 'A', '+authority');
      expect(nx.status).toBe('NXDOMAIN');
      expect(nx.rows.find((r) => r[3] === 'SOA')?.[0]).toBe(`isp-a.${SERVICE}.`);
    } finally {
      await resolver.close();
    }
  });

  it("a restarted LB keeps the backbone's settings with the backbone gone (SQLite)", async () => {
    await backbone?.close();
    backbone = undefined;
    const a = procs.shift() as LbProcess;
    await a.kill();
    procs.unshift(await startLb(CLI, confA));
    const got = await dig(LB_A, 53, SERVICE, 'A', `+subnet=${ISP}`);
    expect(got.rows.map((r) => [r[1], r[3]])).toEqual([['7', 'A']]);
    expect(await explainPolicy(confA)).toBe('availability');
  });
});
