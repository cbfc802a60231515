import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Catalog } from '../../../../adapters/dynamodb/catalog.ts';
import { silentLogger } from '../../../../adapters/logger.ts';
import { acquireLease, runPeriodically } from '../../../../functions/ops/periodic.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, uniqueName } from '../../../support/env.ts';
import { ManualClock } from '../../../support/ops-fixtures.ts';

describe.each(DYNAMO_FLAVOURS)('periodic runs on %s', (flavour) => {
  let t: TestTable;
  beforeAll(async () => {
    t = await createTestTable(flavour);
  });
  afterAll(async () => {
    await t.drop();
  });

  it('gives a lease to one owner until it expires', async () => {
    const name = uniqueName('lease');
    expect(await acquireLease(t.table, name, 'a', 1_000, 61_000)).toBe(true);
    expect(await acquireLease(t.table, name, 'b', 2_000, 62_000)).toBe(false);
    expect(await acquireLease(t.table, name, 'a', 3_000, 63_000)).toBe(true);
    expect(await acquireLease(t.table, name, 'b', 63_001, 123_000)).toBe(true);
  });

  it('runs every period until the deadline, and keeps going after a failed round', async () => {
    const clock = new ManualClock(100_000);
    const started: number[] = [];
    // 60 s invocation, 5 s margin → deadline 155 000; period 10 s → rounds at 100, 110, …, 150 s
    const r = await runPeriodically({
      name: uniqueName('op'),
      owner: 'inv-1',
      table: t.table,
      clock,
      logger: silentLogger,
      remainingMs: () => 60_000,
      schedule: async () => ({ active: true, periodMs: 10_000 }),
      run: async () => {
        started.push(clock.now());
        clock.t += 1_000;
        if (started.length === 2) throw new Error('boom');
        return started.length;
      },
    });
    expect(started).toEqual([100_000, 110_000, 120_000, 130_000, 140_000, 150_000]);
    expect(r).toEqual({ rounds: 5, results: [1, 3, 4, 5, 6], leased: true, active: true });
  });

  it('records the service heartbeat after each round of a service (sanity, snapshoter, rebalancer)', async () => {
    await new Catalog(t.table).putServiceConfig('sanity', {});
    const clock = new ManualClock(200_000);
    const r = await runPeriodically({
      name: 'sanity',
      owner: 'inv-hb',
      table: t.table,
      clock,
      logger: silentLogger,
      remainingMs: () => 60_000,
      schedule: async () => ({ active: true, periodMs: 60_000 }),
      run: async () => {
        clock.t += 1_000;
        return 1;
      },
    });
    expect(r.rounds).toBe(1);
    expect((await new Catalog(t.table).getService('sanity'))?.heartbeat).toBe(201_000);
  });

  it('does not run while another invocation holds the lease', async () => {
    const name = uniqueName('op');
    await acquireLease(t.table, name, 'other', 0, 1_000_000);
    const r = await runPeriodically({
      name,
      owner: 'me',
      table: t.table,
      clock: new ManualClock(10_000),
      logger: silentLogger,
      remainingMs: () => 60_000,
      schedule: async () => ({ active: true, periodMs: 10_000 }),
      run: async () => 1,
    });
    expect(r).toEqual({ rounds: 0, results: [], leased: false, active: true });
  });

  it('returns after reading the config while inactive: no lease taken, no round, no waiting', async () => {
    const name = uniqueName('op');
    const clock = new ManualClock(10_000);
    let rounds = 0;
    const r = await runPeriodically({
      name,
      owner: 'me',
      table: t.table,
      clock,
      logger: silentLogger,
      remainingMs: () => 60_000,
      schedule: async () => ({ active: false, periodMs: 10_000 }),
      run: async () => ++rounds,
    });
    expect(r).toEqual({ rounds: 0, results: [], leased: false, active: false });
    expect(clock.now()).toBe(10_000);
    // the lease is free: another owner takes it at once
    expect(await acquireLease(t.table, name, 'other', 10_001, 70_000)).toBe(true);
  });

  it('runs one round per invocation when the period is at least the schedule rate', async () => {
    const clock = new ManualClock(100_000);
    let reads = 0;
    const r = await runPeriodically({
      name: uniqueName('op'),
      owner: 'inv-1',
      table: t.table,
      clock,
      logger: silentLogger,
      remainingMs: () => 55_000,
      schedule: async () => {
        reads += 1;
        return { active: true, periodMs: 60_000 };
      },
      run: async () => {
        clock.t += 800;
        return 'done';
      },
    });
    expect(r).toEqual({ rounds: 1, results: ['done'], leased: true, active: true });
    // one config read, and the invocation ends with its round: 100 000 + 800
    expect(reads).toBe(1);
    expect(clock.now()).toBe(100_800);
  });

  it('stops looping when the service is switched off between rounds', async () => {
    const clock = new ManualClock(0);
    let active = true;
    const r = await runPeriodically({
      name: uniqueName('op'),
      owner: 'inv-1',
      table: t.table,
      clock,
      logger: silentLogger,
      remainingMs: () => 60_000,
      schedule: async () => ({ active, periodMs: 5_000 }),
      run: async () => {
        active = clock.now() < 10_000; // rounds at 0, 5, 10 s; the third switches it off
        return clock.now();
      },
    });
    expect(r.results).toEqual([0, 5_000, 10_000]);
  });
});
