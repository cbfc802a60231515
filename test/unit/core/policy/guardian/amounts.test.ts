import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import type { RequestRule } from '../../../../../core/contracts/rule.ts';
import {
  type AmountInputs,
  type AmountShaping,
  atAllocation,
  computeAmount,
  NO_SHAPING,
  rawAmount,
  riseOf,
  trimAmount,
  upAmount,
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
    expect(trimAmount(-200, 'down', base)).toEqual({
      amount: -170,
      raw: -200,
      trimmed: 'to_min',
      shaped: 'none',
    });
  });
  it('keeps the new current at max', () => {
    expect(trimAmount(150, 'up', base)).toEqual({ amount: 100, raw: 150, trimmed: 'to_max', shaped: 'none' }); // 400 − 300 = 100
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

const upRule = { rescale_policy: 'amount', amount: 75, rescale_type: 'up' } as RequestRule;
const downRule = { rescale_policy: 'fit_to_usage', amount: 0, rescale_type: 'down' } as RequestRule;
const DEFAULTS: AmountShaping = { fit: true, growth: 1, minDown: 1 };

describe('atAllocation', () => {
  it('is usage within half a margin of current', () => {
    // current 300, margin 40: 300 − 20 = 280
    expect(atAllocation({ usage: 280, current: 300, margin: 40 })).toBe(true);
    expect(atAllocation({ usage: 279.9, current: 300, margin: 40 })).toBe(false);
    expect(atAllocation({ usage: 300, current: 300, margin: 40 })).toBe(true); // throttled at its quota
  });
});

describe('riseOf', () => {
  it('tells a level (previous above lower) from an onset (at or under lower), unknown without one', () => {
    expect(riseOf({ previous: 26, lower: 25 })).toBe('level');
    expect(riseOf({ previous: 25, lower: 25 })).toBe('onset');
    expect(riseOf({ previous: 0, lower: 25 })).toBe('onset');
    expect(riseOf({ previous: null, lower: 25 })).toBe('unknown');
    expect(riseOf({ lower: 25 })).toBe('unknown');
    expect(riseOf({ previous: Number.NaN, lower: 25 })).toBe('unknown');
    expect(riseOf({ previous: -1, lower: 25 })).toBe('unknown');
  });
});

describe('upAmount', () => {
  it('grows a step from an allocation the usage fills, never below the rule amount', () => {
    // 290 ≥ 280: at its allocation → max(75, ceil(300 × 1)) = 300
    expect(upAmount(upRule, { ...base, usage: 290 }, DEFAULTS)).toEqual({ raw: 300, shaped: 'grown' });
    // growth 0.5 at current 100: max(75, 50) = 75, the rule's amount
    const small = { ...base, usage: 100, current: 100, upper: 60, lower: 20 };
    expect(upAmount(upRule, small, { ...DEFAULTS, growth: 0.5 })).toEqual({ raw: 75, shaped: 'none' });
    // growth 0.33 at 300: ceil(300 × 0.33) = 99 > 75
    expect(upAmount(upRule, { ...base, usage: 300 }, { ...DEFAULTS, growth: 0.33 }).raw).toBe(99);
  });
  it('fits visible usage mid-band', () => {
    // 270 < 280: visible → 270 + 20 + 40 − 300 = 30 (new current 330: upper 290, lower 250 around 270)
    expect(upAmount(upRule, { ...base, usage: 270 }, DEFAULTS)).toEqual({ raw: 30, shaped: 'fit' });
    // without fit: the rule's 75
    expect(upAmount(upRule, { ...base, usage: 270 }, { ...DEFAULTS, fit: false }).raw).toBe(75);
    // usage not above upper (a rule counting older events): the rule's 75, never a fit ≤ 0
    expect(upAmount(upRule, { ...base, usage: 200 }, DEFAULTS)).toEqual({ raw: 75, shaped: 'none' });
  });
  it('steps an onset (previous window under lower) as at its allocation, not to the partial mean', () => {
    // the bench's idle container: cpu current 65 of max 200, margin 20 → upper 45, lower 25; a one-core
    // job starting mid-window shows a mean of 50 (visible: 45 < 50 < 65 − 10)
    const idle: AmountInputs = {
      usage: 50,
      current: 65,
      max: 200,
      min: 25,
      upper: 45,
      lower: 25,
      margin: 20,
    };
    // level or unknown: fit 50 + 10 + 20 − 65 = 15 → 80, still throttled by the job's 100
    expect(upAmount(upRule, idle, DEFAULTS)).toEqual({ raw: 15, shaped: 'fit' });
    expect(upAmount(upRule, { ...idle, previous: null }, DEFAULTS)).toEqual({ raw: 15, shaped: 'fit' });
    expect(upAmount(upRule, { ...idle, previous: 30 }, DEFAULTS)).toEqual({ raw: 15, shaped: 'fit' }); // 30 > lower 25
    // onset: previous 2 ≤ lower 25 → max(75, ceil(65 × 1)) = 75 → 140, one order
    expect(upAmount(upRule, { ...idle, previous: 2 }, DEFAULTS)).toEqual({ raw: 75, shaped: 'onset' });
    expect(upAmount(upRule, { ...idle, previous: 25 }, DEFAULTS)).toEqual({ raw: 75, shaped: 'onset' }); // at lower
    // growth 0: the rule's 75; growth 2: ceil(65 × 2) = 130
    expect(upAmount(upRule, { ...idle, previous: 2 }, { ...DEFAULTS, growth: 0 }).raw).toBe(75);
    expect(upAmount(upRule, { ...idle, previous: 2 }, { ...DEFAULTS, growth: 2 }).raw).toBe(130);
    // never less than the fit: a rule amount of 5 under growth 0 → the fit's 15
    expect(upAmount({ ...upRule, amount: 5 }, { ...idle, previous: 2 }, { ...DEFAULTS, growth: 0 })).toEqual({
      raw: 15,
      shaped: 'fit',
    });
    // SCALE_UP_FIT false: the original's 75 whatever the previous window
    expect(upAmount(upRule, { ...idle, previous: 2 }, { ...DEFAULTS, fit: false })).toEqual({
      raw: 75,
      shaped: 'none',
    });
  });
  it('leaves other policies alone', () => {
    const prop = { ...upRule, rescale_policy: 'proportional' as const };
    // (290 − 260)/(300 − 260) = 0.75 × 75 = 56.25 → 56, shaping or not
    expect(upAmount(prop, { ...base, usage: 290 }, DEFAULTS)).toEqual({ raw: 56, shaped: 'none' });
  });
});

describe('computeAmount with shaping', () => {
  it('drops a scale-down that frees less than minDown × margin', () => {
    // fit: 190 + 20 + 40 − 300 = −50; margin 40
    const x = { ...base, usage: 190 };
    expect(computeAmount(downRule, x, DEFAULTS).amount).toBe(-50); // 50 ≥ 1 × 40
    expect(computeAmount(downRule, x, { ...DEFAULTS, minDown: 1.5 })).toEqual({
      amount: 0,
      raw: -50,
      trimmed: 'too_small', // 50 < 1.5 × 40 = 60
      shaped: 'none',
    });
    expect(computeAmount(downRule, x, NO_SHAPING).amount).toBe(-50);
  });

  const inputs = fc
    .record({
      min: fc.integer({ min: 0, max: 500 }),
      span: fc.integer({ min: 1, max: 2000 }),
      at: fc.double({ min: 0, max: 1, noNaN: true }),
      margin: fc.integer({ min: 1, max: 300 }),
      usageAt: fc.double({ min: 0, max: 1.2, noNaN: true }),
    })
    .map(({ min, span, at, margin, usageAt }): AmountInputs => {
      const max = min + span;
      const current = Math.round(min + at * span);
      return {
        usage: usageAt * current,
        current,
        max,
        min,
        upper: current - margin,
        lower: current - 2 * margin,
        margin,
      };
    });
  const shapings = fc.record({
    fit: fc.boolean(),
    growth: fc.double({ min: 0, max: 4, noNaN: true }),
    minDown: fc.double({ min: 0, max: 4, noNaN: true }),
  });

  it('keeps current in [min, max] and the rule direction, whatever the shaping (property)', () => {
    fc.assert(
      fc.property(inputs, shapings, fc.boolean(), (x, shaping, up) => {
        const { amount } = computeAmount(up ? upRule : downRule, x, shaping);
        if (amount === 0) return;
        expect(Number.isInteger(amount)).toBe(true);
        expect(Math.sign(amount)).toBe(up ? 1 : -1);
        expect(x.current + amount).toBeLessThanOrEqual(x.max);
        if (up) return;
        expect(x.lower + amount).toBeGreaterThanOrEqual(x.min);
        expect(-amount).toBeGreaterThanOrEqual(shaping.minDown * x.margin); // worth an order
      }),
    );
  });

  it('never steps up less than the rule when usage fills the allocation (property)', () => {
    fc.assert(
      fc.property(inputs, shapings, (x, shaping) => {
        fc.pre(atAllocation(x) && x.current + 75 <= x.max); // untrimmed
        expect(computeAmount(upRule, x, shaping).amount).toBeGreaterThanOrEqual(75);
      }),
    );
  });

  const previousUsages = fc.option(fc.double({ min: 0, max: 3000, noNaN: true }), { nil: null });

  it('never steps up less for knowing the previous window (memory: never nearer an OOM) (property)', () => {
    fc.assert(
      fc.property(inputs, shapings, previousUsages, (x, shaping, previous) => {
        const unknown = computeAmount(upRule, x, shaping).amount;
        expect(computeAmount(upRule, { ...x, previous }, shaping).amount).toBeGreaterThanOrEqual(unknown);
      }),
    );
  });

  it('shapes a level as an unknown previous window, and nothing under SCALE_UP_FIT false (property)', () => {
    fc.assert(
      fc.property(inputs, shapings, previousUsages, (x, shaping, previous) => {
        const unknown = computeAmount(upRule, x, shaping);
        const known = computeAmount(upRule, { ...x, previous }, shaping);
        if (previous === null || previous > x.lower || !shaping.fit) expect(known).toEqual(unknown);
      }),
    );
  });

  it('steps an onset at least as at its allocation (property)', () => {
    fc.assert(
      fc.property(inputs, shapings, (x, shaping) => {
        fc.pre(x.usage > x.upper && x.lower >= 0 && x.current + 75 <= x.max); // up event, untrimmed
        const r = computeAmount(upRule, { ...x, previous: x.lower }, { ...shaping, fit: true });
        expect(r.amount).toBeGreaterThanOrEqual(
          Math.min(Math.max(75, Math.ceil(x.current * shaping.growth)), x.max - x.current),
        );
      }),
    );
  });

  it('leaves visible usage inside the new band after a fit: no down events next window (property)', () => {
    const visible = fc
      .record({
        above: fc.integer({ min: 0, max: 5000 }),
        margin: fc.integer({ min: 1, max: 1000 }),
        f: fc.double({ min: 0.001, max: 0.999, noNaN: true }),
      })
      .map(({ above, margin, f }) => ({ current: 2 * margin + above, margin, f })) // lower ≥ min 0
      .map(
        ({ current, margin, f }): AmountInputs => ({
          // strictly above upper = current − margin, strictly under current − margin/2
          usage: current - margin + (f * margin) / 2,
          current,
          max: current + 3 * margin, // room for the fit (≤ 1.5 × margin): untrimmed
          min: 0,
          upper: current - margin,
          lower: current - 2 * margin,
          margin,
        }),
      );
    fc.assert(
      fc.property(visible, (x) => {
        const r = computeAmount(upRule, x, DEFAULTS);
        expect(r.shaped).toBe('fit');
        expect(r.trimmed).toBe('none');
        // boundary as a percentage of max: the margin stays the same around the new current
        const upper = x.current + r.amount - x.margin;
        const lower = upper - x.margin;
        expect(r.amount).toBeGreaterThan(0);
        expect(usageInBand(x.usage, lower, upper)).toBe(true);
      }),
    );
  });
});

const usageInBand = (usage: number, lower: number, upper: number) => lower <= usage && usage <= upper;
