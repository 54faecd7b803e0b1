// Timelines on the status page (`/api/timeline`, `/api/timeline.svg`, the page in
// headless Chromium): a known scenario — us-east fast, then slow (first choice moves to
// eu-west), then eu-west resets twice (down: back to us-east) — must show as two latency
// lines, a first-choice band us-east → eu-west → us-east, and the three markers.
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSelectorConfig } from '../../selector/config.js';
import { createSelector, type Selector } from '../../selector/selector.js';
import { freeTcpPort, freeUdpPort } from '../helpers/net.js';

const CHROMIUM = '/usr/bin/chromium';
const SERVICE = 'www.example.test';
const SITES = { 'us-east': '127.2.0.1', 'eu-west': '127.2.0.2' } as const;
type Site = keyof typeof SITES;
let sel: Selector;
let base: string;
let browser: Browser | undefined;
const dir = mkdtempSync(join(tmpdir(), 'vantage-timeline-'));

function result(site: Site, totalMs: number | null): Record<string, unknown> {
  const ok = totalMs !== null;
  return { service: SERVICE, site, address: SITES[site], ok, status: ok ? 200 : null, connectMs: ok ? 1 : null, tlsMs: null,
    ttfbMs: ok ? totalMs / 2 : null, totalMs, bytes: ok ? 100 : 0, error: ok ? null : 'reset' };
}

