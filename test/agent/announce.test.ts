import { describe, expect, it } from 'vitest';
import type os from 'node:os';
import { buildAnnounce, parseResolvConf, readHostFacts } from '../../agent/announce.js';
import { parseAgentConfig } from '../../agent/config.js';
import { parseAnnounce } from '../../shared/protocol.js';

const iface = (address: string, cidr: string, internal = false): os.NetworkInterfaceInfo => ({
  address, cidr, internal, netmask: '', mac: '00:00:00:00:00:00',
  family: address.includes(':') ? 'IPv6' : 'IPv4', ...(address.includes(':') ? { scopeid: 0 } : {}),
} as os.NetworkInterfaceInfo);

const facts = {
  interfaces: {
    lo: [iface('127.0.0.1', '127.0.0.1/8', true), iface('::1', '::1/128', true)],
    eth0: [iface('198.51.100.7', '198.51.100.7/24'), iface('fe80::1', 'fe80::1/64'), iface('2001:db8:5::7', '2001:db8:5::7/64')],
  },
  resolvConf: '# comment\nsearch example.test\nnameserver 192.0.2.53\nnameserver fe80::53%eth0\nnameserver  192.0.2.53\noptions edns0\nnameserver bogus\n',
};

describe('announce', () => {
  it('parses resolv.conf nameserver lines, dropping zones, duplicates and junk', () => {
    expect(parseResolvConf(facts.resolvConf)).toEqual(['192.0.2.53', 'fe80::53']);
  });

  it('derives addresses and prefixes from non-internal interfaces', () => {
    const cfg = parseAgentConfig({ id: 'pop-a', mqtt: { url: 'mqtt://127.0.0.1:1883' } });
    const a = parseAnnounce(buildAnnounce(cfg, facts, 1000));
    expect(a).toEqual({
      v: 1, agent: 'pop-a', pop: 'pop-a', ts: 1000,
      addresses: ['198.51.100.7', '2001:db8:5::7'],
      prefixes: ['198.51.100.0/24', '2001:db8:5::/64'],
      resolvers: ['192.0.2.53', 'fe80::53'],
      families: [4, 6],
    });
  });

  it('announces the families it probes: bind addresses first, then config', () => {
    const base = { id: 'pop-f', mqtt: { url: 'mqtt://127.0.0.1:1883' } };
    expect(buildAnnounce(parseAgentConfig({ ...base, bindAddress: '127.1.0.2' }), facts).families).toEqual([4]);
    expect(buildAnnounce(parseAgentConfig({ ...base, bindAddress: '127.1.0.2', bindAddress6: '::1' }), facts)).toMatchObject({ families: [4, 6], addresses: ['127.1.0.2', '::1'] });
    expect(buildAnnounce(parseAgentConfig({ ...base, families: [6] }), facts).families).toEqual([6]);
    expect(() => parseAgentConfig({ ...base, bindAddress6: '127.0.0.1' })).toThrow(/bindAddress6.*IPv6/);
  });

  it('uses bindAddress, configured prefixes and resolvers when given', () => {
    const cfg = parseAgentConfig({
      id: 'pop-b', pop: 'B', mqtt: { url: 'mqtt://127.0.0.1:1883' }, bindAddress: '127.1.0.2',
      prefixes: ['203.0.113.0/24'], resolvers: ['192.0.2.1'],
    });
    expect(buildAnnounce(cfg, facts, 5)).toMatchObject({ pop: 'B', addresses: ['127.1.0.2'], prefixes: ['203.0.113.0/24'], resolvers: ['192.0.2.1'] });
  });

  it('a loopback-only box announces its loopback addresses', () => {
    const cfg = parseAgentConfig({ id: 'pop-c', mqtt: { url: 'mqtt://127.0.0.1:1883' } });
    const a = buildAnnounce(cfg, { interfaces: { lo: facts.interfaces.lo }, resolvConf: '' });
    expect(a.addresses).toEqual(['127.0.0.1', '::1']);
    expect(a.prefixes).toEqual(['127.0.0.0/8', '::1/128']);
    expect(a.resolvers).toEqual([]);
  });

  it('reads this machine without failing, and tolerates a missing resolv.conf', () => {
    const f = readHostFacts('/nonexistent/resolv.conf');
    expect(f.resolvConf).toBe('');
    const cfg = parseAgentConfig({ id: 'pop-d', mqtt: { url: 'mqtt://127.0.0.1:1883' } });
    expect(() => parseAnnounce(buildAnnounce(cfg, f))).not.toThrow();
  });
});
