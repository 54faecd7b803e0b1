// `npm run bench:worlds`: runs every world in bench/worlds/ against the real selector
// and agents (child processes), writes a report per world under var/bench-worlds/,
// and prints one table of results with the issues' targets checked. A load-feedback
// world runs twice — without and with the sites' capacity given to the selector — and
// gets a side-by-side table against the baselines (issue #10 §3).
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../shared/log.js';
import { loadWorld, type World } from './sim/world.js';
import { runWorld, type RunResult } from './sim/run.js';
import { checkTargets, writeReport } from './sim/report.js';
import { latencyLag } from './sim/lag.js';
import { BASELINES } from './sim/oracle.js';

// dist/bench/run-worlds.js or bench/run-worlds.ts → <repo>
let root = dirname(fileURLToPath(import.meta.url));
while (!readdirSync(root).includes('package.json')) root = dirname(root);
const worldsDir = join(root, 'bench', 'worlds');
const only = process.argv.slice(2);
const files = readdirSync(worldsDir).filter((f) => f.endsWith('.json') && (only.length === 0 || only.some((o) => f.startsWith(o)))).sort();
const log = createLogger({ level: 'warn', name: 'bench-worlds' });

/** Issue #10's targets per world kind: [label, check]. */
function issueTargets(world: World, r: RunResult): [string, boolean][] {
  const st = r.score.strategies.vantage;
  const lag = latencyLag(world, r.score.transitions);
  if (world.kind === 'load-feedback') return [];
  if (world.name === 'dense-shifts') {
    return [['share≥0.92', st.optimalShare >= 0.92], [`lag≤${world.probeIntervalS + 1}s`, lag.meanS <= world.probeIntervalS + 1]];
  }
  if (world.name === 'jitter') return [['chg≤2', st.answerChanges <= 2]];
  return [['share≥0.92', st.optimalShare >= 0.92]];
}

const rows: string[] = [];
const sideBySide: string[] = [];
const head = `${'world'.padEnd(18)} ${'POPs'.padStart(4)} ${'vantage'.padStart(8)} ${'rr'.padStart(6)} ${'geo'.padStart(6)} ${'server'.padStart(6)} ${'margin'.padStart(7)} ${'regret'.padStart(7)} ${'p95'.padStart(6)} ${'chg v/o'.padStart(8)} ${'failS'.padStart(6)} ${'bound'.padStart(6)} ${'lagS'.padStart(5)} ${'peak'.padStart(5)}  targets`;
let allMet = true;
for (const file of files) {
  const world = loadWorld(join(worldsDir, file));
  if (world.proxy) {
    process.stderr.write(`skipping ${world.name}: a proxy-cache world (npm run bench:proxy-world)\n`);
    continue;
  }
  for (const capacity of world.kind === 'load-feedback' ? [false, true] : [false]) {
    const label = capacity ? `${world.name}+cap` : world.name;
    process.stderr.write(`running ${label} (${world.durationS} s)...\n`);
    let result: RunResult;
    try {
      result = await runWorld({ world, agents: 'process', log, capacity });
    } catch (err) {
      rows.push(`${label.padEnd(18)} FAILED: ${(err as Error).message}`);
      allMet = false;
      continue;
    }
    writeReport(result, join(root, 'var', 'bench-worlds', label));
    const st = result.score.strategies;
    const t = checkTargets(result);
    const lag = latencyLag(world, result.score.transitions);
    const base: [string, boolean][] = world.kind === 'load-feedback' ? [] : [['share≥0.90', t.optimalShareOk], ['margin', t.marginOk], ['failover', t.failoverOk]];
    const targets = [...base, ...issueTargets(world, result)];
    const met = targets.every(([, ok]) => ok);
    allMet &&= met;
    const margin = st.vantage.optimalShare - t.bestBaseline.optimalShare;
    const peak = st.vantage.peakShare;
    rows.push([
      label.padEnd(18), String(world.pops.length).padStart(4),
      st.vantage.optimalShare.toFixed(3).padStart(8), st.roundRobin.optimalShare.toFixed(3).padStart(6),
      st.geo.optimalShare.toFixed(3).padStart(6), st.serverSide.optimalShare.toFixed(3).padStart(6),
      (margin >= 0 ? '+' : '') + margin.toFixed(3).padStart(6), st.vantage.meanRegretMs.toFixed(1).padStart(7),
      st.vantage.p95RegretMs.toFixed(0).padStart(6), `${st.vantage.answerChanges}/${result.score.oracleChanges}`.padStart(8),
      String(result.score.failover.maxS).padStart(6), String(t.failoverBoundS).padStart(6),
      (lag.count ? lag.meanS.toFixed(1) : '-').padStart(5), (peak === undefined ? '-' : peak.toFixed(2)).padStart(5),
      ` ${targets.length ? targets.map(([name, ok]) => `${name} ${ok ? 'met' : 'MISSED'}`).join(', ') : 'comparison (no target)'} (warm-up ${result.warmupS} s)`,
    ].join(' '));
    if (world.kind === 'load-feedback') {
      const fmt = (name: string, v: typeof st.vantage): string =>
        `${name.padEnd(18)} ${v.optimalShare.toFixed(3).padStart(8)} ${v.meanRegretMs.toFixed(1).padStart(8)} ${String(v.answerChanges).padStart(8)} ${(v.peakShare ?? 0).toFixed(2).padStart(6)}`;
      sideBySide.push(fmt(capacity ? 'vantage+capacity' : 'vantage', st.vantage));
      if (capacity) for (const b of BASELINES) sideBySide.push(fmt(b, st[b]));
    }
  }
}
process.stdout.write(`${head}\n${rows.join('\n')}\n\nvantage/rr/geo/server: optimalShare per strategy; margin: vantage minus the best baseline; regret/p95: vantage regret (ms);\nchg v/o: answer changes of vantage / of the oracle best; failS: failover.maxS; lagS: mean lag (s) of vantage after latency-only changes of the best site;\npeak: load-feedback worlds, the busiest site's highest share of POP-seconds over the feedback window; reports in var/bench-worlds/<world>/report.md\n`);
if (sideBySide.length) {
  process.stdout.write(`\nload-feedback (each strategy scored against the load its own answers caused):\n${'strategy'.padEnd(18)} ${'optimal'.padStart(8)} ${'regret'.padStart(8)} ${'changes'.padStart(8)} ${'peak'.padStart(6)}\n${sideBySide.join('\n')}\n`);
}
process.exitCode = allMet ? 0 : 1;
