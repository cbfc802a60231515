import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type BrowserContext, chromium } from 'playwright-core';
import { Activity } from '../../../core/contracts/activity.ts';
import { keys } from '../../../core/contracts/table-layout.ts';
import { prometheusSeries } from '../../../dashboard/read-model.ts';
import { type DashboardServer, startDashboardServer } from '../../../dashboard/server.ts';
import { createTestTable, type TestTable } from '../../support/dynamo.ts';
import { victoriaOpentsdbUrl, victoriaPromUrl } from '../../support/env.ts';
import { ORDER_REASON, seedRecordedRun } from '../../support/recorded-run.ts';

const CHROMIUM = '/usr/bin/chromium';
const SCREENSHOT = join(process.cwd(), 'artifacts', 'dashboard.png');

describe('dashboard page in headless Chromium', () => {
  let t: TestTable;
  let server: DashboardServer;
  let browser: BrowserContext;
  let profile: string;
  // A run recorded two hours ago, shown as if it were now (its series do not mix with other tests').
  const endMs = Math.floor(Date.now() / 5000) * 5000 - 7_200_000;

  beforeAll(async () => {
    t = await createTestTable('dynalite');
    await seedRecordedRun(
      t.table,
      {
        opentsdbUrl: victoriaOpentsdbUrl(),
        flush: async () => void (await fetch(`${victoriaPromUrl()}/internal/force_flush`)).body?.cancel(),
      },
      endMs,
    );
    server = await startDashboardServer({
      deps: { state: t.table, series: prometheusSeries(victoriaPromUrl()) },
      now: () => endMs,
      stepS: 5,
    });
    profile = mkdtempSync(join(tmpdir(), 'sc-chromium-'));
    // A fresh profile directory (Playwright passes it as --user-data-dir).
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1280, height: 1000 },
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    await t?.drop();
    if (profile !== undefined) rmSync(profile, { recursive: true, force: true });
  });

  it('plots every container with data, shows capacity and rules, explains a marker on hover, and saves a screenshot', async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${server.url}?poll=500`);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });

    // 2 containers × (cpu, mem) charts, each a canvas with drawn pixels.
    expect(await page.locator('.plot canvas').count()).toBe(4);
    const inked = await page.$$eval('.plot canvas', (canvases) =>
      canvases.map((el) => {
        // Browser-side code: the DOM types are not in this project's lib.
        const c = el as unknown as {
          width: number;
          height: number;
          getContext(
            kind: '2d',
          ): { getImageData(x: number, y: number, w: number, h: number): { data: Uint8ClampedArray } } | null;
        };
        const ctx = c.getContext('2d');
        const { width, height } = c;
        const data = ctx?.getImageData(0, 0, width, height).data ?? new Uint8ClampedArray();
        let painted = 0;
        for (let i = 3; i < data.length; i += 4) if ((data[i] ?? 0) > 0) painted++;
        return painted;
      }),
    );
    for (const p of inked) expect(p).toBeGreaterThan(2000);

    const cpuLegend = page.locator('[data-plot="demo-host/demo1/cpu"] .legend-now');
    await expect(cpuLegend.locator('[data-series="current"]').textContent()).resolves.toContain('120');
    await expect(cpuLegend.locator('[data-series="max"]').textContent()).resolves.toContain('400');
    await expect(cpuLegend.locator('[data-series="usage"]').textContent()).resolves.toMatch(/\d/);
    await expect(page.locator('[data-capacity="cpu"]').textContent()).resolves.toContain('free 30 / 200');
    expect(await page.locator('#rules tbody tr').count()).toBeGreaterThan(3);

    const orders = page.locator('[data-plot="demo-host/demo1/cpu"] .marker.order');
    expect(await orders.count()).toBe(2);
    await orders.first().hover();
    const tip = page.locator('#tooltip');
    await expect(tip.isVisible()).resolves.toBe(true);
    await expect(tip.textContent()).resolves.toContain(ORDER_REASON);

    mkdirSync(join(process.cwd(), 'artifacts'), { recursive: true });
    await page.mouse.move(5, 5);
    await expect(tip.isVisible()).resolves.toBe(false);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    expect(errors).toEqual([]);
  }, 60_000);

  it('updates live: a new order appears as a marker on the next poll', async () => {
    const page = await browser.newPage();
    await page.goto(`${server.url}?poll=500`);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });
    const orders = page.locator('[data-plot="demo-host/demo1/cpu"] .marker.order');
    expect(await orders.count()).toBe(2);
    const order = Activity.parse({
      structure: 'demo1',
      at: endMs - 30_000,
      kind: 'order',
      resource: 'cpu',
      text: 'cpu 120 → 200 shares',
      reasons: [{ source: 'operator', text: 'raised by hand' }],
    });
    await t.table.put({ ...keys.activity('demo1', order.at, 'live'), ...order });
    const deadline = Date.now() + 5_000;
    while ((await orders.count()) < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(await orders.count()).toBe(3);
    await page.close();
  }, 30_000);

  it('hides the tooltip when the pointer leaves a marker that a poll redrew under it', async () => {
    const page = await browser.newPage();
    await page.goto(server.url);
    await page.waitForSelector('body[data-loaded="true"]', { timeout: 15_000 });
    const order = page.locator('[data-plot="demo-host/demo1/cpu"] .marker.order').first();
    await order.hover();
    const tip = page.locator('#tooltip');
    await expect(tip.isVisible()).resolves.toBe(true);
    // a redraw replaces the markers: the one under the pointer goes without a mouseleave
    await order.evaluate((m) => m.remove());
    await page.mouse.move(5, 5);
    await expect(tip.isVisible()).resolves.toBe(false);
    await page.close();
  }, 30_000);
});
