// Operating a backbone: `lbs add` credentials and the broker ACL (an LB writes only under
// vantage/v1/lbs/<its id>/), `lbs list`, `explain` showing the chain, and per-LB metrics.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { lbTopic } from '../../shared/lb-protocol.js';
import { until } from '../helpers/fixtures.js';
import { cli, ensureBuilt } from '../helpers/selector-process.js';
import { bootBackbone, bootLb, resetSeqs, round, SERVICE, type Closer } from './helpers.js';

const open: Closer[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  resetSeqs();
});
beforeAll(() => ensureBuilt());

const A = '198.51.100.0/24';
/** Each CLI run is a Node process start: on a loaded 2-core box several take over 30 s together. */
const CLI_TIMEOUT_MS = 120_000;

describe('backbone operations', () => {
  it('enrols an LB with lbs add; its login may publish only under its own lbs/<id>/', async () => {
    const bb = await bootBackbone(open, {}, { auth: { agents: 'required' } });
    // The CLI writes the same SQLite file (WAL) while the daemon runs, like `agents add`.
    const cfgFile = await writeBackboneYaml(bb.store()?.db.name as string);
    const added = await cli(['lbs', 'add', 'isp-a', '--config', cfgFile, '--json']);
    expect(added.code).toBe(0);
    const { username, password } = JSON.parse(added.stdout) as { username: string; password: string };
    expect(username).toBe('lb.isp-a');
    const a = await bootLb(open, bb, 'isp-a', { password });
    await round(a, 'pop-a', [A], { 'us-east': 10, 'eu-west': 80, 'ap-south': 200 });
    const reg = bb.backbone()?.registry;
    await until(() => reg?.get('isp-a')?.rankings?.services[0]?.byAgent.length, 5000, 'isp-a registered with its credentials');
    const url = `mqtt://127.0.0.1:${bb.mqttAddress()?.port}`;
    // Wrong password: refused at connect.
    await expect(mqtt.connectAsync(url, { username: 'lb.isp-a', password: 'wrong', reconnectPeriod: 0 })).rejects.toThrow();
    // Right password, other LB's topic: the publish is refused (aedes drops the connection) and nothing reaches the registry.
    const c = await mqtt.connectAsync(url, { username: 'lb.isp-a', password, reconnectPeriod: 0 });
    open.push({ close: () => c.endAsync(true) });
    const map = { v: 1, lb: 'isp-b', label: 'isp-b', nameservers: [{ name: 'ns.b', address: '127.0.5.2' }], resolvers: [], prefixes: ['203.0.113.0/24'], ts: Date.now() };
    c.publish(lbTopic('isp-b', 'map'), JSON.stringify(map), { qos: 1 });
    await until(() => !c.connected, 5000, 'connection closed by the broker');
    expect(reg?.get('isp-b')).toBeUndefined();
    // An agent's id without the lb. prefix is not an LB login.
    await expect(mqtt.connectAsync(url, { username: 'isp-a', password, reconnectPeriod: 0 })).rejects.toThrow();
    expect((await cli(['lbs', 'remove', 'isp-a', '--config', cfgFile])).code).toBe(0);
    expect((await cli(['lbs', 'remove', 'isp-a', '--config', cfgFile])).code).toBe(1);
    expect((await cli(['lbs', 'add', 'ISP A', '--config', cfgFile])).stderr).toMatch(/lb id "ISP A" must match/);
  }, CLI_TIMEOUT_MS);

  it('lists LBs, explains the chain and exports per-LB metrics', async () => {
    const bb = await bootBackbone(open);
    const a = await bootLb(open, bb, 'isp-a');
    await round(a, 'pop-a', [A], { 'us-east': 10, 'eu-west': 80, 'ap-south': 200 });
    const reg = bb.backbone()?.registry;
    await until(() => reg?.get('isp-a')?.rankings?.services[0]?.byAgent.length && reg.get('isp-a')?.map?.prefixes.length, 5000, 'isp-a pushed');
    const http = bb.adminAddress() as { host: string; port: number };
    const base = `http://${http.host}:${http.port}`;
    const list = await cli(['lbs', 'list', '--url', base, '--json']);
    expect(list.code).toBe(0);
    const rows = JSON.parse(list.stdout) as { id: string; state: string; pushFresh: boolean; seq: number; prefixes: string[]; agents: number }[];
    expect(rows).toMatchObject([{ id: 'isp-a', state: 'online', pushFresh: true, prefixes: [A], agents: 1 }]);
    expect(rows[0]?.seq).toBeGreaterThan(0);
    const text = await cli(['lbs', 'list', '--url', base]);
    expect(text.stdout).toMatch(/^LB\s+LABEL\s+STATE\s+PUSH\s+SEQ/);
    expect(text.stdout).toMatch(/isp-a\s+isp-a\s+online\s+fresh/);
    const ex = await cli(['explain', SERVICE, '--client', A, '--url', base]);
    expect(ex.code).toBe(0);
    expect(ex.stdout).toContain('backbone: push — client → lb isp-a (via prefix 198.51.100.0/24; online, rankings fresh)');
    expect(ex.stdout).toContain('lb agent: pop-a');
    expect(ex.stdout).toMatch(/addresses: 127\.2\.0\.1/);
    const other = JSON.parse((await cli(['explain', SERVICE, '--client', '192.0.2.1', '--url', base, '--json'])).stdout) as { backbone: { mode: string; lb: string | null } };
    expect(other.backbone).toMatchObject({ mode: 'aggregate', lb: null });
    // {label}.{service}: this backbone lists no name servers of its own, so it refers.
    const child = await cli(['explain', `isp-a.${SERVICE}`, '--client', A, '--url', base]);
    expect(child.stdout).toContain(`referral: isp-a.${SERVICE} NS ns.isp-a.example.test (127.0.5.1) (ttl 86400s)`);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toContain('vantage_backbone_lb_up{lb="isp-a"} 1');
    expect(metrics).toContain('vantage_backbone_lb_push_fresh{lb="isp-a"} 1');
    expect(metrics).toMatch(/vantage_backbone_lb_push_seq\{lb="isp-a"\} [1-9]/);
    expect(metrics).toContain('vantage_backbone_lb_messages_total{kind="rankings"}');
    // Not a backbone: lbs list says so.
    const lbHttp = a.sel.adminAddress() as { host: string; port: number };
    const notBb = await cli(['lbs', 'list', '--url', `http://${lbHttp.host}:${lbHttp.port}`]);
    expect(notBb.code).toBe(1);
    expect(notBb.stderr).toContain('not a backbone');
  }, CLI_TIMEOUT_MS);
});

/** A backbone.yaml naming the running backbone's DB, for the CLI's credential commands. */
async function writeBackboneYaml(db: string): Promise<string> {
  const file = join(mkdtempSync(join(tmpdir(), 'vantage-bb-cli-')), 'selector.yaml');
  writeFileSync(file, `dns: { zones: [{ name: example.test, ns: [ns1.example.test], hostmaster: hostmaster.example.test }] }\ndb: ${db}\nbackbone: {}\n`);
  return file;
}
