import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { type ShardRecord, UNSHARDED } from '../../../../core/contracts/shards.ts';
import {
  desiredShards,
  generationAt,
  namesOfShard,
  planSwitch,
  shardOf,
  staleShards,
  windowOwner,
} from '../../../../core/policy/shards.ts';

const hostNames = (n: number, prefix = 'host') => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const nameArb = fc.string({ minLength: 1, maxLength: 40 });

describe('shardOf (rendezvous hashing)', () => {
  it('gives the same shard on every call, always within 0 … N − 1', () => {
    fc.assert(
      fc.property(nameArb, fc.integer({ min: 1, max: 256 }), (name, n) => {
        const s = shardOf(name, n);
        expect(Number.isInteger(s)).toBe(true);
        expect(s).toBeGreaterThanOrEqual(0);
        expect(s).toBeLessThan(n);
        expect(shardOf(name, n)).toBe(s);
      }),
    );
  });

  it('puts every host in exactly one shard', () => {
    fc.assert(
      fc.property(
        fc.uniqueArray(nameArb, { maxLength: 200 }),
        fc.integer({ min: 1, max: 40 }),
        (names, n) => {
          const parts = Array.from({ length: n }, (_, s) => namesOfShard(names, s, n));
          const all = parts.flat();
          expect(all.length).toBe(names.length); // none twice
          expect(new Set(all)).toEqual(new Set(names)); // none missing
        },
      ),
    );
  });

  it('moves about 1/(N+1) of the hosts when N grows by one, and only to the new shard', () => {
    const hosts = hostNames(5000);
    for (const n of [1, 2, 3, 7, 19, 49]) {
      const moved = hosts.filter((h) => shardOf(h, n) !== shardOf(h, n + 1));
      // every host that moves goes to the new shard (rendezvous: the others' weights are unchanged)
      for (const h of moved) expect(shardOf(h, n + 1)).toBe(n);
      const expected = hosts.length / (n + 1); // 5000 / (N + 1)
      expect(moved.length).toBeGreaterThan(0.8 * expected);
      expect(moved.length).toBeLessThan(1.2 * expected);
    }
  });

  it('spreads hosts evenly: every shard within ±20 % of the mean at 5,000 hosts over 20 shards', () => {
    const hosts = hostNames(5000, 'node');
    const counts = new Array(20).fill(0);
    for (const h of hosts) counts[shardOf(h, 20)] += 1;
    for (const c of counts) {
      expect(c).toBeGreaterThan(0.8 * 250); // 5000 / 20 = 250
      expect(c).toBeLessThan(1.2 * 250);
    }
  });

  it('refuses a shard count that is not a positive integer', () => {
    expect(() => shardOf('h', 0)).toThrow(/positive integer/);
    expect(() => shardOf('h', 1.5)).toThrow(/positive integer/);
  });
});

describe('desiredShards', () => {
  const sizing = { SHARD_CONTAINERS: 10_000, SHARDS_MAX: 16 };
  it('is ceil(containers / target), at least 1 and at most SHARDS_MAX', () => {
    expect(desiredShards(0, 1, sizing)).toBe(1);
    expect(desiredShards(10_000, 1, sizing)).toBe(1);
    expect(desiredShards(10_001, 1, sizing)).toBe(2); // ceil(10001 / 10000)
    expect(desiredShards(100_000, 1, sizing)).toBe(10);
    expect(desiredShards(1_000_000, 1, sizing)).toBe(16); // bounded
  });
  it('shrinks only once the fleet is 10 % under the smaller count’s capacity', () => {
    expect(desiredShards(19_000, 3, sizing)).toBe(3); // 2 shards hold 20,000; 19,000 > 0.9 × 20,000
    expect(desiredShards(18_000, 3, sizing)).toBe(2); // 18,000 ≤ 18,000
    expect(desiredShards(5_000, 3, { ...sizing, SHARDS_MAX: 2 })).toBe(1); // over the max: straight down
  });
});

describe('generations: which windows a generation decides', () => {
  const W = 5000;
  const switched: ShardRecord = {
    current: { gen: 1, shards: 3, from: 100 * W },
    previous: { gen: 0, shards: 1, from: 0 },
    version: 1,
  };
  it('an unsharded fleet: generation 0 acts on every window', () => {
    expect(windowOwner(UNSHARDED, 0, 12 * W)).toBe('act');
    expect(generationAt(UNSHARDED, 12 * W)?.shards).toBe(1);
  });
  it('the old generation acts before the switch and is retired from it; the new one the reverse', () => {
    expect(windowOwner(switched, 0, 99 * W)).toBe('act');
    expect(windowOwner(switched, 0, 100 * W)).toBe('retired');
    expect(windowOwner(switched, 1, 99 * W)).toBe('before');
    expect(windowOwner(switched, 1, 100 * W)).toBe('act');
    expect(windowOwner(switched, 2, 200 * W)).toBe('before'); // not recorded (yet)
  });
  it('every window is owned by exactly one generation of the record', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 400 }), (k) => {
        const acting = [0, 1, 2].filter((g) => windowOwner(switched, g, k * W) === 'act');
        expect(acting).toEqual([generationAt(switched, k * W)?.gen]);
      }),
    );
  });
  it('planSwitch: a new generation at the first boundary past the lead, one switch at a time', () => {
    const next = planSwitch(UNSHARDED, 3, 1003 * W + 1200, W, 2 * W + 2000);
    // 1003 × W + 1200 + 12,000 ms → the next boundary is 1006 × W
    expect(next).toEqual({
      current: { gen: 1, shards: 3, from: 1006 * W },
      previous: { gen: 0, shards: 1, from: 0 },
      version: 1,
    });
    expect(planSwitch(UNSHARDED, 1, 1003 * W, W, 0)).toBeNull(); // same count
    if (next === null) throw new Error('unreachable');
    expect(planSwitch(next, 4, 1004 * W, W, 0)).toBeNull(); // the switch to 3 is still to come
    expect(planSwitch(next, 4, 1006 * W, W, 0)?.current).toEqual({ gen: 2, shards: 4, from: 1006 * W });
  });
});

describe('staleShards', () => {
  const W = 10_000;
  const gen = { gen: 2, shards: 3, from: 1000 * W };
  it('names the shards whose last tick is more than three windows old, and only while the generation acts', () => {
    const leases = [
      { shard: 0, lastAt: 1010 * W },
      { shard: 1, lastAt: 1006 * W },
      { shard: 2, lastAt: null },
    ];
    // at 1010 W: shard 1 ticked 40 s ago (> 30 s); shard 2 never, since the generation's first window (100 s)
    expect(staleShards(gen, leases, 1010 * W, W)).toEqual([
      { gen: 2, shard: 1, lastAt: 1006 * W, ageS: 40 },
      { gen: 2, shard: 2, lastAt: null, ageS: 100 },
    ]);
    expect(staleShards(gen, leases, 1002 * W, W)).toEqual([]); // the generation has just started
    expect(staleShards(gen, leases, 1010 * W, W, 1009 * W)).toEqual([]); // replaced since
  });
});
