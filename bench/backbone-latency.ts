// `npm run bench:backbone-latency`: time from an LB's ranking change to the backbone
// answering the new first site (goal ≤ 1 s). One backbone and one LB selector in this
// process, each with its embedded broker (real MQTT between them, uplink debounce at its
// default 200 ms); an agent publishes rounds over MQTT. Each trial takes the current
// first site down (2 failed rounds: downAfter) and times from the PUBACK of the round
// that changes the LB's answer until a UDP query at the backbone gets the new first site.
// Env: BENCH_TRIALS (default 10).
import dgram from 'node:dgram';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { parseSelectorConfig } from '../selector/config.js';
import { createSelector } from '../selector/selector.js';
import { agentTopic } from '../shared/protocol.js';

const TRIALS = Number(process.env.BENCH_TRIALS ?? 10);
const SERVICE = 'www.example.test';
const SITES = [{ id: 'us-east', address: '127.2.0.1' }, { id: 'eu-west', address: '127.2.0.2' }, { id: 'ap-south', address: '127.2.0.3' }];
const ECS_NET = [198, 51, 100, 0];

function config(extra: Record<string, unknown>) {
  return parseSelectorConfig({
    dns: { listen: ['127.0.0.1:0'], zones: [{ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'hostmaster.example.test' }] },
    mqtt: { listen: '127.0.0.1:0' }, http: { listen: '127.0.0.1:0' },
    db: join(mkdtempSync(join(tmpdir(), 'vantage-bench-lat-')), 's.db'), auth: { agents: 'off' }, log: { level: 'silent' },
    ...extra,
  });
}

/** A query for SERVICE A with ECS 198.51.100.0/24; resolves with the first address. */
function firstAddress(sock: dgram.Socket, port: number): Promise<string | undefined> {
  const q = Buffer.concat([
    Buffer.from([0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1]), Buffer.from('\x03www\x07example\x04test\x00', 'latin1'), Buffer.from([0, 1, 0, 1]),
    Buffer.from([0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 11, 0, 8, 0, 7, 0, 1, 24, 0, ...ECS_NET.slice(0, 3)]),
  ]);
  return new Promise((resolve) => {
    const t = setTimeout(() => { sock.removeAllListeners('message'); resolve(undefined); }, 500);
    sock.once('message', (m: Buffer) => {
      clearTimeout(t);
      // First answer RR right after the question: owner pointer (2) + type/class/ttl/rdlen (10) + rdata.
      const at = 12 + 18 + 4 + 12;
      resolve(m.readUInt16BE(6) > 0 && m.length >= at + 4 ? `${m[at]}.${m[at + 1]}.${m[at + 2]}.${m[at + 3]}` : undefined);
    });
    sock.send(q, port, '127.0.0.1');
  });
}

async function main(): Promise<void> {
  const bb = createSelector(config({ backbone: {}, services: [{ name: SERVICE, answers: 3, probe: { port: 8080 }, sites: SITES }] }));
  await bb.start();
  const lb = createSelector(config({
    services: [{ name: SERVICE, answers: 1, probe: { port: 8080 }, sites: SITES }],
    uplink: { url: `mqtt://127.0.0.1:${bb.mqttAddress()?.port}`, id: 'isp-a', push: true, nameservers: [{ name: 'ns.isp-a.example.test', address: '127.0.5.1' }] },
  }));
  await lb.start();
  const agent = await mqtt.connectAsync(`mqtt://127.0.0.1:${lb.mqttAddress()?.port}`, { reconnectPeriod: 0 });
  const sock = dgram.createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const port = bb.dnsAddresses()[0]?.port as number;
  let seq = 0;
  const ms = new Map(SITES.map((s, i) => [s.id, 10 + 20 * i] as [string, number | null]));
  const round = async (): Promise<void> => {
    const results = SITES.map((s) => {
      const t = ms.get(s.id) ?? null;
      return { service: SERVICE, site: s.id, address: s.address, ok: t !== null, status: t === null ? null : 200, connectMs: t === null ? null : 1, tlsMs: null, ttfbMs: t, totalMs: t, bytes: t === null ? 0 : 100, error: t === null ? 'reset' : null };
    });
    await agent.publishAsync(agentTopic('pop-a', 'metrics'), JSON.stringify({ v: 1, agent: 'pop-a', seq: ++seq, ts: Date.now(), intervalS: 10, results }), { qos: 1 });
  };
  await agent.publishAsync(agentTopic('pop-a', 'announce'), JSON.stringify({ v: 1, agent: 'pop-a', pop: 'a', addresses: [], prefixes: ['198.51.100.0/24'], resolvers: [], ts: Date.now() }), { qos: 1, retain: true });
  for (let i = 0; i < 3; i++) await round();
  const wait = async (want: string, from: number): Promise<number> => {
    for (;;) {
      if ((await firstAddress(sock, port)) === want) return Date.now() - from;
      if (Date.now() - from > 10_000) throw new Error(`backbone never answered ${want}`);
      await new Promise((r) => setTimeout(r, 2));
    }
  };
  await wait('127.2.0.1', Date.now());
  const times: number[] = [];
  for (let t = 0; t < TRIALS; t++) {
    const current = (await firstAddress(sock, port)) as string;
    const downSite = SITES.find((s) => s.address === current) as { id: string };
    // Bring every other site up, then fail the current first site twice (downAfter = 2).
    for (const s of SITES) if (s.id !== downSite.id && ms.get(s.id) === null) ms.set(s.id, 10);
    for (const s of SITES) if (s.id !== downSite.id) ms.set(s.id, 15 + 5 * SITES.indexOf(s));
    await round(); await round();
    ms.set(downSite.id, null);
    await round();
    const before = Date.now();
    await round(); // the second failure: the LB's answer changes on this round
    const next = SITES.filter((s) => s.id !== downSite.id).map((s) => s.address);
    for (;;) {
      const got = await firstAddress(sock, port);
      if (got && got !== current && next.includes(got)) break;
      if (Date.now() - before > 10_000) throw new Error('no change at the backbone within 10 s');
      await new Promise((r) => setTimeout(r, 2));
    }
    times.push(Date.now() - before);
    ms.set(downSite.id, 10 + 20 * SITES.indexOf(downSite as (typeof SITES)[number]));
  }
  times.sort((a, b) => a - b);
  const pct = (p: number): number => times[Math.min(times.length - 1, Math.floor(p * times.length))] as number;
  console.log(`ranking change at the LB → new first site at the backbone (push, debounce 200 ms), ${TRIALS} trials:`);
  console.log(`  min ${times[0]} ms, median ${pct(0.5)} ms, p90 ${pct(0.9)} ms, max ${times.at(-1)} ms (goal ≤ 1000 ms)`);
  sock.close();
  await agent.endAsync();
  await lb.close();
  await bb.close();
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
