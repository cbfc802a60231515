import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { SeriesSource, StateReader } from '../../../dashboard/read-model.ts';
import { type DashboardServer, startDashboardServer } from '../../../dashboard/server.ts';

const emptyState: StateReader = { queryPartition: async () => [], listKind: async () => [] };
const queries: string[] = [];
const series: SeriesSource = {
  queryRange: async (q, range) => {
    queries.push(`${q} @${range.stepS}`);
    return [];
  },
};

describe('dashboard server', () => {
  let d: DashboardServer;
  beforeAll(async () => {
    d = await startDashboardServer({ deps: { state: emptyState, series }, now: () => 1_800_000_000_000 });
  });
  afterAll(async () => {
    await d.close();
  });

  it('listens on loopback only', () => {
    expect(d.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/$/);
  });

  it('serves the page, its script and the chart library from node_modules', async () => {
    const page = await fetch(d.url);
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('vendor/uPlot.iife.min.js');
    const lib = await fetch(`${d.url}vendor/uPlot.iife.min.js`);
    expect(lib.status).toBe(200);
    expect(await lib.text()).toContain('uPlot');
    expect((await fetch(`${d.url}app.js`)).headers.get('content-type')).toContain('javascript');
  });

  it('answers the read model for the asked window', async () => {
    const res = await fetch(`${d.url}api/dashboard?minutes=30`);
    expect(res.status).toBe(200);
    const view = (await res.json()) as {
      window: { fromMs: number; toMs: number; stepS: number };
      hosts: unknown[];
    };
    expect(view.window).toEqual({ fromMs: 1_800_000_000_000 - 1_800_000, toMs: 1_800_000_000_000, stepS: 8 }); // 1800 s / 240 ≈ 8 s
    expect(view.hosts).toEqual([]);
  });

  it('rejects a bad window and paths outside the page', async () => {
    const bad = await fetch(`${d.url}api/dashboard?minutes=-5`);
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('minutes');
    expect((await fetch(`${d.url}..%2f..%2fpackage.json`)).status).toBe(404);
    expect((await fetch(`${d.url}nothing.js`)).status).toBe(404);
    expect((await fetch(d.url, { method: 'POST' })).status).toBe(405);
  });
});
