#!/usr/bin/env node
// vantage-agent: the only agent file that touches argv, stdout, signals and exit codes.
//   vantage-agent run --config FILE [--log-level L]
//   vantage-agent probe URL --address IP [--host NAME] [--bind IP] [--timeout-ms N] [--json]
// Exit 0 on success (a probe that ran, whatever its outcome), 2 with one line
// `vantage-agent: <reason>` for bad arguments or configuration.
import { readFileSync } from 'node:fs';
import v8 from 'node:v8';
import { Command, CommanderError, Option } from 'commander';
import { ArgumentError, ConfigError, ExitCode, VantageError } from '../shared/errors.js';
import { createLogger } from '../shared/log.js';
import { isAddress } from '../shared/prefix.js';
import { parseResult, type Result } from '../shared/protocol.js';
import { createAgent } from './agent.js';
import { loadAgentConfig } from './config.js';
import { probe, type ProbeTarget } from './probe.js';
import { AGENT_VERSION } from './version.js';

// Memory on small POP boxes (bench:agent, target < 120 MB): undici's HTTP parser is
// WebAssembly, and tiering it up to optimised code makes a ~35 MB transient RSS spike
// for a parser that handles a few KB per second here. The flag is read when the
// module is compiled (at the first probe), so setting it now takes effect. (The young
// generation size is fixed at start-up instead: NODE_OPTIONS in the systemd unit.)
v8.setFlagsFromString('--liftoff-only');

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

function fail(reason: string, code: number = ExitCode.USAGE): never {
  process.stderr.write(`vantage-agent: ${reason.replace(/\s+/g, ' ').trim()}\n`);
  process.exit(code);
}

function intArg(name: string, min: number, max: number) {
  return (text: string): number => {
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new ArgumentError(`${name}: expected an integer from ${min} to ${max}, got "${text}"`);
    return Number(text);
  };
}

function statusList(text: string): number[] {
  const list = text.split(',').map((s) => s.trim());
  if (list.some((s) => !/^[1-5]\d\d$/.test(s))) throw new ArgumentError(`--expect-status: expected codes like 200,301, got "${text}"`);
  return list.map(Number);
}

function address(name: string) {
  return (text: string): string => {
    if (!isAddress(text)) throw new ArgumentError(`${name}: not an IP address: "${text}"`);
    return text;
  };
}

function targetFromUrl(rawUrl: string, o: ProbeCliOptions): ProbeTarget {
  let url: URL;
  try {
    url = new URL(rawUrl);
  } catch {
    throw new ArgumentError(`URL: not a URL: "${rawUrl}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ArgumentError(`URL: scheme must be http or https, got "${url.protocol}"`);
  const scheme = url.protocol === 'https:' ? 'https' : 'http';
  const hostname = url.hostname.replace(/^\[|\]$/g, '');
  const host = o.host ?? hostname;
  return {
    service: host,
    site: o.site,
    address: o.address,
    scheme,
    port: url.port ? Number(url.port) : scheme === 'https' ? 443 : 80,
    path: `${url.pathname || '/'}${url.search}`,
    host,
    expectStatus: o.expectStatus,
    expectBody: o.expectBody,
    timeoutMs: o.timeoutMs,
  };
}

const fmt = (ms: number | null): string => (ms === null ? '-' : `${ms.toFixed(1)}ms`);

function humanLine(r: Result): string {
  const head = r.ok ? 'ok' : `FAIL ${r.error}`;
  return `${head} status=${r.status ?? '-'} ${r.service} via ${r.address} connect=${fmt(r.connectMs)} tls=${fmt(r.tlsMs)} ttfb=${fmt(r.ttfbMs)} total=${fmt(r.totalMs)} bytes=${r.bytes}`;
}

interface ProbeCliOptions {
  address: string; host?: string; bind?: string; timeoutMs: number; expectStatus: number[];
  expectBody?: string; ca?: string; json?: boolean; site: string;
}

async function runProbe(url: string, o: ProbeCliOptions): Promise<void> {
  const target = targetFromUrl(url, o);
  let ca: Buffer | undefined;
  if (o.ca) {
    try {
      ca = readFileSync(o.ca);
    } catch (err) {
      throw new ArgumentError(`--ca: cannot read ${o.ca}: ${(err as NodeJS.ErrnoException).code ?? err}`);
    }
  }
  const result = parseResult(await probe(target, { localAddress: o.bind, ca }));
  process.stdout.write(o.json ? `${JSON.stringify(result)}\n` : `${humanLine(result)}\n`);
}

async function runDaemon(o: { config: string; logLevel?: string }): Promise<void> {
  const config = loadAgentConfig(o.config, { 'log.level': o.logLevel });
  const log = createLogger({ level: config.log.level, name: 'vantage-agent' });
  const agent = createAgent(config, { log });
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'stopping');
    agent.close().then(
      () => { log.flush(); setTimeout(() => process.exit(ExitCode.OK), 50); },
      (err: unknown) => { log.error({ err }, 'close failed'); log.flush(); setTimeout(() => process.exit(ExitCode.FAILURE), 50); },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  await agent.start();
}

function buildProgram(): Command {
  const program = new Command('vantage-agent')
    .description('Vantage MService agent: measures sites from a POP and publishes the results over MQTT')
    .version(AGENT_VERSION)
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, outputError: () => undefined });

  program.command('run')
    .description('run the agent daemon')
    .requiredOption('--config <file>', 'agent YAML configuration file')
    .addOption(new Option('--log-level <level>', 'log level').choices(LOG_LEVELS))
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, outputError: () => undefined })
    .action(runDaemon);

  program.command('probe')
    .description('probe one URL over a connection pinned to --address and print a v1 Result')
    .argument('<url>', 'http:// or https:// URL; its host name is sent as Host and TLS SNI')
    .requiredOption('--address <ip>', 'site address the connection goes to', address('--address'))
    .option('--host <name>', 'Host header and TLS server name (default: the URL host)')
    .option('--bind <ip>', 'source address', address('--bind'))
    .option('--timeout-ms <n>', 'deadline for the whole probe', intArg('--timeout-ms', 1, 120_000), 3000)
    .option('--expect-status <codes>', 'comma-separated accepted status codes', statusList, [200])
    .option('--expect-body <text>', 'text the body must contain')
    .option('--ca <file>', 'extra trusted CA certificate (PEM)')
    .option('--site <id>', 'site id reported in the Result', 'cli')
    .option('--json', 'print the Result as JSON')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined, outputError: () => undefined })
    .action(runProbe);
  return program;
}

async function main(): Promise<void> {
  try {
    await buildProgram().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version') process.exit(ExitCode.OK);
      fail(err.message.replace(/^error:\s*/, ''));
    }
    if (err instanceof ConfigError || err instanceof ArgumentError) fail(err.message);
    if (err instanceof VantageError) fail(err.message, ExitCode.FAILURE);
    fail(`unexpected error: ${(err as Error).stack ?? err}`, ExitCode.FAILURE);
  }
}

void main();
