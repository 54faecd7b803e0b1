// Child process of `npm run bench:backbone`: a backbone's DNS server (BENCH_MODE push or
// refer) with 10 LBs × 10 agents and 10,000 client prefixes fed through the same
// registry path real LB messages take (JSON payloads → validation → tables). Reports
// its port over IPC.
import { ZoneConfigSchema } from '../../selector/dns/config.js';
import { DEFAULT_KEY } from '../../selector/dns/contract.js';
import { MemoryAnswerTable } from '../../selector/dns/answer-table.js';
import { createDnsServer } from '../../selector/dns/index.js';
import { PrefixClientMapper } from '../../selector/mapping/mapper.js';
import { createBackbone } from '../../selector/backbone/backbone.js';
import { BackboneConfigSchema } from '../../selector/backbone/config.js';
import { silentLogger } from '../../shared/log.js';
import { lbTopic } from '../../shared/lb-protocol.js';

export const SERVICE = 'www.example.test';
const SITES = ['192.0.2.1', '192.0.2.2', '192.0.2.3'];
const LBS = 10;
const AGENTS = 10;
const PREFIXES_PER_LB = 1000;
const MODE = process.env.BENCH_MODE === 'refer' ? 'refer' : 'push';
const UDP_ENGINE = (['auto', 'batch', 'dgram'] as const).find((e) => e === process.env.BENCH_UDP_ENGINE) ?? 'auto';

async function main(): Promise<void> {
  const zones = [ZoneConfigSchema.parse({ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'hostmaster.example.test' })];
  const bb = createBackbone({ config: BackboneConfigSchema.parse({ mode: MODE }), zones, staleIntervals: 1000, log: silentLogger() });
  bb.setServices([{ name: SERVICE, answers: 3, ttl: 30 }]);
  const now = Date.now();
  for (let l = 0; l < LBS; l++) {
    const id = `lb-${l}`;
    // 2001:db8:{l*1000+j}::/48: the default ECS 2001:db8:1::/48 is lb-0's agent-1.
    const prefixes = Array.from({ length: PREFIXES_PER_LB }, (_, j) => `2001:db8:${(l * PREFIXES_PER_LB + j).toString(16)}::/48`);
    const send = (kind: 'map' | 'status' | 'rankings', body: object): void => bb.handle(lbTopic(id, kind), Buffer.from(JSON.stringify({ v: 1, lb: id, ts: now, ...body })));
    send('status', { state: 'online' });
    send('map', { label: id, nameservers: [{ name: `ns.${id}.example.test`, address: `127.0.5.${l + 1}` }], resolvers: [], prefixes });
    send('rankings', {
      seq: 1, intervalS: 10,
      services: [{
        name: SERVICE, ttl: 30, default: SITES,
        byAgent: Array.from({ length: AGENTS }, (_, a) => ({
          agent: `agent-${a}`, resolvers: [], prefixes: prefixes.filter((_, j) => j % AGENTS === a),
          addresses: [...SITES.slice((l + a) % 3), ...SITES.slice(0, (l + a) % 3)],
        })),
      }],
    });
  }
  bb.evaluate();
  const own = new MemoryAnswerTable();
  own.setService(SERVICE, 30);
  own.setAnswer(SERVICE, DEFAULT_KEY, SITES);
  const server = createDnsServer({
    dns: { listen: [{ host: '127.0.0.1', port: 0 }], zones, maxTcpConnections: 1024, tcpIdleTimeoutMs: 10_000, rateLimit: 0, udpEngine: UDP_ENGINE },
    table: own, mapper: new PrefixClientMapper(), services: [SERVICE], wrapResponder: bb.wrap(own),
  });
  await server.start();
  process.send?.({ port: server.addresses()[0]?.port, prefixes: LBS * PREFIXES_PER_LB, lbs: LBS, udpEngine: server.udpEngine, mode: MODE });
  process.on('message', (m) => {
    if (m === 'counts') process.send?.({ counts: [...bb.tables.views.values()].map((v) => ({ lb: v.id, ...v.counts })) });
  });
  process.on('disconnect', () => { void server.close().then(() => process.exit(0)); });
}

void main();
