// The real `vantage-selector` as processes, for the operator-surface tests: the daemon
// booted from a config file (test/helpers/fixtures.ts writeConfig) and the CLI, both
// from dist/.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { feedWorld, writeConfig, type ConfigFile } from './fixtures.js';

export const CLI = join(process.cwd(), 'dist/selector/cli.js');
const run = promisify(execFile);

/**
 * The CLI runs from dist/, which `npm test` builds first (pretest), as the agent and
 * simulator tests assume too. Build only when it is missing: rebuilding here while another
 * test file runs the CLI rewrote files under it (a flaky `--help` exit 1).
 */
export function ensureBuilt(): void {
  if (existsSync(CLI)) return;
  const lock = join(tmpdir(), 'vantage-ops-tsc.lock');
  for (let i = 0; i < 600; i++) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  try {
    if (!existsSync(CLI)) execFileSync('npx', ['tsc', '-p', '.'], { stdio: 'ignore' });
  } catch {
    // Type errors elsewhere in the tree still emit JavaScript; a missing CLI fails below.
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
  if (!existsSync(CLI)) throw new Error('dist/selector/cli.js was not built');
}

export interface Daemon { child: ChildProcess; stderr: () => string; stop(): Promise<number | null> }

export async function startDaemon(conf: string): Promise<Daemon> {
  const child = spawn(process.execPath, [CLI, 'run', '--config', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => { err += d.toString(); });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const deadline = Date.now() + 15_000;
  while (!err.includes('selector started')) {
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`selector did not start: ${err}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    child,
    stderr: () => err,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}

export interface CliResult { code: number; stdout: string; stderr: string }

export async function cli(args: string[]): Promise<CliResult> {
  try {
    const { stdout, stderr } = await run(process.execPath, [CLI, ...args], { timeout: 20_000 });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

/**
 * A live selector daemon booted from a fresh config and fed the test world; resolves
 * once `ready(cfgArgs)` says the selector has taken it all in (polled every 100 ms).
 */
export async function startFedDaemon(ready: (cfg: string[]) => Promise<boolean>): Promise<{ env: ConfigFile; daemon: Daemon; cfg: string[] }> {
  ensureBuilt();
  const env = await writeConfig();
  const cfg = ['--config', env.conf];
  const daemon = await startDaemon(env.conf);
  await feedWorld(env.ports.mqtt);
  for (let i = 0; i < 100; i++) {
    if (await ready(cfg)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { env, daemon, cfg };
}
