// `node dist/bench/dns-path.js`: the DNS query path alone, in this process, no sockets —
// the same world as bench:dns (3 sites, 100 agents, 10,000 prefixes, ECS queries) — so a
// change to the parser, resolve() or the writer can be measured without dnsperf's and the
// kernel's noise. Prints CPU ns per query (process.cpuUsage: robust to sharing the cores
// with other processes, unlike wall time) for each way a transport calls the writer.
// Env: BENCH_SECONDS (default 3 per row), BENCH_ECS (default 2001:db8:1::/48).
import * as packet from 'dns-packet';
import { MemoryAnswerTable } from '../selector/dns/answer-table.js';
import { PrefixClientMapper } from '../selector/mapping/mapper.js';
import { ZoneConfigSchema } from '../selector/dns/config.js';
import { DEFAULT_KEY } from '../selector/dns/contract.js';
import { createResponder } from '../selector/dns/responder.js';
import { parsePrefix } from '../shared/prefix.js';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ECS = process.env.BENCH_ECS ?? '2001:db8:1::/48';
const SITES = ['192.0.2.1', '192.0.2.2', '192.0.2.3'];
const SERVICE = 'www.example.test';

const table = new MemoryAnswerTable();
const mapper = new PrefixClientMapper();
table.setService(SERVICE, 30);
table.setAnswer(SERVICE, DEFAULT_KEY, SITES);
const states = new Map<string, 'fresh'>();
for (let a = 0; a < 100; a++) {
  states.set(`agent-${a}`, 'fresh');
  table.setAnswer(SERVICE, `agent-${a}`, [...SITES.slice(a % 3), ...SITES.slice(0, a % 3)]);
}
const prefixes = [{ prefix: '198.51.100.0/24', agent: 'agent-1' }];
for (let i = 0; prefixes.length < 10_000; i++) prefixes.push({ prefix: `2001:db8:${i.toString(16)}::/48`, agent: `agent-${i % 100}` });
mapper.setPrefixes(prefixes);
mapper.setAgentStates(states);
const zones = [ZoneConfigSchema.parse({ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'hostmaster.example.test' })];
const responder = createResponder({ zones, table, mapper });

const p = parsePrefix(ECS);
const msg = Buffer.from(packet.encode({
  type: 'query', id: 1, flags: 0, questions: [{ type: 'A', name: SERVICE, class: 'IN' }],
  additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [{ code: 'CLIENT_SUBNET', ip: ECS.split('/')[0], sourcePrefixLength: p.length, scopePrefixLength: 0 }] } as unknown as packet.Answer],
}));
const src = Uint8Array.from([127, 0, 0, 1]);
const slot = Buffer.alloc(4096);

function time(name: string, once: () => unknown): { path: string; cpuNsPerQuery: number; queries: number } {
  for (let i = 0; i < 200_000; i++) once(); // warm up (JIT)
  let n = 0;
  const cpu = process.cpuUsage();
  const end = process.hrtime.bigint() + BigInt(SECONDS * 1e9);
  while (process.hrtime.bigint() < end) {
    for (let i = 0; i < 10_000; i++) once();
    n += 10_000;
  }
  const used = process.cpuUsage(cpu);
  return { path: name, cpuNsPerQuery: Math.round(((used.user + used.system) * 1000) / n), queries: n };
}

const r = responder as unknown as { answerInto?: (m: Buffer, f: 4, s: Uint8Array, l: number, o: Buffer) => number };
const rows = [
  time('answer(): fresh buffer (dgram path)', () => responder.answer(msg, 4, src, 1232)),
  ...(r.answerInto ? [time('answerInto(): into a batch slot', () => r.answerInto?.(msg, 4, src, 1232, slot))] : []),
];
console.log(`query path, ${SERVICE} A with ECS ${ECS}, 10,000 prefixes, ${SECONDS} s per row`);
console.table(rows);
