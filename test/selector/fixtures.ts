// Shared fixtures for selector tests: configs, v1 messages, polling.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseSelectorConfig, type SelectorConfig } from '../../selector/config.js';
import type { Result } from '../../shared/protocol.js';

export const SERVICE = 'www.example.test';
export const SITES = [
  { id: 'us-east', address: '127.2.0.1' },
  { id: 'eu-west', address: '127.2.0.2' },
  { id: 'ap-south', address: '127.2.0.3' },
];

export function tmpDb(): string {
  return join(mkdtempSync(join(tmpdir(), 'vantage-selector-')), 'selector.db');
}

export function selectorConfig(extra: Record<string, unknown> = {}): Readonly<SelectorConfig> {
  return parseSelectorConfig({
    dns: { listen: ['127.0.0.1:0'], zones: [{ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'hostmaster.example.test' }] },
    mqtt: { listen: '127.0.0.1:0' },
    http: { listen: '127.0.0.1:0' },
    db: tmpDb(),
    auth: { agents: 'off' },
    // Plain top-N: these tests check the ranked order (the band rule has its own tests).
    services: [{ name: SERVICE, answers: 3, answerSet: 'ordered', probe: { port: 8080 }, sites: SITES }],
    ranking: { windowS: 300 },
    ...extra,
  });
}

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

export function announce(agent: string, prefixes: string[], resolvers: string[] = []): string {
  return JSON.stringify({ v: 1, agent, pop: agent, addresses: [], prefixes, resolvers, ts: Date.now() });
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
