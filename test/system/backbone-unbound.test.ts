// The backbone tier with real parts: two LB selector processes (DNS on 127.0.5.1:53 and
// 127.0.5.2:53, each with its embedded broker and a real agent probing loopback sites
// whose latency depends on the agent's address), one backbone (in this process, DNS on
// 127.0.5.10:53) and Unbound at default settings as the ISP resolver. Clients of each
// ISP (ECS prefixes) end on their own LB's best site in both modes; killing an LB
// moves its clients to the fallback, a restart brings them back.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../agent/config.js';
import { parseSelectorConfig } from '../../selector/config.js';
import { createSelector, type Selector } from '../../selector/selector.js';
import { until } from '../helpers/fixtures.js';
import { freeTcpPort } from '../helpers/net.js';
import { CLI, ensureBuilt } from '../helpers/selector-process.js';
import { SITE_ADDRS, SITE_IDS, startLb, startResolver, startSites, writeLbConfig, type LbProcess, type Resolver } from '../helpers/federation.js';
import { addrs, eventually, query } from '../backbone/helpers.js';

const run = promisify(execFile);
const SERVICE = 'www.example.test';
const BB = '127.0.5.10';
const ISP_A = '198.51.100.0/24';
const ISP_B = '203.0.113.0/24';
/** ISP a's resolver without ECS: pop-a announces it, so LB a and the backbone map it to isp-a. */
const ISP_A_RESOLVER = '127.0.7.3';
// pop-a (127.1.5.1) sees us-east fastest, pop-b (127.1.5.2) eu-west.
const LATENCY = { '127.1.5.1': [2, 60, 120], '127.1.5.2': [60, 2, 120] };

/** dig through the resolver; generous timeouts: the 2-core test box is often heavily loaded. */
async function dig(r: Resolver, subnet: string, ecs = true): Promise<{ status: string; addresses: string[]; cname: string | undefined }> {
  const { stdout } = await run('dig', [`@${r.host}`, '-p', String(r.port), SERVICE, 'A', ...(ecs ? [`+subnet=${subnet}`] : []), '+tries=2', '+time=8', '+noall', '+answer', '+comments']);
  const status = /status: (\w+)/.exec(stdout)?.[1] ?? 'none';
  const rows = stdout.split('\n').filter((l) => l && !l.startsWith(';')).map((l) => l.split(/\s+/));
  return { status, addresses: rows.filter((x) => x[3] === 'A').map((x) => x[4] as string), cname: rows.find((x) => x[3] === 'CNAME')?.[4] };
}

