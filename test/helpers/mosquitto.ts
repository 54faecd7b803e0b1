// Starts a real Mosquitto broker (Debian `mosquitto`) on a loopback port, optionally with
// a password file (made with mosquitto_passwd) and an ACL file. `restart()` keeps the port.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, copyFileSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freeTcpPort, waitForTcp } from './net.js';

export interface MosquittoOptions {
  host?: string;
  port?: number;
  /** username → password; enables password auth. */
  users?: Record<string, string>;
  /** Password-file lines written as they are (e.g. printed by `agents add --broker mosquitto`). */
  passwdLines?: string[];
  /** ACL file contents (mosquitto acl_file syntax). */
  acl?: string;
  /**
   * An existing ACL file to use as it is (e.g. the shipped systemd/mosquitto.acl). It is
   * copied next to the config: Mosquitto reads it after dropping to its own user, which
   * cannot read a checkout inside a mode-0700 directory (e.g. /root).
   */
  aclFile?: string;
}

export interface MosquittoHandle {
  url: string;
  host: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<MosquittoHandle> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? (await freeTcpPort(host));
  const dir = mkdtempSync(join(tmpdir(), 'vantage-mosquitto-'));
  // Mosquitto started as root drops to the `mosquitto` user, which must read these files.
  chmodSync(dir, 0o755);
  const lines = [`listener ${port} ${host}`, 'persistence false', 'log_dest stderr', 'log_type error', 'log_type warning'];
  if (opts.users || opts.passwdLines) {
    const pw = join(dir, 'passwd');
    writeFileSync(pw, (opts.passwdLines ?? []).map((l) => `${l}\n`).join(''));
    for (const [user, password] of Object.entries(opts.users ?? {})) execFileSync('mosquitto_passwd', ['-b', pw, user, password]);
    chmodSync(pw, 0o644);
    lines.push('allow_anonymous false', `password_file ${pw}`);
  } else {
    lines.push('allow_anonymous true');
  }
  if (opts.acl !== undefined || opts.aclFile !== undefined) {
    const acl = join(dir, 'acl');
    if (opts.acl !== undefined) writeFileSync(acl, opts.acl);
    else copyFileSync(opts.aclFile as string, acl);
    chmodSync(acl, 0o644);
    lines.push(`acl_file ${acl}`);
  }
  const conf = join(dir, 'mosquitto.conf');
  writeFileSync(conf, lines.join('\n') + '\n');

  let child: ChildProcess | undefined;
  let stderr = '';
  const handle: MosquittoHandle = {
    url: `mqtt://${host}:${port}`,
    host,
    port,
    dir,
    async start() {
      stderr = '';
      child = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
      child.stderr?.on('data', (d: Buffer) => { stderr += d.toString(); });
      try {
        await waitForTcp(host, port, 10_000);
      } catch (err) {
        child.kill('SIGKILL');
        throw new Error(`mosquitto did not start: ${stderr.trim() || (err as Error).message}`);
      }
    },
    async stop() {
      const c = child;
      if (!c || c.exitCode !== null || c.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()));
      c.kill('SIGTERM');
      await exited;
    },
    async restart() {
      await handle.stop();
      await handle.start();
    },
  };
  await handle.start();
  return handle;
}
