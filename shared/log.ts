// Logging: pino JSON. One root logger is made by the CLI entry; long-lived objects
// take `log.child({ component })`. Secrets are redacted by path so that a config or
// credential object logged by mistake never leaks (README: "no secrets in logs").
import { pino, type Logger, type LevelWithSilent, type DestinationStream } from 'pino';

export type { Logger };

export const REDACT_PATHS = [
  'password', '*.password', '*.*.password', 'token', '*.token', '*.*.token',
  'authorization', '*.authorization', 'headers.authorization',
];

export function createLogger(
  options: { level?: LevelWithSilent; name?: string } = {},
  destination?: DestinationStream,
): Logger {
  const level = options.level ?? (process.env.VANTAGE_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info';
  const opts = { level, name: options.name, redact: { paths: REDACT_PATHS, censor: '[redacted]' } };
  // Logs go to stderr: stdout is reserved for command output (--json).
  return pino(opts, destination ?? pino.destination({ fd: 2, sync: false }));
}

/** A logger that drops everything, for library use and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
