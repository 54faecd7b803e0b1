// The simulator's proxy-cache mode end to end on a very short world: the real selector
// (service in `mode: proxy` + the plain `direct.` service), one in-process agent per POP
// with its proxy on the POP address, the simulated sites. Checks the report's structure
// and that the clients' requests went through each POP's own proxy (X-Vantage-Cache),
// hits and misses both, and directly to a site for the comparison. No timing assertions.
import { describe, expect, it } from 'vitest';
import { silentLogger } from '../../shared/log.js';
import { runProxyWorld } from '../../bench/sim/proxy-run.js';
import { proxySummary, proxyTextSummary } from '../../bench/sim/proxy-report.js';
import { parseWorld } from '../../bench/sim/world.js';

const world = parseWorld({
  name: 'proxy-test',
  durationS: 3,
  probeIntervalS: 1,
  service: 'www.example.test',
  pops: [
    { id: 'pop-a', address: '127.1.9.1', prefixes: ['198.51.100.0/24'], geo: [40, -74] },
    { id: 'pop-b', address: '127.1.9.2', prefixes: ['203.0.113.0/24'], geo: [52, 5] },
  ],
  sites: [
    { id: 'east', address: '127.2.9.1', geo: [39, -77] },
    { id: 'west', address: '127.2.9.2', geo: [53, -6] },
  ],
  latencyMs: { 'pop-a': { east: 5, west: 40 }, 'pop-b': { east: 40, west: 5 } },
  // Two objects, no dynamic requests: from the second request of an object on, hits.
  proxy: { requestsPerPopPerS: 6, objects: 2, maxAgeS: 60, dynamicPct: 0 },
});

describe('proxy world', () => {
  it('runs clients through each POP proxy and directly, and reports latency and hit ratio', async () => {
    const result = await runProxyWorld({ world, agents: 'inprocess', log: silentLogger(), maxWarmupS: 30 });
    expect(result.converged).toBe(true);
    expect(result.samples).toHaveLength(2 * 2 * 3 * 6); // POPs × (proxy, direct) × seconds × requests
    for (const pop of world.pops) {
      const proxied = result.samples.filter((x) => x.pop === pop.id && x.via === 'proxy');
      // Answered the POP's own proxy (the selector's mode: proxy answer); a site only as the selector's
      // fallback if the agent's status went stale under a loaded machine, never another POP's proxy.
      const through = proxied.filter((x) => x.address === pop.address);
      expect(through.length).toBeGreaterThanOrEqual(proxied.length / 2);
      expect(proxied.every((x) => x.address === pop.address || world.sites.some((s) => s.address === x.address))).toBe(true);
      expect(through.every((x) => x.site !== null)).toBe(true);
      expect(through.filter((x) => x.outcome === 'miss').length).toBeGreaterThan(0);
      expect(through.filter((x) => x.outcome === 'hit').length).toBeGreaterThan(0);
      expect(proxied.filter((x) => x.outcome === 'error')).toEqual([]);
      const direct = result.samples.filter((x) => x.pop === pop.id && x.via === 'direct');
      expect(direct.every((x) => x.outcome === 'site' && world.sites.some((s) => s.address === x.address))).toBe(true);
    }
    const summary = proxySummary(result);
    expect(summary.rows.map((r) => r.pop)).toEqual(['pop-a', 'pop-b', 'all']);
    const all = summary.rows[2];
    expect(all?.proxy.all.n).toBe(36);
    expect(all?.direct.all.n).toBe(36);
    expect((all?.proxy.hits.n ?? 0) + (all?.proxy.misses.n ?? 0) + (all?.proxy.viaSite ?? 0)).toBe(36);
    expect(all?.hitRatio).toBeGreaterThan(0);
    expect(all?.hitRatio).toBeLessThan(1);
    for (const k of ['p50Ms', 'p95Ms'] as const) {
      expect(typeof all?.proxy.hits[k]).toBe('number');
      expect(typeof all?.proxy.misses[k]).toBe('number');
      expect(typeof all?.direct.all[k]).toBe('number');
    }
    const text = proxyTextSummary(summary);
    expect(text.split('\n').filter((l) => /^(pop-a|pop-b|all) /.test(l))).toHaveLength(3);
  }, 90_000);
});
