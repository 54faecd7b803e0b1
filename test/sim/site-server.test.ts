// The simulated sites, probed by the real agent probe from POP source addresses:
// latency from the matrix plus extras, `down` → reset before any response, `reset` →
// reset mid-body, and the clock decides what is in force.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probe } from '../../agent/probe.js';
import { WorldClock } from '../../bench/sim/clock.js';
import { startSiteServers, type SiteServers } from '../../bench/sim/site-server.js';
import { parseWorld } from '../../bench/sim/world.js';

const world = parseWorld({
  name: 'site-test', durationS: 600, probeIntervalS: 1, service: 'www.example.test',
  pops: [
    { id: 'pop-a', address: '127.1.9.1', prefixes: ['198.51.100.0/24'], geo: [0, 0] },
    { id: 'pop-b', address: '127.1.9.2', prefixes: ['203.0.113.0/24'], geo: [0, 0] },
    { id: 'pop-c', address: '127.1.9.3', prefixes: ['192.0.2.0/24'], geo: [0, 0] },
  ],
  sites: [
    { id: 's1', address: '127.2.9.1', geo: [0, 0] },
    { id: 's2', address: '127.2.9.2', geo: [0, 0] },
  ],
  latencyMs: { 'pop-a': { s1: 40, s2: 5 }, 'pop-b': { s1: 5, s2: 5 }, 'pop-c': { s1: 5, s2: 5 } },
  events: [
    { atS: 0, site: 's1', pops: ['pop-a'], kind: 'slow', extraMs: 120 },
    { atS: 0, site: 's1', kind: 'load', extraMs: 30 },
    { atS: 0, site: 's1', pops: ['pop-b'], kind: 'down' },
    { atS: 0, site: 's1', pops: ['pop-c'], kind: 'reset' },
    { atS: 500, site: 's2', kind: 'down' },
  ],
});

const clock = new WorldClock();
let sites: SiteServers;

const probeSite = (address: string, localAddress: string) => probe({
  service: 'www.example.test', site: 'x', address, scheme: 'http', port: sites.port, path: '/', expectStatus: [200], timeoutMs: 2000,
}, { localAddress });

beforeAll(async () => {
  sites = await startSiteServers(world, clock);
  clock.start();
});
afterAll(async () => {
  await sites.close();
});

describe('simulated sites', () => {
  it('delays by matrix latency plus slow and load extras for that POP only', async () => {
    const a = await probeSite('127.2.9.1', '127.1.9.1');
    expect(a.ok).toBe(true);
    expect(a.status).toBe(200);
    // 40 + 120 (slow) + 30 (load)
    expect(a.totalMs).toBeGreaterThanOrEqual(189);
    expect(a.totalMs).toBeLessThan(400);
    const a2 = await probeSite('127.2.9.2', '127.1.9.1');
    expect(a2.ok).toBe(true);
    expect(a2.totalMs).toBeLessThan(150);
  });

  it('down: the connection is reset before any response', async () => {
    const r = await probeSite('127.2.9.1', '127.1.9.2');
    expect(r.ok).toBe(false);
    expect(r.status).toBe(null);
    expect(r.error).toBe('reset');
  });

  it('reset: headers and part of the body arrive, then a reset', async () => {
    const r = await probeSite('127.2.9.1', '127.1.9.3');
    expect(r.ok).toBe(false);
    expect(r.error).toBe('reset');
  });

  it('events not yet in force do nothing, and the counts record outcomes', async () => {
    const r = await probeSite('127.2.9.2', '127.1.9.2');
    expect(r.ok).toBe(true);
    const c = sites.counts();
    expect(c.get('pop-b/s1')?.down).toBeGreaterThanOrEqual(1);
    expect(c.get('pop-c/s1')?.reset).toBe(1);
    expect(c.get('pop-a/s1')?.ok).toBe(1);
  });
});
