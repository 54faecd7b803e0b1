// `npm run bench:worlds`: runs every world in bench/worlds/ against the real selector
// and agents (child processes), writes a report per world under var/bench-worlds/,
// and prints one table of results with the issue's targets checked.
import { readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../shared/log.js';
import { loadWorld } from './sim/world.js';
import { runWorld, type RunResult } from './sim/run.js';
import { checkTargets, writeReport } from './sim/report.js';

// dist/bench/run-worlds.js or bench/run-worlds.ts → <repo>
let root = dirname(fileURLToPath(import.meta.url));
while (!readdirSync(root).includes('package.json')) root = dirname(root);
const worldsDir = join(root, 'bench', 'worlds');
const only = process.argv.slice(2);
const files = readdirSync(worldsDir).filter((f) => f.endsWith('.json') && (only.length === 0 || only.some((o) => f.startsWith(o)))).sort();
const log = createLogger({ level: 'warn', name: 'bench-worlds' });

const rows: string[] = [];
const head = `${'world'.padEnd(16)} ${'POPs'.padStart(4)} ${'vantage'.padStart(8)} ${'rr'.padStart(6)} ${'geo'.padStart(6)} ${'server'.padStart(6)} ${'margin'.padStart(7)} ${'regret'.padStart(7)} ${'p95'.padStart(6)} ${'chg v/o'.padStart(8)} ${'failS'.padStart(6)} ${'bound'.padStart(6)}  targets`;
let allMet = true;
for (const file of files) {
  const world = loadWorld(join(worldsDir, file));
  process.stderr.write(`running ${world.name} (${world.durationS} s)...\n`);
  let result: RunResult;
  try {
    result = await runWorld({ world, agents: 'process', log });
  } catch (err) {
    rows.push(`${world.name.padEnd(16)} FAILED: ${(err as Error).message}`);
    allMet = false;
    continue;
  }
  writeReport(result, join(root, 'var', 'bench-worlds', world.name));
  const st = result.score.strategies;
  const t = checkTargets(result);
  const met = t.optimalShareOk && t.marginOk && t.failoverOk;
  allMet &&= met;
  const margin = st.vantage.optimalShare - t.bestBaseline.optimalShare;
  rows.push([
    world.name.padEnd(16), String(world.pops.length).padStart(4),
    st.vantage.optimalShare.toFixed(3).padStart(8), st.roundRobin.optimalShare.toFixed(3).padStart(6),
    st.geo.optimalShare.toFixed(3).padStart(6), st.serverSide.optimalShare.toFixed(3).padStart(6),
    (margin >= 0 ? '+' : '') + margin.toFixed(3).padStart(6), st.vantage.meanRegretMs.toFixed(1).padStart(7),
    st.vantage.p95RegretMs.toFixed(0).padStart(6), `${st.vantage.answerChanges}/${result.score.oracleChanges}`.padStart(8),
    String(result.score.failover.maxS).padStart(6), String(t.failoverBoundS).padStart(6),
    ` ${met ? 'met' : `MISSED:${t.optimalShareOk ? '' : ' share'}${t.marginOk ? '' : ' margin'}${t.failoverOk ? '' : ' failover'}`} (warm-up ${result.warmupS} s)`,
  ].join(' '));
}
process.stdout.write(`${head}\n${rows.join('\n')}\n\nvantage/rr/geo/server: optimalShare per strategy; margin: vantage minus the best baseline; regret/p95: vantage regret (ms);\nchg v/o: answer changes of vantage / of the oracle best; failS: failover.maxS; reports in var/bench-worlds/<world>/report.md\n`);
process.exitCode = allMet ? 0 : 1;
