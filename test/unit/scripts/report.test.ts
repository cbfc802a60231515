import { describe, expect, it } from '@jest/globals';
import type { Sample, SeriesSource } from '../../../core/ports/time-series.ts';
import { cli, formatTable, integrate, main, parseTime, utilisationReport } from '../../../scripts/report.ts';

const s = (t: number, v: number): Sample => ({ t, v });

describe('integrate', () => {
  it('holds each snapshot until the next one (left Riemann sum), with worked numbers', () => {
    // allocation 100 for 10 s, then 300 for 20 s: 1 000 + 6 000 = 7 000 unit·s
    // usage 50 for 10 s, then 150 for 20 s: 500 + 3 000 = 3 500 → utilisation 0.5, mean slack (7 000 − 3 500) / 30
    const row = integrate(
      [s(0, 100), s(10_000, 300), s(30_000, 999)],
      [s(0, 50), s(10_000, 150), s(30_000, 999)],
    );
    expect(row).toEqual({
      coveredS: 30,
      allocationIntegral: 7_000,
      usageIntegral: 3_500,
      utilisation: 0.5,
      meanAllocation: 7_000 / 30,
      meanUsage: 3_500 / 30,
      meanSlack: 3_500 / 30,
      noDataS: 0,
      snapshots: 3,
    });
  });

  it('counts snapshots without usage as no data, not as usage', () => {
    // usage only at t=0: 40 × 10 s; the second interval (10 s) has no data
    const row = integrate([s(0, 100), s(10_000, 100), s(20_000, 100)], [s(0, 40)]);
    expect(row).toMatchObject({
      usageIntegral: 400,
      allocationIntegral: 2_000,
      noDataS: 10,
      utilisation: 0.2,
    });
  });

  it('has no utilisation with fewer than two snapshots or nothing allocated', () => {
    expect(integrate([s(0, 100)], [s(0, 50)])).toMatchObject({
      coveredS: 0,
      utilisation: null,
      meanSlack: null,
    });
    expect(integrate([s(0, 0), s(5_000, 0)], [])).toMatchObject({ coveredS: 5, utilisation: null });
  });
});

describe('utilisation report', () => {
  const source: SeriesSource = {
    samples: async (metric, tags) =>
      tags.structure === 'a'
        ? metric.endsWith('.current')
          ? [s(0, 200), s(10_000, 200)]
          : [s(0, 100), s(10_000, 100)]
        : [],
    tagValues: async () => ['a', 'never-snapshotted'],
  };

  it('finds structures from their snapshots and leaves out those without allocation samples', async () => {
    const rows = await utilisationReport(source, { fromMs: 0, toMs: 10_000, resources: ['cpu'] });
    expect(rows.map((r) => [r.structure, r.resource, r.utilisation])).toEqual([['a', 'cpu', 0.5]]);
    expect(formatTable(rows)).toMatch(/a\s+cpu\s+10\s+200\.0\s+100\.0\s+50\.0 %\s+100\.0\s+0/);
  });

  it('refuses an empty range', async () => {
    await expect(utilisationReport(source, { fromMs: 10, toMs: 10, resources: ['cpu'] })).rejects.toThrow(
      /after --from/,
    );
  });
});

describe('report command line', () => {
  it('exits 0 on --help and 1 on a usage error, printing each message once', async () => {
    const printed: string[] = [];
    const write = process.stdout.write;
    const writeErr = process.stderr.write;
    process.stdout.write = (() => true) as typeof process.stdout.write; // commander's own output
    process.stderr.write = (() => true) as typeof process.stderr.write;
    try {
      expect(await cli(['--help'], (s) => printed.push(s))).toBe(0);
      expect(await cli(['--from', 'yesterday', '--to', 'now'], (s) => printed.push(s))).toBe(1);
      expect(printed).toEqual([]); // commander wrote those two
      expect(await cli(['--from', 'now', '--to', 'now', '--url', ''], (s) => printed.push(s))).toBe(1);
      expect(printed).toEqual(['report: --url (or SC_PROM_URL) is required']);
    } finally {
      process.stdout.write = write;
      process.stderr.write = writeErr;
    }
  });

  it('parses ISO times, epoch ms and "now"', () => {
    expect(parseTime('2026-11-28T04:00:00Z')).toBe(Date.UTC(2026, 10, 28, 4));
    expect(parseTime('1795000000000')).toBe(1_795_000_000_000);
    expect(Math.abs(parseTime('now') - Date.now())).toBeLessThan(1_000);
    expect(() => parseTime('yesterday-ish')).toThrow(/not a time/);
  });

  it('names a missing store URL and an unknown resource', async () => {
    const env = process.env.SC_PROM_URL;
    delete process.env.SC_PROM_URL;
    try {
      await expect(main(['--from', '0000000000000', '--to', 'now'])).rejects.toThrow(/--url/);
      await expect(
        main(['--from', 'now', '--to', 'now', '--url', 'http://x', '--resource', 'gpu']),
      ).rejects.toThrow(/unknown resource "gpu"/);
    } finally {
      if (env !== undefined) process.env.SC_PROM_URL = env;
    }
  });
});
