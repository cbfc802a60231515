import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  ActivityBuffer,
  recentActivity,
  recordActivity,
  writeActivity,
} from '../../../../adapters/dynamodb/activity.ts';
import { TableClient } from '../../../../adapters/dynamodb/table-client.ts';
import type { Activity } from '../../../../core/contracts/activity.ts';
import { activityLinesFromItem } from '../../../../core/contracts/items.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS, uniqueName } from '../../../support/env.ts';

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

describe.each(DYNAMO_FLAVOURS)('reading recent activity of a long-lived structure on %s', (flavour) => {
  let t: TestTable;
  const now = 1_800_000_000_000;
  beforeAll(async () => {
    t = await createTestTable(flavour);
    // A finding a minute for five days (a rule that stays unreachable): 7,200 lines, all within the TTL.
    const lines = Array.from({ length: 7_200 }, (_, i) => ({
      activity: {
        structure: 'chatty',
        at: now - i * 60_000,
        kind: 'finding' as const,
        resource: null,
        text: `finding ${i}`,
        reasons: [],
        data: {},
      },
      seq: `f${i}`,
      host: null,
    }));
    await writeActivity(t.table, lines);
  }, 120_000);
  afterAll(async () => {
    await t.drop();
  });

  it('reads newest first and stops once the limit is reached: the cost does not grow with the history', async () => {
    const table = new TableClient(t.doc, t.tableName);
    const lines = await recentActivity(table, 'chatty', 50, now);
    expect(lines.map((l) => l.text)).toEqual(Array.from({ length: 50 }, (_, i) => `finding ${i}`));
    // Read units are per 4 KB read: 50 small items are a few, the whole history some 200.
    expect(table.counters.readUnits).toBeGreaterThan(0);
    expect(table.counters.readUnits).toBeLessThanOrEqual(4);
    table.counters.readUnits = 0;
    // and a time bound reads only that far back
    const lastHour = await recentActivity(table, 'chatty', 500, now, { sinceMs: now - 3_600_000 });
    expect(lastHour).toHaveLength(61);
    expect(table.counters.readUnits).toBeLessThanOrEqual(4);
  });
});

const T0 = 1_800_000_000_000;
const line = (structure: string, at: number, kind: Activity['kind'], text: string): Activity => ({
  structure,
  at,
  kind,
  resource: 'cpu',
  text,
  reasons: [{ source: 'cpu_exceeded_upper', text: `${text}: usage above upper`, values: { usage: 250 } }],
  data: {},
});

describe.each(DYNAMO_FLAVOURS)('packed activity on %s', (flavour) => {
  let t: TestTable;
  beforeAll(async () => {
    t = await createTestTable(flavour);
  });
  afterAll(async () => {
    await t.drop();
  });

  it('writes a host’s lines as one item costing 1 WRU, host-less lines one item each', async () => {
    const host = uniqueName('h');
    const table = new TableClient(t.doc, t.tableName);
    const lines = Array.from({ length: 12 }, (_, i) => ({
      activity: line(`c${i % 3}-${host}`, T0 + i * 10_000, i % 2 === 0 ? 'event' : 'order', `line ${i}`),
      seq: `s${i}`,
      host,
    }));
    const w0 = table.counters.writeUnits;
    await writeActivity(table, [...lines, { activity: line('app1', T0, 'decision', 'app line'), seq: 'a' }]);
    // 12 lines of ≈ 250 B: 3 KB of JSON, deflated < 1 KB → 1 WRU; the app's line 1 WRU
    expect(table.counters.writeUnits - w0).toBe(2);
    const items = await t.table.queryPartition(keys.activityPartition(host));
    expect(items).toHaveLength(1);
    expect(items[0]?.expiresAtS).toBe(Math.floor((T0 + 110_000) / 1000) + 7 * 86_400); // newest line + 7 days
    expect(await t.table.queryPartition(keys.activityPartition('app1'))).toHaveLength(1);
  });

  it('reads a container’s lines from its own partition and its host’s, newest first', async () => {
    const host = uniqueName('h');
    const ct = uniqueName('c');
    await recordActivity(t.table, line(ct, T0 + 5_000, 'finding', 'single, older layout'));
    await writeActivity(t.table, [
      { activity: line(ct, T0, 'event', 'event'), seq: 'e', host },
      { activity: line('other', T0 + 1_000, 'event', 'not mine'), seq: 'o', host },
      { activity: line(ct, T0 + 10_000, 'request', 'request'), seq: 'r', host },
      { activity: line(ct, T0 + 10_000, 'order', 'order'), seq: 'o2', host },
    ]);
    const got = await recentActivity(t.table, ct, 50, T0, { host });
    expect(got.map((a) => a.text)).toEqual(['order', 'request', 'single, older layout', 'event']);
    expect(got[0]?.reasons[0]?.text).toBe('order: usage above upper');
    expect((await recentActivity(t.table, ct, 2, T0, { host })).map((a) => a.text)).toEqual([
      'order',
      'request',
    ]);
    // without its host, only what is stored under the container itself
    expect((await recentActivity(t.table, ct, 50, T0)).map((a) => a.text)).toEqual(['single, older layout']);
    // a week and a bit later every item has passed its TTL
    expect(await recentActivity(t.table, ct, 50, T0 + 8 * DAY_MS, { host })).toEqual([]);
  });

  it('a buffer holds lines until the host’s oldest has waited the hold, then writes them as one item', async () => {
    const [h1, h2] = [uniqueName('h'), uniqueName('h')];
    const buffer = new ActivityBuffer(t.table, 60_000);
    await buffer.recordActivity([
      { activity: line('a', T0, 'event', 'h1 first'), seq: '1', host: h1 },
      { activity: line('b', T0 + 30_000, 'event', 'h2 first'), seq: '2', host: h2 },
    ]);
    expect(await buffer.flush(T0 + 59_999)).toBe(0); // nothing has waited 60 s yet
    await buffer.recordActivity([
      { activity: line('a', T0 + 50_000, 'order', 'h1 second'), seq: '3', host: h1 },
    ]);
    expect(await buffer.flush(T0 + 60_000)).toBe(2); // h1: its oldest waited 60 s; h2 not yet
    expect(buffer.size).toBe(1);
    const h1Items = await t.table.queryPartition(keys.activityPartition(h1));
    expect(h1Items).toHaveLength(1);
    expect(activityLinesFromItem(h1Items[0] ?? {}).lines.map((a) => a.text)).toEqual([
      'h1 first',
      'h1 second',
    ]);
    expect(await t.table.queryPartition(keys.activityPartition(h2))).toEqual([]);
    expect(await buffer.flush(T0 + 60_000, { all: true })).toBe(1);
    expect(await t.table.queryPartition(keys.activityPartition(h2))).toHaveLength(1);
    expect(buffer.size).toBe(0);
  });

  it('a buffer whose write fails keeps its lines for the next flush', async () => {
    const missing = new TableClient(t.doc, `${t.tableName}-missing`);
    const buffer = new ActivityBuffer(missing, 0);
    await buffer.recordActivity([
      { activity: line('a', T0, 'event', 'kept'), seq: '1', host: 'h1' },
      { activity: line('app', T0, 'decision', 'kept too'), seq: '2' },
    ]);
    await expect(buffer.flush(T0)).rejects.toThrow();
    expect(buffer.size).toBe(2);
  });
});
