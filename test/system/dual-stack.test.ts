// Dual-stack services end to end (issue #10 §4): a real agent probes real HTTP site
// servers over IPv4 and IPv6, the selector ranks each family on its own results, and
// dig gets A and AAAA answers.
// - mixed: two IPv6 sites and one IPv4 site, answers 2 (regression: A was NODATA
//   because the top two overall were both IPv6).
// - dual: a dual-stack site whose IPv6 path is slow from this POP is first for A and
//   not for AAAA. IPv6 loopback is only ::1, so the site servers delay by the address
//   they were reached on: ::1 (the slow IPv6 path of "dual") waits 150 ms; the other
//   site's IPv6 address is the IPv4-mapped ::ffff:127.0.6.22 (an IPv6 address whose
//   path is loopback IPv4), served by its IPv4 server with its own 60 ms delay.
import { execFile } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAgent, type Agent } from '../../agent/agent.js';
import { parseAgentConfig } from '../../agent/config.js';
import { createSelector, type Selector } from '../../selector/selector.js';
import { freeTcpPort } from '../helpers/net.js';
import { selectorConfig, until } from '../helpers/fixtures.js';

const run = promisify(execFile);
const DUAL = 'dual.example.test';
const MIXED = 'mixed.example.test';
const V4_FAST = '127.0.6.21';
const V4_OTHER = '127.0.6.22';
const V6_SLOW = '::1';
const V6_OTHER = '::ffff:127.0.6.22';
const DELAY_MS: Record<string, number> = { [V4_FAST]: 0, [V4_OTHER]: 60, [V6_SLOW]: 150 };
const CLIENT = '198.51.100.0/24';

async function dig(port: number, name: string, qtype: 'A' | 'AAAA'): Promise<string[]> {
  const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), name, qtype, `+subnet=${CLIENT}`, '+short', '+tries=1', '+time=3']);
  return stdout.trim().split('\n').filter(Boolean);
}

describe('dual-stack services', () => {
  const servers: http.Server[] = [];
  let sel: Selector;
  let agent: Agent;
  let dnsPort: number;
  let adminPort: number;

  beforeAll(async () => {
    const port = await freeTcpPort(V4_FAST);
    for (const host of [V4_FAST, V4_OTHER, V6_SLOW]) {
      const srv = http.createServer((req, res) => {
        const local = (req.socket.localAddress ?? '').replace(/^::ffff:/, '');
        setTimeout(() => res.end('ok'), DELAY_MS[local] ?? 0);
      });
      await new Promise<void>((resolve, reject) => { srv.once('error', reject); srv.listen(port, host, resolve); });
      servers.push(srv);
    }
    const probe = { port, timeoutMs: 2000 };
    sel = createSelector(selectorConfig({
      services: [
        { name: DUAL, answers: 2, probe, sites: [
          { id: 'dual', addresses: [V4_FAST, V6_SLOW] },
          { id: 'other', addresses: [V4_OTHER, V6_OTHER] },
        ] },
        { name: MIXED, answers: 2, answerSet: 'ordered', probe, sites: [
          { id: 'v6-a', address: V6_OTHER },
          { id: 'v6-b', address: V6_SLOW },
          { id: 'v4', address: V4_FAST },
        ] },
      ],
    }));
    await sel.start();
    dnsPort = (sel.dnsAddresses()[0] as { port: number }).port;
    adminPort = (sel.adminAddress() as { port: number }).port;
    agent = createAgent(parseAgentConfig({
      id: 'pop-dual', mqtt: { url: `mqtt://127.0.0.1:${sel.mqttAddress()?.port}` }, bindAddress: '127.0.6.31',
      families: [4, 6], prefixes: [CLIENT], resolvers: [], intervalS: 1,
    }));
    await agent.start();
    // Three rounds of both families from pop-dual, then its answers are its own.
    await until(() => {
      const a = sel.engine()?.answerOf(DUAL, 'pop-dual');
      const own = a && [4, 6].every((f) => a.byFamily.get(f as 4 | 6)?.source === 'own');
      const m = sel.engine()?.answerOf(MIXED, 'pop-dual');
      return own && m?.byFamily.get(6)?.source === 'own' && (sel.engine()?.explain(DUAL, 'pop-dual', 6)?.explanation.sites[0]?.samples ?? 0) >= 3;
    }, 30_000, 'pop-dual ranked both families');
  }, 60_000);

  afterAll(async () => {
    await agent?.close();
    await sel?.close();
    for (const s of servers) await new Promise((r) => s.close(r));
  });

  it('mixed service (two IPv6 sites, one IPv4, answers 2) answers both A and AAAA', async () => {
    expect(await dig(dnsPort, MIXED, 'A')).toEqual([V4_FAST]);
    expect(await dig(dnsPort, MIXED, 'AAAA')).toEqual([V6_OTHER, V6_SLOW]);
  });

  it('a dual-stack site with a slow IPv6 path is first for A, not for AAAA', async () => {
    expect(await dig(dnsPort, DUAL, 'A')).toEqual([V4_FAST]);
    expect(await dig(dnsPort, DUAL, 'AAAA')).toEqual([V6_OTHER]);
  });

  it('explain --qtype AAAA shows the IPv6 decision and why "dual" is out', async () => {
    const get = async (qtype: string) => {
      const res = await fetch(`http://127.0.0.1:${adminPort}/api/explain?name=${DUAL}&client=${encodeURIComponent(CLIENT)}&source=127.0.0.1&qtype=${qtype}`);
      return { status: res.status, body: await res.json() as Record<string, any> }; // eslint-disable-line @typescript-eslint/no-explicit-any
    };
    const six = await get('AAAA');
    expect(six.status).toBe(200);
    // One agent: the aggregate equals its answer, so the service is uniform (answer key default).
    expect(six.body).toMatchObject({ qtype: 'AAAA', order: ['other'], addresses: [V6_OTHER] });
    expect(six.body.familySource).toMatch(/this view's results for this family/);
    const out = six.body.answerSet.sites.find((d: { id: string }) => d.id === 'dual');
    expect(out).toMatchObject({ inSet: false });
    expect(out.reason).toMatch(/^outside the band/);
    expect(six.body.sites.find((s: { id: string }) => s.id === 'dual').address).toBe(V6_SLOW);
    const four = await get('A');
    expect(four.body).toMatchObject({ qtype: 'A', order: ['dual'], addresses: [V4_FAST] });
    expect((await get('MX')).status).toBe(400);
  });
});
