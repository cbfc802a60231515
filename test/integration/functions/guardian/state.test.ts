import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Catalog } from '../../../../adapters/dynamodb/catalog.ts';
import { safeActivityFromItem } from '../../../../adapters/dynamodb/items.ts';
import { keys } from '../../../../adapters/dynamodb/table.ts';
import { TableClient } from '../../../../adapters/dynamodb/table-client.ts';
import { defaultConfig } from '../../../../core/contracts/service-config.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import { appendActivities, loadConfig, loadRules } from '../../../../functions/guardian/state.ts';
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

describe.each(DYNAMO_FLAVOURS)('Guardian config and rules hot reload on %s', (flavour) => {
  let t: TestTable;
  beforeAll(async () => {
    t = await createTestTable(flavour);
  });
  afterAll(async () => {
    await t.drop();
  });

  it('reads config and rules eventually consistent (half the units) and sees a change on the next load', async () => {
    const catalog = new Catalog(t.table);
    await catalog.putServiceConfig('guardian', { WINDOW_TIMELAPSE: 10, EVENT_TIMEOUT: 90 });
    for (const r of DEFAULT_RULES) await catalog.putRule(r);
    const units = async <T>(read: () => Promise<T>) => {
      const before = t.table.counters.readUnits;
      const out = await read();
      return { out, units: t.table.counters.readUnits - before };
    };
    const strongRules = await units(() => t.table.queryPartition(keys.rulesPartition));
    const config = await units(() => loadConfig(t.table, defaultConfig('guardian')));
    const rules = await units(() => loadRules(t.table, config.out.config));
    expect(config.out.config.WINDOW_TIMELAPSE).toBe(10);
    expect(config.units).toBe(0.5); // one small item: 1 RRU strongly consistent, ½ eventual
    expect(rules.out.rules).toHaveLength(DEFAULT_RULES.length);
    expect(strongRules.units).toBeGreaterThanOrEqual(2); // 20 rules ≈ 6 KB: 2 × 4 KB
    expect(rules.units).toBe(strongRules.units / 2);

    // an operator's change is what the next tick loads
    const first = DEFAULT_RULES[0];
    if (first === undefined) throw new Error('no default rules');
    await catalog.putRule({ ...first, active: !first.active });
    await catalog.putServiceConfig('guardian', { WINDOW_TIMELAPSE: 5, EVENT_TIMEOUT: 90 });
    const next = await loadConfig(t.table, config.out.config);
    expect(next.config.WINDOW_TIMELAPSE).toBe(5);
    const nextRules = await loadRules(t.table, next.config);
    expect(nextRules.rules.find((r) => r.name === first.name)?.active).toBe(!first.active);
  });
});
