// Push mode end to end in one process: a backbone and two LBs (each its own embedded
// broker and SQLite) linked over MQTT; the backbone answers each ISP's clients with
// that LB's ranking, and falls back to the aggregate, then catalogue order.
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/fixtures.js';
import { addrs, bootBackbone, bootLb, eventually, query, resetSeqs, round, SERVICE, type Closer } from './helpers.js';

const open: Closer[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  resetSeqs();
});

const A = '198.51.100.0/24';
const B = '203.0.113.0/24';

describe('backbone, push mode', () => {
  it("answers each LB's clients exactly as that LB would, others from the aggregate", async () => {
    const bb = await bootBackbone(open);
    const a = await bootLb(open, bb, 'isp-a');
    const b = await bootLb(open, bb, 'isp-b', { nameservers: [{ name: 'ns.isp-b.example.test', address: '127.0.5.2' }] });
    await round(a, 'pop-a', [A], { 'us-east': 10, 'eu-west': 80, 'ap-south': 200 });
    await round(b, 'pop-b', [B], { 'us-east': 90, 'eu-west': 8, 'ap-south': 150 });
    const port = bb.dnsAddresses()[0]?.port as number;
    const reg = bb.backbone()?.registry;
    await until(() => reg?.get('isp-a')?.rankings?.services[0]?.default[0] === '127.2.0.1' && reg?.get('isp-b')?.rankings?.services[0]?.default[0] === '127.2.0.2', 5000, 'both LBs pushed');
    // The LB's own answer is the reference.
    // Pushes are debounced (uplink.debounceMs): the LB's last answer change may still be on its way.
    let fromA: string[] = [];
    let ra = await query(port, SERVICE, { ecs: '198.51.100.7/32' });
    for (let i = 0; i < 50; i++) {
      fromA = addrs(await query(a.dnsPort, SERVICE, { ecs: '198.51.100.0/24' }));
      ra = await query(port, SERVICE, { ecs: '198.51.100.7/32' });
      if (addrs(ra).join() === fromA.join()) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(fromA[0]).toBe('127.2.0.1');
    expect(addrs(ra)).toEqual(fromA);
    expect(ra.aa).toBe(true);
    expect(ra.scope).toBe(24);
    const rb = await query(port, SERVICE, { ecs: '203.0.113.0/24' });
    expect(addrs(rb)).toEqual(addrs(await query(b.dnsPort, SERVICE, { ecs: '203.0.113.0/24' })));
    expect(addrs(rb)[0]).toBe('127.2.0.2');
    // A client of no LB: rank-sum of both LBs' default lists (each LB answers 3 with plain top-N:
    // the backbone's `answers` and `answerSet`, which travel in the catalogue — issue #11).
    const other = await query(port, SERVICE, { ecs: '192.0.2.0/24' });
    expect(addrs(other)).toEqual(['127.2.0.1', '127.2.0.2', '127.2.0.3']);
    expect(bb.backbone()?.counts().aggregate).toBeGreaterThan(0);
    expect(bb.backbone()?.tables.views.get('isp-a')?.counts.push).toBeGreaterThan(0);
  });

  it("falls back to the aggregate when an LB goes offline, and returns when it is back", async () => {
    const bb = await bootBackbone(open);
    const a = await bootLb(open, bb, 'isp-a');
    const b = await bootLb(open, bb, 'isp-b');
    await round(a, 'pop-a', [A], { 'us-east': 10, 'eu-west': 80, 'ap-south': 200 });
    await round(b, 'pop-b', [B], { 'us-east': 90, 'eu-west': 8, 'ap-south': 150 });
    const port = bb.dnsAddresses()[0]?.port as number;
    const views = bb.backbone()?.tables.views;
    const reg = bb.backbone()?.registry;
    // Each LB's default (its aggregate) is re-ranked a little after its agent's answer: wait for both.
    await until(() => reg?.get('isp-a')?.rankings?.services[0]?.default[0] === '127.2.0.1' && reg?.get('isp-b')?.rankings?.services[0]?.default[0] === '127.2.0.2', 5000, 'both pushed');
    await until(() => reg?.get('isp-a')?.map?.prefixes.includes(A) && reg?.get('isp-b')?.map?.prefixes.includes(B), 5000, 'both maps');
    expect(addrs(await query(port, SERVICE, { ecs: A }))[0]).toBe('127.2.0.1');
    await a.sel.close(); // says offline (retained) before it goes
    await until(() => views?.get('isp-a')?.online === false, 5000, 'isp-a offline');
    // Only isp-b is fresh: the aggregate is its default list.
    const fallback = await query(port, SERVICE, { ecs: A });
    expect(addrs(fallback)[0]).toBe('127.2.0.2');
    expect(fallback.scope).toBe(24);
    expect(views?.get('isp-a')?.counts.fallback).toBe(1);
    // Restarted (a new process would have a new seq; ts is newer): its clients return to it.
    resetSeqs();
    const a2 = await bootLb(open, bb, 'isp-a');
    await round(a2, 'pop-a', [A], { 'us-east': 10, 'eu-west': 80, 'ap-south': 200 });
    await until(() => views?.get('isp-a')?.online && views?.get('isp-a')?.pushFresh, 5000, 'isp-a back');
    await eventually(async () => addrs(await query(port, SERVICE, { ecs: A }))[0] === '127.2.0.1', 5000, 'isp-a answers again');
  });

  it('answers from catalogue order when no LB is fresh (never NXDOMAIN)', async () => {
    const bb = await bootBackbone(open);
    const port = bb.dnsAddresses()[0]?.port as number;
    const r = await query(port, SERVICE, { ecs: A });
    expect(r.rcode).toBe('NOERROR');
    expect(addrs(r)).toEqual(['127.2.0.1', '127.2.0.2', '127.2.0.3']);
    expect(bb.backbone()?.counts().catalogue).toBe(1);
  });
});
