import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { StaleStateError } from '../../../../core/errors.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS } from '../../../support/env.ts';

describe.each(DYNAMO_FLAVOURS)('TableClient on %s', (flavour) => {
  let t: TestTable;
  beforeAll(async () => {
    t = await createTestTable(flavour);
  });
  afterAll(async () => {
    await t.drop();
  });

  it('creates an item only once when the expected version is null', async () => {
    const item = { ...keys.service('guardian'), version: 1, config: {} };
    await t.table.putVersioned(item, null, 'service guardian');
    await expect(t.table.putVersioned(item, null, 'service guardian')).rejects.toBeInstanceOf(
      StaleStateError,
    );
  });

  it('turns a lost version race into a StaleStateError carrying the current item', async () => {
    const key = keys.service('scaler');
    await t.table.putVersioned({ ...key, version: 1, config: { a: 1 } }, null, 'scaler');
    await t.table.putVersioned({ ...key, version: 2, config: { a: 2 } }, 1, 'scaler');
    const err = await t.table
      .putVersioned({ ...key, version: 2, config: { a: 3 } }, 1, 'scaler')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StaleStateError);
    expect((err as StaleStateError<Record<string, unknown>>).current).toMatchObject({
      version: 2,
      config: { a: 2 },
    });
  });

  it('lists names of a kind through the index and pages through a partition', async () => {
    await t.table.put({ ...keys.hostState('h1'), version: 1 });
    await t.table.put({ ...keys.hostState('h2'), version: 1 });
    for (let i = 0; i < 30; i++)
      await t.table.put({ ...keys.guard('h1', `c${i}`), version: 1, pad: 'x'.repeat(2000) });
    // GSI reads are eventually consistent on AWS; the emulators answer at once.
    expect((await t.table.listKind('HOSTS')).sort()).toEqual(['h1', 'h2']);
    const items = await t.table.queryPartition(keys.hostPartition('h1'), { skPrefix: 'GUARD#' });
    expect(items).toHaveLength(30);
  });

  it('reads a partition from a sort key on, billed for the items in that range only', async () => {
    const pk = keys.hostPartition('hr');
    await t.table.put({ ...keys.agent('hr'), at: 1 });
    for (let i = 0; i < 4; i++)
      await t.table.put({ ...keys.applied('hr', `c${i}`), appliedVersion: 1, pad: 'x'.repeat(3000) });
    for (let i = 0; i < 2; i++) await t.table.put({ ...keys.guard('hr', `c${i}`), version: 1 });
    await t.table.put({ ...keys.hostState('hr'), version: 1 });
    const units = async (opts: { skFrom?: string }) => {
      const before = t.table.counters.readUnits;
      const items = await t.table.queryPartition(pk, { ...opts, consistent: false });
      return { sks: items.map((i) => i.sk), units: t.table.counters.readUnits - before };
    };
    const all = await units({});
    const fromGuards = await units({ skFrom: 'GUARD#' });
    expect(fromGuards.sks).toEqual(['GUARD#c0', 'GUARD#c1', 'STATE']);
    expect(all.sks).toHaveLength(8);
    // the four 3 KB reports (> 12 KB) are not read: at most one 4 KB unit, halved (eventual)
    expect(fromGuards.units).toBe(0.5);
    expect(all.units).toBeGreaterThanOrEqual(1.5);
    await expect(t.table.queryPartition(pk, { skPrefix: 'A', skFrom: 'B' })).rejects.toThrow(RangeError);
  });

  it('batch-reads more keys than one request takes, unpacks host items and leaves missing keys out', async () => {
    const hostKeys = Array.from({ length: 130 }, (_, i) => keys.hostState(`bh${i}`));
    for (const [i, k] of hostKeys.entries())
      if (i % 2 === 0) await t.table.put({ ...k, version: i, marker: `m${i}` });
    const found = await t.table.batchGet(hostKeys, { consistent: false, concurrency: 2 });
    expect(found.size).toBe(65); // even indexes 0…128
    expect(found.get('HOST#bh128|STATE')).toMatchObject({ version: 128, marker: 'm128' });
    expect(found.has('HOST#bh1|STATE')).toBe(false);
  });
});
