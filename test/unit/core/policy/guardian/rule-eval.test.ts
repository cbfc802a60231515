import { describe, expect, it } from '@jest/globals';
import fc from 'fast-check';
import jsonLogic from 'json-logic-js';
import { DEFAULT_RULES } from '../../../../../core/policy/default-rules.ts';
import { compileLogic, eventRuleData, truthy } from '../../../../../core/policy/guardian/rule-eval.ts';

describe('compileLogic', () => {
  it('evaluates the default cpu rule over the original data shape', () => {
    const rule = DEFAULT_RULES.find((r) => r.name === 'cpu_exceeded_upper');
    const data = eventRuleData(
      new Map([
        ['cpu', { max: 400, min: 50, current: 300, usage: 280, upper: 260, lower: 220, boundary: 10 }],
      ]),
    );
    expect(truthy(compileLogic(rule?.rule)(data))).toBe(true); // 280 > 260, 260 < 400, 300 < 400
    expect(jsonLogic.apply(rule?.rule as never, data)).toBe(true);
  });

  it('agrees with json-logic-js on random rules and data (property)', () => {
    const vars = ['events.scale.up', 'events.scale.down', 'missing.var'];
    const leaf = fc.oneof(
      fc.integer({ min: -3, max: 12 }),
      fc.constantFrom(...vars).map((v) => ({ var: v })),
      fc.constant(null),
      fc.constant(true),
    );
    const expr = fc.letrec((tie) => ({
      e: fc.oneof(
        { depthSize: 'small', withCrossShrink: true },
        leaf,
        fc
          .tuple(
            fc.constantFrom(
              '>',
              '>=',
              '<',
              '<=',
              '==',
              '!=',
              '===',
              '!==',
              '+',
              '-',
              '*',
              '/',
              '%',
              'min',
              'max',
            ),
            tie('e'),
            tie('e'),
          )
          .map(([op, a, b]) => ({ [op]: [a, b] })),
        fc
          .tuple(fc.constantFrom('and', 'or'), fc.array(tie('e'), { minLength: 1, maxLength: 3 }))
          .map(([op, xs]) => ({ [op]: xs })),
        fc.tuple(fc.constantFrom('!', '!!'), tie('e')).map(([op, a]) => ({ [op]: [a] })),
        fc.tuple(tie('e'), tie('e'), tie('e')).map((xs) => ({ if: xs })),
        fc.tuple(tie('e'), tie('e'), tie('e')).map(([a, b, c]) => ({ '<': [a, b, c] })),
      ),
    })).e;
    fc.assert(
      fc.property(expr, fc.nat(12), fc.nat(12), (e, up, down) => {
        const data = { events: { scale: { up, down } } };
        expect(compileLogic(e)(data)).toEqual(jsonLogic.apply(e as never, data));
      }),
      { numRuns: 500 },
    );
  });
});
