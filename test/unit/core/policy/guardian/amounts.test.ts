import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import {
  type AmountInputs,
  computeAmount,
  rawAmount,
  trimAmount,
} from '../../../../../core/policy/guardian/amounts.ts';

// cpu: max 400, min 50, current 300, margin 40 → upper 260, lower 220
const base: AmountInputs = {
  usage: 280,
  current: 300,
  max: 400,
  min: 50,
  upper: 260,
  lower: 220,
  margin: 40,
};

describe('rawAmount', () => {
  it('amount: the rule amount', () => {
    expect(rawAmount({ rescale_policy: 'amount', amount: 75 }, base)).toBe(75);
  });
  it('fit_to_usage: usage + max(floor(margin/2),1) + margin − current', () => {
    expect(rawAmount({ rescale_policy: 'fit_to_usage', amount: 0 }, { ...base, usage: 100 })).toBe(-140); // 100 + 20 + 40 − 300 = −140
    expect(rawAmount({ rescale_policy: 'fit_to_usage', amount: 0 }, { ...base, usage: 100, margin: 1 })).toBe(
      -198,
    ); // 100 + max(0,1) + 1 − 300
  });
  it('proportional: min((usage − upper)/(current − upper), 1) × amount, truncated', () => {
    expect(rawAmount({ rescale_policy: 'proportional', amount: 75 }, { ...base, usage: 290 })).toBe(56); // (290−260)/(300−260) = 0.75 × 75 = 56.25 → 56
    expect(rawAmount({ rescale_policy: 'proportional', amount: 75 }, { ...base, usage: 350 })).toBe(75); // ratio min(90/40, 1) = 1
  });
});

describe('trimAmount', () => {
  it('keeps the new lower at min', () => {
    // lower 220 − 200 = 20 < min 50 → amount −200 + (50 − 20) = −170
    expect(trimAmount(-200, 'down', base)).toEqual({ amount: -170, raw: -200, trimmed: 'to_min' });
  });
  it('keeps the new current at max', () => {
    expect(trimAmount(150, 'up', base)).toEqual({ amount: 100, raw: 150, trimmed: 'to_max' }); // 400 − 300 = 100
  });
  it('refuses an amount trimmed into the other direction', () => {
    // lower 40 already below min 50: a −10 down becomes +20 → nothing
    expect(trimAmount(-10, 'down', { ...base, current: 120, upper: 80, lower: 40 }).amount).toBe(0);
  });
  it('gives 0 at max', () => {
    expect(
      computeAmount({ rescale_policy: 'amount', amount: 75, rescale_type: 'up' } as never, {
        ...base,
        current: 400,
      }).amount,
    ).toBe(0);
  });
  it('never takes current outside [min, max] (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 0, max: 1000 }),
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: -2000, max: 2000 }),
        fc.constantFrom('up' as const, 'down' as const),
        (a, b, m, raw, dir) => {
          const min = Math.min(a, b);
          const max = Math.max(a, b);
          fc.pre(max >= min);
          const current = max; // any current in [min, max] also works; use the edges below
          for (const cur of [min, Math.floor((min + max) / 2), current]) {
            const x = { usage: 0, current: cur, max, min, upper: cur - m, lower: cur - 2 * m, margin: m };
            const { amount } = trimAmount(raw, dir, x);
            if (amount === 0) continue;
            expect(cur + amount).toBeLessThanOrEqual(max);
            expect(cur + amount).toBeGreaterThanOrEqual(min);
            expect(Math.sign(amount)).toBe(dir === 'up' ? 1 : -1);
          }
        },
      ),
    );
  });
});
