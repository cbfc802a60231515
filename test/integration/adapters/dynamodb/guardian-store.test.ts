import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Catalog } from '../../../../adapters/dynamodb/catalog.ts';
import { loadConfig, loadRules, readHost } from '../../../../adapters/dynamodb/guardian-store.ts';
import { defaultConfig } from '../../../../core/contracts/service-config.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { DEFAULT_RULES } from '../../../../core/policy/default-rules.ts';
import { aContainer } from '../../../support/containers.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS } from '../../../support/env.ts';
import { aHost, putHost } from '../../../support/guardian-fixtures.ts';

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

  it('reads a host for the Guardian without its agent reports (APPLIED#) and AGENT item', async () => {
    const names = Array.from({ length: 20 }, (_, i) => `gs-c${i}`);
    await putHost(
      t.table,
      aHost(
        'gs-h',
        names.map((n) => aContainer(n, 'gs-h')),
      ),
    );
    for (const n of names) {
      await t.table.put({
        ...keys.guard('gs-h', n),
        structure: n,
        structureType: 'container',
        version: 1,
        limits: {},
      });
      await t.table.put({
        ...keys.applied('gs-h', n),
        host: 'gs-h',
        container: n,
        appliedVersion: 3,
        appliedAt: 1,
        outcome: 'applied',
        limits: {
          cpuShares: 300,
          cpuset: null,
          memMiB: 2048,
          diskReadMiBps: null,
          diskWriteMiBps: null,
          netMbps: null,
        },
        issues: [],
        via: 'order',
      });
    }
    await t.table.put({ ...keys.agent('gs-h'), host: 'gs-h', heartbeat: 1, padding: 'x'.repeat(3000) });
    const before = t.table.counters.readUnits;
    const read = await readHost(t.table, 'gs-h');
    const units = t.table.counters.readUnits - before;
    const whole = t.table.counters.readUnits;
    await t.table.queryPartition(keys.hostPartition('gs-h'));
    expect(read.host?.name).toBe('gs-h');
    expect([...read.guards.keys()].sort()).toEqual([...names].sort());
    expect(units).toBeLessThan(t.table.counters.readUnits - whole);
  });
});
