// One decision function: decide() (explain) and the DNS answer over real UDP agree for
// every kind of name and client; another resolve() plugs into createDnsServer; the
// SERVFAIL catch-all is counted and logged at most once a second.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import { clearResolution, createDnsServer, setSection, type DnsServer, type ResolveFn } from '../../selector/dns/index.js';
import { ThrottledErrorLog } from '../../selector/dns/error-log.js';
import { rrBody } from '../../selector/dns/zones.js';
import { RCODE, TYPE } from '../../selector/dns/wire.js';
import { createLogger, type Logger } from '../../shared/log.js';
import { parseAddress, parsePrefix } from '../../shared/prefix.js';
import { addressesOf, ecsOf, frame, query, tcpClient, udp } from '../helpers/dns-client.js';
import { dnsConfig, startWorld, type World } from './helpers.js';
import * as packet from 'dns-packet';

let w: World;
beforeAll(async () => {
  w = await startWorld();
  // Uniform, and no default answer: the query path used the one answer there is, while the
  // old decide() looked for the default only and explained "no answer" (the drift of #9).
  w.table.setService('only.example.test', 45);
  w.table.setAnswer('only.example.test', 'agent-a', ['192.0.2.44']);
  w.table.setService('v6only.example.test', 30);
  w.table.setAnswer('v6only.example.test', DEFAULT_KEY, ['2001:db8:ffff::6']);
});
afterAll(async () => { await w.server.close(); });

const LOCAL = parseAddress('127.0.0.1');
const NAMES = [
  'www.example.test', 'WWW.Example.TEST.', 'same.example.test', 'only.example.test', 'v6only.example.test', 'v4only.deep.example.test',
  'planned.example.test', 'deep.example.test', 'nope.example.test', 'example.test', 'example.org',
];
const CLIENTS = [undefined, '198.51.100.0/24', '198.51.100.77/32', '198.51.7.0/24', '203.0.113.0/24', '0.0.0.0/0', '2001:db8:1::/56', '2001:db8:8000::/48'];

describe('decide() == the DNS answer', () => {
  const cases = NAMES.flatMap((name) => CLIENTS.map((ecs) => ({ name, ecs: ecs ?? 'none' })));
  const check = async (name: string, ecs: string): Promise<void> => {
    const r = await udp(w.port, query(name, 'A', ecs === 'none' ? {} : { ecs }));
    const client = ecs === 'none' ? { ...LOCAL } : (({ family, bytes, length }) => ({ family, bytes, sourceLength: length }))(parsePrefix(ecs));
    const d = w.server.decide(name, client, LOCAL);
    expect(r.rcode).toBe(d.rcode);
    const v4 = (d.answer?.addresses ?? []).filter((a) => !a.includes(':'));
    expect(addressesOf(r)).toEqual(d.kind === 'service' ? v4 : []);
    for (const a of r.answers ?? []) expect((a as { ttl: number }).ttl).toBe(d.answer?.ttl);
    if (ecs !== 'none') expect(ecsOf(r)?.scopePrefixLength).toBe(d.scope);
  };
  it.each(cases)('$name from $ecs', async ({ name, ecs }) => { await check(name, ecs); });

  it('also when the packet source is a resolver mapped to an agent', async () => {
    w.mapper.setResolvers([{ address: '127.0.0.1', agent: 'agent-b' }]);
    try {
      for (const ecs of ['none', '203.0.113.0/24', '198.51.7.0/24']) await check('www.example.test', ecs);
      expect(w.server.decide('www.example.test', { ...LOCAL }).match).toMatchObject({ via: 'resolver', key: 'agent-b' });
    } finally {
      w.mapper.setResolvers([]);
    }
  });

  it('regression #9: a uniform service without a default answer is explained with the answer DNS sends', async () => {
    const d = w.server.decide('only.example.test', { family: 4, bytes: parsePrefix('203.0.113.0/24').bytes, sourceLength: 24 });
    expect(d).toMatchObject({ rcode: 'NOERROR', kind: 'service', uniform: true, scope: 0, answer: { key: 'agent-a', addresses: ['192.0.2.44'], ttl: 45 } });
    expect(d.match).toMatchObject({ via: 'default' });
    expect(addressesOf(await udp(w.port, query('only.example.test', 'A', { ecs: '203.0.113.0/24' })))).toEqual(['192.0.2.44']);
  });

  it('a name DNS cannot carry is FORMERR, not an exception', () => {
    expect(w.server.decide(`${'a'.repeat(64)}.example.test`, { ...LOCAL })).toMatchObject({ rcode: 'FORMERR', kind: 'formerr' });
    expect(w.server.decide('a..example.test', { ...LOCAL })).toMatchObject({ rcode: 'FORMERR' });
  });
});

