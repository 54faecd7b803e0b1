// The optional proxy-cache fields of the v1 payloads: additive (old payloads still
// valid), validated when present (a bad value rejects the message with the path).
import { describe, expect, it } from 'vitest';
import { parseAnnounce, parseMetrics, parseStatus } from '../../shared/protocol.js';

const now = Date.now();
const announce = { v: 1, agent: 'pop-a', pop: 'A', addresses: [], prefixes: [], resolvers: [], ts: now };
const status = { v: 1, agent: 'pop-a', state: 'online', ts: now };
const metrics = { v: 1, agent: 'pop-a', seq: 1, ts: now, intervalS: 10, results: [] };
const totals = { requests: 3, hits: 1, misses: 1, revalidated: 1, errors: 0, retries: 0, upstreamErrors: 0, bytesFromCache: 10, bytesFromUpstream: 20 };

describe('v1 proxy fields', () => {
  it('accepts payloads without them (v1 as before) and with them', () => {
    expect(parseAnnounce(announce).proxy).toBeUndefined();
    expect(parseStatus(status).proxy).toBeUndefined();
    expect(parseMetrics(metrics).proxy).toBeUndefined();
    expect(parseAnnounce({ ...announce, proxy: { addresses: ['192.0.2.53', '2001:db8::53'], services: ['www.example.test'] } }).proxy)
      .toEqual({ addresses: ['192.0.2.53', '2001:db8::53'], services: ['www.example.test'] });
    expect(parseStatus({ ...status, proxy: { healthy: true } }).proxy).toEqual({ healthy: true, down: [] });
    expect(parseMetrics({ ...metrics, proxy: totals }).proxy).toEqual(totals);
  });

  const bad: [string, () => unknown, RegExp][] = [
    ['announce.proxy address not an IP', () => parseAnnounce({ ...announce, proxy: { addresses: ['proxy.example'], services: [] } }), /^proxy\.addresses\.0: not an IP address/],
    ['announce.proxy without addresses', () => parseAnnounce({ ...announce, proxy: { addresses: [], services: [] } }), /^proxy\.addresses: /],
    ['status.proxy.healthy not a boolean', () => parseStatus({ ...status, proxy: { healthy: 'yes' } }), /^proxy\.healthy: /],
    ['status.proxy.down not host names', () => parseStatus({ ...status, proxy: { healthy: true, down: ['a b'] } }), /^proxy\.down\.0: not a host name/],
    ['metrics.proxy negative counter', () => parseMetrics({ ...metrics, proxy: { ...totals, hits: -1 } }), /^proxy\.hits: /],
    ['metrics.proxy missing counter', () => parseMetrics({ ...metrics, proxy: { requests: 1 } }), /^proxy\.hits: /],
  ];
  for (const [name, fn, message] of bad) {
    it(`rejects ${name}`, () => {
      expect(fn).toThrow(message);
    });
  }
});
