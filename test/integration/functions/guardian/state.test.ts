import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { safeActivityFromItem } from '../../../../adapters/dynamodb/items.ts';
import { keys } from '../../../../adapters/dynamodb/table.ts';
import { TableClient } from '../../../../adapters/dynamodb/table-client.ts';
import { appendActivities } from '../../../../functions/guardian/state.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS } from '../../../support/env.ts';

describe.each(DYNAMO_FLAVOURS)('Guardian activity append on %s', (flavour) => {
  let t: TestTable;
  beforeAll(async () => {
    t = await createTestTable(flavour);
  });
  afterAll(async () => {
    await t.drop();
  });

  it('writes every record with its TTL (its time + the table’s retention) and readable as activity', async () => {
    const table = new TableClient(t.doc, t.tableName, { activityRetentionDays: 2 });
    const records = Array.from({ length: 3 }, (_, i) => ({
      seq: `g${i}`,
      activity: {
        structure: 'g-ct',
        at: 9_000_000 + i * 1000,
        kind: 'request' as const,
        resource: 'cpu' as const,
        text: `request ${i}`,
        reasons: [],
        data: {},
      },
    }));
    await appendActivities(table, records); // one batch (the tick hands it at most ACTIVITY_BATCH)
    const items = await t.table.queryPartition(keys.activityPartition('g-ct'));
    expect(items).toHaveLength(3);
    // record i: floor((9 000 000 + 1000 i) / 1000) = 9000 + i s, + 2 × 86 400 s
    expect(items.map((item) => item.expiresAtS)).toEqual(records.map((_, i) => 9000 + i + 172_800));
    expect(items.every((item) => safeActivityFromItem(item).success)).toBe(true);
  });
});
