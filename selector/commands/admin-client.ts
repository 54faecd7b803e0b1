// How operator commands reach the selector: the admin API (URL and token from
// --url/--token, else from --config's http.listen/http.token, else the default
// 127.0.0.1:8053); for read-only commands the SQLite file with --db (opened read-only);
// for changes, the database file of --config when the selector is stopped (changeVia).
import type { Command } from 'commander';
import { ExitCode, isErrorCode } from '../../shared/errors.js';
import type { HostPort } from '../../shared/config.js';
import type { SelectorConfig } from '../config.js';
import { Store } from '../store/store.js';
import { CommandExit, loadConfig } from './context.js';

export interface TargetOptions {
  config?: string;
  url?: string;
  token?: string;
  db?: string;
  json?: boolean;
}

export function addTargetOptions(cmd: Command, opts: { db?: boolean; json?: boolean } = {}): Command {
  cmd.option('-c, --config <file>', 'selector.yaml (gives http.listen, http.token and ranking settings)')
    .option('--url <url>', 'admin API base URL (overrides the config), e.g. http://127.0.0.1:8053')
    .option('--token <token>', 'admin API bearer token (overrides the config)');
  if (opts.db) cmd.option('--db <file>', 'read the SQLite database directly (read-only; works while the selector is down)');
  if (opts.json !== false) cmd.option('--json', 'print JSON');
  return cmd;
}

/** The admin API could not be reached at all (no HTTP answer). */
export class AdminUnreachable extends CommandExit {}

export class AdminClient {
  constructor(readonly baseUrl: string, private readonly token: string | undefined) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    let res: Response;
    try {
      res = await fetch(new URL(path, this.baseUrl), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(10_000) });
    } catch (err) {
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      const why = cause?.code ?? cause?.message ?? (err as Error).message;
      throw new AdminUnreachable(ExitCode.FAILURE, `cannot reach the selector admin API at ${this.baseUrl} (${why}); is it running? read-only commands accept --db FILE`, { code: 'CMD_ERR_UNREACHABLE', cause: err });
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    if (!res.ok) {
      const body = parsed as { error?: string; code?: unknown } | undefined;
      const msg = body?.error ?? `HTTP ${res.status}`;
      const code = isErrorCode(body?.code) ? body.code : undefined;
      throw new CommandExit(res.status === 400 ? ExitCode.USAGE : ExitCode.FAILURE, res.status === 401 ? `admin API refused the request: ${msg} (--token or http.token)` : msg, { code });
    }
    return parsed as T;
  }

  get<T>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
}

function urlOfListen(hp: HostPort): string {
  let host = hp.host;
  if (host === '0.0.0.0') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${hp.port}`;
}

export function adminClient(opts: TargetOptions): AdminClient {
  const config = opts.config ? loadConfig(opts.config) : undefined;
  let url = opts.url ?? (config ? urlOfListen(config.http.listen) : 'http://127.0.0.1:8053');
  if (!/^https?:\/\/[^/]+/.test(url)) throw new CommandExit(ExitCode.USAGE, `--url: expected http://host:port, got "${url}"`);
  if (!url.endsWith('/')) url += '/';
  return new AdminClient(url, opts.token ?? config?.http.token);
}

/** Ranking staleness factor for `--db` mode (config's value when given). */
export function staleIntervalsOf(opts: TargetOptions): number {
  return opts.config ? loadConfig(opts.config).ranking.staleIntervals : 3;
}

/** Runs `viaDb` on the store opened read-only when --db is given, else `viaApi` on the admin API. */
export async function readFrom<T>(opts: TargetOptions, viaApi: (c: AdminClient) => Promise<T>, viaDb: (store: Store) => T): Promise<T> {
  if (opts.db) {
    const store = new Store(opts.db, 'readonly');
    try {
      return viaDb(store);
    } finally {
      store.close();
    }
  }
  return viaApi(adminClient(opts));
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * An operator change: through the admin API of the running selector (it applies the
 * change at once: re-ranks, republishes, disconnects). Only when that API does not
 * answer, --config names the database and no live selector holds it, the change is
 * written to the file (`viaFile`) and the selector applies it at its next start.
 */
export async function changeVia<T>(opts: TargetOptions, viaApi: (c: AdminClient) => Promise<T>, viaFile: (store: Store, config: Readonly<SelectorConfig>) => T | Promise<T>): Promise<T> {
  const client = adminClient(opts);
  try {
    return await viaApi(client);
  } catch (err) {
    if (!(err instanceof AdminUnreachable) || opts.url || !opts.config) throw err;
    const config = loadConfig(opts.config);
    const store = new Store(config.db, 'tool');
    try {
      const mark = store.daemonMark();
      if (mark && mark.pid !== process.pid && alive(mark.pid)) {
        throw new CommandExit(ExitCode.FAILURE, `the selector (pid ${mark.pid}, admin API ${mark.http ?? 'off'}) is running on ${config.db} but ${client.baseUrl} does not answer; pass --url`);
      }
      // What the selector does first at start: selector.yaml is the source of truth for
      // what it lists, so a change checks against the same catalogue the daemon will load.
      store.syncConfigServices(config.services);
      store.setStaticPrefixes(config.prefixes);
      store.applyDrains();
      return await viaFile(store, config);
    } finally {
      store.close();
    }
  }
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}
