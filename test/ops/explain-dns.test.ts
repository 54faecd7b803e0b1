// `explain` must say what the DNS server answers: for clients mapped via a prefix,
// via the resolver address, via the default (unmapped, and an offline agent's
// prefix), the order, TTL and ECS scope from `explain --json` equal a real dig query
// with ECS at the same moment. Then drain: the drained site is never answered, the
// retained catalogue marks it, and the drain survives a restart.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { watch, type Watcher } from '../helpers/mqtt-watch.js';
import { dig } from '../helpers/dns-client.js';
import { SERVICE, SITES, type writeConfig } from '../helpers/fixtures.js';
import { cli, type Daemon, startDaemon, startFedDaemon } from '../helpers/selector-process.js';

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let env: Awaited<ReturnType<typeof writeConfig>>;
let daemon: Daemon;
let cfg: string[];

async function explain(client: string, source?: string): Promise<Json> {
  const r = await cli(['explain', SERVICE, '--client', client, ...(source ? ['--source', source] : []), ...cfg, '--json']);
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as Json;
}

beforeAll(async () => {
  ({ env, daemon, cfg } = await startFedDaemon(async (c) => {
    cfg = c; // explain() reads it
    const e = await explain('203.0.113.0/24', '127.0.0.1');
    const old = await explain('192.0.2.0/25', '127.0.0.1');
    return e.answerKey === 'pop-lon' && e.order.length === 2 && old.match?.skipped === 'offline';
  }));
}, 60_000);

afterAll(async () => {
  await daemon?.stop();
});

const ADDR = Object.fromEntries(SITES.map((s) => [s.id, s.address]));

describe('explain == DNS answer', () => {
  const cases: { what: string; subnet?: string; from?: string; client: string; source?: string; via: string; key: string; order: string[]; scope: number | null }[] = [
    { what: 'ECS in a POP prefix', subnet: '198.51.100.0/24', client: '198.51.100.0/24', source: '127.0.0.1', via: 'prefix', key: 'pop-nyc', order: ['us-east', 'eu-west', 'ap-south'], scope: 24 },
    { what: 'ECS /32 inside the other POP (site down there)', subnet: '203.0.113.77/32', client: '203.0.113.77/32', source: '127.0.0.1', via: 'prefix', key: 'pop-lon', order: ['eu-west', 'us-east'], scope: 24 },
    { what: 'no ECS, source is a resolver of pop-lon', from: '127.0.0.53', client: '127.0.0.53', via: 'resolver', key: 'pop-lon', order: ['eu-west', 'us-east'], scope: null },
    { what: 'unmapped ECS from pop-lon\'s resolver', subnet: '192.0.2.200/32', from: '127.0.0.53', client: '192.0.2.200/32', source: '127.0.0.53', via: 'resolver', key: 'pop-lon', order: ['eu-west', 'us-east'], scope: 25 },
    { what: 'unmapped client: default aggregate', subnet: '192.0.2.128/25', client: '192.0.2.128/25', source: '127.0.0.1', via: 'default', key: 'default', order: ['eu-west', 'us-east', 'ap-south'], scope: 25 },
    { what: 'offline agent\'s prefix: default', subnet: '192.0.2.0/25', client: '192.0.2.0/25', source: '127.0.0.1', via: 'default', key: 'default', order: ['eu-west', 'us-east', 'ap-south'], scope: 25 },
  ];
  for (const c of cases) {
    it(c.what, async () => {
      const e = await explain(c.client, c.source);
      const d = await dig(env.ports.dns, SERVICE, { subnet: c.subnet, from: c.from });
      expect(d.status).toBe('NOERROR');
      expect(e.match.via).toBe(c.via);
      expect(e.answerKey).toBe(c.key);
      expect(e.order).toEqual(c.order);
      expect(d.addresses).toEqual(e.addresses);
      expect(d.addresses).toEqual(c.order.map((id) => ADDR[id]));
      expect(d.ttls).toEqual(e.addresses.map(() => e.ttl));
      // ttl 30, or ttl/4 while the answer is unsettled (a site changed state or the set changed in the window), and explain says why.
      expect(e.ttl).toBe(e.unsettled ? 7 : 30);
      expect(d.scope).toBe(c.scope);
      if (c.subnet) expect(e.scope).toBe(d.scope);
      // Aggregate of pop-nyc and pop-lon: median of medians, us-east (11.5 + 120) / 2 = 65.75 vs eu-west 45.5.
    // The first site of the explanation is up and the reason names the path taken.
      expect(e.sites.find((s: Json) => s.id === c.order[0]).state).toBe('up');
      expect(e.match.reason.length).toBeGreaterThan(20);
    });
  }

  it('a name DNS cannot carry: one line and a non-zero exit, no exception', async () => {
    const r = await cli(['explain', `${'x'.repeat(64)}.example.test`, '--client', '198.51.100.1', ...cfg]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/^vantage-selector: .*not a domain name DNS can carry: "x{64}\.example\.test"\n$/);
  });

  it('the offline agent is named with the reason', async () => {
    const e = await explain('192.0.2.0/25', '127.0.0.1');
    expect(e.match).toMatchObject({ via: 'default', agent: 'pop-old', prefix: '192.0.2.0/25', skipped: 'offline' });
    expect(e.match.reason).toBe('client is inside 192.0.2.0/25 of agent pop-old, which is offline: fallback to the default');
    expect(e.defaultAgents).toEqual(['pop-lon', 'pop-nyc']);
  });

  it('pop-lon: ap-south is down, with its inputs', async () => {
    const e = await explain('203.0.113.0/24', '127.0.0.1');
    const ap = e.sites.find((s: Json) => s.id === 'ap-south');
    expect(ap).toMatchObject({ state: 'down', samples: 4, streak: -2, failureShare: 0.5, medianMs: 150 });
    expect(ap.formula).toBe('excluded: down (median 150 ms × (1 + 4 × 0.5 failure share) = 450)');
    expect(e.agent).toMatchObject({ id: 'pop-lon', state: 'online', intervalS: 60 });
  });
});

