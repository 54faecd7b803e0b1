// vantage-sim command line (shared by the vantage-sim bin and the demo entry):
//   vantage-sim --world FILE [--json] [--report DIR] [--speed N] [--live] [--agents process|inprocess]
// Bad arguments or world: one line on stderr, exit 2. Logs go to stderr; --json
// prints only the summary object on stdout.
import { Command, CommanderError, Option } from 'commander';
import { createLogger } from '../../shared/log.js';
import { ArgumentError, ExitCode } from '../../shared/errors.js';
import { RankingConfigSchema, type RankingConfig } from '../../selector/config.js';
import { loadWorld, type World } from './world.js';
import { agentIntervalFor, runWorld, type RunResult } from './run.js';
import { jsonSummary, textSummary, writeReport } from './report.js';
import { createLiveTable, type LiveTable } from './live-table.js';
import { createObserver, type Observer } from './observer.js';
import type { AgentMode } from './stack.js';

interface Options {
  world: string;
  json?: boolean;
  report?: string;
  speed: string;
  live?: boolean;
  ranking?: string;
  agents: AgentMode;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
}

function fail(message: string, code: number): never {
  process.stderr.write(`vantage-sim: ${message}\n`);
  process.exit(code);
}

/** `k=v,k=v` → ranking overrides, checked against the selector's ranking schema. */
function parseRankingOverrides(text: string | undefined): Partial<RankingConfig> {
  if (!text) return {};
  const raw: Record<string, number> = {};
  for (const pair of text.split(',')) {
    const [k, v] = pair.split('=');
    if (!k || v === undefined || v === '' || !Number.isFinite(Number(v))) throw new ArgumentError(`--ranking: expected key=number, got "${pair}"`);
    raw[k] = Number(v);
  }
  const parsed = RankingConfigSchema.partial().safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const key = issue?.code === 'unrecognized_keys' ? issue.keys[0] : issue?.path.join('.');
    throw new ArgumentError(`--ranking ${key}: ${issue?.code === 'unrecognized_keys' ? 'unknown key' : issue?.message}`);
  }
  // zod fills in defaults for absent keys: keep only the keys given.
  return Object.fromEntries(Object.entries(parsed.data).filter(([k]) => k in raw)) as Partial<RankingConfig>;
}

function digHint(world: World, port: number): string {
  const lines = world.pops.map((p) => `  dig @127.0.0.1 -p ${port} ${world.service} +subnet=${p.prefixes[0]}    # clients of ${p.id}`);
  return `Query it yourself:\n${lines.join('\n')}\n`;
}

