// `node dist/bench/dns-path.js`: the DNS query path alone, in this process, no sockets —
// the same world as bench:dns (3 sites, 100 agents, 10,000 prefixes, an ECS query) — so a
// change to the parser, resolve() or the writer can be measured without dnsperf's and the
// kernel's noise. Prints CPU ns per query (process.cpuUsage: robust to sharing the cores
// with other processes, unlike wall time), median and min over interleaved rounds.
// BENCH_COMPARE=/other/checkout/dist adds the same rows for another build (e.g. main),
// interleaved with ours in this process, for an A/B under the same load.
// Env: BENCH_ROUNDS (default 20), BENCH_QUERIES per round (default 100,000), BENCH_ECS.
import { fileURLToPath } from 'node:url';
import * as packet from 'dns-packet';
import { parsePrefix } from '../shared/prefix.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const PER_ROUND = Number(process.env.BENCH_QUERIES ?? 100_000);
const ECS = process.env.BENCH_ECS ?? '2001:db8:1::/48';
const SITES = ['192.0.2.1', '192.0.2.2', '192.0.2.3'];
const SERVICE = 'www.example.test';

interface AnyResponder {
  answer(msg: Buffer, f: number, src: Uint8Array, limit: number | 'tcp', reserve?: number): Buffer | undefined;
  answerInto?(msg: Buffer, f: number, src: Uint8Array, limit: number | 'tcp', out: Buffer): number;
}

/** A responder over the bench world, built from the modules of the build at `root` (a dist/ folder). */
async function world(root: string): Promise<AnyResponder> {
  const { MemoryAnswerTable } = await import(`${root}/selector/dns/answer-table.js`);
  const { PrefixClientMapper } = await import(`${root}/selector/mapping/mapper.js`);
  const { ZoneConfigSchema } = await import(`${root}/selector/dns/config.js`);
  const { createResponder } = await import(`${root}/selector/dns/responder.js`);
  const table = new MemoryAnswerTable();
  const mapper = new PrefixClientMapper();
  table.setService(SERVICE, 30);
  table.setAnswer(SERVICE, '*', SITES);
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
  return createResponder({ zones, table, mapper }) as AnyResponder;
}

const p = parsePrefix(ECS);
const msg = Buffer.from(packet.encode({
  type: 'query', id: 1, flags: 0, questions: [{ type: 'A', name: SERVICE, class: 'IN' }],
  additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 1232, flags: 0, options: [{ code: 'CLIENT_SUBNET', ip: ECS.split('/')[0], sourcePrefixLength: p.length, scopePrefixLength: 0 }] } as unknown as packet.Answer],
}));
const src = Uint8Array.from([127, 0, 0, 1]);
const slot = Buffer.alloc(4096);
const batch = Buffer.alloc(64 * 4096);

/** The rows for one build: how each transport calls the writer (the batch engine used to copy answer() into its slot). */
function rows(name: string, r: AnyResponder): [string, () => unknown][] {
  const into = r.answerInto?.bind(r);
  return [
    [`${name}: answer() (dgram)`, () => r.answer(msg, 4, src, 1232)],
    into
      ? [`${name}: answerInto() (batch slot)`, () => into(msg, 4, src, 1232, slot)]
      : [`${name}: answer() + copy (batch slot)`, () => r.answer(msg, 4, src, 1232)?.copy(batch, 0)],
  ];
}

async function main(): Promise<void> {
  const own = fileURLToPath(new URL('..', import.meta.url)).replace(/\/$/, '');
  const all = rows('this', await world(own));
  const other = process.env.BENCH_COMPARE;
  if (other) all.push(...rows('compare', await world(other.replace(/\/$/, ''))));
  for (const [, f] of all) for (let i = 0; i < 300_000; i++) f(); // warm up (JIT)
  const ns = new Map<string, number[]>(all.map(([k]) => [k, []]));
  for (let round = 0; round < ROUNDS; round++) {
    for (const [k, f] of all) {
      const cpu = process.cpuUsage();
      for (let i = 0; i < PER_ROUND; i++) f();
      const used = process.cpuUsage(cpu);
      ns.get(k)?.push(((used.user + used.system) * 1000) / PER_ROUND);
    }
  }
  console.log(`query path: ${SERVICE} A, ECS ${ECS}, 10,000 prefixes; ${ROUNDS} interleaved rounds of ${PER_ROUND} queries${other ? `; compare = ${other}` : ''}`);
  console.table([...ns].map(([path, v]) => {
    const s = [...v].sort((a, b) => a - b);
    return { path, 'CPU ns/query median': Math.round(s[s.length >> 1] ?? 0), min: Math.round(s[0] ?? 0) };
  }));
}

await main();
