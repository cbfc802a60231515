import { describe, expect, it } from '@jest/globals';
import {
  defaultConfig,
  GuardianConfig,
  RebalancerConfig,
  ScalerConfig,
} from '../../../../core/contracts/service-config.ts';
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

describe('GuardianConfig: the amount shaping', () => {
  it('defaults to fit, doubling at the allocation, and scale-downs of at least one margin', () => {
    expect(defaultConfig('guardian')).toMatchObject({
      SCALE_UP_FIT: true,
      SCALE_UP_GROWTH: 1,
      SCALE_DOWN_MIN: 1,
    });
  });

  it('accepts the original framework amounts (off, 0, 0)', () => {
    const c = parseOrThrow(
      GuardianConfig,
      { SCALE_UP_FIT: false, SCALE_UP_GROWTH: 0, SCALE_DOWN_MIN: 0 },
      'config guardian',
    );
    expect(c).toMatchObject({ SCALE_UP_FIT: false, SCALE_UP_GROWTH: 0, SCALE_DOWN_MIN: 0 });
  });

  it.each([
    ['SCALE_UP_FIT', 'yes'],
    ['SCALE_UP_GROWTH', -0.5],
    ['SCALE_UP_GROWTH', 5],
    ['SCALE_DOWN_MIN', Number.NaN],
    ['SCALE_DOWN_MIN', 4.5],
  ])('refuses %s = %p, naming the field', (field, value) => {
    expect(() => parseOrThrow(GuardianConfig, { [field]: value }, 'config guardian')).toThrow(
      expect.objectContaining({ field }) as unknown as Error,
    );
  });
});

describe('list settings', () => {
  it.each([
    ['guardian', 'GUARDABLE_RESOURCES', GuardianConfig, ['cpu', 'mem', 'cpu']],
    ['rebalancer', 'RESOURCES_BALANCED', RebalancerConfig, ['cpu', 'cpu']],
    ['rebalancer', 'STRUCTURES_BALANCED', RebalancerConfig, ['container', 'container']],
  ] as const)('%s refuses %s naming a value twice', (service, field, schema, value) => {
    expect(() => parseOrThrow(schema, { [field]: value }, `config ${service}`)).toThrow(
      `invalid config ${service}.${field}: must not name a value twice`,
    );
    expect(parseOrThrow(schema, { [field]: [...new Set(value)] }, `config ${service}`)).toMatchObject({
      [field]: [...new Set(value)],
    });
  });

  it.each(['RESOURCES_BALANCED', 'STRUCTURES_BALANCED'] as const)(
    'rebalancer refuses an empty %s (it would balance nothing, silently)',
    (field) => {
      expect(() => parseOrThrow(RebalancerConfig, { [field]: [] }, 'config rebalancer')).toThrow(
        `invalid config rebalancer.${field}: names nothing to balance (set ACTIVE false to stop the ReBalancer)`,
      );
    },
  );
});

describe('ScalerConfig.APP_SLICE', () => {
  it('keeps the default slice of every resource a stored map does not name', () => {
    expect(parseOrThrow(ScalerConfig, { APP_SLICE: { cpu: 10 } }, 'config scaler').APP_SLICE).toEqual({
      cpu: 10,
      mem: 32,
      disk_read: 5,
      disk_write: 5,
      net: 5,
    });
    expect(defaultConfig('scaler').APP_SLICE).toEqual({
      cpu: 5,
      mem: 32,
      disk_read: 5,
      disk_write: 5,
      net: 5,
    });
  });
});
