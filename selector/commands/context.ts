// Shared plumbing for vantage-selector subcommands: config loading with the
// one-line error contract, and output helpers. Commands live one per file and are
// registered in selector/cli.ts.
import type { Command } from 'commander';
import { CommandExit, ConfigError, ExitCode, VantageError } from '../../shared/errors.js';
import { loadSelectorConfig, type SelectorConfig } from '../config.js';

export const PROG = 'vantage-selector';

// CommandExit lives in the one error table (shared/errors.ts); re-exported for the commands.
export { CommandExit };

export function loadConfig(file: string, overrides: Record<string, unknown> = {}): Readonly<SelectorConfig> {
  try {
    return loadSelectorConfig(file, overrides);
  } catch (err) {
    if (err instanceof ConfigError) throw new CommandExit(ExitCode.USAGE, err.message, { code: err.code, cause: err });
    throw err;
  }
}

/** Maps any error to (exit code, one line). */
export function describeError(err: unknown): { code: number; line: string } {
  if (err instanceof CommandExit) return { code: err.exitCode, line: err.message };
  if (err instanceof ConfigError) return { code: ExitCode.USAGE, line: err.message };
  if (err instanceof VantageError && err.code === 'ARG_ERR_INVALID') return { code: ExitCode.USAGE, line: err.message };
  return { code: ExitCode.FAILURE, line: (err as Error).message ?? String(err) };
}

export type Register = (program: Command) => void;
