// Issue #11: the catalogue's per-service answer settings. Each invalid value is dropped
// with its own reason (the rest is used), agents accept a catalogue whatever its
// settings say, and the catalogue a selector publishes passes the previous release's
// (stricter) catalogue schema, so an agent that predates these fields takes it.
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { countRejections, serviceSettings, siteSettings, type SettingRejection } from '../../shared/catalogue-settings.js';
import { parseCatalogue } from '../../shared/protocol.js';
import { buildCatalogue } from '../../selector/mqtt/catalogue.js';

const probe = { scheme: 'http', port: 80, path: '/', expectStatus: [200], timeoutMs: 3000 } as const;

describe('catalogue answer settings', () => {
  it('keeps the valid settings of a service and of a site', () => {
    const rejected: SettingRejection[] = [];
    expect(serviceSettings({ name: 's', ttl: 7, answers: 1, policy: 'availability', answerSet: 'ordered', ttlUnsettled: 5, mode: 'proxy' }, rejected))
      .toEqual({ ttl: 7, answers: 1, policy: 'availability', answerSet: 'ordered', ttlUnsettled: 5, mode: 'proxy' });
    expect(siteSettings('s', { id: 'a', cost: 2, weight: 0.5, capacity: { share: 0.4 } }, rejected)).toEqual({ cost: 2, weight: 0.5, capacity: { share: 0.4 } });
    expect(siteSettings('s', { id: 'b', capacity: { rps: 100 } }, rejected)).toEqual({ capacity: { rps: 100 } });
    expect(serviceSettings({ name: 's' }, rejected)).toEqual({});
    expect(rejected).toEqual([]);
  });

  it.each([
    [{ ttl: -1 }, 'ttl'], [{ ttl: 86_401 }, 'ttl'], [{ ttl: 7.5 }, 'ttl'], [{ ttl: '7' }, 'ttl'],
    [{ answers: 0 }, 'answers'], [{ answers: 65 }, 'answers'],
    [{ policy: 'fastest' }, 'policy'], [{ policy: 42 }, 'policy'],
    [{ answerSet: 'random' }, 'answerSet'], [{ ttlUnsettled: 2 }, 'ttlUnsettled'], [{ mode: 'cache' }, 'mode'],
    [{ ttl: 10, ttlUnsettled: 20 }, 'ttlUnsettled_above_ttl'],
  ])('drops service setting %j with reason %s, keeps the rest', (bad, reason) => {
    const rejected: SettingRejection[] = [];
    const out = serviceSettings({ name: 'www.example.test', answerSet: 'band', ...bad }, rejected);
    expect(rejected.map((r) => r.reason)).toEqual([reason]);
    expect(rejected[0]?.message).toMatch(/^www\.example\.test: /);
    expect(Object.keys(out)).not.toContain(reason === 'ttlUnsettled_above_ttl' ? 'ttlUnsettled' : reason);
    if (reason !== 'answerSet') expect(out.answerSet).toBe('band');
  });

  it.each([
    [{ cost: -1 }, 'cost'], [{ weight: 0 }, 'weight'], [{ capacity: 'lots' }, 'capacity'],
    [{ capacity: { share: 2 } }, 'capacity'], [{ capacity: { rps: 10, share: 0.5 } }, 'capacity'], [{ capacity: {} }, 'capacity'],
  ])('drops site setting %j with reason %s', (bad, reason) => {
    const rejected: SettingRejection[] = [];
    expect(siteSettings('www.example.test', { id: 'us-east', ...bad }, rejected)).toEqual({});
    expect(rejected).toMatchObject([{ where: 'www.example.test/us-east', reason }]);
    const counters = {};
    countRejections(counters, [...rejected, ...rejected]);
    expect(counters).toEqual({ [reason]: 2 });
  });

  it('agents accept a catalogue whatever its settings hold (they never look at them)', () => {
    const cat = parseCatalogue(JSON.stringify({
      v: 1, ts: 1, services: [{
        name: 'www.example.test', probe, ttl: 'x', answers: -4, policy: { a: 1 }, answerSet: 3, mode: 'warp', ttlUnsettled: null,
        sites: [{ id: 'us-east', address: '127.2.0.1', capacity: 'lots', cost: 'high' }],
      }],
    }));
    expect(cat.services[0]?.sites[0]?.address).toBe('127.2.0.1');
  });

  it("what a selector publishes passes the previous release's catalogue schema (agents that predate the new fields)", () => {
    // shared/protocol.ts before issue #11: typed ttl/answers/policy/cost/weight, unknown keys ignored.
    const oldSite = z.object({ id: z.string(), address: z.string(), cost: z.number().finite().nonnegative().optional(), weight: z.number().finite().positive().optional() });
    const oldService = z.object({
      name: z.string(), probe: z.object({}).passthrough(), sites: z.array(oldSite),
      ttl: z.number().int().min(0).max(86_400).optional(), answers: z.number().int().min(1).max(64).optional(), policy: z.string().max(32).optional(),
    });
    const oldCatalogue = z.object({ v: z.literal(1), ts: z.number(), services: z.array(oldService) });
    const published = buildCatalogue([{
      name: 'www.example.test', ttl: 7, answers: 1, policy: 'availability', answerSet: 'ordered', ttlUnsettled: 5, mode: 'proxy', probe,
      sites: [{ id: 'us-east', address: '127.2.0.1', cost: 1, weight: 2, drained: false, capacity: { share: 0.5 } }],
    }], 1);
    const wire = JSON.parse(JSON.stringify(published));
    expect(oldCatalogue.safeParse(wire).success).toBe(true);
    expect(wire.services[0]).toMatchObject({ ttl: 7, answers: 1, policy: 'availability', answerSet: 'ordered', ttlUnsettled: 5, mode: 'proxy' });
    expect(wire.services[0].sites[0]).toEqual({ id: 'us-east', address: '127.2.0.1', cost: 1, weight: 2, capacity: { share: 0.5 } });
  });
});
