import { describe, expect, it } from 'vitest';
import { PrefixTable, parseAddress, parsePrefix, formatAddress, prefixContains, isAddress } from '../../shared/prefix.js';

describe('parsePrefix', () => {
  it.each([
    ['198.51.100.7/24', '198.51.100.0/24', 4, 24],
    ['203.0.113.0/32', '203.0.113.0/32', 4, 32],
    ['192.0.2.1', '192.0.2.1/32', 4, 32],
    ['2001:db8::1/32', '2001:db8::/32', 6, 32],
    ['2001:db8:ab::/48', '2001:db8:ab::/48', 6, 48],
    ['0.0.0.0/0', '0.0.0.0/0', 4, 0],
  ])('%s → %s', (input, text, family, length) => {
    const p = parsePrefix(input);
    expect(p.text).toBe(text);
    expect(p.family).toBe(family);
    expect(p.length).toBe(length);
  });

  it.each(['198.51.100.0/33', '2001:db8::/129', '198.51.100/24', '127.1', 'x/8', '198.51.100.0/-1', '198.51.100.0/'])(
    'rejects %s', (input) => {
      expect(() => parsePrefix(input)).toThrow(/invalid/);
    });

  it('formats and tests containment', () => {
    const { family, bytes } = parseAddress('2001:db8::5');
    expect(formatAddress(family, bytes)).toBe('2001:db8::5');
    expect(prefixContains(parsePrefix('2001:db8::/32'), family, bytes)).toBe(true);
    expect(prefixContains(parsePrefix('198.51.100.0/24'), 4, parseAddress('198.51.101.1').bytes)).toBe(false);
  });
});

describe('PrefixTable', () => {
  const table = new PrefixTable<string>();
  table.set(parsePrefix('198.51.0.0/16'), 'a');
  table.set(parsePrefix('198.51.100.0/24'), 'b');
  table.set(parsePrefix('203.0.113.0/24'), 'c');
  table.set(parsePrefix('2001:db8::/32'), 'v6');
  table.set(parsePrefix('2001:db8:1::/48'), 'v6-nested');

  const look = (addr: string, len?: number) => {
    const { family, bytes } = parseAddress(addr);
    const r = table.lookup(family, bytes, len);
    return { agent: r.match?.value, length: r.match?.length, scope: r.scope };
  };

  it.each([
    // Most specific wins; a host inside the nested /24 gets scope 24.
    ['198.51.100.9', undefined, 'b', 24, 24],
    // A neighbour /24 inside the /16: must not get scope 16, which would cover the nested /24 of b.
    ['198.51.101.0', 24, 'a', 16, 24],
    ['198.51.200.0', 24, 'a', 16, 17],
    // A /24 query inside a leaf prefix gets that prefix's length.
    ['203.0.113.0', 24, 'c', 24, 24],
    // A /16 query over a nested /24: the block holds two answers, scope is longer than the source.
    ['198.51.0.0', 16, 'a', 16, 17],
    // No match: scope says how far the "no prefix" block reaches.
    ['192.0.2.0', 24, undefined, undefined, 6],
    ['2001:db8:1::', 56, 'v6-nested', 48, 48],
    ['2001:db8:2::', 56, 'v6', 32, 47],
  ])('%s/%s → %s (match /%s, scope %s)', (addr, len, agent, length, scope) => {
    expect(look(addr, len)).toEqual({ agent, length, scope });
  });

  it('reports scope 0 for a family with no prefixes', () => {
    const t = new PrefixTable<string>();
    t.set(parsePrefix('2001:db8::/32'), 'x');
    const { bytes } = parseAddress('192.0.2.1');
    expect(t.lookup(4, bytes, 24)).toEqual({ match: undefined, scope: 0 });
  });

  it('lists its entries', () => {
    expect(new Map(table.entries()).get('198.51.100.0/24')).toBe('b');
    expect(table.size).toBe(5);
  });
});

describe('isAddress', () => {
  it('accepts dotted quads 0-255 without leading zeros and IPv6; rejects the rest', () => {
    for (const ok of ['0.0.0.0', '255.255.255.255', '127.2.0.1', '199.255.249.250', '::1', '2001:db8::1']) expect(isAddress(ok), ok).toBe(true);
    for (const bad of ['256.1.1.1', '01.2.3.4', '1.2.3.04', '1.2.3', '1.2.3.4.5', '127.1', 'a.b.c.d', '', '1..2.3', ' 1.2.3.4', '1.2.3.4 ', '2001:db8::g']) {
      expect(isAddress(bad), bad).toBe(false);
    }
  });
});
