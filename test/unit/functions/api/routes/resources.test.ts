import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import { ValidationError } from '../../../../../core/errors.ts';
import { patchSpec } from '../../../../../functions/api/routes/resources.ts';

const spec = { max: 400, min: 50, current: 200, guard: true, weight: 1 };

describe('patchSpec', () => {
  it('applies max, min, weight and guard and keeps current', () => {
    expect(patchSpec(spec, { max: 300, min: 100, weight: 2, guard: false }, true)).toEqual({
      max: 300,
      min: 100,
      current: 200,
      guard: false,
      weight: 2,
    });
  });

  it('names max when it would fall below current, and min when it would rise above it', () => {
    expect(() => patchSpec(spec, { max: 199 }, true)).toThrow(/max: must be ≥ current \(200\)/);
    expect(() => patchSpec(spec, { min: 201 }, true)).toThrow(/min: must be ≤ current \(200\)/);
  });

  it('names the field that was given when min and max cross', () => {
    expect(() => patchSpec(spec, { min: 500 }, false)).toThrow(/min: must be ≤ max \(400\)/);
    expect(() => patchSpec(spec, { max: 10 }, false)).toThrow(/max: must be ≥ min \(50\)/);
  });

  it('always returns min ≤ current ≤ max, or refuses naming max or min', () => {
    fc.assert(
      fc.property(fc.record({ max: fc.nat(1000), min: fc.nat(1000) }, { requiredKeys: [] }), (patch) => {
        try {
          const next = patchSpec(spec, patch, true);
          expect(next.min).toBeLessThanOrEqual(next.current);
          expect(next.current).toBeLessThanOrEqual(next.max);
        } catch (err) {
          expect(err).toBeInstanceOf(ValidationError);
          expect(['max', 'min']).toContain((err as ValidationError).field);
        }
      }),
    );
  });
});
