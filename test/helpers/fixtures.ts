// The one test world, shared by the in-process selector tests (test/selector,
// test/reliability, test/system) and the operator-surface tests that run the real
// `vantage-selector` process (test/ops): one service with three loopback sites, the
// selector config both use (parsed in-process, or written to a file on free ports),
// v1 message builders, a fed world of three agents, and polling.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import mqtt from 'mqtt';
import { parseSelectorConfig, type SelectorConfig } from '../../selector/config.js';
import { agentTopic, type Result } from '../../shared/protocol.js';
import { freeTcpPort, freeUdpPort } from './net.js';

export const SERVICE = 'www.example.test';
export const SITES = [
  { id: 'us-east', address: '127.2.0.1' },
  { id: 'eu-west', address: '127.2.0.2' },
  { id: 'ap-south', address: '127.2.0.3' },
];

export function tmpDb(): string {
  return join(mkdtempSync(join(tmpdir(), 'vantage-selector-')), 'selector.db');
}

const ZONES = [{ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'hostmaster.example.test' }];

/** The raw (YAML-shaped) selector config of the test world; `extra` replaces top-level keys. */
export function selectorRaw(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    dns: { listen: ['127.0.0.1:0'], zones: ZONES },
    mqtt: { listen: '127.0.0.1:0' },
    http: { listen: '127.0.0.1:0' },
    db: tmpDb(),
    auth: { agents: 'off' },
    // Plain top-N: these tests check the ranked order (the band rule has its own tests).
    services: [{ name: SERVICE, answers: 3, answerSet: 'ordered', probe: { port: 8080 }, sites: SITES }],
    ranking: { windowS: 300 },
    ...extra,
  };
}

/** The test world's config, parsed like selector.yaml (ports 0: read the bound ones from the selector). */
export function selectorConfig(extra: Record<string, unknown> = {}): Readonly<SelectorConfig> {
  return parseSelectorConfig(selectorRaw(extra));
}

export interface Ports { dns: number; mqtt: number; http: number }
export interface ConfigFile { dir: string; conf: string; db: string; ports: Ports }

/**
 * The same config written to a file for the real `vantage-selector` process, on free
 * loopback ports (the CLI finds the admin API from http.listen), log level info (the
 * daemon's "selector started" line is what startDaemon waits for). JSON is valid YAML.
 */
export async function writeConfig(extra: { token?: string; auth?: 'required' | 'off' } = {}): Promise<ConfigFile> {
  const dir = mkdtempSync(join(tmpdir(), 'vantage-ops-'));
  const ports = { dns: await freeUdpPort(), mqtt: await freeTcpPort(), http: await freeTcpPort() };
  const db = join(dir, 'selector.db');
  const conf = join(dir, 'selector.yaml');
  const raw = selectorRaw({
    dns: { listen: [`127.0.0.1:${ports.dns}`], zones: ZONES },
    mqtt: { listen: `127.0.0.1:${ports.mqtt}` },
    http: { listen: `127.0.0.1:${ports.http}`, ...(extra.token ? { token: extra.token } : {}) },
    db,
    log: { level: 'info' },
    ...(extra.auth ? { auth: { agents: extra.auth } } : {}),
  });
  writeFileSync(conf, `${JSON.stringify(raw, null, 2)}\n`);
  return { dir, conf, db, ports };
}

/** One v1 Result for a site of the world: totalMs null is a failure (`error`, default reset). */
export function result(site: string, totalMs: number | null, extra: Partial<Result> = {}): Result {
  const s = SITES.find((x) => x.id === site);
  const ok = totalMs !== null;
  return {
    service: SERVICE, site, address: s?.address ?? '127.9.9.9', ok, status: ok ? 200 : null,
    connectMs: ok ? 1 : null, tlsMs: null, ttfbMs: ok ? totalMs / 2 : null, totalMs, bytes: ok ? 100 : 0,
    error: ok ? null : 'reset', ...extra,
  };
}

export function metrics(agent: string, seq: number, results: Result[], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ v: 1, agent, seq, ts: Date.now(), intervalS: 10, results, ...extra });
}

export function announce(agent: string, prefixes: string[], resolvers: string[] = [], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ v: 1, agent, pop: agent, addresses: [], prefixes, resolvers, ts: Date.now(), ...extra });
}

export function status(agent: string, state: 'online' | 'offline', ts = Date.now()): string {
  return JSON.stringify({ v: 1, agent, state, ts });
}

export async function until<T>(fn: () => T | undefined | false, timeoutMs = 5000, what = 'condition'): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

/** pop-nyc (198.51.100.0/24) announces itself and reports one round: us-east, eu-west, ap-south in ms. */
export async function feedNyc(mqttPort: number, agentMs: [number, number, number], seq: number): Promise<void> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0 });
  try {
    await client.publishAsync(agentTopic('pop-nyc', 'announce'), announce('pop-nyc', ['198.51.100.0/24']), { qos: 1, retain: true });
    const [a, b, c] = agentMs;
    await client.publishAsync(agentTopic('pop-nyc', 'metrics'), metrics('pop-nyc', seq, [result('us-east', a), result('eu-west', b), result('ap-south', c)]), { qos: 1 });
  } finally {
    await client.endAsync();
  }
}

/**
 * A small world: pop-nyc (198.51.100.0/24) sees us-east best; pop-lon (203.0.113.0/24,
 * resolver 127.0.0.53) sees eu-west best and ap-south down (2 resets); pop-old
 * (192.0.2.0/25) measured, then went offline (its status topic says so). intervalS 60:
 * agents stay online for 3 × 60 s, longer than any test file takes.
 */
export async function feedWorld(mqttPort: number, rounds = 4): Promise<void> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${mqttPort}`, { reconnectPeriod: 0 });
  const now = Date.now();
  const agents = [
    { id: 'pop-nyc', pop: 'New York', prefixes: ['198.51.100.0/24'], resolvers: [] as string[] },
    { id: 'pop-lon', pop: 'London', prefixes: ['203.0.113.0/24'], resolvers: ['127.0.0.53'] },
    { id: 'pop-old', pop: 'Old Town', prefixes: ['192.0.2.0/25'], resolvers: [] as string[] },
  ];
  for (const a of agents) {
    await c.publishAsync(agentTopic(a.id, 'status'), status(a.id, 'online', now), { qos: 1, retain: true });
    await c.publishAsync(agentTopic(a.id, 'announce'), announce(a.id, a.prefixes, a.resolvers, { pop: a.pop, addresses: ['127.1.0.1'], ts: now }), { qos: 1, retain: true });
  }
  const round = (agent: string, i: number, results: Result[]) =>
    c.publishAsync(agentTopic(agent, 'metrics'), metrics(agent, i + 1, results, { ts: now - (rounds - 1 - i) * 1000, intervalS: 60 }), { qos: 1 });
  for (let i = 0; i < rounds; i++) {
    await round('pop-nyc', i, [result('us-east', 10 + i), result('eu-west', 80 + i), result('ap-south', i === 1 ? null : 200, i === 1 ? { error: 'timeout' } : {})]);
    await round('pop-lon', i, [result('us-east', 120), result('eu-west', 8 + i), result('ap-south', i >= rounds - 2 ? null : 150)]);
    await round('pop-old', i, [result('us-east', 300), result('eu-west', 5), result('ap-south', 5)]);
  }
  await sleep(50);
  await c.publishAsync(agentTopic('pop-old', 'status'), status('pop-old', 'offline', Date.now() + 5), { qos: 1, retain: true });
  await c.endAsync();
}
