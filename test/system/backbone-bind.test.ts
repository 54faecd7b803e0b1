// BIND 9.18 (named, default settings: random RRset order, QNAME minimisation) as an ISP
// resolver without ECS, with a static-stub zone for the backbone: it follows the
// backbone's CNAME and delegation to the LB, which the backbone maps by the resolver's
// address (Fig. 3); the NS names of the delegation resolve at the backbone.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSelectorConfig } from '../../selector/config.js';
import { createSelector, type Selector } from '../../selector/selector.js';
import { waitForDns } from '../helpers/dns-client.js';
import { until } from '../helpers/fixtures.js';
import { freeUdpPort } from '../helpers/net.js';

const run = promisify(execFile);
const SERVICE = 'www.example.test';
// Own addresses: test/system/backbone-unbound.test.ts may run at the same time on 127.0.5.1/2/10.
const BB = '127.0.5.30';
const LB = '127.0.5.21';
const zones = [{ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'hostmaster.example.test' }];
const sites = [{ id: 'us-east', address: '127.2.0.1' }, { id: 'eu-west', address: '127.2.0.2' }];

describe('BIND in front of the backbone (refer mode, mapping by resolver address)', () => {
  let bb: Selector;
  let lb: Selector;
  let named: ReturnType<typeof spawn>;
  let port: number;

  beforeAll(async () => {
    const db = (n: string): string => join(mkdtempSync(join(tmpdir(), `vantage-bind-${n}-`)), 'db');
    bb = createSelector(parseSelectorConfig({
      dns: { listen: [`${BB}:53`], zones }, mqtt: { listen: `${BB}:0` }, http: { listen: `${BB}:0` }, db: db('bb'), auth: { agents: 'off' },
      services: [{ name: SERVICE, ttl: 5, answers: 2, probe: { port: 8080 }, sites }], log: { level: 'silent' },
      // BIND queries from 127.0.0.1: a static entry maps that resolver to isp-a.
      backbone: { mode: 'refer', lbs: [{ id: 'isp-a', resolvers: ['127.0.0.1'] }] },
    }));
    await bb.start();
    // The LB's own yaml lists a site the backbone does not have: its answers are recognisable.
    lb = createSelector(parseSelectorConfig({
      dns: { listen: [`${LB}:53`], zones }, mqtt: { listen: `${LB}:0` }, http: { listen: `${LB}:0` }, db: db('lb'), auth: { agents: 'off' },
      services: [{ name: SERVICE, ttl: 5, answers: 1, probe: { port: 8080 }, sites: [{ id: 'lb-only', address: '127.2.0.9' }] }], log: { level: 'silent' },
      uplink: { url: `mqtt://${BB}:${bb.mqttAddress()?.port}`, id: 'isp-a', push: false, nameservers: [{ name: 'ns.isp-a.example.test', address: LB }] },
    }));
    await lb.start();
    await until(() => bb.backbone()?.registry.get('isp-a')?.map, 10_000, 'isp-a map');
    const dir = mkdtempSync(join(tmpdir(), 'vantage-named-'));
    chmodSync(dir, 0o755);
    port = await freeUdpPort();
    writeFileSync(join(dir, 'named.conf'), `options {
  directory "${dir}"; pid-file "${dir}/named.pid";
  listen-on port ${port} { 127.0.0.1; }; listen-on-v6 { none; };
  query-source address 127.0.0.1;
  recursion yes; allow-query { any; }; dnssec-validation no;
};
controls { };
zone "example.test" { type static-stub; server-addresses { ${BB}; }; };
`);
    named = spawn('named', ['-g', '-c', join(dir, 'named.conf')], { stdio: ['ignore', 'ignore', 'ignore'] });
    await waitForDns('127.0.0.1', port, 15_000, () => named.exitCode !== null);
  }, 60_000);

  afterAll(async () => {
    if (named && named.exitCode === null) {
      const exited = new Promise((r) => named.once('exit', r));
      named.kill('SIGTERM');
      await exited;
    }
    await lb?.close();
    await bb?.close();
  });

  it('follows the CNAME and the delegation to the LB, whose answer it returns', async () => {
    const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), SERVICE, 'A', '+tries=2', '+time=8', '+noall', '+answer']);
    const rows = stdout.trim().split('\n').map((l) => l.split(/\s+/));
    expect(rows.map((r) => [r[0], r[3], r[4]])).toEqual([
      [`${SERVICE}.`, 'CNAME', `isp-a.${SERVICE}.`],
      [`isp-a.${SERVICE}.`, 'A', '127.2.0.9'],
    ]);
    expect(bb.backbone()?.tables.views.get('isp-a')?.counts.refer).toBeGreaterThan(0);
    // The delegation's NS names resolve at the parent (not NXDOMAIN), as a resolver may check them.
    const ns = await run('dig', ['@' + BB, 'ns.isp-a.example.test', 'A', '+norec', '+short']);
    expect(ns.stdout.trim()).toBe(LB);
  }, 60_000);

  it("takes the LB as authoritative for the child zone: its SOA and NXDOMAIN under it (issue #11)", async () => {
    const dig = async (name: string, type: string): Promise<{ status: string; rows: string[][] }> => {
      const { stdout } = await run('dig', ['@127.0.0.1', '-p', String(port), name, type, '+tries=2', '+time=8', '+noall', '+comments', '+answer', '+authority']);
      return { status: /status: (\w+)/.exec(stdout)?.[1] ?? 'none', rows: stdout.split('\n').filter((l) => l && !l.startsWith(';')).map((l) => l.split(/\s+/)) };
    };
    const soa = await dig(`isp-a.${SERVICE}`, 'SOA');
    expect(soa.status).toBe('NOERROR');
    expect(soa.rows.map((r) => [r[0], r[3], r[4]])).toEqual([[`isp-a.${SERVICE}.`, 'SOA', 'ns.isp-a.example.test.']]);
    const nx = await dig(`nothing.isp-a.${SERVICE}`, 'A');
    expect(nx.status).toBe('NXDOMAIN');
    expect(nx.rows.map((r) => [r[0], r[3]])).toEqual([[`isp-a.${SERVICE}.`, 'SOA']]);
  }, 60_000);
});
