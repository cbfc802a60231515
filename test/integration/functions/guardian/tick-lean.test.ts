/**
 * The lean tick: events kept in the invocation's memory between ticks, GUARD
 * items written only when limits change, a request is emitted, or at the
 * checkpoint; operator changes picked up; a crash loses only unpersisted events.
 * Usage comes from a fake metrics source (the metrics adapters have their own
 * tests); the state is a real table of both flavours.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { ActivityBuffer, recentActivity } from '../../../../adapters/dynamodb/activity.ts';
import { GuardianStore } from '../../../../adapters/dynamodb/guardian-store.ts';
import { silentLogger } from '../../../../adapters/logger.ts';
import { activityLinesFromItem } from '../../../../core/contracts/items.ts';
import { defaultConfig } from '../../../../core/contracts/service-config.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import type { Resource } from '../../../../core/contracts/units.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import type { MetricsSource, UsageQuery, UsageResult } from '../../../../core/ports/metrics-source.ts';
import { RecordingRequestSink } from '../../../../functions/guardian/recording-request-sink.ts';
import { checkpoint, runTick, type TickMemory } from '../../../../functions/guardian/tick.ts';
import { aContainer } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, uniqueName } from '../../../support/env.ts';
import { aHost, putGuardianConfig, putHost, putRules } from '../../../support/guardian-fixtures.ts';
import { TWO_EVENT_CPU_UP_RULES } from './two-event-rules.ts';

/** cpu usage per container, the same in every window. */
class FixedUsage implements MetricsSource {
  readonly cpu = new Map<string, number>();
  async usage(q: UsageQuery): Promise<UsageResult> {
    const usage = new Map<string, Partial<Record<Resource, number | null>>>();
    for (const s of q.structures) usage.set(s, { cpu: this.cpu.get(s) ?? null });
    return { usage, queries: 1, rejected: [] };
  }
}

