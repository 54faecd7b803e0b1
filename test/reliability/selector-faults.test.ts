// Selector faults with the real selector (embedded aedes, SQLite file, real UDP DNS):
// the database locked by another connection (BEGIN EXCLUSIVE → SQLITE_BUSY), a restart
// answering from persisted state before any new metric, and a site flapping every round.
import { Writable } from 'node:stream';
import Database from 'better-sqlite3';
import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { createSelector, type Selector } from '../../selector/selector.js';
import { createLogger } from '../../shared/log.js';
import { agentTopic } from '../../shared/protocol.js';
import { queryA } from '../helpers/dns-client.js';
import { announce, metrics, result, selectorConfig, SERVICE, until } from '../helpers/fixtures.js';

const open: { close(): Promise<void> | void }[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
});

const NYC = { ip: '198.51.100.0', length: 24 };

async function boot(cfg = selectorConfig(), logs?: string[]): Promise<{ sel: Selector; client: MqttClient; dns: () => Promise<string[]> }> {
  const log = logs ? createLogger({ level: 'info' }, new Writable({ write(c, _e, cb) { logs.push(String(c)); cb(); } })) : undefined;
  const sel = createSelector(cfg, log ? { log } : {});
  open.push(sel);
  await sel.start();
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${sel.mqttAddress()?.port}`, { reconnectPeriod: 0 });
  open.push({ close: () => client.endAsync() });
  const port = sel.dnsAddresses()[0]?.port as number;
  return { sel, client, dns: async () => (await queryA('127.0.0.1', port, SERVICE, NYC)).addresses };
}

function count(sel: Selector, sql: string): number {
  return (sel.store()?.db.prepare(sql).get() as { n: number }).n;
}

describe('database locked by another connection', () => {
  it('keeps answering from memory, says so in logs and /metrics, corrupts nothing, and writes again after the lock', async () => {
    const cfg = selectorConfig();
    const logs: string[] = [];
    const { sel, client, dns } = await boot(cfg, logs);
    await client.publishAsync(agentTopic('pop-nyc', 'announce'), announce('pop-nyc', ['198.51.100.0/24']), { qos: 1 });
    await client.publishAsync(agentTopic('pop-nyc', 'metrics'), metrics('pop-nyc', 1, [result('us-east', 10), result('eu-west', 50), result('ap-south', 90)]), { qos: 1 });
    await until(() => sel.ingestCounters()?.accepted.metrics === 1, 5000, 'first round');
    sel.flush();
    expect(count(sel, 'SELECT COUNT(*) AS n FROM results')).toBe(3);
    expect(await dns()).toEqual(['127.2.0.1', '127.2.0.2', '127.2.0.3']);

    const locker = new Database(cfg.db);
    locker.exec('BEGIN EXCLUSIVE');
    // us-east fails twice: down. Decided in memory while nothing can be written.
    for (const seq of [2, 3]) {
      await client.publishAsync(agentTopic('pop-nyc', 'metrics'), metrics('pop-nyc', seq, [result('us-east', null), result('eu-west', 50), result('ap-south', 90)]), { qos: 1 });
    }
    await client.publishAsync(agentTopic('pop-lon', 'status'), JSON.stringify({ v: 1, agent: 'pop-lon', state: 'online', ts: Date.now() }), { qos: 1 });
    await until(() => sel.ingestCounters()?.accepted.metrics === 3 && sel.ingestCounters()?.accepted.status === 1, 5000, 'rounds while locked');
    // DNS stays fast while every flush fails (no 5 s busy wait on the event loop).
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) expect(await dns()).toEqual(['127.2.0.2', '127.2.0.3']);
    expect(Date.now() - t0).toBeLessThan(2000);
    await until(() => logs.some((l) => l.includes('result write failed') && l.includes('SQLITE_BUSY')), 5000, 'a log line naming the failure');
    const http = sel.adminAddress() as { port: number };
    const text = await (await fetch(`http://127.0.0.1:${http.port}/metrics`)).text();
    const errors = Number(/vantage_selector_db_write_errors_total (\d+)/.exec(text)?.[1]);
    expect(errors).toBeGreaterThanOrEqual(1);
    // Nothing of the locked period reached the file; the earlier rows are intact.
    const reader = new Database(cfg.db, { readonly: true });
    expect(reader.prepare('SELECT COUNT(*) AS n FROM results').get()).toEqual({ n: 3 });
    reader.close();

    locker.exec('ROLLBACK');
    locker.close();
    // The queued rows are retried and land exactly once.
    await until(() => count(sel, 'SELECT COUNT(*) AS n FROM results') === 9, 5000, 'rows written after the lock');
    expect(count(sel, `SELECT COUNT(*) AS n FROM results WHERE site = 'us-east' AND ok = 0`)).toBe(2);
    sel.flush();
    // The status that could not be written was still applied in memory, and counted.
    expect(sel.agentStates().has('pop-lon')).toBe(true);
    expect(sel.ingestCounters()?.dbWriteErrors).toBe(1);
    const { integrity_check } = sel.store()?.db.prepare('PRAGMA integrity_check').get() as { integrity_check: string };
    expect(integrity_check).toBe('ok');
    await sel.close();
    // Rollups counted each result once, even though the first write attempts failed.
    const after = new Database(cfg.db, { readonly: true });
    expect(after.prepare(`SELECT SUM(samples) AS s, SUM(failures) AS f FROM rollups WHERE site = 'us-east'`).get()).toEqual({ s: 3, f: 2 });
    after.close();
  });
});

