// The scheduler against real local servers: one report per round with one Result per
// target, increasing seq, a hanging site bounded by the round, the concurrency cap,
// and starts spread over the interval.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { createScheduler, targetsOf, type RoundReport } from '../../agent/scheduler.js';
import { silentLogger } from '../../shared/log.js';
import type { Catalogue } from '../../shared/protocol.js';
import { startBadServer, type BadServer } from '../helpers/bad-server.js';

let bad: BadServer;
let counting: net.Server;
let countingPort: number;
const arrivals: number[] = [];
let open = 0;
let maxOpen = 0;

beforeAll(async () => {
  bad = await startBadServer({ host: '127.2.4.1' });
  // Answers after 150 ms and records arrival times and the most connections open at once.
  counting = net.createServer((c) => {
    arrivals.push(Date.now());
    open++;
    maxOpen = Math.max(maxOpen, open);
    c.on('close', () => { open--; });
    c.on('error', () => undefined);
    c.resume();
    setTimeout(() => c.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok'), 150);
  });
  await new Promise<void>((r) => counting.listen(0, '127.2.4.2', r));
  countingPort = (counting.address() as net.AddressInfo).port;
});
afterAll(async () => {
  await bad?.close();
  await new Promise<void>((r) => counting.close(() => r()));
});

function service(name: string, port: number, path: string, timeoutMs: number, sites: [string, string][]) {
  return {
    name, probe: { scheme: 'http' as const, port, path, expectStatus: [200], timeoutMs },
    sites: sites.map(([id, address]) => ({ id, address })),
  };
}

describe('scheduler', () => {
  it('reports every round on time with a hanging site as timeout, seq increasing', async () => {
    const reports: (RoundReport & { at: number })[] = [];
    const s = createScheduler({
      intervalS: 1, concurrency: 8, seqStart: 1000, log: silentLogger(),
      onRound: (r) => reports.push({ ...r, at: Date.now() }),
    });
    const cat: Catalogue = { v: 1, ts: Date.now(), services: [
      service('ok.example.test', bad.port, '/ok', 300, [['s1', '127.2.4.1'], ['s2', '127.2.4.1'], ['s3', '127.2.4.1']]),
      service('hang.example.test', bad.port, '/hang', 5000, [['h1', '127.2.4.1']]),
    ] };
    const t0 = Date.now();
    s.start();
    s.setCatalogue(cat);
    while (reports.length < 3 && Date.now() - t0 < 6000) await new Promise((r) => setTimeout(r, 20));
    await s.close();
    expect(reports.map((r) => r.seq).slice(0, 3)).toEqual([1000, 1001, 1002]);
    for (const r of reports.slice(0, 3)) {
      expect(r.results).toHaveLength(4);
      expect(r.results.find((x) => x.site === 'h1')).toMatchObject({ ok: false, error: 'timeout' });
      expect(r.results.filter((x) => x.ok).map((x) => x.site).sort()).toEqual(['s1', 's2', 's3']);
    }
    // Rounds close at the interval end (minus a small margin), not when the hang would.
    const gaps = reports.slice(1, 3).map((r, i) => r.at - (reports[i] as { at: number }).at);
    for (const g of gaps) {
      expect(g).toBeGreaterThan(800);
      expect(g).toBeLessThan(1300);
    }
    expect(reports[0]!.at - t0).toBeLessThan(1100);
  });

  it('keeps at most `concurrency` probes in flight and spreads starts over the interval', async () => {
    arrivals.length = 0;
    maxOpen = 0;
    const reports: RoundReport[] = [];
    const s = createScheduler({ intervalS: 2, concurrency: 2, log: silentLogger(), onRound: (r) => reports.push(r) });
    const sites: [string, string][] = Array.from({ length: 8 }, (_, i) => [`c${i}`, '127.2.4.2']);
    s.setCatalogue({ v: 1, ts: Date.now(), services: [service('count.example.test', countingPort, '/', 300, sites)] });
    s.start();
    while (reports.length < 1) await new Promise((r) => setTimeout(r, 20));
    await s.close();
    expect(reports[0]!.results.every((r) => r.ok)).toBe(true);
    expect(maxOpen).toBeLessThanOrEqual(2);
    expect(maxOpen).toBeGreaterThanOrEqual(1);
    expect(arrivals).toHaveLength(8);
    // Spread window is 2000 - 100 - 300 = 1600 ms: starts are not bunched.
    const span = Math.max(...arrivals) - Math.min(...arrivals);
    expect(span).toBeGreaterThan(700);
  });

  it('does nothing without a catalogue and applies a new one to the next round', async () => {
    const reports: RoundReport[] = [];
    const s = createScheduler({ intervalS: 1, concurrency: 4, log: silentLogger(), onRound: (r) => reports.push(r) });
    s.start();
    await new Promise((r) => setTimeout(r, 1200));
    expect(reports).toHaveLength(0);
    s.setCatalogue({ v: 1, ts: 1, services: [service('ok.example.test', bad.port, '/ok', 300, [['a', '127.2.4.1']])] });
    while (reports.length < 1) await new Promise((r) => setTimeout(r, 20));
    s.setCatalogue({ v: 1, ts: 2, services: [service('ok.example.test', bad.port, '/ok', 300, [['a', '127.2.4.1'], ['b', '127.2.4.1']])] });
    while (reports.length < 3) await new Promise((r) => setTimeout(r, 20));
    await s.close();
    expect(reports[0]!.results.map((r) => r.site)).toEqual(['a']);
    expect(reports[2]!.results.map((r) => r.site).sort()).toEqual(['a', 'b']);
    expect(s.stats().inFlight).toBe(0);
  });

  // A site whose behaviour the test switches between rounds: 'ok', 'fail' (503), 'slow' (+120 ms).
  async function switchable(): Promise<{ port: number; set(mode: string): void; hits(): number; close(): Promise<void> }> {
    let mode = 'ok';
    let hits = 0;
    const srv = net.createServer((c) => {
      hits++;
      c.on('error', () => undefined);
      c.resume();
      const m = mode;
      const send = () => c.end(m === 'fail'
        ? 'HTTP/1.1 503 Busy\r\nContent-Length: 0\r\nConnection: close\r\n\r\n'
        : 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok');
      if (m === 'slow') setTimeout(send, 120); else send();
    });
    await new Promise<void>((r) => srv.listen(0, '127.2.4.3', r));
    return {
      port: (srv.address() as net.AddressInfo).port,
      set: (m) => { mode = m; },
      hits: () => hits,
      close: () => new Promise<void>((r) => srv.close(() => r())),
    };
  }

  async function roundsWith(recheckChanges: boolean | undefined, modes: string[], timeoutMs = 400): Promise<RoundReport[]> {
    const site = await switchable();
    const reports: RoundReport[] = [];
    const s = createScheduler({
      intervalS: 1, concurrency: 4, log: silentLogger(), recheckChanges, shiftRecheckDelayMs: 200,
      onRound: (r) => { reports.push(r); site.set(modes[reports.length] ?? 'ok'); },
    });
    site.set(modes[0] as string);
    s.setCatalogue({ v: 1, ts: 1, services: [service('flip.example.test', site.port, '/', timeoutMs, [['f', '127.2.4.3']])] });
    s.start();
    while (reports.length < modes.length) await new Promise((r) => setTimeout(r, 20));
    await s.close();
    await site.close();
    return reports;
  }

  it('confirms a changed outcome with a second probe in the same round', async () => {
    const reports = await roundsWith(undefined, ['ok', 'slow', 'fail', 'fail', 'ok']);
    const shape = reports.map((r) => r.results.map((x) => (x.ok ? ((x.totalMs as number) > 100 ? 'slow' : 'ok') : x.error)));
    expect(shape).toEqual([
      ['ok'],
      ['slow'], // a latency change is left to the selector's median
      ['http_status', 'http_status'], // ok → failed: confirmed at once
      ['http_status'], // unchanged
      ['ok', 'ok'], // failed → ok: confirmed
    ]);
  });

  it('confirms a latency shift far outside the path\'s spread, once', async () => {
    const modes = ['ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'ok', 'slow', 'slow', 'slow'];
    // A timeout as long as the round: every probe starts at once, so the recheck always fits.
    const reports = await roundsWith(undefined, modes, 1000);
    const shape = reports.map((r) => r.results.map((x) => (x.ok ? ((x.totalMs as number) > 100 ? 'slow' : 'ok') : x.error)));
    expect(shape.slice(6)).toEqual([['ok'], ['slow', 'slow'], ['slow'], ['slow']]);
  }, 20_000);

  it('does not recheck when recheckChanges is off', async () => {
    const reports = await roundsWith(false, ['ok', 'fail', 'ok']);
    expect(reports.map((r) => r.results.length)).toEqual([1, 1, 1]);
  });

  it('targets one address per family the POP probes (dual-stack sites)', () => {
    const cat: Catalogue = { v: 1, ts: 1, services: [service('www.example.test', 80, '/', 1000, [['dual', '127.2.0.1'], ['v6', '::1']])] };
    const dual = cat.services[0]!.sites[0]!;
    cat.services[0]!.sites[0] = { ...dual, addresses: ['127.2.0.1', '127.2.0.9', '::1'] };
    const pick = (fams?: (4 | 6)[]) => targetsOf(cat, fams).map((t) => `${t.site} ${t.address}`);
    expect(pick()).toEqual(['dual 127.2.0.1', 'dual ::1', 'v6 ::1']);
    expect(pick([4])).toEqual(['dual 127.2.0.1']);
    expect(pick([6])).toEqual(['dual ::1', 'v6 ::1']);
  });
});
