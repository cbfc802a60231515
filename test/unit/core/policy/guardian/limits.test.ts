import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { enforceLimits, margin } from '../../../../../core/policy/guardian/limits.ts';

describe('margin', () => {
  it('is boundary % of max for percentage_of_max', () => {
    expect(margin({ max: 400, min: 50, current: 300 }, 10, 'percentage_of_max')).toBe(40); // floor(400 × 10 / 100) = 40
  });
  it('is boundary % of current for percentage_of_current', () => {
    expect(margin({ max: 400, min: 50, current: 275 }, 10, 'percentage_of_current')).toBe(27); // floor(275 × 10 / 100) = floor(27.5) = 27
  });
  it('is at least 1', () => {
    expect(margin({ max: 5, min: 0, current: 5 }, 10, 'percentage_of_max')).toBe(1); // floor(0.5) = 0 → 1
  });
});

describe('enforceLimits', () => {
  it('derives upper and lower from current', () => {
    const r = enforceLimits(
      { max: 400, min: 50, current: 300 },
      { boundary: 10, boundary_type: 'percentage_of_max', upper: null, lower: null },
    );
    expect(r.limits).toMatchObject({ upper: 260, lower: 220 }); // 300 − 40 = 260; 260 − 40 = 220
    expect(r.changed).toBe(true);
  });
  it('reports no change when the stored limits already hold', () => {
    const r = enforceLimits(
      { max: 400, min: 50, current: 300 },
      { boundary: 10, boundary_type: 'percentage_of_max', upper: 260, lower: 220 },
    );
    expect(r.changed).toBe(false);
  });
  it('clamps current to max before deriving', () => {
    const r = enforceLimits({ max: 200, min: 50, current: 250 }, undefined);
    expect(r.current).toBe(200);
    expect(r.limits).toMatchObject({ boundary: 10, upper: 180, lower: 160 }); // default 10 % of 200 = 20: 200 − 20, 180 − 20
  });
  it('always satisfies the chain (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 100 }),
        fc.constantFrom('percentage_of_max' as const, 'percentage_of_current' as const),
        (max, cur, boundary, type) => {
          const r = enforceLimits(
            { max, min: 0, current: cur },
            { boundary, boundary_type: type, upper: 7, lower: 9 },
          );
          expect(r.current).toBeLessThanOrEqual(max);
          expect(r.limits.upper).toBe(r.current - r.margin);
          expect(r.limits.lower).toBe(r.limits.upper - r.margin);
          expect(r.margin).toBeGreaterThanOrEqual(1);
        },
      ),
    );
  });
});
