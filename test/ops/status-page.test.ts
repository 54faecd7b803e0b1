// The status page at `/` in headless Chromium (Debian `chromium` driven by
// playwright-core): it renders the agents × sites heatmap the selector knows,
// marks down sites, shows each POP's first choice, and refreshes itself.
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadSelectorConfig } from '../../selector/config.js';
import { createSelector, type Selector } from '../../selector/selector.js';
import { feedWorld, writeConfig } from '../helpers/fixtures.js';

const CHROMIUM = '/usr/bin/chromium';
const TOKEN = 'status-page-token-0123456789';
let sel: Selector;
let browser: Browser;
let base: string;

beforeAll(async () => {
  const env = await writeConfig({ token: TOKEN });
  sel = createSelector(loadSelectorConfig(env.conf));
  await sel.start();
  base = `http://127.0.0.1:${sel.adminAddress()?.port}`;
  await feedWorld(env.ports.mqtt);
  for (let i = 0; i < 100 && sel.agentStates().get('pop-lon') !== 'fresh'; i++) await new Promise((r) => setTimeout(r, 50));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await sel?.close();
});

describe.skipIf(!existsSync(CHROMIUM))('status page', () => {
  it('renders agents × sites with latency, down marks and first choices', async () => {
    const page = await browser.newPage({ extraHTTPHeaders: { authorization: `Bearer ${TOKEN}` }, viewport: { width: 1100, height: 700 } });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(new URL(r.url()).pathname));
    const res = await page.goto(`${base}/`);
    expect(res?.status()).toBe(200);
    await page.waitForSelector('tr[data-agent="pop-lon"]', { timeout: 10_000 });
    expect(await page.title()).toBe('Vantage selector');
    expect(await page.textContent('#broker')).toMatch(/^Embedded MQTT broker on mqtt:\/\/127\.0\.0\.1:\d+\.$/);
    const headers = await page.$$eval('thead th', (ths) => ths.map((t) => t.textContent));
    expect(headers).toEqual(['agent', 'POP', 'data age', 'us-east', 'eu-west', 'ap-south', 'first choice']);
    const rows = await page.$$eval('tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => (td.textContent ?? '').trim())));
    const byAgent = Object.fromEntries(rows.map((r) => [(r[0] ?? '').replace(/(online|stale|offline)$/, ''), r]));
    expect(Object.keys(byAgent)).toEqual(['pop-lon', 'pop-nyc', 'pop-old', 'default']);
    expect(byAgent['pop-lon']).toEqual(['pop-lononline', 'London', expect.stringMatching(/^\d+\.\d s$/), '120 ms', '9.5 ms', 'DOWN150 ms', 'eu-west']);
    expect(byAgent['pop-nyc']?.slice(3)).toEqual(['11.5 ms', '81.5 ms', '200 ms (25% fail)', 'us-east']);
    // An offline agent's clients get the default answer: its first choice says so.
    expect([byAgent['pop-old']?.[0], byAgent['pop-old']?.[6]]).toEqual(['pop-oldoffline', 'eu-west (via default)']);
    expect(byAgent.default?.[6]).toBe('eu-west');
    // Colour scale: the 9.5 ms cell is greener than the 120 ms one (rgb: more green than red).
    const colours = await page.$$eval('tr[data-agent="pop-lon"] td.cell', (tds) => tds.map((td) => getComputedStyle(td).backgroundColor));
    const rgb = (s: string | undefined) => (/rgb\((\d+), (\d+), (\d+)\)/.exec(s ?? '') ?? []).slice(1).map(Number);
    const [r120 = 0, g120 = 0] = rgb(colours[0]);
    const [r9 = 0, g9 = 0] = rgb(colours[1]);
    expect(g9 - r9).toBeGreaterThan(g120 - r120);
    expect(await page.$$eval('td.down', (tds) => tds.length)).toBe(1);
    await page.screenshot({ path: '/tmp/vantage-status-page.png', fullPage: true });
    // It refreshes itself: another /api/status request within ~2 s.
    const before = requests.filter((p) => p === '/api/status').length;
    await page.waitForTimeout(2300);
    expect(requests.filter((p) => p === '/api/status').length).toBeGreaterThan(before);
    await page.close();
  });

  it('without the token the page itself is refused (401)', async () => {
    const page = await browser.newPage();
    const res = await page.goto(`${base}/`);
    expect(res?.status()).toBe(401);
    await page.close();
  });
});
