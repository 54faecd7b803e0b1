#!/usr/bin/env node
// vantage-selector: the command-line entry. The only selector file that touches
// process, argv and exit codes; each subcommand lives in selector/commands/.
import { Command, CommanderError } from 'commander';
import { ExitCode } from '../shared/errors.js';
import { registerAgents } from './commands/agents.js';
import { describeError, PROG, type Register } from './commands/context.js';
import { registerRun } from './commands/run.js';

/** Subcommands; other command files (admin, explain, metrics) add themselves here. */
const COMMANDS: Register[] = [registerRun, registerAgents];

export function buildProgram(): Command {
  const program = new Command(PROG)
    .description('Vantage selector: DNS-based global server load balancer (DNS-ISP-LB)')
    .version('0.1.0')
    .showHelpAfterError()
    .exitOverride();
  for (const register of COMMANDS) register(program);
  // Subcommands inherit exitOverride so usage errors come back as CommanderError.
  program.commands.forEach(function override(c: Command): void {
    c.exitOverride();
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
      return err.exitCode === 0 ? ExitCode.OK : ExitCode.USAGE;
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
