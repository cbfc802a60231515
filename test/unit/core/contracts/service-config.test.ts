import { describe, expect, it } from '@jest/globals';
import { defaultConfig, RebalancerConfig } from '../../../../core/contracts/service-config.ts';
import { parseOrThrow, ValidationError } from '../../../../core/errors.ts';

describe('RebalancerConfig: the original framework’s BALANCING_POLICY and COMPENSATE', () => {
  it('defaults to the one policy implemented, without compensation', () => {
    expect(defaultConfig('rebalancer')).toMatchObject({ BALANCING_POLICY: 'thresholds', COMPENSATE: false });
  });

  it('accepts the original’s keys at the values this ReBalancer implements (its configs carry over)', () => {
    const c = parseOrThrow(RebalancerConfig, { BALANCING_POLICY: 'thresholds', COMPENSATE: false }, 'config');
    expect(c).toMatchObject({ BALANCING_POLICY: 'thresholds', COMPENSATE: false });
  });

  it.each([
    ['BALANCING_POLICY', 'rules', /only 'thresholds'.*never shipped/],
    ['COMPENSATE', true, /only false: .*credit ledger kept across periods/],
  ])('refuses %s = %p, naming the field and why', (field, value, why) => {
    const err = (() => {
      try {
        parseOrThrow(RebalancerConfig, { [field]: value }, 'config rebalancer');
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(ValidationError);
    expect((err as ValidationError).field).toBe(field);
    expect((err as Error).message).toMatch(why);
  });
});
