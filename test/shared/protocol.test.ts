import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../../shared/errors.js';
import {
  agentTopic, parseAgentTopic, parseAnnounce, parseCatalogue, parseMetrics, parseStatus, MAX_PAYLOAD_BYTES,
} from '../../shared/protocol.js';

const now = 1_790_000_000_000;
const result = {
  service: 'www.example.test', site: 'us-east', address: '127.2.0.1', ok: true, status: 200,
  connectMs: 0.4, tlsMs: null, ttfbMs: 2.1, totalMs: 2.5, bytes: 512, error: null,
};
const metrics = { v: 1, agent: 'pop-nyc', seq: 7, ts: now, intervalS: 10, results: [result] };

function reason(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ProtocolError);
    return (err as ProtocolError).reason + ': ' + (err as ProtocolError).message;
  }
  return 'accepted';
}

describe('v1 protocol validation', () => {
  it('accepts a valid metrics message and ignores unknown fields', () => {
    const msg = parseMetrics(JSON.stringify({ ...metrics, extra: 1 }), { topicAgent: 'pop-nyc', now });
    expect(msg.results[0]?.totalMs).toBe(2.5);
    expect('extra' in msg).toBe(false);
  });

  it.each([
    ['not json', '{', /^json/],
    ['array', '[]', /^json/],
    ['version 2', JSON.stringify({ ...metrics, v: 2 }), /^version/],
    ['negative time', JSON.stringify({ ...metrics, results: [{ ...result, totalMs: -1 }] }), /^schema: results\.0\.totalMs/],
    ['string time', JSON.stringify({ ...metrics, results: [{ ...result, ttfbMs: '2' }] }), /^schema: results\.0\.ttfbMs/],
    ['unknown error class', JSON.stringify({ ...metrics, results: [{ ...result, ok: false, error: 'boom' }] }), /^schema/],
    ['ok with error', JSON.stringify({ ...metrics, results: [{ ...result, error: 'reset' }] }), /^schema: results\.0\.error/],
    ['missing seq', JSON.stringify({ ...metrics, seq: undefined }), /^schema: seq/],
    ['bad agent id', JSON.stringify({ ...metrics, agent: 'POP' }), /^schema: agent/],
    ['future ts', JSON.stringify({ ...metrics, ts: now + 3_600_000 }), /^future_ts/],
    ['other agent', JSON.stringify({ ...metrics, agent: 'pop-lon' }), /^agent_mismatch/],
  ])('rejects %s', (_name, payload, expected) => {
    expect(reason(() => parseMetrics(payload, { topicAgent: 'pop-nyc', now }))).toMatch(expected);
  });

  it('rejects oversize payloads before parsing', () => {
    const big = Buffer.alloc(MAX_PAYLOAD_BYTES + 1, 32);
    expect(reason(() => parseMetrics(big))).toMatch(/^oversize/);
  });

  it('parses status, announce and catalogue', () => {
    expect(parseStatus({ v: 1, agent: 'pop-nyc', state: 'offline', ts: now }).state).toBe('offline');
    expect(reason(() => parseAnnounce({ v: 1, agent: 'pop-nyc', pop: 'NY', addresses: ['127.1.0.1'], prefixes: ['198.51.100.0/33'], resolvers: [], ts: now })))
      .toMatch(/^schema: prefixes\.0/);
    const cat = parseCatalogue({ v: 1, ts: now, services: [{ name: 'www.example.test', probe: { scheme: 'https', port: 443, path: '/', expectStatus: [200], timeoutMs: 3000 }, sites: [{ id: 'a', address: '2001:db8::1' }] }] });
    expect(cat.services[0]?.sites[0]?.address).toBe('2001:db8::1');
  });

  it('dual-stack fields are optional and additive: catalogue sites[].addresses, announce families', () => {
    const probe = { scheme: 'http', port: 80, path: '/', expectStatus: [200], timeoutMs: 3000 };
    const cat = parseCatalogue({ v: 1, ts: now, services: [{ name: 'www.example.test', probe, sites: [{ id: 'a', address: '192.0.2.1', addresses: ['192.0.2.1', '2001:db8::1'] }] }] });
    expect(cat.services[0]?.sites[0]?.addresses).toEqual(['192.0.2.1', '2001:db8::1']);
    expect(reason(() => parseCatalogue({ v: 1, ts: now, services: [{ name: 'www.example.test', probe, sites: [{ id: 'a', address: '192.0.2.1', addresses: ['nope'] }] }] })))
      .toMatch(/^schema: services\.0\.sites\.0\.addresses\.0: not an IP address/);
    const ann = { v: 1, agent: 'pop-nyc', pop: 'NY', addresses: [], prefixes: [], resolvers: [], ts: now };
    expect(parseAnnounce({ ...ann, families: [4, 6] }).families).toEqual([4, 6]);
    expect(parseAnnounce(ann).families).toBeUndefined();
    expect(reason(() => parseAnnounce({ ...ann, families: [5] }))).toMatch(/^schema: families\.0/);
  });

  it('builds and splits agent topics', () => {
    expect(agentTopic('pop-nyc', 'metrics')).toBe('vantage/v1/agents/pop-nyc/metrics');
    expect(parseAgentTopic('vantage/v1/agents/pop-nyc/status')).toEqual({ agent: 'pop-nyc', kind: 'status' });
    expect(parseAgentTopic('vantage/v1/agents/POP/status')).toBeUndefined();
    expect(parseAgentTopic('vantage/v1/agents/pop-nyc/other')).toBeUndefined();
    expect(parseAgentTopic('vantage/v1/config/services')).toBeUndefined();
  });
});
