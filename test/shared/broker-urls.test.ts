import { describe, expect, it } from 'vitest';
import { brokerServers, brokerUrls, reconnectDelayMs } from '../../shared/broker-urls.js';

describe('broker URL lists', () => {
  it('urls win over url; servers carry protocol, host and port (defaults per scheme)', () => {
    expect(brokerUrls({ url: 'mqtt://a:1' })).toEqual(['mqtt://a:1']);
    expect(brokerUrls({ urls: ['mqtt://b:2', 'mqtts://c'] })).toEqual(['mqtt://b:2', 'mqtts://c']);
    expect(brokerServers(['mqtt://127.0.0.1:1884', 'mqtts://broker.example.net', 'mqtt://[::1]:1883'])).toEqual([
      { protocol: 'mqtt', host: '127.0.0.1', port: 1884 },
      { protocol: 'mqtts', host: 'broker.example.net', port: 8883 },
      { protocol: 'mqtt', host: '::1', port: 1883 },
    ]);
  });

  it('the next node is tried at the minimum delay; the delay doubles per failed round of the list, capped', () => {
    // 3 nodes, min 1 s, max 8 s: the value set after failure k is used for the attempt after failure k+1.
    expect([0, 1, 2, 3, 4, 5, 6, 9, 12, 30].map((k) => reconnectDelayMs(k, 3, 1000, 8000)))
      .toEqual([1000, 1000, 1000, 2000, 2000, 2000, 4000, 8000, 8000, 8000]);
    expect([1, 2, 3].map((k) => reconnectDelayMs(k, 1, 1000, 60_000))).toEqual([2000, 4000, 8000]);
  });
});