/** Where an operator looks: the status page and the CLI commands against this very selector. */
export function lookHint(world: World, adminUrl: string): string {
  const cli = 'node dist/selector/cli.js';
  const pop = world.pops[0];
  const client = pop?.prefixes[0]?.replace(/\/\d+$/, '') ?? '198.51.100.1';
  return [
    `Status page (heatmap of every POP × site, first choices): ${adminUrl}/`,
    'Ask the running selector (admin API):',
    `  ${cli} metrics --since 5m --url ${adminUrl}                    # latency and failures per POP × site`,
    `  ${cli} explain ${world.service} --client ${client} --url ${adminUrl}   # why ${pop?.id ?? 'a POP'}'s clients get their answer`,
    `  ${cli} events --since 10m --url ${adminUrl}                    # sites down/up, first-choice changes, with evidence`,
    `  ${cli} top --url ${adminUrl}                                   # agents and their first choices, refreshed`,
    `  curl -s ${adminUrl}/metrics | grep ^vantage_                   # what Prometheus scrapes`,
    '',
  ].join('\n');
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command('vantage-sim')
    .description('Run a world (POPs, sites, latency matrix, events) against the real Vantage selector and agents on loopback, and compare its steering with round robin, geography and server-side load.')
    .requiredOption('--world <file>', 'world file (JSON or YAML; see DESIGN.md "World scenarios")')
    .option('--json', 'print only the JSON summary on stdout')
    .option('--report <dir>', 'write report.md and one SVG timeline per POP into DIR')
    .option('--speed <n>', 'world seconds per wall second (probeIntervalS / n must be whole)', '1')
    .option('--live', 'print a live table every second (the demo)')
    .option('--ranking <k=v,...>', 'override the tuned ranking settings, e.g. hysteresisPct=0,minRounds=1 (experiments)')
    .addOption(new Option('--agents <mode>', 'agents as child processes or in this process').choices(['process', 'inprocess']).default('process'))
    .addOption(new Option('--log-level <level>', 'log level (stderr)').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'))
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, outputError: () => undefined });
  try {
    program.parse(argv);
  } catch (err) {
    if (err instanceof CommanderError && (err.code === 'commander.helpDisplayed' || err.code === 'commander.version')) process.exit(ExitCode.OK);
    fail((err as Error).message.replace(/^error: /, ''), ExitCode.USAGE);
  }
  const opts = program.opts<Options>();
  let world: World;
  try {
    world = loadWorld(opts.world);
  } catch (err) {
    const message = (err as Error).message;
    fail(message.includes(opts.world) ? message : `${opts.world}: ${message}`, ExitCode.USAGE);
  }
  const speed = Number(opts.speed);
  try {
    agentIntervalFor(world, speed);
  } catch (err) {
    fail((err as Error).message, ExitCode.USAGE);
  }

  let ranking: Partial<RankingConfig> = {};
  try {
    ranking = parseRankingOverrides(opts.ranking);
  } catch (err) {
    fail((err as Error).message, ExitCode.USAGE);
  }

  const log = createLogger({ level: opts.logLevel, name: 'vantage-sim' });
  const abort = new AbortController();
  let stopHold: (() => void) | undefined;
  const onSignal = (): void => {
    if (stopHold) stopHold();
    else abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let live: LiveTable | undefined;
  let observer: Observer | undefined;
  // With --json, stdout carries only the summary: the live table goes to stderr.
  const screen = opts.json ? process.stderr : process.stdout;
  const interactive = Boolean(opts.live && screen.isTTY);
  let result: RunResult;
  try {
    result = await runWorld({
      world, speed, log, agents: opts.agents, signal: abort.signal, ranking,
      onReady: (info) => {
        if (!opts.live) return;
        screen.write(`Selector DNS on ${info.dns.host}:${info.dns.port}, status page on ${info.adminUrl}/, sites on port ${info.sitePort}; warming up (agents' first probe rounds)...\n${digHint(world, info.dns.port)}`);
        live = createLiveTable(world, screen, undefined, { clear: interactive });
        createObserver(info.mqttUrl).then((o) => {
          observer = o;
          live = createLiveTable(world, screen, o, { clear: interactive });
        }, (err: unknown) => log.warn({ err }, 'measurement observer unavailable'));
      },
      onSecond: (s, samples) => live?.second(s, samples),
      beforeClose: async (r) => {
        await observer?.close();
        if (!interactive) return;
        screen.write(`\n${textSummary(r)}\nThe selector is still answering on 127.0.0.1:${r.info.dns.port} (the agents keep measuring; no events any more).\n${digHint(world, r.info.dns.port)}${lookHint(world, r.info.adminUrl)}Press Ctrl-C to stop.\n`);
        await new Promise<void>((resolve) => { stopHold = resolve; });
      },
    });
  } catch (err) {
    if (abort.signal.aborted) fail('interrupted', 130);
    fail((err as Error).message, ExitCode.FAILURE);
  }
  if (opts.report) writeReport(result, opts.report);
  if (opts.json) process.stdout.write(`${JSON.stringify(jsonSummary(result))}\n`);
  else if (!interactive) process.stdout.write(`${opts.live ? '\n' : ''}${textSummary(result)}${opts.live ? `(the selector has stopped; run with a terminal to keep it answering)\n` : ''}`);
  process.exit(ExitCode.OK);
}


