// Refer mode and the names under it: the backbone answers a service with a CNAME to
// {label}.{service} plus the delegation of that name (NS + glue) in the same response;
// the LB answers {label}.{service} as {service}; the backbone refers {label}.{service}
// itself, or answers it when it lists itself as a second name server. Hostile LB
// payloads are rejected and counted.
import mqtt from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { lbTopic } from '../../shared/lb-protocol.js';
import { until } from '../helpers/fixtures.js';
import { addrs, bootBackbone, bootLb, query, resetSeqs, round, SERVICE, type Closer } from './helpers.js';

const open: Closer[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  resetSeqs();
});

const A = '198.51.100.0/24';
const B = '203.0.113.0/24';

describe('backbone, refer mode', () => {
  it('answers CNAME {label}.{service} with the delegation and glue, ECS-scoped to the LB prefix', async () => {
    const bb = await bootBackbone(open, { mode: 'refer' });
    const a = await bootLb(open, bb, 'isp-a', { push: false });
    await round(a, 'pop-a', [A], { 'us-east': 10, 'eu-west': 80, 'ap-south': 200 });
    await until(() => bb.backbone()?.registry.get('isp-a')?.map?.prefixes.includes(A), 5000, 'isp-a map with its agent prefix');
    const port = bb.dnsAddresses()[0]?.port as number;
    const r = await query(port, SERVICE, { ecs: '198.51.100.9/32' });
    expect(r.rcode).toBe('NOERROR');
    expect(r.aa).toBe(true);
    expect(r.answers).toEqual([{ name: SERVICE, type: 'CNAME', class: 'IN', ttl: 3600, flush: false, data: `isp-a.${SERVICE}` }]);
    expect(r.authorities).toEqual([{ name: `isp-a.${SERVICE}`, type: 'NS', class: 'IN', ttl: 86_400, flush: false, data: 'ns.isp-a.example.test' }]);
    expect(r.additionals).toEqual([{ name: 'ns.isp-a.example.test', type: 'A', class: 'IN', ttl: 86_400, flush: false, data: '127.0.5.1' }]);
    // RFC 7871: the referral holds for isp-a's /24 only, never for the block around it.
    expect(r.scope).toBe(24);
    // The LB answers the referred name exactly as the service name.
    const viaLabel = await query(a.dnsPort, `isp-a.${SERVICE}`, { ecs: A });
    expect(viaLabel.aa).toBe(true);
    expect(addrs(viaLabel)).toEqual(addrs(await query(a.dnsPort, SERVICE, { ecs: A })));
    expect(addrs(viaLabel)[0]).toBe('127.2.0.1');
    // A client of no LB is answered directly (catalogue order: nothing pushed), scope 0 when no prefix is near.
    const other = await query(port, SERVICE, { ecs: '192.0.2.0/24' });
    expect(addrs(other)).toEqual(['127.2.0.1', '127.2.0.2', '127.2.0.3']);
    // The parent refers {label}.{service} itself: NS + glue, AA clear, no answer.
    const child = await query(port, `isp-a.${SERVICE}`, { ecs: A });
    expect(child.aa).toBe(false);
    expect(child.answers).toEqual([]);
    expect(child.authorities.map((x) => [x.type, x.name, x.data])).toEqual([['NS', `isp-a.${SERVICE}`, 'ns.isp-a.example.test']]);
    expect(child.additionals.map((x) => x.data)).toEqual(['127.0.5.1']);
    // Unknown label: NXDOMAIN from the zone, as any unknown name.
    expect((await query(port, `nobody.${SERVICE}`)).rcode).toBe('NXDOMAIN');
    expect(bb.backbone()?.tables.views.get('isp-a')?.counts.refer).toBe(1);
  });

  it('lists itself as a second name server and answers {label}.{service} from the pushed ranking, then the aggregate', async () => {
    const bb = await bootBackbone(open, { mode: 'refer', nameservers: [{ name: 'ns1.example.test', address: '127.0.5.9' }] });
    const a = await bootLb(open, bb, 'isp-a', { push: true, intervalS: 1 });
    await round(a, 'pop-a', [A], { 'us-east': 80, 'eu-west': 10, 'ap-south': 200 });
    const views = bb.backbone()?.tables.views;
    await until(() => views?.get('isp-a')?.pushFresh && bb.backbone()?.registry.get('isp-a')?.rankings?.services[0]?.byAgent.length, 5000, 'isp-a pushed');
    const port = bb.dnsAddresses()[0]?.port as number;
    const r = await query(port, SERVICE, { ecs: A });
    // refer mode refers even when rankings are pushed; the delegation lists both servers.
    expect(r.answers[0]?.type).toBe('CNAME');
    expect(r.authorities.map((x) => x.data)).toEqual(['ns.isp-a.example.test', 'ns1.example.test']);
    expect(r.additionals.map((x) => x.data)).toEqual(['127.0.5.1', '127.0.5.9']);
    const child = await query(port, `isp-a.${SERVICE}`, { ecs: A });
    expect(child.aa).toBe(true);
    const lbAnswer = addrs(await query(a.dnsPort, SERVICE, { ecs: A }));
    expect(lbAnswer[0]).toBe('127.2.0.2');
    expect(addrs(child)).toEqual(lbAnswer);
    // One agent: every client of isp-a gets the same answer, so the child answer is not client-specific.
    expect(child.scope).toBe(0);
    await a.sel.close();
    await until(() => views?.get('isp-a')?.online === false, 5000, 'isp-a offline');
    // Offline LB: the second server still answers its clients, from the LB's last pushed view
    // while it is recent (3 × intervalS 1 s), then from the aggregate (catalogue order here).
    expect(addrs(await query(port, `isp-a.${SERVICE}`, { ecs: A }))).toEqual(lbAnswer);
    await until(() => views?.get('isp-a')?.recent === false, 8000, 'isp-a rankings stale');
    const after = await query(port, `isp-a.${SERVICE}`, { ecs: A });
    expect(after.rcode).toBe('NOERROR');
    expect(addrs(after)).toEqual(['127.2.0.1', '127.2.0.2', '127.2.0.3']);
    // And the service name is no longer referred to the dead LB.
    expect((await query(port, SERVICE, { ecs: A })).answers.map((x) => x.type)).toEqual(['A', 'A', 'A']);
  });

  it('rejects hostile LB payloads and counts them by reason, keeping the good state', async () => {
    const bb = await bootBackbone(open, { mode: 'refer' });
    const a = await bootLb(open, bb, 'isp-a', { push: true });
    await round(a, 'pop-a', [A], { 'us-east': 10, 'eu-west': 80, 'ap-south': 200 });
    const reg = bb.backbone()?.registry;
    await until(() => reg?.get('isp-a')?.rankings && reg.get('isp-a')?.map?.prefixes.includes(A), 5000, 'isp-a registered');
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${bb.mqttAddress()?.port}`, { reconnectPeriod: 0 });
    open.push({ close: () => c.endAsync() });
    const now = Date.now();
    const bad: [string, string][] = [
      [lbTopic('isp-a', 'map'), '{"v":1,'],
      [lbTopic('isp-a', 'map'), JSON.stringify({ v: 1, lb: 'isp-a', label: 'x', nameservers: [], resolvers: [], prefixes: [], ts: now })],
      [lbTopic('isp-a', 'map'), JSON.stringify({ v: 1, lb: 'isp-b', label: 'x', nameservers: [{ name: 'ns.x', address: '127.0.5.3' }], resolvers: [], prefixes: [B], ts: now })],
      [lbTopic('isp-a', 'rankings'), JSON.stringify({ v: 1, lb: 'isp-a', seq: 1, ts: 0, intervalS: 10, services: [] })],
      [lbTopic('isp-a', 'rankings'), JSON.stringify({ v: 1, lb: 'isp-a', seq: 'x', ts: now, intervalS: 10, services: [] })],
      [lbTopic('isp-a', 'status'), JSON.stringify({ v: 2, lb: 'isp-a', state: 'offline', ts: now })],
      ['vantage/v1/lbs/isp-a/other', '{}'],
      [lbTopic('isp-c', 'map'), JSON.stringify({ v: 1, lb: 'isp-c', label: 'isp-a', nameservers: [{ name: 'ns.c', address: '127.0.5.3' }], resolvers: [], prefixes: [B], ts: now })],
    ];
    for (const [topic, payload] of bad) await c.publishAsync(topic, payload, { qos: 1 });
    await until(() => Object.values(reg?.counters.rejected ?? {}).reduce((x, y) => x + y, 0) >= bad.length, 5000, 'all rejected');
    expect(reg?.counters.rejected).toEqual({ json: 1, schema: 2, lb_mismatch: 1, stale_seq: 1, version: 1, topic: 1, label_taken: 1 });
    expect(reg?.get('isp-a')?.map).toMatchObject({ label: 'isp-a', prefixes: [A] });
    expect(reg?.get('isp-c')?.map).toBeUndefined();
    expect(bb.backbone()?.tables.views.get('isp-a')?.online).toBe(true);
    expect((await query(bb.dnsAddresses()[0]?.port as number, SERVICE, { ecs: A })).answers[0]?.data).toBe(`isp-a.${SERVICE}`);
  });
});
