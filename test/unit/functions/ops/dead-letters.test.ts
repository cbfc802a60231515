import { describe, expect, it } from '@jest/globals';
import { deadLetterCountDue } from '../../../../functions/ops/dead-letters.ts';

describe('deadLetterCountDue', () => {
  const P = 300; // DEAD_LETTER_PERIOD, s
  const boundary = 5_983_334 * P * 1000; // a multiple of 300 s

  it('counts on the first sweep past each multiple of the period, once per period', () => {
    // sweeps every 60 s from 30 s before a boundary: exactly one of five in each 300 s counts
    const sweeps = Array.from({ length: 10 }, (_, i) => boundary - 30_000 + i * 60_000);
    const due = sweeps.filter((t) => deadLetterCountDue(t, P, 60));
    expect(due).toEqual([boundary + 30_000, boundary + 330_000]);
  });

  it('counts every sweep when the sweeps are at least a period apart', () => {
    expect(deadLetterCountDue(boundary + 123_000, 60, 60)).toBe(true);
    expect(deadLetterCountDue(boundary + 123_000, 300, 600)).toBe(true);
  });
});