describe('logs', () => {
  it('pino JSON; state changes at info; nothing per query', async () => {
    const lines = () => daemon.stderr().trimEnd().split('\n');
    const parsed = lines().map((l) => JSON.parse(l) as Json);
    expect(parsed.find((l) => l.msg === 'site down' && l.agent === 'pop-lon')).toMatchObject({ level: 30, site: 'ap-south', service: SERVICE });
    expect(parsed.some((l) => l.msg === 'agent online' && l.agent === 'pop-nyc' && l.level === 30)).toBe(true);
    const before = lines().length;
    for (let i = 0; i < 10; i++) await dig(env.ports.dns, SERVICE, { subnet: '198.51.100.0/24' });
    await explain('198.51.100.0/24', '127.0.0.1');
    expect(lines().length).toBe(before);
  });
});

describe('drain', () => {
  let watcher: Watcher;
  beforeAll(async () => {
    watcher = await watch(`mqtt://127.0.0.1:${env.ports.mqtt}`, 'vantage/v1/config/services');
  });
  afterAll(async () => {
    await watcher?.close();
  });

  const clients = [{ subnet: '198.51.100.0/24' }, { subnet: '203.0.113.0/24' }, { from: '127.0.0.53' }, { subnet: '192.0.2.128/25' }, {}];

  it('a drained site is never answered, for any client, and agents are told', async () => {
    expect((await dig(env.ports.dns, SERVICE, { subnet: '203.0.113.0/24' })).addresses[0]).toBe(ADDR['eu-west']);
    const r = await cli(['sites', 'drain', SERVICE, 'eu-west', ...cfg]);
    expect(r).toMatchObject({ code: 0, stdout: 'site eu-west of www.example.test drained\n' });
    for (const c of clients) {
      const d = await dig(env.ports.dns, SERVICE, c);
      expect(d.addresses, JSON.stringify(c)).not.toContain(ADDR['eu-west']);
      expect(d.addresses.length).toBeGreaterThan(0);
    }
    expect((await dig(env.ports.dns, SERVICE, { subnet: '203.0.113.0/24' })).addresses).toEqual([ADDR['us-east']]);
    const e = await explain('203.0.113.0/24', '127.0.0.1');
    expect(e.sites.find((s: Json) => s.id === 'eu-west')).toMatchObject({ state: 'drained', formula: 'excluded: drained' });
    // Before the drain the retained catalogue had no drained site; the new one marks eu-west.
    expect(JSON.parse(watcher.seen[0]?.payload ?? '{}').services[0].sites.some((s: Json) => s.drained)).toBe(false);
    const cat = await watcher.waitFor((m) => JSON.parse(m.payload).services[0].sites.some((s: Json) => s.drained), 5000, 'catalogue with the drain');
    // Sites also carry their answer settings (cost, weight: docs/protocol.md); only eu-west is drained.
    expect(JSON.parse(cat.payload).services[0].sites).toEqual([
      { id: 'us-east', address: ADDR['us-east'], cost: 0, weight: 1 }, { id: 'eu-west', address: ADDR['eu-west'], drained: true, cost: 0, weight: 1 },
      { id: 'ap-south', address: ADDR['ap-south'], cost: 0, weight: 1 },
    ]);
  });

  it('the drain survives a restart; undrain brings the site back', async () => {
    expect(await daemon.stop()).toBe(0);
    daemon = await startDaemon(env.conf);
    for (const c of clients) expect((await dig(env.ports.dns, SERVICE, c)).addresses).not.toContain(ADDR['eu-west']);
    const listed = JSON.parse((await cli(['sites', 'list', ...cfg, '--json'])).stdout) as Json[];
    expect(listed.find((s) => s.id === 'eu-west')?.drained).toBe(true);
    expect(await cli(['sites', 'undrain', SERVICE, 'eu-west', ...cfg])).toMatchObject({ code: 0, stdout: 'site eu-west of www.example.test undrained\n' });
    expect((await dig(env.ports.dns, SERVICE, { subnet: '203.0.113.0/24' })).addresses).toEqual([ADDR['eu-west'], ADDR['us-east']]);
  }, 30_000);
});
