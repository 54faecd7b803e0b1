// Runs one world end to end: simulated sites, the real selector and agents, then one
// ECS query per POP per world second, recorded next to what each baseline and the
// oracle would have done at the same instant. Returns the samples and their score.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../../shared/log.js';
import { WorldClock } from './clock.js';
import { createEcsClient, type EcsClient } from './ecs-client.js';
import { BASELINES, createBaselines, oracleBest } from './oracle.js';
import { scoreRun, type Sample, type Score } from './score.js';
import { startSiteServers } from './site-server.js';
import { LoadTracker, scoreLoadFeedback } from './load-feedback.js';
import { startStack, type AgentMode } from './stack.js';
import type { World } from './world.js';
import type { RankingConfig } from '../../selector/config.js';

export interface RunInfo {
  dns: { host: string; port: number };
  mqttUrl: string;
  /** The selector's admin API and status page. */
  adminUrl: string;
  sitePort: number;
  agentIntervalS: number;
}

export interface RunOptions {
  world: World;
  agents: AgentMode;
  /** World seconds per wall second (probeIntervalS / speed must be a whole number). */
  speed?: number;
  log: Logger;
  /** Overrides of the ranking tuned for the world (for experiments). */
  ranking?: Partial<RankingConfig>;
  /** Give the selector each site's capacityShare as its `capacity` (load-feedback worlds). */
  capacity?: boolean;
  /** Upper bound of the warm-up, in wall seconds. */
  maxWarmupS?: number;
  onReady?(info: RunInfo): void;
  /** Called after every world second with that second's samples. */
  onSecond?(s: number, samples: readonly Sample[]): void;
  /** Awaited after the last second, before teardown (the demo keeps serving until Ctrl-C). */
  beforeClose?(result: RunResult): Promise<void>;
  /** Aborts the run (teardown still happens). */
  signal?: AbortSignal;
}

export interface RunResult {
  world: World;
  samples: Sample[];
  score: Score;
  warmupS: number;
  converged: boolean;
  info: RunInfo;
}

/** Checks the options a caller can get wrong; returns the agents' probe interval in wall seconds. */
export function agentIntervalFor(world: World, speed: number): number {
  const intervalS = world.probeIntervalS / speed;
  if (!(speed > 0) || !Number.isInteger(intervalS)) {
    throw new RangeError(`--speed ${speed}: probeIntervalS (${world.probeIntervalS}) / speed must be a whole number of seconds`);
  }
  return intervalS;
}

async function askAll(world: World, client: EcsClient, siteByAddress: Map<string, string>): Promise<(string | null)[]> {
  const answers = await Promise.all(world.pops.map((p) => client.query(world.service, p.prefixes[0] as string)));
  return answers.map((a) => (a[0] !== undefined ? siteByAddress.get(a[0]) ?? null : null));
}

/**
 * Warm-up (before world second 0, no event in force): waits until every POP's first
 * answer is its best site on the plain matrix in two consecutive seconds, i.e. the
 * agents' first rounds have landed and been ranked, or until maxWarmupS.
 */
async function warmUp(world: World, client: EcsClient, siteByAddress: Map<string, string>, maxWarmupS: number, signal?: AbortSignal): Promise<{ s: number; converged: boolean }> {
  const startMs = Date.now();
  let streak = 0;
  while (Date.now() - startMs < maxWarmupS * 1000) {
    await sleep(1000, undefined, { signal });
    const answers = await askAll(world, client, siteByAddress);
    const ok = world.pops.every((p, i) => oracleBest(world, p.id, -1)?.sites.includes(answers[i] ?? '') ?? true);
    streak = ok ? streak + 1 : 0;
    if (streak >= 2) return { s: Math.round((Date.now() - startMs) / 1000), converged: true };
  }
  return { s: maxWarmupS, converged: false };
}

export async function runWorld(opts: RunOptions): Promise<RunResult> {
  const { world, log } = opts;
  const speed = opts.speed ?? 1;
  const agentIntervalS = agentIntervalFor(world, speed);
  const clock = new WorldClock(speed);
  // Load-feedback worlds: Vantage's own answers load the sites its agents measure.
  const load = world.kind === 'load-feedback' ? new LoadTracker(world) : undefined;
  const sites = await startSiteServers(world, clock, load && ((site) => load.extraMs(site)));
  let stack: Awaited<ReturnType<typeof startStack>> | undefined;
  let client: EcsClient | undefined;
  try {
    stack = await startStack(world, { sitePort: sites.port, intervalS: agentIntervalS, agents: opts.agents, log, ranking: opts.ranking, capacity: opts.capacity });
    client = await createEcsClient(stack.dns);
    const info: RunInfo = { dns: stack.dns, mqttUrl: stack.mqttUrl, adminUrl: stack.adminUrl, sitePort: sites.port, agentIntervalS };
    opts.onReady?.(info);
    const siteByAddress = new Map(world.sites.map((s) => [s.address, s.id]));
    const warm = await warmUp(world, client, siteByAddress, opts.maxWarmupS ?? Math.max(30, 8 * agentIntervalS), opts.signal);
    if (!warm.converged) log.warn({ warmupS: warm.s }, 'warm-up ended before every POP got its best site');
    log.info({ warmupS: warm.s }, 'world clock starts');

    const baselines = createBaselines(world);
    const samples: Sample[] = [];
    clock.start();
    for (let s = 0; s < world.durationS; s++) {
      const tS = s + 0.5;
      const waitMs = clock.wallMsUntil(tS);
      if (waitMs > 0) await sleep(waitMs, undefined, { signal: opts.signal });
      opts.signal?.throwIfAborted();
      const answers = await askAll(world, client, siteByAddress);
      const second: Sample[] = world.pops.map((pop, i) => {
        const sample: Sample = {
          s, tS, pop: pop.id,
          answers: { vantage: answers[i] ?? null, roundRobin: null, geo: null, serverSide: null },
        };
        for (const b of BASELINES) sample.answers[b] = baselines.choose(b, pop.id, tS);
        return sample;
      });
      samples.push(...second);
      load?.record(second.map((x) => x.answers.vantage));
      opts.onSecond?.(s, second);
    }
    const score = scoreRun(world, samples);
    if (world.kind === 'load-feedback') score.strategies = scoreLoadFeedback(world, samples);
    const result = { world, samples, score, warmupS: warm.s, converged: warm.converged, info };
    await opts.beforeClose?.(result);
    return result;
  } finally {
    await client?.close();
    await stack?.close();
    await sites.close();
  }
}
