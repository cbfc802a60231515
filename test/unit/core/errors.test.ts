import { describe, expect, it } from '@jest/globals';
import { RequestRule } from '../../../core/contracts/rule.ts';
import { GuardianConfig } from '../../../core/contracts/service-config.ts';
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

  it('names an unknown key of a strict object as the failing field', () => {
    const err = (() => {
      try {
        parseOrThrow(GuardianConfig, { WINDOW_TIMELAPS: 5 }, 'config guardian');
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe('WINDOW_TIMELAPS');
    expect((err as ValidationError).message).toBe('invalid config guardian.WINDOW_TIMELAPS: unknown setting');
  });
});
