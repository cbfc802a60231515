import { describe, expect, it } from '@jest/globals';
import { RequestRule } from '../../../core/contracts/rule.ts';
import { parseOrThrow, ValidationError } from '../../../core/errors.ts';

describe('parseOrThrow', () => {
  it('names the first failing field of a malformed rule', () => {
    const bad = {
      name: 'CpuRescaleUp',
      resource: 'cpu',
      active: true,
      generates: 'requests',
      rule: {},
      events_to_remove: 2,
      rescale_type: 'up',
      rescale_policy: 'amount',
      amount: 'seventy-five',
    };
    const err = (() => {
      try {
        parseOrThrow(RequestRule, bad, 'rule');
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('amount');
    expect((err as ValidationError).message).toMatch(/^invalid rule\.amount: /);
  });
});