beforeAll(async () => {
  const ports = { dns: await freeUdpPort(), mqtt: await freeTcpPort(), http: await freeTcpPort() };
  sel = createSelector(parseSelectorConfig({
    dns: { listen: [`127.0.0.1:${ports.dns}`], zones: [{ name: 'example.test', ns: ['ns1.example.test'], hostmaster: 'hostmaster.example.test' }] },
    mqtt: { listen: `127.0.0.1:${ports.mqtt}` }, http: { listen: `127.0.0.1:${ports.http}` },
    db: join(dir, 'selector.db'), auth: { agents: 'off' },
    // Raw results for one hour only: the 6 h range must come from the rollups.
    retention: { rawHours: 1 },
    services: [{ name: SERVICE, sites: Object.entries(SITES).map(([id, address]) => ({ id, address })) }],
  }));
  await sel.start();
  base = `http://127.0.0.1:${ports.http}`;
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${ports.mqtt}`, { reconnectPeriod: 0 });
  const rounds: [number | null, number | null][] = [[10, 50], [11, 52], [10, 51], [300, 50], [310, 49], [305, 50], [300, 50], [300, null], [300, null]];
  // Rounds 100 ms apart in real time: a site's down/up is stamped with its probe's time,
  // a first-choice change with the time the selector ranked it; both then follow the clock.
  for (const [i, [us, eu]] of rounds.entries()) {
    const payload = { v: 1, agent: 'pop-a', seq: i + 1, ts: Date.now(), intervalS: 10, results: [result('us-east', us), result('eu-west', eu)] };
    await c.publishAsync('vantage/v1/agents/pop-a/metrics', JSON.stringify(payload), { qos: 1 });
    await new Promise((r) => setTimeout(r, 100));
  }
  await c.endAsync();
  for (let i = 0; i < 100 && (sel.engine()?.explain(SERVICE, 'pop-a')?.explanation.sites.find((s) => s.id === 'eu-west')?.state !== 'down'); i++) await new Promise((r) => setTimeout(r, 50));
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await sel?.close();
});

describe('timeline API', () => {
  it('returns the scenario from raw results: lines, first-choice bands, markers with evidence', async () => {
    // One minute over 1,000 points: 60 ms per point, finer than the 100 ms between rounds.
    const t = await (await fetch(`${base}/api/timeline?service=${SERVICE}&sinceMs=60000&width=3000`)).json() as any;
    expect(t.source).toBe('raw');
    expect(t.rows.map((r: any) => r.agent)).toEqual(['pop-a']);
    const row = t.rows[0];
    const us = row.latencyMs['us-east'].filter((v: number | null) => v !== null);
    expect(us[0]).toBeLessThan(20);
    expect(us.at(-1)).toBeGreaterThan(250);
    expect(row.failures['eu-west'].reduce((a: number, b: number) => a + b, 0)).toBe(2);
    expect(row.markers.map((m: any) => [m.kind, m.site])).toEqual([['first_changed', 'eu-west'], ['site_down', 'eu-west'], ['first_changed', 'us-east']]);
    expect(row.markers[1].evidence).toBe('eu-west down after 2 consecutive failed probes');
    expect(row.markers[0].evidence).toMatch(/^first choice us-east → eu-west; /);
    expect(row.first.map((b: any) => b.site)).toEqual(['us-east', 'eu-west', 'us-east']);
    // The data began a second ago, not at the range's left edge: so does the first band.
    const firstPoint = t.sinceMs + row.latencyMs['us-east'].findIndex((v: number | null) => v !== null) * t.bucketMs;
    expect(row.first[0].fromMs).toBe(firstPoint);
    expect(row.first[0].fromMs).toBeGreaterThan(t.sinceMs + 50_000);
    // Bounded payload: width / 3 points per series whatever the range.
    expect(row.latencyMs['us-east'].length).toBe(1000);
  });

  it('reads the 1-minute rollups past raw retention', async () => {
    const t = await (await fetch(`${base}/api/timeline?service=${SERVICE}&sinceMs=${6 * 3_600_000}&width=600`)).json() as any;
    expect(t.source).toBe('rollup');
    expect(t.bucketMs).toBe(120_000);
    const us = t.rows[0].latencyMs['us-east'].filter((v: number | null) => v !== null);
    expect(us.length).toBeGreaterThanOrEqual(1);
    expect(t.rows[0].latencyMs['us-east'].length).toBe(180);
  });

  it('rejects a bad width and an unknown service with a clear error', async () => {
    const bad = await fetch(`${base}/api/timeline?service=${SERVICE}&width=5`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as any).error).toMatch(/width/);
    expect((await fetch(`${base}/api/timeline?service=nope.example.test`)).status).toBe(404);
  });
});

describe.skipIf(!existsSync(CHROMIUM))('timeline on the status page', () => {
  it('draws the lines, band and markers, and switches range', async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    });
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(`${base}/`);
    await page.waitForSelector('.timeline[data-loaded="3600000"] g.agent[data-agent="pop-a"]', { timeout: 15_000 });
    const shot = join(dir, 'timeline.png');
    await page.screenshot({ path: shot, fullPage: true });
    expect(existsSync(shot)).toBe(true);
    const drawn = await page.evaluate(() => ({
      lines: [...document.querySelectorAll('g.agent[data-agent="pop-a"] path.latency')].map((p) => p.getAttribute('data-site')),
      bands: [...document.querySelectorAll('g.agent[data-agent="pop-a"] rect.first')].map((r) => r.getAttribute('data-site')),
      markers: [...document.querySelectorAll('g.agent[data-agent="pop-a"] g.marker')].map((m) => `${m.getAttribute('data-kind')}:${m.getAttribute('data-site')}`),
      evidence: document.querySelector('g.marker[data-kind="site_down"] title')?.textContent ?? '',
      data: (window as any).vantageTimelines['www.example.test'].rows[0].markers.length,
    }));
    expect(drawn.lines.sort()).toEqual(['eu-west', 'us-east']);
    expect(drawn.bands).toEqual(['us-east', 'eu-west', 'us-east']);
    expect(drawn.markers).toEqual(['first_changed:eu-west', 'site_down:eu-west', 'first_changed:us-east']);
    expect(drawn.evidence).toMatch(/eu-west down after 2 consecutive failed probes$/);
    expect(drawn.data).toBe(3);
    await page.click('#ranges button[data-ms="900000"]');
    await page.waitForSelector('.timeline[data-loaded="900000"]', { timeout: 10_000 });
    expect(await page.evaluate(() => (window as any).vantageTimelines['www.example.test'].sinceMs > Date.now() - 16 * 60_000)).toBe(true);
  }, 60_000);
});
