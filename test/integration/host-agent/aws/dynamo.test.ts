import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { StaleStateError } from '../../../../core/errors.ts';
import { LiteTable } from '../../../../host-agent/aws/dynamo.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, dynamoEndpoint } from '../../../support/env.ts';

describe.each(DYNAMO_FLAVOURS)('the agent’s own DynamoDB client (%s)', (flavour) => {
  let t: TestTable;
  let lite: LiteTable;

  beforeEach(async () => {
    t = await createTestTable(flavour);
    lite = new LiteTable(t.tableName, { endpoint: dynamoEndpoint(flavour), region: 'us-east-1' });
  });

  afterEach(async () => {
    lite.destroy();
    await t.drop();
  });

  it('reads what the SDK wrote and the SDK reads what it wrote, value for value', async () => {
    const item = {
      pk: 'HOST#h',
      sk: 'STATE',
      version: 3,
      name: 'h',
      degraded: false,
      queueUrl: null,
      cores: ['0', '1'],
      capacity: { mem: { max: 8192, free: 1.5 } },
    };
    await t.table.put(item);
    expect(await lite.get({ pk: 'HOST#h', sk: 'STATE' })).toEqual(item);
    await lite.put({ ...item, sk: 'AGENT', version: 4 });
    expect(await t.table.get({ pk: 'HOST#h', sk: 'AGENT' })).toEqual({ ...item, sk: 'AGENT', version: 4 });
  });

  it('reads eventually consistent when asked, for half the read units', async () => {
    await t.table.put({ pk: 'HOST#h', sk: 'STATE', version: 3, pad: 'x'.repeat(2000) });
    const units = async (consistent?: boolean) => {
      const before = lite.counters.readUnits;
      const item = await lite.get(
        { pk: 'HOST#h', sk: 'STATE' },
        consistent === undefined ? {} : { consistent },
      );
      expect(item).toMatchObject({ version: 3 });
      return lite.counters.readUnits - before;
    };
    expect(await units()).toBe(1); // strongly consistent by default: 1 RRU per 4 KB
    expect(await units(false)).toBe(0.5);
  });

  it('answers null for a missing item', async () => {
    expect(await lite.get({ pk: 'HOST#nobody', sk: 'STATE' })).toBeNull();
  });

  it('queries every page of a partition under a sort-key prefix', async () => {
    const pad = 'x'.repeat(30_000); // ≈ 30 kB items: more than one 1 MB page
    for (let i = 0; i < 40; i++)
      await t.table.put({ pk: 'HOST#h', sk: `APPLIED#c${String(i).padStart(2, '0')}`, pad });
    await t.table.put({ pk: 'HOST#h', sk: 'STATE', version: 1 });
    const items = await lite.queryPartition('HOST#h', { skPrefix: 'APPLIED#' });
    expect(items.map((i) => i.sk)).toEqual(
      Array.from({ length: 40 }, (_, i) => `APPLIED#c${String(i).padStart(2, '0')}`),
    );
  });

  it('turns a failed condition into StaleStateError carrying the item as it is now', async () => {
    await lite.putVersioned({ pk: 'HOST#h', sk: 'STATE', version: 1 }, null, 'host state');
    await lite.putVersioned({ pk: 'HOST#h', sk: 'STATE', version: 2 }, 1, 'host state');
    const err = await lite
      .putVersioned({ pk: 'HOST#h', sk: 'STATE', version: 2 }, 1, 'host state')
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(StaleStateError);
    expect((err as StaleStateError).current).toEqual({ pk: 'HOST#h', sk: 'STATE', version: 2 });
    await expect(
      lite.putIf({ pk: 'HOST#h', sk: 'STATE', version: 9 }, { expression: 'attribute_not_exists(pk)' }, 'x'),
    ).rejects.toBeInstanceOf(StaleStateError);
  });

  it('names service errors as the SDK does, with the HTTP status', async () => {
    const other = new LiteTable('no-such-table', { endpoint: dynamoEndpoint(flavour), region: 'us-east-1' });
    try {
      const err = await other.get({ pk: 'a', sk: 'b' }).catch((e: unknown) => e);
      expect((err as Error).name).toBe('ResourceNotFoundException');
      expect((err as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(400);
    } finally {
      other.destroy();
    }
  });
});
