// Config loading shared by both daemons: a YAML file, then CLI overrides, validated
// once by a zod schema into a deeply frozen object. Every error is one line naming
// the offending key (`dns.listen[1]: expected host:port`).
import { readFileSync } from 'node:fs';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import { z } from 'zod';
import { ConfigError } from './errors.js';
import { isAddress, isPrefix } from './prefix.js';

export function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as object)) deepFreeze(v);
  }
  return value;
}

/** Reads and parses a YAML (or JSON) file; one-line ConfigError on failure. */
export function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    const e = new ConfigError('', `cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { cause: err });
    throw e;
  }
  try {
    return parseYaml(text) ?? {};
  } catch (err) {
    const where = err instanceof YAMLParseError && err.linePos ? ` at line ${err.linePos[0].line}` : '';
    throw new ConfigError('', `${path}: YAML syntax error${where}: ${(err as Error).message.split('\n')[0]}`, { cause: err });
  }
}

/** Sets a dotted path (`dns.listen`) in a plain object, creating parents. */
export function setPath(target: Record<string, unknown>, path: string, value: unknown): void {
  const keys = path.split('.');
  let obj = target;
  for (const key of keys.slice(0, -1)) {
    const next = obj[key];
    if (typeof next !== 'object' || next === null || Array.isArray(next)) obj[key] = {};
    obj = obj[key] as Record<string, unknown>;
  }
  obj[keys[keys.length - 1] as string] = value;
}

function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const p of path) out += typeof p === 'number' ? `[${p}]` : out ? `.${String(p)}` : String(p);
  return out;
}

/**
 * Validates `raw` against `schema`; throws one ConfigError naming the first bad key.
 * `renamed` maps removed keys to their replacement, so the error can point at it.
 */
export function validateConfig<S extends z.ZodType>(schema: S, raw: unknown, renamed: Record<string, string> = {}): Readonly<z.infer<S>> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ConfigError('', 'config must be a mapping of keys');
  for (const [old, replacement] of Object.entries(renamed)) {
    if (old in (raw as object)) throw new ConfigError(old, `was removed; use ${replacement}`);
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0] as z.core.$ZodIssue;
    let path = formatPath(issue.path);
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') {
      const key = issue.keys[0] as string;
      path = path ? `${path}.${key}` : key;
      message = 'unknown key';
    }
    throw new ConfigError(path, message);
  }
  return deepFreeze(parsed.data);
}

// Reusable field schemas.
export const zAddress = z.string().refine(isAddress, 'expected an IP address');
export const zPrefix = z.string().refine(isPrefix, 'expected an IP prefix like 198.51.100.0/24');

/** A listen address, parsed once by the config schema (zHostPort); users never re-parse it. */
export interface HostPort {
  readonly host: string;
  readonly port: number;
}

/** Parses `host:port` or `[v6]:port` (host an IP address, port 0-65535); undefined when malformed. */
export function parseHostPort(text: string): HostPort | undefined {
  const m = /^\[([^\]]+)\]:(\d{1,5})$/.exec(text) ?? /^([^:[\]]+):(\d{1,5})$/.exec(text);
  if (!m) return undefined;
  const host = m[1] as string;
  const port = Number(m[2]);
  if (port > 65535 || !isAddress(host)) return undefined;
  return { host, port };
}

/** The text form of a HostPort, as written in the config (IPv6 in brackets). */
export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(':') ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** `host:port` or `[v6]:port` in the YAML, a typed {host, port} in the parsed config. */
export const zHostPort = z.string().transform((text, ctx): HostPort => {
  const hp = parseHostPort(text);
  if (hp) return hp;
  ctx.addIssue({ code: 'custom', message: 'expected host:port (IPv6 as [addr]:port)' });
  return z.NEVER;
});

export const zLogLevel = z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']);
