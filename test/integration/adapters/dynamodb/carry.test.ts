import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { readCarries, writeCarry } from '../../../../adapters/dynamodb/guardian-store.ts';
import { CARRY_MAX_BYTES, type ChainCarry } from '../../../../core/contracts/carry.ts';
import { keys } from '../../../../core/contracts/table-layout.ts';
import { carryOf, overlayCarries, trimCarry } from '../../../../functions/guardian/carry.ts';
import type { CachedGuard, TickCache } from '../../../../functions/guardian/tick-read.ts';
import { createTestTable, type TestTable } from '../../../support/dynamo.ts';
import { DYNAMO_FLAVOURS } from '../../../support/env.ts';

const T0 = 1_800_000_000_000;

/** A cache entry of container `name` on `host`, stored at `stored`, with `events` down events in memory. */
function entry(host: string, name: string, stored: number, events: number): CachedGuard {
  return {
    ref: { host, structure: name },
    stored,
    dirty: events > 0,
    state: {
      structure: name,
      structureType: 'container',
      version: stored,
      limits: { cpu: { boundary: 10, boundary_type: 'percentage_of_max', upper: 260, lower: 220 } },
      events: Array.from({ length: events }, (_, i) => ({
        structure: name,
        resource: 'cpu' as const,
        direction: 'down' as const,
        rule: 'CpuUnderLower',
        timestamp: T0 - i * 5_000,
      })),
      lastDecision: null,
      dryRun: false,
    },
  };
}

function cacheOf(entries: CachedGuard[]): TickCache {
  return {
    sinceFullRead: 0,
    hostNames: [],
    guards: new Map(entries.map((e) => [`host|${e.ref.host}|${e.ref.structure}`, e])),
  };
}

describe('the carry between chain ticks (pure)', () => {
  it('carries the dirty entries with live events, and lays them only over the stored version they name', () => {
    const carry = carryOf(
      cacheOf([entry('h1', 'a', 3, 2), entry('h1', 'b', 1, 0), entry('h2', 'c', 7, 1)]),
      T0,
    );
    expect(carry.guards.map((g) => [g[1], g[2], g[3].length])).toEqual([
      ['a', 3, 2],
      ['c', 7, 1],
    ]);
    // the next tick's full read: a as stored (version 3, no events), c written since (version 8)
    const fresh = cacheOf([entry('h1', 'a', 3, 0), entry('h2', 'c', 8, 0)]);
    expect(overlayCarries(fresh, [carry], T0 + 5_000)).toBe(1);
    const a = fresh.guards.get('host|h1|a');
    expect(a?.state?.events).toHaveLength(2);
    expect(a?.state?.events[0]).toEqual({
      structure: 'a',
      resource: 'cpu',
      direction: 'down',
      rule: 'CpuUnderLower',
      timestamp: T0,
    });
    expect(a?.dirty).toBe(true);
    expect(fresh.guards.get('host|h2|c')?.state?.events).toHaveLength(0); // its stored state wins
  });

  it('takes an entry from the newest carry naming it', () => {
    const older = carryOf(cacheOf([entry('h1', 'a', 3, 1)]), T0 - 5_000);
    const newer = carryOf(cacheOf([entry('h1', 'a', 3, 4)]), T0);
    const fresh = cacheOf([entry('h1', 'a', 3, 0)]);
    overlayCarries(fresh, [newer, older], T0 + 5_000);
    expect(fresh.guards.get('host|h1|a')?.state?.events).toHaveLength(4);
  });

  it('trims to the structures with the newest events', () => {
    const carry: ChainCarry = {
      v: 1,
      at: T0,
      guards: [
        ['h', 'old', 1, [['R', 'cpu', 'up', T0 - 50_000]]],
        ['h', 'new', 1, [['R', 'cpu', 'up', T0]]],
        ['h', 'mid', 1, [['R', 'mem', 'down', T0 - 10_000]]],
      ],
    };
    expect(trimCarry(carry, 2).guards.map((g) => g[1])).toEqual(['new', 'mid']);
  });
});

describe.each(DYNAMO_FLAVOURS)('the carry item on %s', (flavour) => {
  let t: TestTable;
  beforeAll(async () => {
    t = await createTestTable(flavour);
  });
  afterAll(async () => {
    await t.drop();
  });

  it('writes one deflated item per chain and reads back each chain’s own', async () => {
    const entries = Array.from({ length: 2_000 }, (_, i) => entry(`host-${i % 100}`, `ct-${i}`, 2, 6));
    const carry = carryOf(cacheOf(entries), T0);
    const bytes = await writeCarry(t.table, { gen: 3, shard: 1 }, carry);
    await writeCarry(t.table, { gen: 0, shard: 0 }, { v: 1, at: T0, guards: [] });
    // 12,000 events of 2,000 containers: ≈ 1 MB as JSON, a few write units deflated
    expect(bytes).toBeLessThan(40_000);
    const read = await readCarries(t.table, [
      { gen: 3, shard: 1 },
      { gen: 3, shard: 2 }, // none stored
    ]);
    expect(read.problems).toEqual([]);
    expect(read.carries).toEqual([carry]);
    const unsharded = await readCarries(t.table, [{ gen: 0, shard: 0 }]);
    expect(unsharded.carries[0]?.guards).toEqual([]);
    expect(await t.table.get(keys.carry('control-tick'))).not.toBeNull();
  });

  it('refuses a carry over an item’s size, and reports a stored one its schema refuses without reading it', async () => {
    // incompressible names: the deflated carry cannot fit
    const big = Array.from({ length: 40_000 }, (_, i) =>
      entry(`h${i}`, `c${i.toString(36)}${Math.random().toString(36).slice(2, 12)}`, 1, 3),
    );
    const carry = carryOf(cacheOf(big), T0);
    await expect(writeCarry(t.table, { gen: 1, shard: 0 }, carry)).rejects.toThrow(
      new RegExp(`over ${CARRY_MAX_BYTES}`),
    );
    await t.table.put({ ...keys.carry('control-tick#1#5'), at: T0, carryz: new Uint8Array([1, 2, 3]) });
    await t.table.put({ ...keys.carry('control-tick#1#6'), at: T0 });
    const read = await readCarries(t.table, [
      { gen: 1, shard: 5 },
      { gen: 1, shard: 6 },
    ]);
    expect(read.carries).toEqual([]);
    expect(read.problems.map((p) => p.what)).toEqual(['carry control-tick#1#5', 'carry control-tick#1#6']);
  });
});
