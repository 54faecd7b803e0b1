// The backbone's LB registry on its own (no sockets): states from status and rankings age,
// replay protection, the label rule, the LB count cap, and aggregateLists' arithmetic.
import { describe, expect, it } from 'vitest';
import { LbRegistry, MAX_LBS } from '../../selector/backbone/registry.js';
import { aggregateLists } from '../../selector/backbone/tables.js';
import { lbTopic } from '../../shared/lb-protocol.js';
import { silentLogger } from '../../shared/log.js';

function registry(now: { t: number }, lbs = [] as { id: string; label?: string; nameservers: []; resolvers: []; prefixes: string[] }[]) {
  const changes: string[] = [];
  const reg = new LbRegistry({ lbs, staleIntervals: 3, log: silentLogger(), now: () => now.t, onChange: (lb, kind) => changes.push(`${lb}/${kind}`) });
  const send = (lb: string, kind: 'map' | 'status' | 'rankings', body: object): void => reg.handle(lbTopic(lb, kind), Buffer.from(JSON.stringify({ v: 1, lb, ts: now.t, ...body })));
  return { reg, send, changes };
}

describe('LbRegistry', () => {
  it('is online from its status or static entry, push-fresh for staleIntervals × intervalS after a push', () => {
    const now = { t: 1_790_000_000_000 };
    const { reg, send, changes } = registry(now, [{ id: 'static-a', nameservers: [], resolvers: [], prefixes: ['198.51.100.0/24'] }]);
    expect(reg.state(reg.get('static-a') as never)).toBe('online');
    send('isp-b', 'rankings', { seq: 5, intervalS: 10, services: [] });
    const b = reg.get('isp-b') as NonNullable<ReturnType<typeof reg.get>>;
    expect(reg.state(b)).toBe('unknown');
    expect(reg.pushFresh(b)).toBe(true);
    now.t += 30_000;
    expect(reg.pushFresh(b)).toBe(true);
    now.t += 1;
    expect(reg.pushFresh(b)).toBe(false);
    expect(reg.rankingsRecent(b)).toBe(false);
    send('isp-b', 'rankings', { seq: 6, intervalS: 10, services: [] });
    send('isp-b', 'status', { state: 'offline' });
    expect(reg.pushFresh(b)).toBe(false);
    expect(reg.rankingsRecent(b)).toBe(true);
    expect(reg.state(b)).toBe('offline');
    expect(changes).toEqual(['isp-b/rankings', 'isp-b/rankings', 'isp-b/status']);
  });

  it('takes a restarted LB (seq from 1, newer ts) but not a replay', () => {
    const now = { t: 1_790_000_000_000 };
    const { reg, send } = registry(now);
    send('isp-a', 'rankings', { seq: 9, intervalS: 10, services: [] });
    reg.handle(lbTopic('isp-a', 'rankings'), Buffer.from(JSON.stringify({ v: 1, lb: 'isp-a', seq: 8, ts: now.t - 5000, intervalS: 10, services: [] })));
    expect(reg.counters.rejected).toEqual({ stale_seq: 1 });
    now.t += 1000;
    send('isp-a', 'rankings', { seq: 1, intervalS: 10, services: [] });
    expect(reg.get('isp-a')?.rankings?.seq).toBe(1);
  });

  it('refuses a label another LB holds, and LB ids past the cap', () => {
    const now = { t: 1_790_000_000_000 };
    const { reg, send } = registry(now);
    const map = { nameservers: [{ name: 'ns.x.example.test', address: '127.0.5.1' }], resolvers: [], prefixes: [] };
    send('isp-a', 'map', { ...map, label: 'a' });
    send('isp-b', 'map', { ...map, label: 'a' });
    expect(reg.counters.rejected).toEqual({ label_taken: 1 });
    for (let i = reg.list().length; i < MAX_LBS; i++) send(`lb-${i}`, 'status', { state: 'online' });
    expect(reg.list()).toHaveLength(MAX_LBS);
    send('one-too-many', 'status', { state: 'online' });
    expect(reg.get('one-too-many')).toBeUndefined();
    expect(reg.counters.rejected.too_many_lbs).toBe(1);
    send('isp-a', 'status', { state: 'offline' }); // a known id still gets through
    expect(reg.get('isp-a')?.status).toBe('offline');
  });
});

describe('aggregateLists (rank sum of the fresh LBs default lists)', () => {
  it.each([
    [[['a', 'b', 'c'], ['b', 'a', 'c']], 3, ['a', 'b', 'c']],
    [[['a', 'b'], ['b', 'c'], ['b', 'a']], 2, ['b', 'a']],
    [[['a'], ['c', 'b']], 3, ['a', 'c', 'b']],
    [[], 3, []],
  ])('%j capped to %i → %j', (lists, answers, expected) => {
    expect(aggregateLists(lists, answers)).toEqual(expected);
  });
});
