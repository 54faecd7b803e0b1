// One error table for the whole project (STYLE.md: undici's lib/core/errors).
// Every class has a fixed `name` and a stable string `code`; lower failures are
// wrapped with `{ cause }`. Protocol outcomes (DNS rcodes, probe results) are
// values, not exceptions: these classes are for programming and operator errors.

export const ErrorCodes = {
  CFG_ERR_INVALID: 'invalid configuration value',
  CFG_ERR_READ: 'configuration file unreadable',
  ARG_ERR_INVALID: 'invalid command-line argument',
  PROTO_ERR_INVALID: 'payload does not match the v1 protocol',
  PREFIX_ERR_INVALID: 'invalid address or prefix',
  STORE_ERR: 'database failure',
  BROKER_ERR: 'MQTT broker failure',
  AUTH_ERR: 'authentication failure',
  ADMIN_ERR: 'admin API failure',
} as const;

export type ErrorCode = keyof typeof ErrorCodes;

export class VantageError extends Error {
  readonly code: ErrorCode;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'VantageError';
    this.code = code;
  }
}

/** A configuration error: `key` is the dotted path of the offending key. */
export class ConfigError extends VantageError {
  readonly key: string;
  constructor(key: string, message: string, options?: { cause?: unknown }) {
    super('CFG_ERR_INVALID', key ? `${key}: ${message}` : message, options);
    this.name = 'ConfigError';
    this.key = key;
  }
}

export class ArgumentError extends VantageError {
  constructor(message: string) {
    super('ARG_ERR_INVALID', message);
    this.name = 'ArgumentError';
  }
}

export class ProtocolError extends VantageError {
  /** A short machine-readable reason, used as a metrics label. */
  readonly reason: string;
  constructor(reason: string, message: string) {
    super('PROTO_ERR_INVALID', message);
    this.name = 'ProtocolError';
    this.reason = reason;
  }
}

export class PrefixError extends VantageError {
  constructor(message: string) {
    super('PREFIX_ERR_INVALID', message);
    this.name = 'PrefixError';
  }
}

/** Exit codes shared by both CLIs. */
export const ExitCode = { OK: 0, FAILURE: 1, USAGE: 2 } as const;