describe('createDnsServer({ resolve })', () => {
  // A decision function of another query path: every name gets 192.0.2.77, TTL 60.
  const fixed: ResolveFn = (q, _source, r) => {
    clearResolution(r, RCODE.NOERROR, 0);
    r.aa = true;
    if (q.qtype === TYPE.A) setSection(r.answer, 0xc00c, rrBody(TYPE.A, 60, Buffer.from([192, 0, 2, 77])), 1);
  };
  let s: DnsServer;
  beforeAll(async () => {
    s = createDnsServer({ dns: dnsConfig(), resolve: fixed });
    await s.start();
  });
  afterAll(async () => { await s.close(); });

  it('answers from it over UDP and TCP, with the writer\'s ECS echo', async () => {
    const port = s.addresses()[0]?.port as number;
    const r = await udp(port, query('anything.example.org', 'A', { ecs: '198.51.100.0/24' }));
    expect(r.rcode).toBe('NOERROR');
    expect(addressesOf(r)).toEqual(['192.0.2.77']);
    expect((r.answers?.[0] as { ttl: number }).ttl).toBe(60);
    expect(ecsOf(r)).toMatchObject({ sourcePrefixLength: 24, scopePrefixLength: 0 });
    const c = await tcpClient(port);
    c.sock.write(frame(packet.encode(query('x.test', 'A', { id: 9 }))));
    const [got] = await c.next(1);
    c.sock.destroy();
    expect(addressesOf(packet.decode(got as Buffer))).toEqual(['192.0.2.77']);
    expect(s.decide('x.test', { ...LOCAL })).toMatchObject({ rcode: 'NOERROR', scope: 0 });
    expect(s.stats().internalErrors).toBe(0);
  });
});

describe('the SERVFAIL catch-all', () => {
  it('counts each exception as internalErrors and logs one line per second with the suppressed count', async () => {
    const lines: Record<string, unknown>[] = [];
    const log = createLogger({ level: 'info' }, new Writable({ write(c, _e, cb) { lines.push(JSON.parse(String(c))); cb(); } }));
    const s = createDnsServer({ dns: dnsConfig(), log, resolve: () => { throw new Error('boom in resolve'); } });
    await s.start();
    try {
      const port = s.addresses()[0]?.port as number;
      for (let i = 0; i < 5; i++) expect((await udp(port, query('www.example.test', 'A', { id: 100 + i }))).rcode).toBe('SERVFAIL');
      expect(s.stats()).toMatchObject({ internalErrors: 5, byRcode: { SERVFAIL: 5 } });
      const caught = lines.filter((l) => l.msg === 'dns query path threw: answered SERVFAIL');
      expect(caught).toHaveLength(1);
      expect(caught[0]).toMatchObject({ level: 50, component: 'dns', suppressed: 0, err: { message: 'boom in resolve' } });
      // The first query (id 100 = 0x0064) is logged as hex, replayable.
      expect(caught[0]?.query).toBe(packet.encode(query('www.example.test', 'A', { id: 100 })).toString('hex'));
    } finally {
      await s.close();
    }
  });

  it('ThrottledErrorLog: one line per interval, carrying the count suppressed since the last one', () => {
    const got: unknown[] = [];
    const log = { error: (obj: unknown, msg: string) => got.push({ ...(obj as object), msg }) } as unknown as Logger;
    let now = 0;
    const t = new ThrottledErrorLog(log, 'oops', 1000, () => now);
    for (let i = 0; i < 4; i++) t.report(new Error(`e${i}`));
    now = 999;
    t.report(new Error('e4'));
    now = 1000;
    t.report(new Error('e5'));
    expect(got).toEqual([
      { err: new Error('e0'), suppressed: 0, msg: 'oops' },
      { err: new Error('e5'), suppressed: 4, msg: 'oops' },
    ]);
  });
});
