import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { recentActivity, recordActivity } from '../../../../adapters/dynamodb/activity.ts';
import { keys } from '../../../../adapters/dynamodb/table.ts';
import { TableClient } from '../../../../adapters/dynamodb/table-client.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS } from '../../../support/env.ts';

const DAY_MS = 86_400_000;

describe.each(DYNAMO_FLAVOURS)('activity lines on %s', (flavour) => {
  let t: TestTable;
  beforeAll(async () => {
    t = await createTestTable(flavour);
  });
  afterAll(async () => {
    await t.drop();
  });

  it('carry a TTL of their time + the table’s retention, in epoch seconds', async () => {
    const table = new TableClient(t.doc, t.tableName, { activityRetentionDays: 3 });
    await recordActivity(table, { structure: 'ttl-a', at: 1_700_000_000_500, kind: 'finding', text: 'x' });
    const [item] = await t.table.queryPartition(keys.activityPartition('ttl-a'));
    expect(item?.expiresAtS).toBe(1_700_000_000 + 3 * 86_400); // floor(…500 ms / 1000) + 3 days
  });

  it('read back newest first, skipping lines past their TTL that are not deleted yet', async () => {
    const now = 1_800_000_000_000;
    // retention 7 days: a line of 8 days ago expired a day ago, one of 6 days ago has a day left
    await recordActivity(t.table, { structure: 'ttl-b', at: now - 8 * DAY_MS, kind: 'finding', text: 'old' });
    await recordActivity(t.table, {
      structure: 'ttl-b',
      at: now - 6 * DAY_MS,
      kind: 'finding',
      text: 'kept',
    });
    await recordActivity(t.table, { structure: 'ttl-b', at: now - 1000, kind: 'decision', text: 'new' });
    expect(await t.table.queryPartition(keys.activityPartition('ttl-b'))).toHaveLength(3); // still stored
    const lines = await recentActivity(t.table, 'ttl-b', 50, now);
    expect(lines.map((l) => l.text)).toEqual(['new', 'kept']);
    expect(lines[0]).not.toHaveProperty('expiresAtS');
    // two days later the 6-day-old line has expired too
    expect((await recentActivity(t.table, 'ttl-b', 50, now + 2 * DAY_MS)).map((l) => l.text)).toEqual([
      'new',
    ]);
  });
});
