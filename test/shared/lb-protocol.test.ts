import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../shared/errors.js';
import { lbTopic, parseLbMap, parseLbRankings, parseLbStatus, parseLbTopic } from '../../shared/lb-protocol.js';
import { MAX_PAYLOAD_BYTES } from '../../shared/protocol.js';
import { parseSelectorConfig } from '../../selector/config.js';

const now = 1_790_000_000_000;
const map = {
  v: 1, lb: 'isp-a', label: 'a', nameservers: [{ name: 'ns.a.example.test', address: '127.0.5.1' }],
  resolvers: ['127.0.7.1'], prefixes: ['198.51.100.0/24'], ts: now,
};
const rankings = {
  v: 1, lb: 'isp-a', seq: 3, ts: now, intervalS: 10,
  services: [{ name: 'www.example.test', ttl: 30, default: ['127.2.0.1'], byAgent: [{ agent: 'pop-a', prefixes: ['198.51.100.0/25'], resolvers: [], addresses: ['127.2.0.2'] }] }],
};

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return `${(err as ProtocolError).reason}: ${(err as ProtocolError).message}`;
  }
  return 'accepted';
}

describe('federation topics (vantage/v1/lbs/{id}/…)', () => {
  it('builds and splits LB topics, refusing other shapes', () => {
    expect(lbTopic('isp-a', 'rankings')).toBe('vantage/v1/lbs/isp-a/rankings');
    expect(parseLbTopic('vantage/v1/lbs/isp-a/map')).toEqual({ lb: 'isp-a', kind: 'map' });
    for (const t of ['vantage/v1/lbs/ISP/map', 'vantage/v1/lbs/isp-a/metrics', 'vantage/v1/agents/isp-a/map', 'vantage/v1/lbs/isp-a/map/x', 'vantage/v1/lbs/+/map']) {
      expect(parseLbTopic(t)).toBeUndefined();
    }
  });

  it('accepts valid map, status and rankings and drops unknown fields', () => {
    expect(parseLbMap(JSON.stringify({ ...map, extra: true }), { topicLb: 'isp-a', now })).not.toHaveProperty('extra');
    expect(parseLbStatus({ v: 1, lb: 'isp-a', state: 'offline', ts: now }, { now }).state).toBe('offline');
    expect(parseLbRankings(Buffer.from(JSON.stringify(rankings)), { topicLb: 'isp-a', now }).services[0]?.byAgent[0]?.addresses).toEqual(['127.2.0.2']);
  });

  it.each([
    ['map: not json', () => parseLbMap('{x', { now }), /^json/],
    ['map: version 2', () => parseLbMap({ ...map, v: 2 }, { now }), /^schema: v/],
    ['map: two labels', () => parseLbMap({ ...map, label: 'a.b' }, { now }), /^schema: label/],
    ['map: upper-case label', () => parseLbMap({ ...map, label: 'A' }, { now }), /^schema: label/],
    ['map: no nameservers', () => parseLbMap({ ...map, nameservers: [] }, { now }), /^schema: nameservers/],
    ['map: glue not an address', () => parseLbMap({ ...map, nameservers: [{ name: 'ns.a', address: 'ns.a' }] }, { now }), /^schema: nameservers\.0\.address/],
    ['map: bad prefix', () => parseLbMap({ ...map, prefixes: ['198.51.100.0/33'] }, { now }), /^schema: prefixes\.0/],
    ['map: resolvers a string', () => parseLbMap({ ...map, resolvers: '127.0.0.1' }, { now }), /^schema: resolvers/],
    ['map: other lb than topic', () => parseLbMap({ ...map, lb: 'isp-b' }, { topicLb: 'isp-a', now }), /^lb_mismatch/],
    ['map: future ts', () => parseLbMap({ ...map, ts: now + 3_600_000 }, { now }), /^future_ts/],
    ['status: unknown state', () => parseLbStatus({ v: 1, lb: 'isp-a', state: 'maybe', ts: now }, { now }), /^schema: state/],
    ['rankings: negative seq', () => parseLbRankings({ ...rankings, seq: -1 }, { now }), /^schema: seq/],
    ['rankings: seq a string', () => parseLbRankings({ ...rankings, seq: '4' }, { now }), /^schema: seq/],
    ['rankings: address not an IP', () => parseLbRankings({ ...rankings, services: [{ ...rankings.services[0], default: ['www.example.test'] }] }, { now }), /^schema: services\.0\.default\.0/],
    ['rankings: negative ttl', () => parseLbRankings({ ...rankings, services: [{ ...rankings.services[0], ttl: -5 }] }, { now }), /^schema: services\.0\.ttl/],
    ['rankings: 65 addresses', () => parseLbRankings({ ...rankings, services: [{ ...rankings.services[0], default: Array(65).fill('127.2.0.1') }] }, { now }), /^schema: services\.0\.default/],
    ['rankings: byAgent missing', () => parseLbRankings({ ...rankings, services: [{ name: 'www.example.test', ttl: 30, default: [] }] }, { now }), /^schema: services\.0\.byAgent/],
    ['rankings: oversize', () => parseLbRankings(Buffer.alloc(MAX_PAYLOAD_BYTES + 1, 32), { now }), /^oversize/],
  ])('rejects %s', (_name, fn, expected) => {
    expect(reason(fn)).toMatch(expected);
  });
});

describe('backbone and uplink config sections', () => {
  const base = { dns: { zones: [{ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'h.example.test' }] } };

  it('fills the defaults of the contract', () => {
    const cfg = parseSelectorConfig({ ...base, backbone: {} });
    expect(cfg.backbone).toMatchObject({ mode: 'push', referralTtl: 3600, delegationTtl: 86_400, lbs: [], nameservers: [] });
    const lb = parseSelectorConfig({ ...base, uplink: { url: 'mqtt://127.0.0.1:1883', id: 'isp-a', nameservers: [{ name: 'ns.a.example.test', address: '127.0.5.1' }] } });
    expect(lb.uplink).toMatchObject({ push: false, catalogue: true, id: 'isp-a' });
  });

  it.each([
    [{ backbone: { mode: 'proxy' } }, /^backbone\.mode: /],
    [{ backbone: { referralTtl: -1 } }, /^backbone\.referralTtl: /],
    [{ backbone: { lbs: [{ id: 'a' }, { id: 'a' }] } }, /^backbone\.lbs\[1\]\.id: duplicate/],
    [{ backbone: { lbs: [{ id: 'a', label: 'x.y' }] } }, /^backbone\.lbs\[0\]\.label: /],
    [{ uplink: { url: 'http://x', id: 'a', nameservers: [{ name: 'ns.a', address: '127.0.5.1' }] } }, /^uplink\.url: /],
    [{ uplink: { url: 'mqtt://127.0.0.1:1', id: 'a', nameservers: [] } }, /^uplink\.nameservers: /],
    [{ uplink: { url: 'mqtt://127.0.0.1:1', id: 'a', nameservers: [{ name: 'ns.a', address: '127.0.5.1' }] }, backbone: {} }, /^uplink: a selector is either/],
  ])('rejects %j', (over, expected) => {
    expect(() => parseSelectorConfig({ ...base, ...over })).toThrow(expected);
  });
});
