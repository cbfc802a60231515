import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ASSUMED_SIZES, hostStateBytes } from '../../../../bench/cost/assumptions.ts';
import { readUnits, writeUnits } from '../../../../bench/cost/model.ts';
import { GuardState } from '../../../../core/contracts/guard-state.ts';
import { HostState } from '../../../../core/contracts/host.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';

// DynamoDB Local only: it reports consumed capacity the way AWS computes it.
describe('cost assumptions against DynamoDB Local consumed capacity', () => {
  let t: TestTable;
  const names = Array.from({ length: 20 }, (_, i) => `ct${String(i).padStart(2, '0')}`);
  beforeAll(async () => {
    t = await createTestTable('dynamodb-local');
  });
  afterAll(async () => {
    await t.drop();
  });

  it('a 20-container host item, deflated, costs a quarter of the write units the written-down designs assume', async () => {
    const host = HostState.parse({
      name: 'h1',
      version: 3,
      capacity: {
        cpu: {
          max: 200,
          free: 30,
          topology: [
            { id: '0', socket: 0, core: 0 },
            { id: '1', socket: 0, core: 1 },
          ],
          cores: {},
        },
        mem: { max: 4096, free: 100 },
      },
      containers: Object.fromEntries(
        names.map((name) => [
          name,
          {
            name,
            host: 'h1',
            guard: true,
            resources: {
              cpu: { max: 400, min: 50, current: 120 },
              mem: { max: 1024, min: 128, current: 512 },
            },
            desiredVersion: 12,
            desiredAt: 1_795_839_105_000,
          },
        ]),
      ),
    });
    t.table.resetCounters();
    await t.table.put({ ...keys.hostState('h1'), ...host });
    // written down for the JSON doc layout: 250 + 20 × 300 = 6,250 B → 7 WRU
    expect(writeUnits(hostStateBytes(20, false))).toBe(7);
    // stored deflated (docz, core/contracts/items.ts): between 1 and 2 KB with keys and version → 2 WRU
    expect(t.table.counters.writeUnits).toBe(2);
  });

  it('a GUARD item with a live event and a decision is one write unit, and the partition reads as assumed', async () => {
    t.table.resetCounters();
    for (const name of names) {
      const guard = GuardState.parse({
        structure: name,
        structureType: 'container',
        version: 4,
        limits: {
          cpu: { boundary: 10, upper: 80, lower: 40 },
          mem: { boundary: 10, upper: 410, lower: 308 },
        },
        events: [
          {
            structure: name,
            resource: 'cpu',
            direction: 'up',
            rule: 'cpu_exceeded_upper',
            timestamp: 1_795_839_105_000,
          },
        ],
        lastDecision: {
          at: 1_795_839_105_000,
          resource: 'cpu',
          text: 'CpuRescaleUp +75',
          reasons: [
            { source: 'CpuRescaleUp', text: 'usage 182 above upper 170', values: { usage: 182, upper: 170 } },
          ],
        },
      });
      await t.table.put({ ...keys.guard('h1', name), ...guard });
    }
    expect(t.table.counters.writeUnits).toBe(20 * writeUnits(ASSUMED_SIZES.guardItem));
    t.table.resetCounters();
    await t.table.queryPartition(keys.hostPartition('h1'));
    // written down: 6,250 + 20 × 500 = 16,250 B → 4 RRU strongly consistent;
    // stored: < 2 KB of host item + 20 GUARD items ≤ 500 B → ≤ 12,240 B → 3 RRU
    expect(readUnits(hostStateBytes(20, false) + 20 * ASSUMED_SIZES.guardItem, 'strong')).toBe(4);
    expect(t.table.counters.readUnits).toBe(3);
    t.table.resetCounters();
    await t.table.queryPartition(keys.hostPartition('h1'), { consistent: false });
    expect(t.table.counters.readUnits).toBe(1.5); // eventually consistent: half of 3
  });
});
