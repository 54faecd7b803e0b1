// The status page of a backbone in headless Chromium: an LB table (state, rankings
// freshness, push sequence, agents, name servers) beside the usual heatmap.
import { existsSync } from 'node:fs';
import { chromium } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { until } from '../helpers/fixtures.js';
import { bootBackbone, bootLb, resetSeqs, round, type Closer } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const open: Closer[] = [];
afterEach(async () => {
  for (const o of open.splice(0).reverse()) await o.close();
  resetSeqs();
});

describe.skipIf(!existsSync(CHROMIUM))('backbone status page', () => {
  it('lists the LBs with state, freshness and push sequence; a plain selector shows none', async () => {
    const bb = await bootBackbone(open);
    const a = await bootLb(open, bb, 'isp-a');
    await round(a, 'pop-a', ['198.51.100.0/24'], { 'us-east': 10, 'eu-west': 80, 'ap-south': 200 });
    await until(() => bb.backbone()?.tables.views.get('isp-a')?.pushFresh, 5000, 'isp-a fresh');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'] });
    open.push({ close: () => browser.close() });
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${bb.adminAddress()?.port}/`);
    const row = page.locator('#lb-table tr[data-lb="isp-a"]');
    await row.waitFor({ timeout: 10_000 });
    const cells = await row.locator('td').allTextContents();
    expect(cells.slice(0, 5)).toEqual(['isp-a', 'isp-a', 'online', 'fresh', expect.stringMatching(/^[1-9]\d*$/)]);
    expect(cells[6]).toBe('1');
    expect(cells[8]).toBe('ns.isp-a.example.test 127.0.5.1');
    const lbPage = await browser.newPage();
    await lbPage.goto(`http://127.0.0.1:${a.sel.adminAddress()?.port}/`);
    await lbPage.locator('#services h2').first().waitFor({ timeout: 10_000 });
    expect(await lbPage.locator('#lb-table').count()).toBe(0);
  }, 60_000);
});
