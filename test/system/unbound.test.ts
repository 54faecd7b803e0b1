// Unbound (subnetcache, send-client-subnet, stub zone) in front of the selector: two
// clients on loopback addresses in two POP prefixes ask the same resolver and get
// different first answers; the resolver's ECS cache must not leak one POP's answer
// to the other.
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSelector, type Selector } from '../../selector/selector.js';
import { agentTopic } from '../../shared/protocol.js';
import { startUnbound, type UnboundHandle } from '../helpers/unbound.js';
import { dig as digA } from '../helpers/dns-client.js';
import { announce, metrics, result, selectorConfig, SERVICE, until } from '../helpers/fixtures.js';

// Clients: the resolver sees their loopback source addresses and sends them on as ECS /24s.
const CLIENT_A = '127.1.1.10';
const CLIENT_B = '127.1.2.10';

/** The A addresses Unbound answers `from` (a recursive query, as a stub sends). */
async function dig(from: string, port: number, name: string, subnet?: string): Promise<string[]> {
  return (await digA(port, name, { from, subnet, recurse: true })).addresses;
}

describe('unbound in front of the selector', () => {
  let sel: Selector;
  let unbound: UnboundHandle;

  beforeAll(async () => {
    sel = createSelector(selectorConfig());
    await sel.start();
    const dns = sel.dnsAddresses()[0] as { port: number };
    unbound = await startUnbound({ zone: 'example.test', upstream: { host: '127.0.0.1', port: dns.port } });

    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${sel.mqttAddress()?.port}`, { reconnectPeriod: 0 });
    await client.publishAsync(agentTopic('pop-a', 'announce'), announce('pop-a', ['127.1.1.0/24']), { qos: 1, retain: true });
    await client.publishAsync(agentTopic('pop-b', 'announce'), announce('pop-b', ['127.1.2.0/24']), { qos: 1, retain: true });
    await client.publishAsync(agentTopic('pop-a', 'metrics'), metrics('pop-a', 1, [result('us-east', 12), result('eu-west', 90), result('ap-south', 200)]), { qos: 1 });
    await client.publishAsync(agentTopic('pop-b', 'metrics'), metrics('pop-b', 1, [result('us-east', 150), result('eu-west', 9), result('ap-south', 220)]), { qos: 1 });
    await until(() => sel.ingestCounters()?.accepted.metrics === 2, 5000, 'metrics ingested');
    await until(() => sel.agentStates().get('pop-a') === 'fresh' && sel.agentStates().get('pop-b') === 'fresh', 5000, 'agents fresh');
    await client.endAsync();
  });

  afterAll(async () => {
    await unbound?.close();
    await sel?.close();
  });

  it('gives clients in different POP prefixes different first answers through the resolver', async () => {
    const a = await dig(CLIENT_A, unbound.port, SERVICE);
    const b = await dig(CLIENT_B, unbound.port, SERVICE);
    expect(a).toEqual(['127.2.0.1', '127.2.0.2', '127.2.0.3']);
    expect(b).toEqual(['127.2.0.2', '127.2.0.1', '127.2.0.3']);
    // Asked again, now from Unbound's subnet cache: still per POP, and case-insensitive.
    expect(await dig(CLIENT_A, unbound.port, 'WWW.Example.TEST')).toEqual(a);
    expect(await dig(CLIENT_B, unbound.port, SERVICE)).toEqual(b);
  });

  it('answers a client outside every POP with the aggregate', async () => {
    // 127.1.3.0/24 is in no prefix: the default (aggregate of fresh agents) answers:
    // eu-west (medians 90 and 9) beats us-east (12 and 150) by more than the hysteresis.
    const c = await dig('127.1.3.10', unbound.port, SERVICE);
    expect(c[0]).toBe('127.2.0.2');
    expect(c).toHaveLength(3);
  });

  it('passes an explicit client subnet from the stub through the resolver', async () => {
    // dig's own ECS option towards Unbound is forwarded as the client's subnet.
    expect((await dig('127.0.0.1', unbound.port, SERVICE, '127.1.2.0/24'))[0]).toBe('127.2.0.2');
  });
});
