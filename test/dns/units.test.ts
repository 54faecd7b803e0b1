// Unit tests: PrefixTable scope, the mapper's order, the answer table's encoding.
import { describe, expect, it } from 'vitest';
import { PrefixTable, parseAddress, parsePrefix } from '../../shared/prefix.js';
import { PrefixClientMapper } from '../../selector/mapping/mapper.js';
import { MemoryAnswerTable } from '../../selector/dns/answer-table.js';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import { nameToWire, wireToName } from '../../selector/dns/names.js';

function lookup(t: PrefixTable<string>, client: string): { value?: string; length?: number; scope: number } {
  const p = parsePrefix(client);
  const r = t.lookup(p.family, p.bytes, p.length);
  return { value: r.match?.value, length: r.match?.length, scope: r.scope };
}

describe('PrefixTable scope (RFC 7871 §7.3.1)', () => {
  const t = new PrefixTable<string>();
  t.set(parsePrefix('198.51.0.0/16'), 'a');
  t.set(parsePrefix('198.51.100.0/24'), 'b');
  t.set(parsePrefix('2001:db8::/32'), 'a');
  t.set(parsePrefix('2001:db8:1::/48'), 'b');
  it.each([
    { client: '198.51.100.0/24', value: 'b', scope: 24 },
    { client: '198.51.100.9/32', value: 'b', scope: 24 },
    { client: '198.51.101.0/24', value: 'a', scope: 24 },
    { client: '198.51.0.0/16', value: 'a', scope: 17 },
    { client: '198.51.200.0/24', value: 'a', scope: 17 },
    { client: '203.0.113.0/24', value: undefined, scope: 5 },
    { client: '2001:db8:1::/48', value: 'b', scope: 48 },
    { client: '2001:db8:2::/48', value: 'a', scope: 47 },
    { client: '2001:db8:ffff::/48', value: 'a', scope: 33 },
  ])('$client → $value scope $scope', ({ client, value, scope }) => {
    expect(lookup(t, client)).toMatchObject({ value, scope });
  });
  it('scope 0 when the family has no prefixes', () => {
    const v4only = new PrefixTable<string>();
    v4only.set(parsePrefix('198.51.100.0/24'), 'b');
    expect(lookup(v4only, '2001:db8::/48')).toEqual({ value: undefined, length: undefined, scope: 0 });
  });
});

describe('PrefixClientMapper order', () => {
  const v4 = (s: string) => parseAddress(s).bytes;
  function mapper(states: Record<string, 'fresh' | 'stale' | 'offline'>): PrefixClientMapper {
    const m = new PrefixClientMapper();
    m.setPrefixes([{ prefix: '198.51.100.0/24', agent: 'pfx' }, { prefix: '203.0.113.0/24', agent: 'announced' }, { prefix: '203.0.113.0/24', agent: 'configured', configured: true }]);
    m.setResolvers([{ address: '192.0.2.53', agent: 'res' }, { address: '2001:db8::53', agent: 'res6' }]);
    m.setAgentStates(new Map(Object.entries(states)));
    return m;
  }
  const all = { pfx: 'fresh', res: 'fresh', res6: 'fresh', configured: 'fresh', announced: 'fresh' } as const;

  it.each([
    { what: 'prefix beats resolver', states: all, client: '198.51.100.7', source: '192.0.2.53', key: 'pfx', via: 'prefix' },
    { what: 'resolver when no prefix matches', states: all, client: '192.0.2.99', source: '192.0.2.53', key: 'res', via: 'resolver' },
    { what: 'IPv6 resolver', states: all, client: '192.0.2.99', source: '2001:db8::53', key: 'res6', via: 'resolver' },
    { what: 'default when neither', states: all, client: '192.0.2.99', source: '192.0.2.54', key: DEFAULT_KEY, via: 'default' },
    { what: 'stale prefix agent → default, even with a known resolver', states: { ...all, pfx: 'stale' }, client: '198.51.100.7', source: '192.0.2.53', key: DEFAULT_KEY, via: 'default', skipped: 'stale' },
    { what: 'stale prefix agent, no resolver → default', states: { ...all, pfx: 'stale' }, client: '198.51.100.7', source: '192.0.2.54', key: DEFAULT_KEY, via: 'default', skipped: 'stale' },
    { what: 'offline resolver agent → default', states: { ...all, res: 'offline' }, client: '192.0.2.99', source: '192.0.2.53', key: DEFAULT_KEY, via: 'default', skipped: 'offline' },
    { what: 'unknown agent → default', states: { res: 'fresh' }, client: '198.51.100.7', source: '192.0.2.54', key: DEFAULT_KEY, via: 'default', skipped: 'unknown' },
    { what: 'configured prefix wins over announced', states: all, client: '203.0.113.1', source: '192.0.2.54', key: 'configured', via: 'prefix' },
  ])('$what', ({ states, client, source, key, via, skipped }) => {
    const m = mapper(states as Record<string, 'fresh'>);
    const c = parseAddress(client);
    const s = parseAddress(source);
    const r = m.map(c.family, c.bytes, c.family === 4 ? 32 : 128, s.family, s.bytes);
    expect(r.key).toBe(key);
    expect(r.via).toBe(via);
    if (skipped) expect(r.skipped).toBe(skipped);
  });

  it('scope is 0 with no prefixes of that family, and comes from the trie otherwise', () => {
    const m = mapper(all);
    expect(m.map(6, parseAddress('2001:db8::1').bytes, 128, 4, v4('192.0.2.54')).scope).toBe(0);
    expect(m.map(4, v4('198.51.100.0'), 24, 4, v4('192.0.2.54'))).toMatchObject({ scope: 24, prefix: '198.51.100.0/24' });
  });
});

