// `node dist/bench/backbone-world.js [WORLD]`: the simulator's comparison with the backbone
// tier. The same world (default bench/worlds/three-pops.json) runs twice on real parts:
// flat (one selector, bench/sim's runWorld) and federated (one LB selector per POP with its
// own embedded broker and in-process agent, each pushing to a backbone in push mode; the
// simulated clients ask the backbone). Prints each run's optimal share, mean regret and
// worst failover, next to the baselines of the flat run.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createAgent } from '../agent/agent.js';
import { parseAgentConfig } from '../agent/config.js';
import { parseSelectorConfig } from '../selector/config.js';
import { createSelector } from '../selector/selector.js';
import { createLogger } from '../shared/log.js';
import { WorldClock } from './sim/clock.js';
import { createEcsClient } from './sim/ecs-client.js';
import { BASELINES, createBaselines, oracleBest } from './sim/oracle.js';
import { agentIntervalFor, runWorld } from './sim/run.js';
import { scoreRun, type Sample, type Score } from './sim/score.js';
import { startSiteServers } from './sim/site-server.js';
import { selectorConfigFor } from './sim/stack.js';
import { loadWorld, type World } from './sim/world.js';

const log = createLogger({ level: 'warn' });

async function federated(world: World): Promise<Score> {
  const intervalS = agentIntervalFor(world, 1);
  const clock = new WorldClock(1);
  const sites = await startSiteServers(world, clock);
  const dir = mkdtempSync(join(tmpdir(), 'vantage-bbworld-'));
  const closers: (() => Promise<void>)[] = [async () => sites.close()];
  try {
    const base = selectorConfigFor(world, sites.port, intervalS, join(dir, 'backbone.db'));
    const bb = createSelector(parseSelectorConfig({ ...base, backbone: { mode: 'push' } }));
    await bb.start();
    closers.push(() => bb.close());
    for (const [i, pop] of world.pops.entries()) {
      const cfg = selectorConfigFor(world, sites.port, intervalS, join(dir, `${pop.id}.db`));
      const lb = createSelector(parseSelectorConfig({
        ...cfg, prefixes: [],
        uplink: { url: `mqtt://127.0.0.1:${bb.mqttAddress()?.port}`, id: `lb-${pop.id}`, push: true, intervalS,
          nameservers: [{ name: `ns.lb-${pop.id}.example.test`, address: `127.0.5.${i + 1}` }] },
      }));
      await lb.start();
      closers.push(() => lb.close());
      const agent = createAgent(parseAgentConfig({
        id: pop.id, pop: pop.id, mqtt: { url: `mqtt://127.0.0.1:${lb.mqttAddress()?.port}` }, bindAddress: pop.address,
        prefixes: [...pop.prefixes], resolvers: [], intervalS, log: { level: 'warn' },
      }));
      await agent.start();
      closers.push(() => agent.close());
    }
    const dns = bb.dnsAddresses()[0] as { host: string; port: number };
    const client = await createEcsClient({ host: dns.host, port: dns.port });
    closers.push(async () => client.close());
    const siteByAddress = new Map(world.sites.map((s) => [s.address, s.id]));
    const ask = async (): Promise<(string | null)[]> => (await Promise.all(world.pops.map((p) => client.query(world.service, p.prefixes[0] as string))))
      .map((a) => (a[0] !== undefined ? siteByAddress.get(a[0]) ?? null : null));
    // Warm-up as bench/sim/run.ts: every POP on its plain-matrix best for two seconds in a row.
    for (let streak = 0, t = 0; streak < 2 && t < Math.max(30, 8 * intervalS); t++) {
      await sleep(1000);
      const answers = await ask();
      streak = world.pops.every((p, i) => oracleBest(world, p.id, -1)?.sites.includes(answers[i] ?? '') ?? true) ? streak + 1 : 0;
    }
    const baselines = createBaselines(world);
    const samples: Sample[] = [];
    clock.start();
    for (let s = 0; s < world.durationS; s++) {
      const tS = s + 0.5;
      const waitMs = clock.wallMsUntil(tS);
      if (waitMs > 0) await sleep(waitMs);
      const answers = await ask();
      world.pops.forEach((pop, i) => {
        const sample: Sample = { s, tS, pop: pop.id, answers: { vantage: answers[i] ?? null, roundRobin: null, geo: null, serverSide: null } };
        for (const b of BASELINES) sample.answers[b] = baselines.choose(b, pop.id, tS);
        samples.push(sample);
      });
    }
    return scoreRun(world, samples);
  } finally {
    for (const c of closers.reverse()) await c().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const path = process.argv[2] ?? resolve('bench/worlds/three-pops.json');
  const world = loadWorld(path);
  console.log(`world ${world.name}: ${world.pops.length} POPs, ${world.sites.length} sites, ${world.durationS} s, probe interval ${world.probeIntervalS} s`);
  const flat = (await runWorld({ world, agents: 'inprocess', log })).score;
  const fed = await federated(world);
  const row = (name: string, s: Score['strategies'][keyof Score['strategies']], failoverMaxS: number | null) => ({
    strategy: name, 'optimal share': `${(s.optimalShare * 100).toFixed(1)} %`, 'mean regret ms': s.meanRegretMs.toFixed(1),
    'p95 regret ms': s.p95RegretMs.toFixed(1), 'worst failover s': failoverMaxS ?? '–',
  });
  console.table([
    row('vantage flat (one selector)', flat.strategies.vantage, flat.failover.maxS),
    row('vantage via backbone (push, LB per POP)', fed.strategies.vantage, fed.failover.maxS),
    ...BASELINES.map((b) => row(b, flat.strategies[b], null)),
  ]);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
