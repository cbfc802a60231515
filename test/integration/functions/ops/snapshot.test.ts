import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { silentLogger } from '../../../../adapters/logger.ts';
import { PrometheusApi, PrometheusSeriesSource } from '../../../../adapters/metrics/prometheus-api.ts';
import { OpenTsdbPutSink } from '../../../../adapters/opentsdb-put.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { snapshotTick } from '../../../../functions/ops/snapshot.ts';
import { utilisationReport } from '../../../../scripts/report.ts';
import { aContainer } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, uniqueName, victoriaOpentsdbUrl, victoriaPromUrl } from '../../../support/env.ts';
import {
  aHostState,
  anAppliedReport,
  ManualClock,
  ScriptedMetrics,
  seedApplied,
  seedHeartbeat,
  seedHost,
  spec,
} from '../../../support/ops-fixtures.ts';

const flush = async () => {
  const res = await fetch(`${victoriaPromUrl()}/internal/force_flush`);
  expect(res.ok).toBe(true);
};

describe.each(DYNAMO_FLAVOURS)('state snapshots on %s', (flavour) => {
  let t: TestTable;
  // VictoriaMetrics keeps one day here: record the run a few minutes in the past, on a 10 s grid.
  const T0 = Math.floor((Date.now() - 15 * 60_000) / 10_000) * 10_000;
  const host = uniqueName('h');
  const c1 = uniqueName('c1');
  const c2 = uniqueName('c2');
  const app = uniqueName('app');
  const user = uniqueName('u');
  const series = new PrometheusSeriesSource(new PrometheusApi(victoriaPromUrl()));

  beforeAll(async () => {
    t = await createTestTable(flavour);
    await seedHost(
      t.table,
      aHostState(host, [
        aContainer(c1, host, { application: app, resources: { cpu: spec(200, 400, 50) } }),
        aContainer(c2, host, { application: app, resources: { cpu: spec(100, 400, 50) } }),
      ]),
    );
    await t.table.put({
      ...keys.guard(host, c1),
      structure: c1,
      structureType: 'container',
      version: 1,
      limits: { cpu: { boundary: 10, boundary_type: 'percentage_of_max', upper: 160, lower: 120 } },
      events: [],
      lastDecision: null,
    });
    await t.table.put({
      ...keys.application(app),
      name: app,
      user,
      containers: [c1, c2],
      resources: { cpu: spec(0, 800, 100) },
    });
    await t.table.put({
      ...keys.user(user),
      name: user,
      applications: [app],
      resources: { cpu: spec(0, 1000) },
    });
    await t.table.put({
      ...keys.service('snapshoter'),
      name: 'snapshoter',
      config: { POLLING_FREQUENCY: 10 },
    });
    await t.table.put({
      ...keys.service('guardian'),
      name: 'guardian',
      config: { WINDOW_DELAY: 0, EVENT_TIMEOUT: 90 },
    });
  });
  afterAll(async () => {
    await t.drop();
  });

  it('writes allocation, limits and usage as series, and the report integrates a recorded run', async () => {
    // the window of each snapshot ends at the snapshot (WINDOW_DELAY 0)
    const metrics = new ScriptedMetrics();
    const c1Usage = [50, 100, 150, 100, 50, 100, 80];
    c1Usage.forEach((u, i) => {
      metrics.byEndS.set(
        (T0 + i * 10_000) / 1000,
        new Map([
          [c1, { cpu: u }],
          [c2, { cpu: i === 3 ? null : 90 }],
        ]),
      );
    });
    const clock = new ManualClock(T0);
    const deps = {
      table: t.table,
      metrics,
      sink: new OpenTsdbPutSink(victoriaOpentsdbUrl()),
      clock,
      logger: silentLogger,
    };
    for (let i = 0; i < c1Usage.length; i++) {
      const r = await snapshotTick(deps);
      expect(r.skipped).toBe(false);
      clock.t += 10_000;
    }
    await flush();

    const end = T0 + 60_000;
    expect(await series.samples('structure.cpu.current', { structure: c1 }, T0, end)).toHaveLength(7);
    expect((await series.samples('limit.cpu.upper', { structure: c1 }, T0, end)).map((s) => s.v)).toEqual(
      Array(7).fill(160),
    );
    // the application: current 200 + 100 = 300, usage 50 + 90 = 140 at the first snapshot
    expect((await series.samples('structure.cpu.current', { structure: app }, T0, T0))[0]?.v).toBe(300);
    expect((await series.samples('structure.cpu.usage', { structure: app }, T0, T0))[0]?.v).toBe(140);
    expect((await series.samples('structure.cpu.max', { user }, T0, T0))[0]?.v).toBe(1000);
    expect(
      (await series.samples('conf.snapshoter.polling_frequency', { service: 'snapshoter' }, T0, T0))[0]?.v,
    ).toBe(10);
    // the host: 400 max, 300 allocated
    expect((await series.samples('structure.cpu.current', { structure: host }, T0, T0))[0]?.v).toBe(300);

    const rows = await utilisationReport(series, {
      fromMs: T0,
      toMs: end,
      structures: [c1, c2],
      resources: ['cpu'],
    });
    const byName = new Map(rows.map((r) => [r.structure, r]));
    // c1: 6 intervals of 10 s; ∫alloc = 200 × 60 = 12 000; ∫usage = (50+100+150+100+50+100) × 10 = 5 500
    expect(byName.get(c1)).toMatchObject({
      coveredS: 60,
      allocationIntegral: 12_000,
      usageIntegral: 5_500,
      snapshots: 7,
    });
    expect(byName.get(c1)?.utilisation).toBeCloseTo(5_500 / 12_000, 10);
    // mean slack (12 000 − 5 500) / 60 = 108.33
    expect(byName.get(c1)?.meanSlack).toBeCloseTo(108.333, 3);
    // c2: ∫alloc = 100 × 60 = 6 000; usage 90 in 5 of 6 intervals (no data at the 4th) = 4 500
    expect(byName.get(c2)).toMatchObject({ allocationIntegral: 6_000, usageIntegral: 4_500, noDataS: 10 });
    expect(byName.get(c2)?.utilisation).toBeCloseTo(0.75, 10);

    // without --structure the report finds every structure that has snapshots
    const all = await utilisationReport(series, { fromMs: T0, toMs: end, resources: ['cpu'] });
    expect(all.map((r) => r.structure)).toEqual(expect.arrayContaining([c1, c2, app, host]));
  });

  it('reads no agent items: reports and heartbeats add no read units to a snapshot', async () => {
    const run = async () => {
      const before = t.table.counters.readUnits;
      const points: unknown[] = [];
      await snapshotTick({
        table: t.table,
        metrics: new ScriptedMetrics(),
        sink: { put: async (p) => void points.push(...p) },
        clock: new ManualClock(T0 + 600_000),
        logger: silentLogger,
      });
      return { units: t.table.counters.readUnits - before, points: points.length };
    };
    const without = await run();
    await seedHeartbeat(t.table, {
      host,
      at: T0,
      agentVersion: '1',
      cgroupVersion: 'v1',
      containers: [c1, c2],
    });
    // 40 reports ≈ 40 × 0.35 KB: several 4 KB read units if they were read
    for (let i = 0; i < 40; i++) await seedApplied(t.table, anAppliedReport(host, `r${i}`, 1, T0));
    const withAgentItems = await run();
    expect(withAgentItems).toEqual(without);
    expect(without.points).toBeGreaterThan(0);
  });

  it('writes nothing while the snapshoter is not ACTIVE', async () => {
    await t.table.put({ ...keys.service('snapshoter'), name: 'snapshoter', config: { ACTIVE: false } });
    const sink = { put: async () => Promise.reject(new Error('must not be called')) };
    const r = await snapshotTick({
      table: t.table,
      metrics: new ScriptedMetrics(),
      sink,
      clock: new ManualClock(T0),
      logger: silentLogger,
    });
    expect(r).toEqual({ skipped: true, points: 0, structures: 0 });
  });
});
