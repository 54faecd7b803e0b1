// The SQLite store on a real file: config sync semantics, rollups across a restart
// in the middle of a minute, window rebuild input (retention: retention.test.ts).
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { SCHEMA_SQL } from '../../selector/store/schema.js';
import { ResultWriter, type StoredResult } from '../../selector/store/results.js';
import { BUSY_TIMEOUT_MS, Store, type ServiceRecord } from '../../selector/store/store.js';
import { queryEvents } from '../../selector/store/events-query.js';
import { queryMetrics } from '../../selector/store/metrics-query.js';
import { selectorConfig, SERVICE, tmpDb } from '../helpers/fixtures.js';

const open: Store[] = [];
afterEach(() => {
  for (const s of open.splice(0)) s.close();
});
function store(path: string): Store {
  const s = new Store(path);
  open.push(s);
  return s;
}
function row(ts: number, site = 'us-east', totalMs: number | null = 20): StoredResult {
  return { agent: 'pop-a', service: SERVICE, site, ts, ok: totalMs !== null, status: totalMs !== null ? 200 : null, connectMs: 1, tlsMs: null,
    ttfbMs: 5, totalMs, bytes: 10, error: totalMs !== null ? null : 'timeout' };
}

describe('store', () => {
  it('opens in WAL mode with synchronous=NORMAL', () => {
    const s = store(tmpDb());
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(s.db.pragma('synchronous', { simple: true })).toBe(1);
  });

  it('config is the source of truth for what it lists; admin-added services and sites persist', () => {
    const path = tmpDb();
    const cfg = selectorConfig();
    let s = store(path);
    s.syncConfigServices(cfg.services);
    const admin: ServiceRecord = { name: 'api.example.test', ttl: 10, answers: 1, policy: 'cost', probe: cfg.services[0]!.probe, sites: [{ id: 'x', address: '127.2.9.1', cost: 1, weight: 1, drained: false }] };
    s.upsertService(admin);
    s.db.prepare(`INSERT INTO sites (service, id, address, source, position) VALUES (?, 'extra', '127.2.9.9', 'admin', 99)`).run(SERVICE);
    s.setDrained(SERVICE, 'eu-west', true);
    s.close();
    // Restart with a config that drops ap-south and changes us-east's address.
    const next = selectorConfig({ services: [{ name: SERVICE, sites: [{ id: 'us-east', address: '127.2.0.11' }, { id: 'eu-west', address: '127.2.0.2' }] }] });
    s = store(path);
    s.syncConfigServices(next.services);
    const services = s.loadServices();
    expect(services.map((x) => x.name)).toEqual([SERVICE, 'api.example.test']);
    expect(services[0]?.sites.map((x) => [x.id, x.address, x.drained])).toEqual([
      ['us-east', '127.2.0.11', false], ['eu-west', '127.2.0.2', false], ['extra', '127.2.9.9', false],
    ]);
    // Config without the service at all deletes it; the admin one stays.
    s.syncConfigServices([]);
    expect(s.loadServices().map((x) => x.name)).toEqual(['api.example.test']);
  });

  it('keeps rollups right across a restart in the middle of a minute', () => {
    const path = tmpDb();
    const minute = Math.floor(Date.now() / 60_000) * 60_000;
    let s = store(path);
    let w = new ResultWriter(s);
    w.addResults([row(minute + 1000, 'us-east', 10), row(minute + 2000, 'us-east', null)]);
    w.close();
    s.close();
    s = store(path);
    w = new ResultWriter(s);
    w.addResults([row(minute + 3000, 'us-east', 30), row(minute + 4000, 'us-east', 3000)]);
    w.close();
    const r = s.db.prepare('SELECT samples, failures, failure_classes, total_sum, total_min, total_max, ttfb_count, histogram FROM rollups').all();
    expect(r).toEqual([{ samples: 4, failures: 1, failure_classes: '{"timeout":1}', total_sum: 3040, total_min: 10, total_max: 3000, ttfb_count: 4,
      histogram: JSON.stringify([0, 1, 0, 1, 0, 0, 0, 0, 0, 1, 0]) }]);
    expect(w.committed).toBe(2);
  });

  it('records events and agent sequence marks', () => {
    const s = store(tmpDb());
    const w = new ResultWriter(s);
    w.markSeen('pop-a', 41, 10, 1234);
    w.addEvent({ ts: 5, kind: 'site_down', agent: 'pop-a', service: SERVICE, site: 'us-east', detail: { streak: -2 } });
    w.close();
    expect(s.getAgent('pop-a')).toMatchObject({ lastSeq: 41, intervalS: 10, lastSeen: 1234, enrolled: false });
    expect(s.listEvents(0)).toEqual([{ ts: 5, kind: 'site_down', agent: 'pop-a', service: SERVICE, site: 'us-east', detail: { streak: -2 } }]);
  });

  it('busy_timeout is set once, by mode: the daemon fails fast, a CLI writer waits, and nothing overrides it', () => {
    const path = tmpDb();
    const daemon = store(path);
    new ResultWriter(daemon).close();
    expect(daemon.db.pragma('busy_timeout', { simple: true })).toBe(BUSY_TIMEOUT_MS.daemon);
    const tool = new Store(path, 'tool');
    open.push(tool);
    expect(tool.db.pragma('busy_timeout', { simple: true })).toBe(BUSY_TIMEOUT_MS.tool);
    expect(BUSY_TIMEOUT_MS.daemon).toBeLessThan(BUSY_TIMEOUT_MS.tool);
  });

  it('the read-only store (--db) reads everything and refuses every write, changing nothing', () => {
    const path = tmpDb();
    const w = store(path);
    w.syncConfigServices(selectorConfig().services);
    w.recordAnnounce('pop-a', 'A', { addresses: [], prefixes: ['198.51.100.0/24'], resolvers: [] }, ['198.51.100.0/24'], 1000);
    w.addEvent({ ts: Date.now(), kind: 'agent_online', agent: 'pop-a' });
    const ro = new Store(path, 'readonly');
    open.push(ro);
    expect(ro.listServices().map((x) => x.name)).toEqual([SERVICE]);
    expect(ro.listPrefixes()).toEqual([{ prefix: '198.51.100.0/24', agent: 'pop-a', source: 'announced' }]);
    expect(queryEvents(ro, 0).map((e) => e.kind)).toEqual(['agent_online']);
    expect(queryMetrics(ro, { sinceMs: 0, nowMs: Date.now() }).rows).toEqual([]);
    const writes: [string, () => unknown][] = [
      ['addEvent', () => ro.addEvent({ ts: 1, kind: 'x' })],
      ['drainSite', () => ro.drainSite(SERVICE, 'us-east', true)],
      ['removeAgent', () => ro.removeAgent('pop-a')],
      ['setCredentials', () => ro.setCredentials('pop-b', Buffer.alloc(32), Buffer.alloc(16))],
      ['removeService', () => ro.removeService(SERVICE)],
      ['addAdminPrefix', () => ro.addAdminPrefix('192.0.2.0/24', 'pop-a')],
    ];
    for (const [what, write] of writes) expect(write, what).toThrow(/open read-only/);
    // Below the store too: SQLite itself refuses (the connection is opened read-only).
    expect(() => ro.db.exec('DELETE FROM events')).toThrow(/readonly/);
    expect(w.listEvents(0)).toHaveLength(1);
    expect(w.getAgent('pop-a')).toBeDefined();
    expect(w.listServices()[0]?.sites.every((x) => !x.drained)).toBe(true);
    expect(() => new Store(`${path}.missing`, 'readonly')).toThrow(/cannot open database/);
  });

  it('operator drains are kept in admin_drains and survive a config re-sync', () => {
    const path = tmpDb();
    const cfg = selectorConfig();
    const s = store(path);
    s.syncConfigServices(cfg.services);
    expect(s.drainSite(SERVICE, 'eu-west', true)).toBe(true);
    expect(s.drainSite(SERVICE, 'nowhere', true)).toBe(false);
    s.syncConfigServices(cfg.services);
    expect(s.loadServices()[0]?.sites.find((x) => x.id === 'eu-west')?.drained).toBe(false);
    s.applyDrains();
    expect(s.loadServices()[0]?.sites.find((x) => x.id === 'eu-west')?.drained).toBe(true);
  });

  it('keeps dual-stack addresses, answerSet, ttlUnsettled and the probed address; an older file gains the columns', () => {
    const path = tmpDb();
    // A database as the first release created it: no added columns.
    const old = new Database(path);
    old.exec(SCHEMA_SQL);
    old.close();
    const s = store(path);
    const cols = (t: string) => (s.db.prepare(`PRAGMA table_info(${t})`).all() as { name: string }[]).map((c) => c.name);
    expect(cols('sites')).toContain('addresses');
    expect(cols('results')).toContain('address');
    const cfg = selectorConfig({ services: [{ name: SERVICE, answerSet: 'ordered', ttl: 40, ttlUnsettled: 6, sites: [{ id: 'd', addresses: ['127.2.0.1', '::1'] }, { id: 'o', address: '127.2.0.2' }] }] });
    s.syncConfigServices(cfg.services);
    const [svc] = s.loadServices();
    expect(svc).toMatchObject({ answerSet: 'ordered', ttlUnsettled: 6, sites: [{ id: 'd', address: '127.2.0.1', addresses: ['127.2.0.1', '::1'] }, { id: 'o', addresses: ['127.2.0.2'] }] });
    const w = new ResultWriter(s);
    w.addResults([{ ...row(Date.now(), 'd'), address: '::1' }]);
    w.flush(true);
    expect([...w.resultsSince(0)].map((r) => r.address)).toEqual(['::1']);
    w.close();
  });
});
