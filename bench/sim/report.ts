// Output of a run: the stable JSON summary (`--json`) and the Markdown report with
// one SVG timeline per POP (`--report DIR`).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BASELINES, STRATEGIES, type Strategy } from './oracle.js';
import type { RunResult } from './run.js';
import type { StrategyScore } from './score.js';
import { timelineSvg } from './timeline-svg.js';

export interface JsonSummary {
  world: string;
  strategies: Record<Strategy, StrategyScore>;
  failover: { maxS: number };
}

export function jsonSummary(result: RunResult): JsonSummary {
  return { world: result.world.name, strategies: result.score.strategies, failover: { maxS: result.score.failover.maxS } };
}

export interface TargetCheck {
  optimalShareOk: boolean;
  marginOk: boolean;
  failoverOk: boolean;
  bestBaseline: { name: string; optimalShare: number };
  failoverBoundS: number;
}

/** The targets: share ≥ 0.90, ≥ 0.15 above the best baseline, failover ≤ 2 × interval + 2. */
export function checkTargets(result: RunResult): TargetCheck {
  const st = result.score.strategies;
  const best = BASELINES.map((b) => ({ name: b, optimalShare: st[b].optimalShare }))
    .reduce((a, b) => (b.optimalShare > a.optimalShare ? b : a));
  const failoverBoundS = 2 * result.world.probeIntervalS + 2;
  return {
    optimalShareOk: st.vantage.optimalShare >= 0.9,
    marginOk: best.optimalShare >= 0.999 || st.vantage.optimalShare - best.optimalShare >= 0.15 - 1e-9,
    failoverOk: result.score.failover.maxS <= failoverBoundS,
    bestBaseline: best,
    failoverBoundS,
  };
}

function missedBeforeChanges(result: RunResult): number {
  const inWindows = result.score.transitions.reduce((n, x) => n + x.missedS, 0);
  const missed = Math.round((1 - result.score.strategies.vantage.optimalShare) * result.score.scoredSamples);
  return Math.max(0, missed - inWindows);
}

function markdown(result: RunResult, svgFiles: readonly string[]): string {
  const { world, score } = result;
  const t = checkTargets(result);
  const yes = (ok: boolean): string => (ok ? 'met' : '**missed**');
  const lines = [
    `# Vantage steering report — world \`${world.name}\``,
    '',
    world.description ?? '',
    '',
    `- ${world.pops.length} POPs, ${world.sites.length} sites, ${world.durationS} s, probe interval ${world.probeIntervalS} s (agents: ${result.info.agentIntervalS} s wall), ${world.events.length} events.`,
    `- Warm-up before world second 0: ${result.warmupS} s (${result.converged ? 'every POP had its best site on the plain matrix for 2 consecutive seconds' : 'did not converge; the clock started anyway'}); the warm-up is not scored.`,
    `- Scored POP-seconds: ${score.scoredSamples} (one ECS query per POP per world second, at s + 0.5). Oracle best changed ${score.oracleChanges} times.`,
    '',
    '| strategy | optimalShare | meanRegretMs | p95RegretMs | answerChanges |',
    '|---|---:|---:|---:|---:|',
    ...STRATEGIES.map((s) => {
      const v = score.strategies[s];
      return `| ${s} | ${v.optimalShare.toFixed(3)} | ${v.meanRegretMs.toFixed(1)} | ${v.p95RegretMs.toFixed(1)} | ${v.answerChanges} |`;
    }),
    '',
    'Regret is the latency of the site answered minus the best latency in force; a site that is down or resetting for that POP costs 1000 ms (the probe timeout).',
    '',
    '## Failover',
    '',
    score.failover.events.length ? '| event | site | kind | at (s) | failover (s) |\n|---|---|---|---:|---:|' : 'No down or reset events in this world.',
    ...score.failover.events.map((e) => `| ${e.index} | ${e.site} | ${e.kind} | ${e.atS} | ${e.failoverS} |`),
    '',
    `failover.maxS = ${score.failover.maxS} (bound 2 × probeIntervalS + 2 = ${t.failoverBoundS} s).`,
    '',
    '## Following the best site',
    '',
    'Each change of a POP\'s best site (oracle), how many seconds Vantage took to answer the new best first, and how many of that POP\'s seconds until its next change were not sent to the best.',
    '',
    score.transitions.length ? '| at (s) | POP | best from → to | lag (s) | missed POP-seconds |\n|---:|---|---|---:|---:|' : 'The best site never changed.',
    ...score.transitions.map((x) => `| ${x.s} | ${x.pop} | ${x.from ?? '-'} → ${x.to} | ${x.lagS ?? 'not followed'} | ${x.missedS} |`),
    '',
    `Missed POP-seconds outside these windows (before any change): ${missedBeforeChanges(result)}.`,
    '',
    '## Targets',
    '',
    `- Vantage optimalShare ≥ 0.90: ${yes(t.optimalShareOk)} (${score.strategies.vantage.optimalShare.toFixed(3)}).`,
    `- ≥ 0.15 above the best baseline (${t.bestBaseline.name}, ${t.bestBaseline.optimalShare.toFixed(3)}): ${yes(t.marginOk)}.`,
    `- failover.maxS ≤ ${t.failoverBoundS}: ${yes(t.failoverOk)}.`,
    '',
    '## Timelines',
    '',
    ...svgFiles.map((f) => `![${f}](${f})`),
    '',
  ];
  return lines.join('\n');
}

/** Writes report.md and timeline-<pop>.svg into `dir` (created if needed). */
export function writeReport(result: RunResult, dir: string): string[] {
  mkdirSync(dir, { recursive: true });
  const files: string[] = [];
  for (const pop of result.world.pops) {
    const file = `timeline-${pop.id}.svg`;
    writeFileSync(join(dir, file), timelineSvg(result.world, pop.id, result.samples));
    files.push(file);
  }
  writeFileSync(join(dir, 'report.md'), markdown(result, files));
  // The raw samples, for anyone who wants to redo the arithmetic.
  writeFileSync(join(dir, 'samples.json'), `${JSON.stringify({ world: result.world.name, warmupS: result.warmupS, samples: result.samples })}\n`);
  return ['report.md', 'samples.json', ...files];
}

/** A short human-readable summary (the default output, and the end of the demo). */
export function textSummary(result: RunResult): string {
  const { score } = result;
  const t = checkTargets(result);
  const rows = STRATEGIES.map((s) => {
    const v = score.strategies[s];
    return `  ${s.padEnd(11)} ${v.optimalShare.toFixed(3).padStart(12)} ${v.meanRegretMs.toFixed(1).padStart(13)} ${v.p95RegretMs.toFixed(1).padStart(12)} ${String(v.answerChanges).padStart(14)}`;
  });
  return [
    `world ${result.world.name}: ${score.scoredSamples} POP-seconds scored after a ${result.warmupS} s warm-up`,
    `  ${'strategy'.padEnd(11)} ${'optimalShare'.padStart(12)} ${'meanRegretMs'.padStart(13)} ${'p95RegretMs'.padStart(12)} ${'answerChanges'.padStart(14)}`,
    ...rows,
    `  failover.maxS ${score.failover.maxS} s (bound ${t.failoverBoundS} s)`,
    `  targets: share ≥ 0.90 ${t.optimalShareOk ? 'met' : 'MISSED'}; +0.15 over ${t.bestBaseline.name} ${t.marginOk ? 'met' : 'MISSED'}; failover ${t.failoverOk ? 'met' : 'MISSED'}`,
    '',
  ].join('\n');
}
