import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { applyMoves, type Peer } from '../../../../../core/policy/rebalancer/peers.ts';
import {
  isPressed,
  participates,
  planWeights,
  weightedTargets,
} from '../../../../../core/policy/rebalancer/weights.ts';
import { aPeer } from './builders.ts';

describe('weighted targets', () => {
  it('splits the total in proportion to weight', () => {
    // 600 × 1/6 = 100, 600 × 2/6 = 200, 600 × 3/6 = 300
    const out = weightedTargets(
      [
        { weight: 1, lo: 0, hi: 1000 },
        { weight: 2, lo: 0, hi: 1000 },
        { weight: 3, lo: 0, hi: 1000 },
      ],
      600,
    );
    expect(out).toEqual([100, 200, 300]);
  });

  it('caps at max and gives the rest to the others in proportion', () => {
    // uncapped: 600 × 3/4 = 450 > 350 → capped at 350; the other gets 600 − 350 = 250
    expect(
      weightedTargets(
        [
          { weight: 3, lo: 0, hi: 350 },
          { weight: 1, lo: 0, hi: 1000 },
        ],
        600,
      ),
    ).toEqual([350, 250]);
  });

  it('respects the floor and rounds so that the total is exact', () => {
    // 100 × 1/3 = 33.3 but floor 50 → 50; the other two share 50 equally: 25 + 25
    expect(
      weightedTargets(
        [
          { weight: 1, lo: 50, hi: 100 },
          { weight: 1, lo: 0, hi: 100 },
          { weight: 1, lo: 0, hi: 100 },
        ],
        100,
      ),
    ).toEqual([50, 25, 25]);
    // 100 / 3 = 33.33 each → 34 + 33 + 33 = 100
    const even = weightedTargets(
      [
        { weight: 1, lo: 0, hi: 100 },
        { weight: 1, lo: 0, hi: 100 },
        { weight: 1, lo: 0, hi: 100 },
      ],
      100,
    );
    expect(even.reduce((s, v) => s + v, 0)).toBe(100);
    expect([...even].sort()).toEqual([33, 33, 34]);
  });

  it('refuses a total the bounds cannot hold', () => {
    expect(() => weightedTargets([{ weight: 1, lo: 0, hi: 10 }], 11)).toThrow(/outside/);
  });
});

describe('weights method', () => {
  it('takes part only with usage data, and only rebalances a group with a pressed peer', () => {
    expect(participates(aPeer('a', { usage: null }))).toBe(false);
    expect(participates(aPeer('a', { usage: 0 }))).toBe(true);
    // pressed: usage ≥ (1 − 0.4) × 200 = 120 — the original's inverted test (current/usage < 0.6) would say no
    expect(isPressed(aPeer('a', { usage: 120 }), 0.4)).toBe(true);
    expect(isPressed(aPeer('a', { usage: 119 }), 0.4)).toBe(false);
    expect(
      planWeights([aPeer('a', { usage: 10 }), aPeer('b', { usage: 20, weight: 3 })], { diff: 0.4 }),
    ).toEqual([]);
  });

  it('redistributes the group total by weight, with worked numbers', () => {
    // total 200 + 200 = 400; weights 1 : 3 → 100 and 300 (a's floor max(50, 80) = 80 is below 100): move 100
    expect(
      planWeights([aPeer('a', { usage: 80 }), aPeer('b', { usage: 190, weight: 3 })], { diff: 0.4 }),
    ).toEqual([expect.objectContaining({ from: 'a', to: 'b', amount: 100 })]);
    // same, but a uses 150: its floor 150 is above its share 100, so a keeps 150 and b gets 400 − 150 = 250
    expect(
      planWeights([aPeer('a', { usage: 150 }), aPeer('b', { usage: 190, weight: 3 })], { diff: 0.4 }),
    ).toEqual([expect.objectContaining({ from: 'a', to: 'b', amount: 50 })]);
  });

  it('caps a heavy peer at its max', () => {
    // total 600; weights 1 : 9 → 60 / 540, but b max 450 → b 450, a 150.
    const moves = planWeights(
      [
        aPeer('a', { current: 300, usage: 10, max: 500 }),
        aPeer('b', { current: 300, usage: 290, weight: 9, max: 450 }),
      ],
      { diff: 0.4 },
    );
    expect(moves).toEqual([expect.objectContaining({ from: 'a', to: 'b', amount: 150 })]);
  });

  it('conserves the total exactly and keeps every peer within its bounds', () => {
    const peerArb = (i: number): fc.Arbitrary<Peer> =>
      fc
        .record({
          max: fc.integer({ min: 1, max: 5000 }),
          minF: fc.double({ min: 0, max: 1, noNaN: true }),
          curF: fc.double({ min: 0, max: 1, noNaN: true }),
          useF: fc.option(fc.double({ min: 0, max: 1, noNaN: true }), { nil: null }),
          weight: fc.double({ min: 0.01, max: 100, noNaN: true }),
        })
        .map(({ max, minF, curF, useF, weight }) => {
          const min = Math.floor(minF * max);
          const current = min + Math.floor(curF * (max - min));
          return {
            name: `p${i}`,
            group: 'g',
            min,
            max,
            current,
            usage: useF === null ? null : useF * current,
            weight,
          };
        });
    fc.assert(
      fc.property(
        fc
          .integer({ min: 1, max: 8 })
          .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => peerArb(i)))),
        fc.double({ min: 0, max: 1, noNaN: true }),
        (peers, diff) => {
          const after = applyMoves(peers, planWeights(peers, { diff }));
          const sum = (ps: readonly Peer[]) => ps.reduce((s, x) => s + x.current, 0);
          expect(sum(after)).toBe(sum(peers));
          for (const a of after) {
            const before = peers.find((x) => x.name === a.name) as Peer;
            expect(a.current).toBeLessThanOrEqual(a.max);
            expect(a.current).toBeGreaterThanOrEqual(Math.min(a.min, before.current));
            if (a.current < before.current)
              expect(a.current).toBeGreaterThanOrEqual(Math.ceil(before.usage ?? 0));
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
