// Child process of `npm run bench:dns`: the Vantage DNS server on its own core with
// 3 sites, 100 agents and 10,000 client prefixes loaded. Reports its port over IPC.
import { MemoryAnswerTable } from '../../selector/dns/answer-table.js';
import { TrackedAnswerTable, TrackedMapper } from '../../selector/dns/snapshot.js';
import { createDnsWorkers } from '../../selector/dns/workers.js';
import { PrefixClientMapper } from '../../selector/mapping/mapper.js';
import { ZoneConfigSchema } from '../../selector/dns/config.js';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import cluster from 'node:cluster';
import { createDnsServer } from '../../selector/dns/index.js';

export const BENCH_SERVICE = 'www.example.test';
export const SITES = ['192.0.2.1', '192.0.2.2', '192.0.2.3'];
export const AGENTS = 100;
export const PREFIXES = 10_000;

/**
 * BENCH_WORKERS ≥ 1: DNS worker threads (dns.workers: SO_REUSEPORT sockets, one per thread);
 * 0 = in the event loop. BENCH_DNS_MODE=cluster: the older node:cluster of BENCH_WORKERS
 * processes sharing the primary's sockets (dgram only).
 */
const WORKERS = Number(process.env.BENCH_WORKERS ?? 1);
const CLUSTER = process.env.BENCH_DNS_MODE === 'cluster';
/** BENCH_UDP_ENGINE: auto (default: the native batch engine if built), batch or dgram. */
const UDP_ENGINE = (['auto', 'batch', 'dgram'] as const).find((e) => e === process.env.BENCH_UDP_ENGINE) ?? 'auto';

async function primary(): Promise<void> {
  let udpEngine = 'dgram';
  const port = await new Promise<number>((resolve) => {
    for (let i = 0; i < WORKERS; i++) {
      const w = cluster.fork();
      w.on('message', (m: { port: number; udpEngine: string }) => {
        udpEngine = m.udpEngine;
        resolve(m.port);
      });
    }
  });
  process.send?.({ port, prefixes: PREFIXES, workers: WORKERS, udpEngine, mode: `node:cluster, ${WORKERS} processes` });
  process.on('disconnect', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill();
    process.exit(0);
  });
}

async function main(): Promise<void> {
  if (CLUSTER && WORKERS > 1 && cluster.isPrimary) return primary();
  const threads = !CLUSTER && WORKERS > 0;
  const table = threads ? new TrackedAnswerTable() : new MemoryAnswerTable();
  const mapper = threads ? new TrackedMapper(new PrefixClientMapper()) : new PrefixClientMapper();
  table.setService(BENCH_SERVICE, 30);
  table.setAnswer(BENCH_SERVICE, DEFAULT_KEY, SITES);
  const states = new Map<string, 'fresh'>();
  for (let a = 0; a < AGENTS; a++) {
    const id = `agent-${a}`;
    states.set(id, 'fresh');
    // Each agent sees the sites in a different order (rotation), as ranking would give.
    table.setAnswer(BENCH_SERVICE, id, [...SITES.slice(a % 3), ...SITES.slice(0, a % 3)]);
  }
  // 10,000 /48s of the IPv6 documentation range spread over the agents (the default ECS,
  // 2001:db8:1::/48, is one of them), plus 198.51.100.0/24 for IPv4 runs.
  const prefixes: { prefix: string; agent: string }[] = [{ prefix: '198.51.100.0/24', agent: 'agent-1' }];
  for (let i = 0; prefixes.length < PREFIXES; i++) prefixes.push({ prefix: `2001:db8:${i.toString(16)}::/48`, agent: `agent-${i % AGENTS}` });
  mapper.setPrefixes(prefixes);
  mapper.setAgentStates(states);
  const dns = {
    listen: [{ host: '127.0.0.1', port: 0 }],
    zones: [ZoneConfigSchema.parse({ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'hostmaster.example.test' })],
    maxTcpConnections: 1024, tcpIdleTimeoutMs: 10_000, rateLimit: 0,
    // BENCH_PACKET_CACHE=0: every query through JS (the batch engine's cache serves DNS workers).
    packetCache: process.env.BENCH_PACKET_CACHE !== '0',
    // Cluster workers share the primary's dgram sockets: no batch engine there.
    udpEngine: cluster.isWorker && UDP_ENGINE === 'batch' ? 'dgram' as const : UDP_ENGINE,
  };
  const server = table instanceof TrackedAnswerTable && mapper instanceof TrackedMapper
    ? createDnsWorkers({
      dns, table, mapper, workers: WORKERS, services: [BENCH_SERVICE],
      mapperModule: new URL('../../selector/mapping/mapper.js', import.meta.url).href, mapperExport: PrefixClientMapper.name,
    })
    // In the event loop as with the selector's dns.workers: 0 (its cache is emptied on each table write; the
    // table here never changes after setup). Not in node:cluster workers (dgram engine there).
    : createDnsServer({ dns, table, mapper: mapper as PrefixClientMapper, clusterShared: cluster.isWorker, packetCache: !CLUSTER });
  await server.start();
  const loaded = mapper instanceof TrackedMapper ? (mapper.inner as PrefixClientMapper).prefixCount : mapper.prefixCount;
  const mode = threads ? `${WORKERS} DNS worker thread(s)` : CLUSTER ? `node:cluster, ${WORKERS} processes` : 'event loop';
  process.send?.({ port: server.addresses()[0]?.port, prefixes: loaded, udpEngine: server.udpEngine, mode });
  process.on('message', (m) => {
    if (m === 'stats') process.send?.({ stats: server.stats(), perWorker: threads ? (server as ReturnType<typeof createDnsWorkers>).workerStats().map((w) => w.udpQueries) : undefined });
  });
  process.on('disconnect', () => { void server.close().then(() => process.exit(0)); });
}

void main();
