import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { donationOf, planPairSwaps, roleOf } from '../../../../../core/policy/rebalancer/pair-swapping.ts';
import { applyMoves, type Peer } from '../../../../../core/policy/rebalancer/peers.ts';
import { aPeer } from './builders.ts';

const params = { diff: 0.4, stolen: 0.4, slice: 5 };

describe('pair swapping roles', () => {
  it('makes a donor of a peer using less than (1 − DIFF) of its allocation', () => {
    // 119 < 0.6 × 200 = 120
    expect(roleOf(aPeer('a', { usage: 119 }), 0.4)).toBe('donor');
    expect(roleOf(aPeer('a', { usage: 120 }), 0.4)).toBe('neither');
  });

  it('makes a receiver of a peer using at least (1 − DIFF/2) of its allocation, below its max', () => {
    // 0.8 × 200 = 160
    expect(roleOf(aPeer('a', { usage: 160 }), 0.4)).toBe('receiver');
    expect(roleOf(aPeer('a', { usage: 159 }), 0.4)).toBe('neither');
    expect(roleOf(aPeer('a', { usage: 400, current: 400 }), 0.4)).toBe('neither');
  });

  it('leaves a peer without usage data out', () => {
    expect(roleOf(aPeer('a', { usage: null }), 0.4)).toBe('neither');
  });

  it('does not make a donor of a peer already at its min', () => {
    expect(roleOf(aPeer('a', { current: 50, usage: 0 }), 0.4)).toBe('neither');
  });
});

describe('pair swapping donations', () => {
  it('gives STOLEN of the surplus above max(min, usage)', () => {
    // 0.4 × (200 − max(50, 20)) = 0.4 × 150 = 60
    expect(donationOf(aPeer('a', { usage: 20 }), 0.4)).toBe(60);
    // 0.4 × (200 − max(50, 80.2 → 81)) = 0.4 × 119 = 47.6 → 47
    expect(donationOf(aPeer('a', { usage: 80.2 }), 0.4)).toBe(47);
  });

  it('moves the donation in one consolidated request to a single receiver', () => {
    const moves = planPairSwaps(
      [aPeer('idle', { usage: 20 }), aPeer('busy', { current: 100, usage: 100 })],
      params,
    );
    expect(moves).toEqual([expect.objectContaining({ from: 'idle', to: 'busy', amount: 60, group: 'g' })]);
  });

  it('serves receivers round-robin in slices, most pressed first', () => {
    // idle gives 0.4 × (200 − 50) = 60 = 12 slices of 5, alternating b1 (100 %) and b2 (90 %).
    const moves = planPairSwaps(
      [
        aPeer('idle', { usage: 0 }),
        aPeer('b1', { current: 100, usage: 100 }),
        aPeer('b2', { current: 100, usage: 90 }),
      ],
      params,
    );
    expect(moves.map((m) => [m.to, m.amount]).sort()).toEqual([
      ['b1', 30],
      ['b2', 30],
    ]);
  });

  it('never gives a receiver more than its max', () => {
    // busy has 10 of room (390 → 400), idle offers 60.
    const moves = planPairSwaps(
      [aPeer('idle', { usage: 0 }), aPeer('busy', { current: 390, usage: 390 })],
      params,
    );
    expect(moves).toEqual([expect.objectContaining({ to: 'busy', amount: 10 })]);
  });

  it('moves nothing without a donor or without a receiver', () => {
    expect(planPairSwaps([aPeer('a', { usage: 170 }), aPeer('b', { usage: 190 })], params)).toEqual([]);
    expect(planPairSwaps([aPeer('a', { usage: 10 }), aPeer('b', { usage: 20 })], params)).toEqual([]);
  });

  it('refuses peers of different groups in one call', () => {
    expect(() => planPairSwaps([aPeer('a'), aPeer('b', { group: 'h' })], params)).toThrow(/several groups/);
  });
});

const peerArb = (i: number): fc.Arbitrary<Peer> =>
  fc
    .record({
      max: fc.integer({ min: 1, max: 2000 }),
      minF: fc.double({ min: 0, max: 1, noNaN: true }),
      curF: fc.double({ min: 0, max: 1, noNaN: true }),
      useF: fc.option(fc.double({ min: 0, max: 1.2, noNaN: true }), { nil: null }),
    })
    .map(({ max, minF, curF, useF }) => {
      const min = Math.floor(minF * max);
      const current = min + Math.floor(curF * (max - min));
      return {
        name: `p${i}`,
        group: 'g',
        min,
        max,
        current,
        usage: useF === null ? null : useF * current,
        weight: 1,
      };
    });
const groupArb = fc
  .integer({ min: 1, max: 8 })
  .chain((n) => fc.tuple(...Array.from({ length: n }, (_, i) => peerArb(i))));
const paramsArb = fc.record({
  diff: fc.double({ min: 0, max: 1, noNaN: true }),
  stolen: fc.double({ min: 0, max: 1, noNaN: true }),
  slice: fc.integer({ min: 1, max: 50 }),
});

describe('pair swapping invariants', () => {
  it('conserves the total exactly and keeps every peer within [min, max] and above its usage when it gives', () => {
    fc.assert(
      fc.property(groupArb, paramsArb, (peers, p) => {
        const moves = planPairSwaps(peers, p);
        const after = applyMoves(peers, moves);
        const sum = (ps: readonly Peer[]) => ps.reduce((s, x) => s + x.current, 0);
        expect(sum(after)).toBe(sum(peers));
        for (const a of after) {
          const before = peers.find((x) => x.name === a.name) as Peer;
          expect(a.current).toBeLessThanOrEqual(Math.max(a.max, before.current));
          expect(a.current).toBeGreaterThanOrEqual(Math.min(a.min, before.current));
          if (a.current < before.current && before.usage !== null)
            expect(a.current).toBeGreaterThanOrEqual(Math.ceil(before.usage));
          expect(Number.isInteger(a.current)).toBe(true);
        }
        for (const m of moves) expect(m.amount).toBeGreaterThan(0);
      }),
      { numRuns: 500 },
    );
  });
});