describe('backbone + two LB processes + Unbound', () => {
  let sites: Awaited<ReturnType<typeof startSites>>;
  let bbMqtt: number;
  let bbDb: string;
  let backbone: Selector | undefined;
  const lbs: Record<string, { conf: string; proc?: LbProcess }> = {};
  const agents: Agent[] = [];

  async function startBackbone(mode: 'push' | 'refer'): Promise<Selector> {
    const sel = createSelector(parseSelectorConfig({
      dns: { listen: [`${BB}:53`], zones: [{ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'hostmaster.example.test' }] },
      mqtt: { listen: `${BB}:${bbMqtt}` },
      http: { listen: `${BB}:0` },
      db: bbDb,
      auth: { agents: 'off' },
      services: [{ name: SERVICE, ttl: 2, answers: 3, probe: { port: sites.port }, sites: SITE_IDS.map((id, i) => ({ id, address: SITE_ADDRS[i] })) }],
      backbone: { mode, nameservers: [{ name: 'ns1.example.test', address: BB }] },
    }));
    await sel.start();
    return sel;
  }

  async function lbsFresh(sel: Selector): Promise<void> {
    const reg = sel.backbone()?.registry;
    await until(() => ['isp-a', 'isp-b'].every((id) => {
      const r = reg?.get(id);
      // Each agent's answer set is its best site alone once its window holds enough rounds.
      const best = id === 'isp-a' ? '127.2.0.1' : '127.2.0.2';
      return r && sel.backbone()?.tables.views.get(id)?.pushFresh && r.map?.prefixes.length
        && r.rankings?.services[0]?.byAgent[0]?.addresses.join() === best;
    }), 30_000, 'both LBs registered with fresh rankings').catch((err: Error) => {
      throw new Error(`${err.message}: ${JSON.stringify(['isp-a', 'isp-b'].map((id) => [reg?.get(id)?.map?.prefixes, reg?.get(id)?.rankings?.services]))}`);
    });
  }

  beforeAll(async () => {
    ensureBuilt();
    sites = await startSites(LATENCY);
    bbMqtt = await freeTcpPort(BB);
    bbDb = join(mkdtempSync(join(tmpdir(), 'vantage-bb-')), 'bb.db');
    backbone = await startBackbone('push');
    const url = `mqtt://${BB}:${bbMqtt}`;
    // The LBs list the service themselves (their yaml wins over the catalogue, which the
    // in-process tests cover): a 2 s TTL, so the kill test need not wait 30 s for Unbound's
    // cached answer to expire, and one answer, since Unbound rotates RRsets by default.
    const svcA = `services: [{ name: ${SERVICE}, ttl: 2, answers: 1, probe: { port: ${sites.port} }, sites: [${SITE_IDS.map((id, i) => `{ id: ${id}, address: ${SITE_ADDRS[i]} }`).join(', ')}] }]`;
    const a = await writeLbConfig({ id: 'isp-a', host: '127.0.5.1', backboneMqtt: url, services: svcA });
    const b = await writeLbConfig({ id: 'isp-b', host: '127.0.5.2', backboneMqtt: url, services: svcA });
    lbs['isp-a'] = { conf: a.conf, proc: await startLb(CLI, a.conf) };
    lbs['isp-b'] = { conf: b.conf, proc: await startLb(CLI, b.conf) };
    for (const [id, host, mqttPort, prefix] of [['pop-a', '127.1.5.1', a.mqttPort, ISP_A], ['pop-b', '127.1.5.2', b.mqttPort, ISP_B]] as const) {
      const lbHost = id === 'pop-a' ? '127.0.5.1' : '127.0.5.2';
      const agent = createAgent(parseAgentConfig({ id, mqtt: { url: `mqtt://${lbHost}:${mqttPort}` }, bindAddress: host, prefixes: [prefix], resolvers: id === 'pop-a' ? [ISP_A_RESOLVER] : [], intervalS: 1, log: { level: 'silent' } }));
      await agent.start();
      agents.push(agent);
    }
    await lbsFresh(backbone);
  }, 60_000);

  afterAll(async () => {
    for (const a of agents) await a.close();
    for (const lb of Object.values(lbs)) await lb.proc?.kill();
    await backbone?.close();
    await sites?.close();
  });

  it('push mode: the backbone answers each ISP with its own LB\'s best site, through Unbound', async () => {
    const resolver = await startResolver('127.0.7.1', `${BB}@53`, [BB, '127.0.5.1', '127.0.5.2']);
    try {
      const a = await dig(resolver, ISP_A);
      const b = await dig(resolver, ISP_B);
      expect(a).toMatchObject({ status: 'NOERROR', cname: undefined });
      expect(a.addresses).toEqual(['127.2.0.1']);
      expect(b.addresses).toEqual(['127.2.0.2']);
      // Exactly what the LBs answer themselves.
      expect(addrs(await query(53, SERVICE, { host: '127.0.5.1', ecs: ISP_A })).sort()).toEqual([...a.addresses].sort());
      expect(backbone?.backbone()?.tables.views.get('isp-a')?.counts.push).toBeGreaterThan(0);
    } finally {
      await resolver.close();
    }
  });

  it('push mode: a killed LB\'s clients fall back to the aggregate at once, and return after its restart', async () => {
    const bb = backbone as Selector;
    const killedAt = Date.now();
    await lbs['isp-a']?.proc?.kill('SIGKILL');
    await eventually(async () => addrs(await query(53, SERVICE, { host: BB, ecs: ISP_A }))[0] === '127.2.0.2', 10_000, 'fallback to the aggregate (isp-b only)');
    const fellBackMs = Date.now() - killedAt;
    expect(bb.backbone()?.tables.views.get('isp-a')?.online).toBe(false);
    lbs['isp-a'] = { conf: lbs['isp-a']?.conf as string, proc: await startLb(CLI, lbs['isp-a']?.conf as string) };
    const restartedAt = Date.now();
    await eventually(async () => addrs(await query(53, SERVICE, { host: BB, ecs: ISP_A }))[0] === '127.2.0.1', 20_000, 'isp-a answers again');
    console.log(`[backbone] fallback ${fellBackMs} ms after SIGKILL; back ${Date.now() - restartedAt} ms after the restart`);
  }, 40_000);

  it('refer mode: CNAME + delegation through Unbound to each LB; a dead LB is not a blackhole with a warm cache', async () => {
    await backbone?.close();
    backbone = await startBackbone('refer');
    await lbsFresh(backbone);
    const bb = backbone;
    const resolver = await startResolver('127.0.7.2', `${BB}@53`, [BB, '127.0.5.1', '127.0.5.2']);
    try {
      const a = await dig(resolver, ISP_A);
      const b = await dig(resolver, ISP_B);
      expect(a).toMatchObject({ status: 'NOERROR', cname: `isp-a.${SERVICE}.` });
      expect(b.cname).toBe(`isp-b.${SERVICE}.`);
      expect(a.addresses).toEqual(['127.2.0.1']);
      expect(b.addresses).toEqual(['127.2.0.2']);
      expect(bb.backbone()?.tables.views.get('isp-a')?.counts.refer).toBeGreaterThan(0);
      // A resolver without ECS (mapped by its address, announced by pop-a) keeps the CNAME for
      // 3600 s and the delegation for 86400 s, and asks the delegation again only when the 2 s
      // answer expires: with LB a dead it must get an answer from the second server, the backbone.
      const plain = await startResolver(ISP_A_RESOLVER, `${BB}@53`);
      try {
        const warm = await dig(plain, ISP_A, false);
        expect(warm).toMatchObject({ status: 'NOERROR', cname: `isp-a.${SERVICE}.`, addresses: ['127.2.0.1'] });
        await lbs['isp-a']?.proc?.kill('SIGKILL');
        await until(() => bb.backbone()?.tables.views.get('isp-a')?.online === false, 5000, 'isp-a offline at the backbone');
        await new Promise((r) => setTimeout(r, 4000)); // past the 2 s answer TTL, with margin for the resolver's clock
        const childBefore = bb.backbone()?.tables.views.get('isp-a')?.counts.child ?? 0;
        const t0 = Date.now();
        const during = await dig(plain, ISP_A, false);
        console.log(`[backbone] dead LB, warm cache: answered in ${Date.now() - t0} ms with ${during.addresses.join(',')} via ${during.cname}`);
        expect(during).toMatchObject({ status: 'NOERROR', cname: `isp-a.${SERVICE}.` });
        expect(during.addresses.length).toBe(1);
        expect(bb.backbone()?.tables.views.get('isp-a')?.counts.child).toBeGreaterThan(childBefore);
      } finally {
        await plain.close();
      }
      lbs['isp-a'] = { conf: lbs['isp-a']?.conf as string, proc: await startLb(CLI, lbs['isp-a']?.conf as string) };
      await until(() => bb.backbone()?.tables.views.get('isp-a')?.pushFresh, 20_000, 'isp-a fresh again');
      await eventually(async () => (await dig(resolver, ISP_A)).addresses[0] === '127.2.0.1', 15_000, 'isp-a clients back on us-east');
    } finally {
      await resolver.close();
    }
  }, 120_000);
});
