// Per-answer-key query counts (issue #10 §3: demand per agent for capacity) over real
// UDP: counted only for services that asked for it, per mapped key, and a counted
// service is answered per client (never uniform, ECS scope from the mapping).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as packet from 'dns-packet';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import { ecsOf, query, udpQuery } from '../helpers/dns-client.js';
import { startWorld, type World } from './helpers.js';

let w: World;
beforeAll(async () => { w = await startWorld(); });
afterAll(async () => { await w.server.close(); });

async function ask(name: string, type: 'A' | 'AAAA' | 'TXT', ecs: string): Promise<packet.DecodedPacket> {
  const res = await udpQuery(w.port, packet.encode(query(name, type, { ecs })));
  if (!res) throw new Error('no response');
  return packet.decode(res);
}

describe('query counts per answer key', () => {
  it('are off by default', async () => {
    await ask('www.example.test', 'A', '198.51.100.0/24');
    expect(w.table.queryCounts('www.example.test').size).toBe(0);
  });

  it('count A/AAAA queries per mapped key once turned on, not other types', async () => {
    w.table.countQueries('www.example.test', true);
    await ask('www.example.test', 'A', '198.51.100.0/24'); // agent-b
    await ask('www.example.test', 'AAAA', '2001:db8:1::/48'); // agent-b
    await ask('www.example.test', 'A', '198.51.7.0/24'); // agent-a
    await ask('www.example.test', 'A', '203.0.113.0/24'); // default
    await ask('www.example.test', 'TXT', '198.51.100.0/24'); // NODATA: not a demand
    expect(Object.fromEntries(w.table.queryCounts('www.example.test'))).toEqual({ 'agent-b': 2, 'agent-a': 1, [DEFAULT_KEY]: 1 });
  });

  it('a counted service with one answer for everyone still maps each client (scope from the mapping)', async () => {
    expect(w.table.isUniform('same.example.test')).toBe(true);
    const before = await ask('same.example.test', 'A', '198.51.100.0/24');
    expect(ecsOf(before)?.scopePrefixLength).toBe(0);
    w.table.countQueries('same.example.test', true);
    expect(w.table.isUniform('same.example.test')).toBe(false);
    const after = await ask('same.example.test', 'A', '198.51.100.0/24');
    expect(ecsOf(after)?.scopePrefixLength).toBe(24);
    expect(w.table.queryCounts('same.example.test').get('agent-b')).toBe(1);
    w.table.countQueries('same.example.test', false);
    expect(w.table.isUniform('same.example.test')).toBe(true);
    expect(w.table.queryCounts('same.example.test').size).toBe(0);
  });
});
