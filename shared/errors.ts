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
  AUTH_ERR_REFUSED: 'credentials missing or wrong (MQTT CONNECT or admin bearer token)',
  ADMIN_ERR_BAD_REQUEST: 'admin API: malformed request (HTTP 400)',
  ADMIN_ERR_NOT_FOUND: 'admin API: no such service, site, agent, prefix or endpoint (HTTP 404)',
  ADMIN_ERR_METHOD: 'admin API: method not allowed on this path (HTTP 405)',
  ADMIN_ERR_CONFLICT: 'admin API: already exists, or owned by selector.yaml (HTTP 409)',
  ADMIN_ERR_TOO_LARGE: 'admin API: request body too large (HTTP 413)',
  ADMIN_ERR_UNAVAILABLE: 'admin API: feature not available in this selector (HTTP 503)',
  ADMIN_ERR_INTERNAL: 'admin API: unexpected failure (HTTP 500)',
  CMD_ERR_UNREACHABLE: 'the selector admin API cannot be reached',
  CMD_ERR_FAILED: 'a command could not do what was asked',
  DNS_ERR_WORKER: 'a DNS worker thread failed to start or stopped',
  INTERNAL_ERR: 'programming error: an API was called against its contract',
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

/**
 * Why an MQTT payload was refused by the shared v1 validation, one label each
 * (Prometheus `reason` values of vantage_selector_ingest_rejected_total).
 */
export const PROTOCOL_REJECT_REASONS = ['oversize', 'json', 'schema', 'version', 'agent_mismatch', 'lb_mismatch', 'future_ts', 'topic'] as const;
export type ProtocolRejectReason = (typeof PROTOCOL_REJECT_REASONS)[number];

export class ProtocolError extends VantageError {
  /** A short machine-readable reason, used as a metrics label. */
  readonly reason: ProtocolRejectReason;
  constructor(reason: ProtocolRejectReason, message: string) {
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

/** HTTP status of each admin API failure, and its stable code. */
export const AdminStatusCodes = {
  400: 'ADMIN_ERR_BAD_REQUEST',
  404: 'ADMIN_ERR_NOT_FOUND',
  405: 'ADMIN_ERR_METHOD',
  409: 'ADMIN_ERR_CONFLICT',
  413: 'ADMIN_ERR_TOO_LARGE',
  503: 'ADMIN_ERR_UNAVAILABLE',
} as const satisfies Record<number, ErrorCode>;
export type AdminStatus = keyof typeof AdminStatusCodes;

/** An operator error with the HTTP status the admin API answers with; the code follows the status. */
export class AdminError extends VantageError {
  readonly status: AdminStatus;
  constructor(status: AdminStatus, message: string) {
    super(AdminStatusCodes[status], message);
    this.name = 'AdminError';
    this.status = status;
  }
}

/** Exit codes shared by both CLIs. */
export const ExitCode = { OK: 0, FAILURE: 1, USAGE: 2 } as const;

/**
 * Thrown by CLI commands to exit with `exitCode` after printing one line. The code
 * defaults by exit code (usage → ARG_ERR_INVALID, else CMD_ERR_FAILED); an admin API
 * refusal carries the API's own code (ADMIN_ERR_NOT_FOUND...).
 */
export class CommandExit extends VantageError {
  readonly exitCode: number;
  constructor(exitCode: number, message: string, options: { code?: ErrorCode; cause?: unknown } = {}) {
    super(options.code ?? (exitCode === ExitCode.USAGE ? 'ARG_ERR_INVALID' : 'CMD_ERR_FAILED'), message, { cause: options.cause });
    this.name = 'CommandExit';
    this.exitCode = exitCode;
  }
}

/** True for a string that is one of the table's codes (e.g. read back from an admin API body). */
export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && Object.hasOwn(ErrorCodes, value);
}
