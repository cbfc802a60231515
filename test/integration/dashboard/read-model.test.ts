import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeActivity } from '../../../adapters/dynamodb/activity.ts';
import { activityToItem } from '../../../core/contracts/items.ts';
import { dashboardView, prometheusSeries, type SeriesSource } from '../../../dashboard/read-model.ts';
import { createTestTable, type TestTable } from '../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, victoriaOpentsdbUrl, victoriaPromUrl } from '../../support/env.ts';
import {
  cpuCurrentAt,
  cpuUsageAt,
  ORDER_REASON,
  RUN_HOST,
  RUN_MINUTES,
  seedRecordedRun,
} from '../../support/recorded-run.ts';

const tsdb = {
  opentsdbUrl: victoriaOpentsdbUrl(),
  flush: async () => void (await fetch(`${victoriaPromUrl()}/internal/force_flush`)).body?.cancel(),
};

describe.each(DYNAMO_FLAVOURS)('dashboard read model on %s', (flavour) => {
  let t: TestTable;
  // Distinct run ends per flavour: both write the same series names to one VictoriaMetrics.
  const endMs = Math.floor(Date.now() / 5000) * 5000 - (flavour === 'dynalite' ? 0 : 3_600_000);
  const startS = (endMs - RUN_MINUTES * 60_000) / 1000;
  beforeAll(async () => {
    t = await createTestTable(flavour);
    await seedRecordedRun(t.table, tsdb, endMs);
  });
  afterAll(async () => {
    await t.drop();
  });

  const view = () =>
    dashboardView(
      { state: t.table, series: prometheusSeries(victoriaPromUrl()) },
      { fromMs: endMs - RUN_MINUTES * 60_000, toMs: endMs, stepS: 5 },
    );

  it('plots usage as user + kernel CPU and the allocation history the snapshoter wrote', async () => {
    const v = await view();
    expect(v.warnings).toEqual([]);
    const host = v.hosts.find((h) => h.name === RUN_HOST);
    const demo1 = host?.containers.find((c) => c.name === 'demo1');
    const cpu = demo1?.plots.cpu;
    expect(cpu?.allocationFromHistory).toBe(true);
    const at = (s: number) => cpu?.t.indexOf(startS + s) ?? -1;
    expect(at(200)).toBeGreaterThanOrEqual(0);
    expect(cpu?.usage[at(200)]).toBeCloseTo(cpuUsageAt(200), 6); // 0.8·u + 0.2·u
    expect(cpu?.current[at(200)]).toBe(cpuCurrentAt(200)); // 250 after the order at 150 s
    expect(cpu?.upper[at(200)]).toBe(210); // 250 − 40
    expect(cpu?.max[at(200)]).toBe(400);
    expect(cpu?.now).toMatchObject({ current: 120, upper: 80, lower: 40, max: 400, min: 50 });
  });

  it('draws present allocation flat where no history exists, and host capacity from state', async () => {
    const v = await view();
    const host = v.hosts.find((h) => h.name === RUN_HOST);
    expect(host?.capacity).toEqual({ cpu: { max: 200, free: 30 }, mem: { max: 4096, free: 3328 } });
    const mem = host?.containers.find((c) => c.name === 'demo2')?.plots.mem;
    expect(mem?.allocationFromHistory).toBe(false);
    expect(new Set(mem?.current)).toEqual(new Set([256]));
    expect(mem?.usage.filter((u) => u !== null).length).toBeGreaterThan(100);
  });

  it('lists events and orders with their reasons, and the rules in force', async () => {
    const v = await view();
    const demo1 = v.hosts[0]?.containers.find((c) => c.name === 'demo1');
    expect(demo1?.markers.map((m) => m.kind)).toEqual(['event', 'order', 'order']);
    expect(demo1?.markers[1]?.reasons).toEqual([`CpuRescaleUp: ${ORDER_REASON}`]);
    // demo1's event and first order are packed under the host with demo2's event; each shows on its own
    const demo2 = v.hosts[0]?.containers.find((c) => c.name === 'demo2');
    expect(demo2?.markers.map((m) => [m.kind, m.text, m.reasons])).toEqual([
      ['event', 'MemRescaleDown event', ['MemRescaleDown: usage below lower']],
    ]);
    expect(demo1?.lastDecision).toBe('CpuRescaleDown fit to usage');
    expect(v.rules.map((r) => r.name)).toContain('CpuRescaleUp');
  });

  it('leaves out activity lines past their TTL that DynamoDB has not deleted yet', async () => {
    const line = { structure: 'demo1', at: endMs - 60_000, kind: 'decision' as const, text: 'old decision' };
    // expired one second before the window's end (as if written with a short retention)
    await t.table.put({ ...activityToItem(line, 'expired'), expiresAtS: endMs / 1000 - 1 });
    const before = (await view()).hosts[0]?.containers.find((c) => c.name === 'demo1')?.markers;
    expect(before?.map((m) => m.text)).not.toContain('old decision');
    await t.table.put({ ...activityToItem(line, 'expired'), expiresAtS: endMs / 1000 + 1 });
    const live = (await view()).hosts[0]?.containers.find((c) => c.name === 'demo1')?.markers;
    expect(live?.map((m) => m.text)).toContain('old decision'); // the same line, not yet expired: shown
  });

  it('shows packed lines inside the window only, though their item is keyed by its newest line', async () => {
    const line = (at: number, text: string) => ({
      activity: {
        structure: 'demo2',
        at,
        kind: 'decision' as const,
        resource: null,
        text,
        reasons: [],
        data: {},
      },
      seq: text,
      host: RUN_HOST,
    });
    // one item keyed at endMs + 1 min (its newest line), holding a line inside the window and one after it
    await writeActivity(t.table, [
      line(endMs - 10_000, 'in window'),
      line(endMs + 60_000, 'after the window'),
    ]);
    const demo2 = (await view()).hosts[0]?.containers.find((c) => c.name === 'demo2');
    expect(demo2?.markers.map((m) => m.text)).toContain('in window');
    expect(demo2?.markers.map((m) => m.text)).not.toContain('after the window');
  });

  it("plots an idle container's CPU as 0 where the agent's own series shows it ran idle (memory stays no data)", async () => {
    // BDWatchdog puts nothing for a process that did nothing; the agent's sc.agent.cpu series says idle.
    const fromMs = endMs - 60_000;
    const idle: SeriesSource = {
      async queryRange(q, range) {
        if (!q.includes('sc.agent.cpu')) return [];
        const points: [number, number][] = [];
        for (let s = range.startS; s <= range.endS - 30; s += range.stepS) points.push([s, 0.4]);
        return [{ labels: { host: 'demo1' }, points }];
      },
    };
    const v = await dashboardView({ state: t.table, series: idle }, { fromMs, toMs: endMs, stepS: 5 });
    const plots = v.hosts[0]?.containers.find((c) => c.name === 'demo1')?.plots;
    const n = plots?.cpu.t.length ?? 0;
    expect(n).toBeGreaterThan(6);
    expect(plots?.cpu.usage.slice(0, n - 6).every((u) => u === 0)).toBe(true);
    expect(plots?.cpu.usage.slice(n - 5).every((u) => u === null)).toBe(true); // no agent point: no data
    expect(plots?.cpu.now.usage).toBe(0);
    expect(plots?.mem.usage.every((u) => u === null)).toBe(true);
    // The agent saw real work the source did not report: still no data.
    const busy: SeriesSource = {
      queryRange: async (q, range) =>
        q.includes('sc.agent.cpu') ? [{ labels: { host: 'demo1' }, points: [[range.startS, 50]] }] : [],
    };
    const b = await dashboardView({ state: t.table, series: busy }, { fromMs, toMs: endMs, stepS: 5 });
    expect(b.hosts[0]?.containers.find((c) => c.name === 'demo1')?.plots.cpu.usage[0]).toBeNull();
  });

  it('reports an unreachable time-series store as a warning and still shows state', async () => {
    const v = await dashboardView(
      { state: t.table, series: prometheusSeries('http://127.0.0.1:1', { timeoutMs: 500 }) },
      { fromMs: endMs - 60_000, toMs: endMs, stepS: 5 },
    );
    expect(v.warnings.some((w) => w.startsWith('time series unavailable'))).toBe(true);
    expect(v.hosts[0]?.containers[0]?.plots.cpu.usage.every((u) => u === null)).toBe(true);
    expect(v.hosts[0]?.containers[0]?.plots.cpu.now.current).toBe(120);
  });
});
