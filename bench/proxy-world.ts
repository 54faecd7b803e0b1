// `npm run bench:proxy-world [-- WORLD.json] [--json]`: runs a proxy-cache world
// (default bench/worlds/proxy.json) against the real selector and agents (child
// processes, each with its proxy) and prints client latency through the POP proxies
// (hits and misses) against direct steering, and the cache hit ratio. Writes the
// summary and the raw samples to var/bench-worlds/<world>/proxy.json.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLogger } from '../shared/log.js';
import { loadWorld } from './sim/world.js';
import { runProxyWorld } from './sim/proxy-run.js';
import { proxySummary, proxyTextSummary } from './sim/proxy-report.js';

let root = dirname(fileURLToPath(import.meta.url));
while (!readdirSync(root).includes('package.json')) root = dirname(root);
const args = process.argv.slice(2);
const file = args.find((a) => !a.startsWith('--')) ?? join(root, 'bench', 'worlds', 'proxy.json');

try {
  const world = loadWorld(file);
  if (!world.proxy) throw new Error(`${file}: no proxy section (not a proxy-cache world)`);
  process.stderr.write(`running ${world.name} (${world.durationS} s after the warm-up)...\n`);
  const result = await runProxyWorld({ world, agents: 'process', log: createLogger({ level: 'warn', name: 'bench-proxy-world' }) });
  const summary = proxySummary(result);
  const out = join(root, 'var', 'bench-worlds', world.name);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'proxy.json'), `${JSON.stringify({ summary, samples: result.samples })}\n`);
  process.stdout.write(args.includes('--json') ? `${JSON.stringify(summary)}\n` : proxyTextSummary(summary));
} catch (err) {
  process.stderr.write(`bench:proxy-world: ${(err as Error).message}\n`);
  process.exitCode = 1;
}