describe.each(DYNAMO_FLAVOURS)('lean guardian ticks on %s', (flavour) => {
  let t: TestTable;
  const host = uniqueName('h');
  const [low, hot] = [uniqueName('low'), uniqueName('hot')];
  const base = 1_800_000_000; // epoch s, on a 5 s multiple
  const at = (k: number) => (base + 5 * k) * 1000;
  let metrics: FixedUsage;
  let sink: RecordingRequestSink;
  // The tick's own client: its calls are recorded as the control tick's (IAM test).
  let tickTable: TestTable['table'];
  const deps = () => ({ state: new GuardianStore(tickTable), metrics, sink, logger: silentLogger });
  const newMemory = (): TickMemory => ({ config: defaultConfig('guardian') });

  beforeEach(async () => {
    t = await createTestTable(flavour);
    tickTable = t.as('controlTick').table;
    await putRules(t.table, TWO_EVENT_CPU_UP_RULES);
    await putGuardianConfig(t.table, { GUARDABLE_RESOURCES: ['cpu'] });
    // cpu max 400, current 300, boundary 10 % of max = 40 → upper 260, lower 220
    await putHost(t.table, aHost(host, [aContainer(low, host), aContainer(hot, host)]));
    metrics = new FixedUsage();
    metrics.cpu.set(low, 100); // < lower 220: a down event every tick, CpuRescaleDown after 6
    metrics.cpu.set(hot, 250); // in the band: stable
    sink = new RecordingRequestSink(silentLogger);
  });
  afterEach(async () => {
    await t.drop();
  });

  const stored = async (name: string) => t.table.get(keys.guard(host, name));

  it('keeps events in memory between ticks and writes only when a request consumes them', async () => {
    const memory = newMemory();
    const first = await runTick(deps(), at(0), memory);
    expect(first.fullRead).toBe(true);
    expect(first.guardWrites).toBe(2); // both items created (limits set for the first time)
    expect(first.ddbReads).toBe(4); // config, rules, host list, the host's partition
    for (let k = 1; k <= 4; k++) {
      const r = await runTick(deps(), at(k), memory);
      expect(r.fullRead).toBe(false);
      expect(r.guardWrites).toBe(0);
      expect(r.ddbWrites).toBe(0); // low's down events continue a run: no activity either
      expect(r.ddbReads).toBe(3); // config, rules, one BatchGetItem of host STATE items
      expect(r.unpersisted).toBe(1); // low's events (hot stays stable: nothing new)
    }
    expect((await stored(low))?.events).toHaveLength(1); // only the first tick's event is stored
    const sixth = await runTick(deps(), at(5), memory); // 6 down events in memory → CpuRescaleDown
    expect(sixth.requests.map((r) => [r.structure, r.resource])).toEqual([[low, 'cpu']]);
    expect(sink.recorded).toHaveLength(1);
    expect(sixth.guardWrites).toBe(1); // low: events consumed, written before the request is submitted
    const lowItem = await stored(low);
    expect(lowItem).toMatchObject({ version: 2, events: [] });
    const log = (await recentActivity(t.table, low, 50, at(5), { host })).reverse();
    expect(log.map((a) => a.kind)).toEqual(['event', 'request']); // the run's start, then the request
  });

  it('holds its activity lines in a buffer and writes the host’s as one item once the oldest has waited the hold', async () => {
    const memory = newMemory();
    const activity = new ActivityBuffer(tickTable, 60_000);
    const held = () => ({ ...deps(), activity });
    for (let k = 0; k < 12; k++) await runTick(held(), at(k), memory); // 0 … 55 s
    // CpuRescaleDown at the sixth tick (25 s) and, from a new run, at the twelfth (55 s)
    expect(sink.recorded.map((r) => r.structure)).toEqual([low, low]);
    expect(await t.table.queryPartition(keys.activityPartition(host))).toEqual([]); // all held
    const w0 = tickTable.counters.writeUnits;
    await runTick(held(), at(12), memory); // 60 s after the first line
    const items = await t.table.queryPartition(keys.activityPartition(host));
    expect(items).toHaveLength(1);
    expect(tickTable.counters.writeUnits - w0).toBe(1); // the packed item (nothing else changed)
    const lines = activityLinesFromItem(items[0] ?? {}).lines;
    // every line of the 60 s: each run's start and its request, and the run starting at 60 s
    expect(lines.map((a) => [a.structure, a.kind, (a.at - at(0)) / 1000])).toEqual([
      [low, 'event', 0],
      [low, 'request', 25],
      [low, 'event', 30],
      [low, 'request', 55],
      [low, 'event', 60],
    ]);
    expect(activity.size).toBe(0);
  });

  it('checkpoints what is only in memory, so the next invocation resumes the same events', async () => {
    const memory = newMemory();
    for (let k = 0; k < 3; k++) await runTick(deps(), at(k), memory);
    expect((await stored(low))?.events).toHaveLength(1);
    const saved = await checkpoint(deps(), memory);
    expect(saved).toEqual({ written: 1, stale: 0 }); // low (3 events); hot unchanged since stored
    expect(await stored(low)).toMatchObject({ version: 2 });
    expect((await stored(low))?.events).toHaveLength(3);
    expect(await checkpoint(deps(), memory)).toEqual({ written: 0, stale: 0 }); // nothing left

    // Next invocation: 3 stored + 3 new down events = 6 → request on its third tick, not its sixth.
    const next = newMemory();
    const ticks = [];
    for (let k = 3; k < 6; k++) ticks.push(await runTick(deps(), at(k), next));
    expect(ticks.map((r) => r.requests.length)).toEqual([0, 0, 1]);
  });

  it('picks up an operator change to a GUARD item at the next full read, and the stored state wins', async () => {
    const memory = newMemory();
    const d = { ...deps(), fullReadEveryTicks: 3 };
    for (let k = 0; k < 3; k++) await runTick(d, at(k), memory); // full read on tick 0, then 2 lean ones
    // Between ticks an operator rewrites low's guard state (version 1 → 2): dry run, events cleared.
    const item = await stored(low);
    await t.table.putVersioned({ ...item, version: 2, events: [], dryRun: true } as never, 1, 'test');
    const fourth = await runTick(d, at(3), memory); // full read (every 3 ticks)
    expect(fourth.fullRead).toBe(true);
    expect(fourth.adopted).toBe(1);
    expect(await checkpoint(d, memory)).toEqual({ written: 1, stale: 0 });
    const after = await stored(low);
    expect(after).toMatchObject({ version: 3, dryRun: true }); // written on top of the operator's version
    expect(after?.events).toHaveLength(1); // the operator's (none) + this tick's; the 3 in memory dropped
  });

  it('writes on top of an operator change found by a conflicting write', async () => {
    const memory = newMemory();
    for (let k = 0; k < 2; k++) await runTick(deps(), at(k), memory);
    const item = await stored(low);
    await t.table.putVersioned({ ...item, version: 2, events: [], dryRun: true } as never, 1, 'test');
    const saved = await checkpoint(deps(), memory); // low's conditional write on version 1 fails
    expect(saved).toEqual({ written: 0, stale: 1 });
    expect(await stored(low)).toMatchObject({ version: 2, dryRun: true, events: [] }); // untouched
    const next = await runTick(deps(), at(2), memory); // decided again from the operator's state
    expect(next.requests).toEqual([]);
    expect(await checkpoint(deps(), memory)).toEqual({ written: 1, stale: 0 });
    expect(await stored(low)).toMatchObject({ version: 3, dryRun: true });
  });

  it('loses only unpersisted events on a crash between ticks, never a request', async () => {
    metrics.cpu.set(hot, 300); // > upper 260: an up event every tick, CpuRescaleUp after 2
    const memory = newMemory();
    const first = await runTick(deps(), at(0), memory);
    expect(first.requests).toEqual([]);
    const second = await runTick(deps(), at(1), memory);
    expect(second.requests.map((r) => r.structure)).toEqual([hot]);
    await runTick(deps(), at(2), memory); // one more up event, in memory only
    // crash: the invocation dies without a checkpoint (memory gone, lease expires)
    expect(await stored(hot)).toMatchObject({ version: 2, events: [] }); // the request's consumption is stored

    const restarted = newMemory();
    const fourth = await runTick(deps(), at(3), restarted);
    expect(fourth.fullRead).toBe(true);
    expect(fourth.requests).toEqual([]); // tick 2's event was lost: only one up event now
    const fifth = await runTick(deps(), at(4), restarted);
    expect(fifth.requests.map((r) => r.structure)).toEqual([hot]);
    // the first request was submitted once, never repeated; the second came from new events
    expect(sink.recorded.map((r) => r.structure)).toEqual([hot, hot]);
    expect(new Set(sink.recorded.map((r) => r.id)).size).toBe(2);
    const log = await recentActivity(t.table, hot, 50, at(4), { host });
    expect(log.filter((a) => a.kind === 'request')).toHaveLength(2);
  });

  it('reads the GUARD item of a container that appears between full reads', async () => {
    const memory = newMemory();
    await runTick(deps(), at(0), memory);
    const late = uniqueName('late');
    metrics.cpu.set(late, 250);
    await putHost(
      t.table,
      aHost(host, [aContainer(low, host), aContainer(hot, host), aContainer(late, host)]),
    );
    await t.table.put({
      ...keys.guard(host, late),
      structure: late,
      structureType: 'container',
      version: 4,
      limits: {},
      events: [],
      lastDecision: null,
      dryRun: true,
    });
    const r = await runTick(deps(), at(1), memory);
    expect(r.fullRead).toBe(false);
    expect(r.structures).toBe(3);
    expect(r.ddbReads).toBe(4); // config, rules, host STATE batch, the newcomer's GUARD batch
    expect(await stored(late)).toMatchObject({ version: 5, dryRun: true }); // limits set on its version
  });

  it('remembers each window’s usage in memory only, so the next tick tells an onset from a level', async () => {
    await putRules(t.table, DEFAULT_RULES); // CpuRescaleUp on one event
    // hot: cpu current 300, upper 260, lower 220. 210 ≤ lower is quiet (a scale-down to it would free
    // 210 + 60 − 300 = −30, less than the margin 40); 270 is above upper and visible (< 300 − 20).
    const hotRequests = (r: {
      requests: { structure: string; amount: number; reasons: { text: string }[] }[];
    }) => r.requests.filter((q) => q.structure === hot).map((q) => [q.amount, q.reasons[0]?.text]);
    const fit = [[30, 'events up 1 / down 0; amount (fit) → 30']]; // 270 + 20 + 40 − 300
    const onset = [[100, 'events up 1 / down 0; amount (onset) → 300 (to max: 100)']]; // max(75, 300), max 400

    // idle window, then the rise: an onset → the step as at its allocation
    let memory = newMemory();
    metrics.cpu.set(hot, 210);
    await runTick(deps(), at(0), memory);
    metrics.cpu.set(hot, 240); // in the band: the new usage is remembered, nothing written
    const quiet = await runTick(deps(), at(1), memory);
    expect([quiet.guardWrites, quiet.ddbWrites]).toEqual([0, 0]);
    metrics.cpu.set(hot, 270);
    expect(hotRequests(await runTick(deps(), at(2), memory))).toEqual(fit); // previous 240 > lower 220: a level

    memory = newMemory();
    await putHost(t.table, aHost(host, [aContainer(low, host), aContainer(hot, host)])); // back to current 300
    metrics.cpu.set(hot, 210);
    await runTick(deps(), at(10), memory);
    metrics.cpu.set(hot, 270);
    expect(hotRequests(await runTick(deps(), at(11), memory))).toEqual(onset); // previous 210 ≤ lower 220

    // unknown previous window (a new invocation's memory, or a tick skipped): the fit, as before
    expect(hotRequests(await runTick(deps(), at(20), newMemory()))).toEqual(fit);
    memory = newMemory();
    metrics.cpu.set(hot, 210);
    await runTick(deps(), at(30), memory);
    metrics.cpu.set(hot, 270);
    expect(hotRequests(await runTick(deps(), at(32), memory))).toEqual(fit);
  });
});
