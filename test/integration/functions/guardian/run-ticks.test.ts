import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { systemClock } from '../../../../adapters/clock.ts';
import { GuardianStore, takeLease } from '../../../../adapters/dynamodb/guardian-store.ts';
import { silentLogger } from '../../../../adapters/logger.ts';
import { PrometheusMetricsSource } from '../../../../adapters/metrics/prometheus.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import { RecordingRequestSink } from '../../../../functions/guardian/recording-request-sink.ts';
import { runTicks, SHARDS_NEED_QUEUE_CLOCK } from '../../../../functions/guardian/run-ticks.ts';
import { captureLogger } from '../../../support/capture-logger.ts';
import { aContainer } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, uniqueName, victoriaPromUrl } from '../../../support/env.ts';
import {
  aHost,
  putGuardianConfig,
  putHost,
  putRules,
  sameUsage,
} from '../../../support/guardian-fixtures.ts';

/** The same cpu usage for every container in every window. */
const lowCpu = sameUsage({ cpu: 100 });

describe.each(DYNAMO_FLAVOURS)('runTicks on %s', (flavour) => {
  let t: TestTable;
  beforeEach(async () => {
    t = await createTestTable(flavour);
    await putGuardianConfig(t.table, { WINDOW_TIMELAPSE: 1, WINDOW_DELAY: 0, EVENT_TIMEOUT: 10 });
  });
  afterEach(async () => {
    await t.drop();
  });

  const deps = (owner: string) => ({
    state: new GuardianStore(t.table),
    metrics: new PrometheusMetricsSource({ url: victoriaPromUrl() }),
    sink: new RecordingRequestSink(silentLogger),
    logger: silentLogger,
    clock: systemClock,
    owner,
  });

  it('ticks on window multiples until shortly before the deadline, then releases the lease', async () => {
    const deadlineMs = Date.now() + 3600;
    const result = await runTicks(deps('a'), { deadlineMs, reserveMs: 300 });
    expect(result.stopped).toBe('deadline');
    expect(result.ticks).toBeGreaterThanOrEqual(2);
    for (const [i, r] of result.reports.entries()) {
      expect(r.at % 1000).toBe(0); // aligned on the 1 s window
      if (i > 0) expect(r.at - (result.reports[i - 1]?.at ?? 0)).toBe(1000); // no drift, no skipped tick
    }
    expect(Date.now()).toBeLessThanOrEqual(deadlineMs);
    const lease = await t.table.get(keys.lease('control-tick'));
    expect(lease).toMatchObject({ owner: 'a', expiresAt: 0 });
    // The control tick's heartbeat: an operator sees when the loop last ran (issue 19, item 9).
    const beat = Number((await t.table.get(keys.service('guardian')))?.heartbeat);
    expect(beat).toBeGreaterThanOrEqual(result.reports[0]?.at ?? Number.POSITIVE_INFINITY);
  });

  it('lets only one of two concurrent invocations tick', async () => {
    const deadlineMs = Date.now() + 2500;
    const [a, b] = await Promise.all([
      runTicks(deps('a'), { deadlineMs, reserveMs: 300 }),
      runTicks(deps('b'), { deadlineMs, reserveMs: 300 }),
    ]);
    const stops = [a.stopped, b.stopped].sort();
    expect(stops).toEqual(['deadline', 'lease-held']);
    expect(Math.min(a.ticks, b.ticks)).toBe(0);
    expect(Math.max(a.ticks, b.ticks)).toBeGreaterThanOrEqual(1);
  });

  it('lets an overlapping invocation that waits for the lease take over when the first one ends', async () => {
    const start = Date.now();
    const [a, b] = await Promise.all([
      runTicks(deps('a'), { deadlineMs: start + 2300, reserveMs: 300 }),
      new Promise((r) => setTimeout(r, 200)).then(() =>
        runTicks(deps('b'), { deadlineMs: start + 4300, reserveMs: 300, waitForLeaseMs: 4000 }),
      ),
    ]);
    expect(a.stopped).toBe('deadline');
    expect(b.stopped).toBe('deadline');
    expect(a.ticks).toBeGreaterThanOrEqual(1);
    expect(b.ticks).toBeGreaterThanOrEqual(1);
    const lastA = a.reports.at(-1)?.at ?? 0;
    const firstB = b.reports[0]?.at ?? 0;
    expect(firstB).toBeGreaterThan(lastA); // never both at once
    expect(firstB - lastA).toBeLessThanOrEqual(2000); // at most one 1 s window skipped at the hand-over
  });

  it('checkpoints the events kept in memory before releasing the lease', async () => {
    const host = uniqueName('h');
    const low = uniqueName('low');
    await putRules(t.table, DEFAULT_RULES);
    await putHost(t.table, aHost(host, [aContainer(low, host)]));
    const result = await runTicks(
      { ...deps('a'), metrics: lowCpu },
      // ≤ 5 ticks of 1 s: fewer than the 6 down events CpuRescaleDown needs
      { deadlineMs: Date.now() + 5000, reserveMs: 300 },
    );
    expect(result.ticks).toBeGreaterThanOrEqual(2);
    // written by the first tick (limits), then only at the checkpoint: one down event per tick (< lower)
    expect(result.reports.slice(1).every((r) => r.guardWrites === 0)).toBe(true);
    const guard = await t.table.get(keys.guard(host, low));
    expect(guard).toMatchObject({ version: 2 });
    expect(guard?.events).toHaveLength(result.ticks);
    expect(await t.table.get(keys.lease('control-tick'))).toMatchObject({ owner: 'a', expiresAt: 0 });
  });

  it('asked for shards, says once that they need the chained clock and ticks the whole fleet unsharded', async () => {
    await putGuardianConfig(t.table, {
      WINDOW_TIMELAPSE: 1,
      WINDOW_DELAY: 0,
      EVENT_TIMEOUT: 10,
      SHARDS_MAX: 4,
      SHARD_CONTAINERS: 100,
    });
    const hosts = [uniqueName('h'), uniqueName('h')];
    // 2 hosts × 60 = 120 containers: 2 shards of 100 with the chained clock
    for (const host of hosts)
      await putHost(
        t.table,
        aHost(
          host,
          Array.from({ length: 60 }, (_, c) => aContainer(`${host}-c${c}`, host)),
        ),
      );
    const { logger, lines } = captureLogger();
    const result = await runTicks(
      { ...deps('a'), metrics: lowCpu, logger },
      { deadlineMs: Date.now() + 6000, reserveMs: 300 },
    );
    expect(result.stopped).toBe('deadline');
    expect(result.ticks).toBeGreaterThanOrEqual(2);
    // every tick decided all 120 containers: no shard split, no shard record
    expect(result.reports.map((r) => r.structures)).toEqual(result.reports.map(() => 120));
    expect(await new GuardianStore(t.table).readShards()).toMatchObject({ current: { gen: 0, shards: 1 } });
    // one error for the invocation (not one a tick), naming the fix
    const errors = lines().filter((l) => l.level === 50);
    expect(errors).toEqual([expect.objectContaining({ msg: SHARDS_NEED_QUEUE_CLOCK, SHARDS_MAX: 4 })]);
    expect(SHARDS_NEED_QUEUE_CLOCK).toMatch(/controlClock=queue/);
  });

  it('refuses a live lease held by another owner and takes an expired one', async () => {
    const now = Date.now();
    expect(await takeLease(t.table, 'a', now, now + 10_000)).toBe(true);
    expect(await takeLease(t.table, 'b', now, now + 10_000)).toBe(false);
    expect(await takeLease(t.table, 'a', now + 1, now + 20_000)).toBe(true); // renewal by its owner
    expect(await takeLease(t.table, 'b', now + 20_000, now + 30_000)).toBe(true); // expired
  });
});