describe('MemoryAnswerTable', () => {
  it('encodes A and AAAA RRs with a pointer to the question and the service TTL', () => {
    const t = new MemoryAnswerTable();
    t.setService('WWW.Example.Test.', 45);
    t.setAnswer('www.example.test', 'x', ['192.0.2.1', '2001:db8::1', '192.0.2.2']);
    const w = t.lookupWire(nameToWire('www.example.test'));
    const a = w?.answers.get('x');
    expect(a?.aCount).toBe(2);
    expect(a?.aaaaCount).toBe(1);
    expect([...a!.a.subarray(0, 16)]).toEqual([0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 45, 0, 4, 192, 0, 2, 1]);
    t.setService('www.example.test', 5);
    expect(t.lookupWire(nameToWire('www.example.test'))?.answers.get('x')?.a.readUInt32BE(6)).toBe(5);
  });

  it('a per-answer TTL (unsettled) is encoded in that answer only and survives a service TTL change', () => {
    const t = new MemoryAnswerTable();
    t.setService('www.example.test', 40);
    t.setAnswer('www.example.test', DEFAULT_KEY, ['192.0.2.1']);
    t.setAnswer('www.example.test', 'x', ['192.0.2.1', '2001:db8::1'], 10);
    const wire = () => t.lookupWire(nameToWire('www.example.test'))!;
    expect(wire().answers.get('x')?.a.readUInt32BE(6)).toBe(10);
    expect(wire().answers.get('x')?.aaaa.readUInt32BE(6)).toBe(10);
    expect(t.getAnswer('www.example.test', 'x')?.ttl).toBe(10);
    expect(t.getAnswer('www.example.test', DEFAULT_KEY)?.ttl).toBe(40);
    t.setService('www.example.test', 60);
    expect(wire().answers.get('x')?.a.readUInt32BE(6)).toBe(10);
    expect(wire().answers.get(DEFAULT_KEY)?.a.readUInt32BE(6)).toBe(60);
    // Settled again: back to the service TTL. Same addresses with another TTL are not uniform.
    t.setAnswer('www.example.test', 'x', ['192.0.2.1'], 10);
    expect(t.isUniform('www.example.test')).toBe(false);
    t.setAnswer('www.example.test', 'x', ['192.0.2.1']);
    expect(t.getAnswer('www.example.test', 'x')?.ttl).toBe(60);
    expect(t.isUniform('www.example.test')).toBe(true);
    expect(() => t.setAnswer('www.example.test', 'x', [], -1)).toThrow(/ttl -1/);
  });

  it('getAnswer falls back to DEFAULT_KEY; isUniform; retainKeys; ENTs', () => {
    const t = new MemoryAnswerTable();
    t.setService('a.b.example.test', 30);
    t.setAnswer('a.b.example.test', DEFAULT_KEY, ['192.0.2.1', '192.0.2.2']);
    expect(t.isUniform('a.b.example.test')).toBe(true);
    t.setAnswer('a.b.example.test', 'agent-1', ['192.0.2.2', '192.0.2.1']);
    expect(t.isUniform('a.b.example.test')).toBe(false);
    expect(t.getAnswer('a.b.example.test', 'agent-1')).toEqual({ key: 'agent-1', addresses: ['192.0.2.2', '192.0.2.1'], ttl: 30 });
    expect(t.getAnswer('a.b.example.test', 'agent-2')?.key).toBe(DEFAULT_KEY);
    t.retainKeys('a.b.example.test', new Set());
    expect(t.isUniform('a.b.example.test')).toBe(true);
    expect(t.getAnswer('a.b.example.test', 'agent-1')?.key).toBe(DEFAULT_KEY);
    expect(t.isEmptyNonTerminal(nameToWire('b.example.test'))).toBe(true);
    expect(t.isEmptyNonTerminal(nameToWire('c.example.test'))).toBe(false);
    expect(t.services()).toEqual(['a.b.example.test']);
    t.removeService('a.b.example.test');
    expect(t.getAnswer('a.b.example.test', DEFAULT_KEY)).toBeUndefined();
    expect(t.isEmptyNonTerminal(nameToWire('b.example.test'))).toBe(false);
    expect(() => t.setAnswer('gone.example.test', 'x', [])).toThrow(/unknown service/);
  });

  it('wire names round-trip', () => {
    expect(nameToWire('Www.Example.test.')).toBe('\x03www\x07example\x04test\x00');
    expect(wireToName(nameToWire('www.example.test'))).toBe('www.example.test');
  });
});