describe('selector restart', () => {
  it('answers from persisted state before any new metric arrives', async () => {
    const cfg = selectorConfig();
    const first = await boot(cfg);
    await first.client.publishAsync(agentTopic('pop-nyc', 'announce'), announce('pop-nyc', ['198.51.100.0/24']), { qos: 1 });
    await first.client.publishAsync(agentTopic('pop-lon', 'announce'), announce('pop-lon', ['203.0.113.0/24']), { qos: 1 });
    for (const seq of [1, 2, 3]) {
      await first.client.publishAsync(agentTopic('pop-nyc', 'metrics'), metrics('pop-nyc', seq, [result('us-east', 80), result('eu-west', 10), result('ap-south', 40)]), { qos: 1 });
      await first.client.publishAsync(agentTopic('pop-lon', 'metrics'), metrics('pop-lon', seq, [result('us-east', 10), result('eu-west', 80), result('ap-south', 40)]), { qos: 1 });
    }
    await until(() => first.sel.ingestCounters()?.accepted.metrics === 6, 5000, 'rounds');
    const before = await first.dns();
    expect(before).toEqual(['127.2.0.2', '127.2.0.3', '127.2.0.1']);
    for (const o of open.splice(0).reverse()) await o.close();

    const second = createSelector(cfg);
    open.push(second);
    await second.start();
    expect(second.ingestCounters()?.accepted.metrics).toBe(0);
    const port = second.dnsAddresses()[0]?.port as number;
    expect((await queryA('127.0.0.1', port, SERVICE, NYC)).addresses).toEqual(before);
    expect((await queryA('127.0.0.1', port, SERVICE, { ip: '203.0.113.0', length: 24 })).addresses).toEqual(['127.2.0.1', '127.2.0.3', '127.2.0.2']);
    // Replay protection survives the restart too.
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${second.mqttAddress()?.port}`, { reconnectPeriod: 0 });
    open.push({ close: () => client.endAsync() });
    await client.publishAsync(agentTopic('pop-nyc', 'metrics'), metrics('pop-nyc', 3, [result('us-east', 1)]), { qos: 1 });
    await until(() => second.ingestCounters()?.rejected.stale_seq === 1, 5000, 'replayed seq rejected after restart');
  });
});

describe('a site flapping every round', () => {
  /**
   * us-east alternates 16 ms / 26 ms every round and fails every third round (never twice
   * in a row, so never "down"); eu-west is a steady 20 ms. Returns first-choice changes.
   */
  async function flap(extra: Record<string, unknown>, rounds: number): Promise<number> {
    const { sel, client, dns } = await boot(selectorConfig({ ranking: { windowS: 300, ...extra } }));
    await client.publishAsync(agentTopic('pop-nyc', 'announce'), announce('pop-nyc', ['198.51.100.0/24']), { qos: 1 });
    let changes = 0;
    let first: string | undefined;
    // Rounds 2 s apart in agent time, so a 1 s window holds exactly one round.
    const t0 = Date.now() - rounds * 2000 - 1000;
    for (let seq = 1; seq <= rounds; seq++) {
      const us = seq % 3 === 0 ? null : seq % 2 === 1 ? 16 : 26;
      await client.publishAsync(agentTopic('pop-nyc', 'metrics'), metrics('pop-nyc', seq, [result('us-east', us), result('eu-west', 20), result('ap-south', 200)], { ts: t0 + seq * 2000 }), { qos: 1 });
      await until(() => sel.ingestCounters()?.accepted.metrics === seq, 5000, `round ${seq}`);
      const now = (await dns())[0];
      if (first !== undefined && now !== first) changes++;
      first = now;
    }
    return changes;
  }

  it('hysteresis keeps the first choice steady (and without it, it flaps)', async () => {
    const steady = await flap({}, 24);
    expect(steady).toBeLessThanOrEqual(1);
    for (const o of open.splice(0).reverse()) await o.close();
    // Control: the same rounds with hysteresis off and a 1-round window do flap.
    const flapping = await flap({ windowS: 1, minRounds: 1, hysteresisPct: 0, hysteresisMs: 0, failurePenalty: 0 }, 24);
    expect(flapping).toBeGreaterThanOrEqual(10);
  });
});
