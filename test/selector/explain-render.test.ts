// The text form of `explain` (selector/commands/explain.ts): the query type, where the
// family's inputs came from, the answer set with a reason per site, and why the TTL is short.
import { describe, expect, it } from 'vitest';
import type { Explanation } from '../../selector/admin/explain.js';
import { renderExplanation } from '../../selector/commands/explain.js';

const base: Explanation = {
  name: 'www.example.test', rcode: 'NOERROR', kind: 'service', zone: 'example.test', service: 'www.example.test',
  client: { address: '198.51.100.0', sourceLength: 24, source: '127.0.0.1', ecs: true },
  match: { via: 'prefix', prefix: '198.51.100.0/24', agent: 'pop-a', skipped: null, reason: 'r' },
  answerKey: 'pop-a', agent: null, defaultAgents: [], uniform: false, policy: 'latency', sites: [], hysteresis: null,
  note: null, failOpen: false, order: ['other'], addresses: ['2001:db8::2'], ttl: 7, scope: 24, qtype: 'AAAA',
  familySource: 'ranked on this view\'s results for this family',
  answerSet: { mode: 'band', sites: [
    { id: 'other', inSet: true, reason: 'first choice' },
    { id: 'dual', inSet: false, reason: 'outside the band: score 150' },
  ] },
  unsettled: 'the answer set changed 3 s ago (window 300 s)',
};

describe('explain text', () => {
  it('names the qtype, the family source, the set and the unsettled TTL', () => {
    const text = renderExplanation(base);
    expect(text).toMatch(/^www\.example\.test AAAA for client ECS 198\.51\.100\.0\/24 from 127\.0\.0\.1\n/);
    expect(text).toContain('family: IPv6, ranked on this view\'s results for this family\n');
    expect(text).toContain('answer set (band):\n  in  other: first choice\n  out dual: outside the band: score 150\n');
    expect(text).toContain('ttl: 7s (unsettled: the answer set changed 3 s ago (window 300 s))\n');
  });

  it('a settled answer shows the plain TTL', () => {
    expect(renderExplanation({ ...base, ttl: 30, unsettled: null })).toContain('ttl: 30s\n');
  });
});
