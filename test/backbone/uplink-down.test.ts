// DNS never waits for the bus: an LB whose backbone is unreachable starts and answers its
// own clients; when the backbone comes up on that address the LB registers by itself.
import { afterEach, describe, expect, it } from 'vitest';
import { createSelector } from '../../selector/selector.js';
import { selectorConfig, until } from '../helpers/fixtures.js';
import { freeTcpPort } from '../helpers/net.js';
import { addrs, bootBackbone, query, resetSeqs, SERVICE, type Closer } from './helpers.js';

const open: Closer[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  resetSeqs();
});

describe('uplink with the backbone down', () => {
  it('starts and answers without the backbone, then registers when it appears', async () => {
    const port = await freeTcpPort();
    const lb = createSelector(selectorConfig({
      uplink: { url: `mqtt://127.0.0.1:${port}`, id: 'isp-a', push: true, nameservers: [{ name: 'ns.isp-a.example.test', address: '127.0.5.1' }] },
    }));
    open.push(lb);
    const started = Date.now();
    await lb.start();
    expect(Date.now() - started).toBeLessThan(5000);
    expect(lb.uplink()?.connected()).toBe(false);
    const lbPort = lb.dnsAddresses()[0]?.port as number;
    // Its own configured service, and the {label}.{service} alias, answered at once.
    expect(addrs(await query(lbPort, SERVICE))).toEqual(['127.2.0.1', '127.2.0.2', '127.2.0.3']);
    expect(addrs(await query(lbPort, `isp-a.${SERVICE}`))).toEqual(['127.2.0.1', '127.2.0.2', '127.2.0.3']);
    const bb = await bootBackbone(open, {}, { mqtt: { listen: `127.0.0.1:${port}` } });
    await until(() => lb.uplink()?.connected(), 10_000, 'uplink connected after the backbone started');
    await until(() => bb.backbone()?.registry.get('isp-a')?.rankings && bb.backbone()?.tables.views.get('isp-a')?.online, 10_000, 'isp-a registered');
    expect(bb.backbone()?.registry.get('isp-a')?.map?.nameservers).toEqual([{ name: 'ns.isp-a.example.test', address: '127.0.5.1' }]);
  });
});
