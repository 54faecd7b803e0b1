// Shared setup for DNS tests: a server on 127.0.0.1 port 0 with a MemoryAnswerTable and
// PrefixClientMapper filled directly. The clients are in ../helpers/dns-client.ts.
import { ZoneConfigSchema } from '../../selector/dns/config.js';
import type { SelectorConfig } from '../../selector/config.js';
import { MemoryAnswerTable } from '../../selector/dns/answer-table.js';
import { PrefixClientMapper } from '../../selector/mapping/mapper.js';
import { createDnsServer, type DnsServer } from '../../selector/dns/index.js';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import { TrackedAnswerTable } from '../../selector/dns/snapshot.js';

/**
 * The UDP engine the DNS tests run against: VANTAGE_TEST_UDP_ENGINE (vitest.config.ts
 * runs these files a second time with dgram), else auto (the native batch engine if built).
 */
export function testUdpEngine(): SelectorConfig['dns']['udpEngine'] {
  const e = process.env.VANTAGE_TEST_UDP_ENGINE;
  return e === 'batch' || e === 'dgram' ? e : 'auto';
}

export function dnsConfig(over: Partial<SelectorConfig['dns']> = {}): SelectorConfig['dns'] {
  return {
    listen: [{ host: '127.0.0.1', port: 0 }],
    zones: [ZoneConfigSchema.parse({ name: 'example.test', ns: ['ns1.example.test', 'ns2.example.test'], hostmaster: 'hostmaster.example.test', serial: 2026112501, minimum: 60, ttl: 3600 })],
    maxTcpConnections: 1024,
    tcpIdleTimeoutMs: 10_000,
    rateLimit: 0,
    udpEngine: testUdpEngine(),
    ...over,
  };
}

export interface World {
  server: DnsServer;
  table: MemoryAnswerTable;
  mapper: PrefixClientMapper;
  port: number;
}

/** A mapper that says when its inputs change (to empty the packet cache, as the selector does). */
class NotifyingMapper extends PrefixClientMapper {
  onChange: (() => void) | undefined;
  override setPrefixes(entries: Parameters<PrefixClientMapper['setPrefixes']>[0]): void { super.setPrefixes(entries); this.onChange?.(); }
  override setResolvers(entries: Iterable<{ address: string; agent: string }>): void { super.setResolvers(entries); this.onChange?.(); }
  override setAgentStates(states: Parameters<PrefixClientMapper['setAgentStates']>[0]): void { super.setAgentStates(states); this.onChange?.(); }
}

/**
 * The packet cache for the DNS tests: VANTAGE_TEST_PACKET_CACHE=1 runs every world with it,
 * emptied on each table or mapper write like the selector does (native batch engine only).
 */
const CACHE_ALL = process.env.VANTAGE_TEST_PACKET_CACHE === '1';

/**
 * www.example.test: agent-a (198.51.0.0/16 and 2001:db8::/32) → 192.0.2.1 first,
 * agent-b (198.51.100.0/24 inside it, 2001:db8:1::/48) → 192.0.2.2 first,
 * default → 192.0.2.3 first. same.example.test has one answer for everyone.
 */
export async function startWorld(over: Partial<SelectorConfig['dns']> = {}, opts: { packetCache?: boolean } = {}): Promise<World> {
  // opts.packetCache: the test empties the cache itself (invalidateCache()).
  const auto = CACHE_ALL && opts.packetCache === undefined;
  const table = auto ? new TrackedAnswerTable() : new MemoryAnswerTable();
  const mapper = new NotifyingMapper();
  table.setService('www.example.test', 30);
  table.setAnswer('www.example.test', 'agent-a', ['192.0.2.1', '192.0.2.2', '2001:db8:ffff::1']);
  table.setAnswer('www.example.test', 'agent-b', ['192.0.2.2', '192.0.2.1', '2001:db8:ffff::2']);
  table.setAnswer('www.example.test', DEFAULT_KEY, ['192.0.2.3', '192.0.2.1']);
  table.setService('same.example.test', 60);
  table.setAnswer('same.example.test', DEFAULT_KEY, ['192.0.2.9']);
  table.setAnswer('same.example.test', 'agent-a', ['192.0.2.9']);
  table.setService('v4only.deep.example.test', 30);
  table.setAnswer('v4only.deep.example.test', DEFAULT_KEY, ['192.0.2.7']);
  mapper.setPrefixes([
    { prefix: '198.51.0.0/16', agent: 'agent-a' },
    { prefix: '198.51.100.0/24', agent: 'agent-b' },
    { prefix: '2001:db8::/32', agent: 'agent-a' },
    { prefix: '2001:db8:1::/48', agent: 'agent-b' },
  ]);
  mapper.setAgentStates(new Map([['agent-a', 'fresh'], ['agent-b', 'fresh']]));
  const server = createDnsServer({ dns: dnsConfig(over), table, mapper, services: ['planned.example.test'], packetCache: opts.packetCache ?? auto });
  if (auto && table instanceof TrackedAnswerTable) {
    table.onChange = mapper.onChange = () => {
      table.takeOps();
      server.invalidateCache?.();
    };
  }
  await server.start();
  return { server, table, mapper, port: server.addresses()[0]?.port as number };
}
