#!/usr/bin/env node
// vantage-selector: the command-line entry. The only selector file that touches
// process, argv and exit codes; each subcommand lives in selector/commands/.
import { Command, CommanderError } from 'commander';
import { ExitCode } from '../shared/errors.js';
import { registerAgents } from './commands/agents.js';
import { describeError, PROG, type Register } from './commands/context.js';
import { registerRun } from './commands/run.js';
import { registerAgentsList } from './commands/agents-list.js';
import { registerCatalogue } from './commands/catalogue.js';
import { registerEvents } from './commands/events.js';
import { registerExplain } from './commands/explain.js';
import { registerMetrics } from './commands/metrics.js';
import { registerPrefixes } from './commands/prefixes.js';
import { registerTop } from './commands/top.js';
import { registerLbs } from './commands/lbs.js';

/** Subcommands; other command files (admin, explain, metrics) add themselves here. */
const COMMANDS: Register[] = [
  registerRun, registerAgents, registerAgentsList, registerCatalogue, registerPrefixes,
  registerMetrics, registerExplain, registerEvents, registerTop, registerLbs,
];

export function buildProgram(): Command {
  const program = new Command(PROG)
    .description('Vantage selector: DNS-based global server load balancer (DNS-ISP-LB)')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  for (const register of COMMANDS) register(program);
  // Subcommands inherit exitOverride so usage errors come back as CommanderError;
  // commander's own error text is silenced: main() prints exactly one line.
  const quiet = { writeErr: () => undefined, outputError: () => undefined };
  program.configureOutput(quiet);
  program.commands.forEach(function override(c: Command): void {
    c.exitOverride();
    c.configureOutput(quiet);
    c.commands.forEach(override);
  });
  return program;
}

async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return ExitCode.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version "fail" with exit code 0.
      if (err.exitCode === 0) return ExitCode.OK;
      // A command group run without a subcommand "fails" with its help (silenced above).
      const line = err.code === 'commander.help' ? 'missing subcommand; add --help for usage' : err.message.replace(/^error: /, '');
      process.stderr.write(`${PROG}: ${line}\n`);
      return ExitCode.USAGE;
    }
    const { code, line } = describeError(err);
    process.stderr.write(`${PROG}: ${line}\n`);
    return code;
  }
}

main(process.argv).then((code) => {
  // `run` stays alive through its servers; everything else ends on its own.
  if (code !== ExitCode.OK) process.exit(code);
});
