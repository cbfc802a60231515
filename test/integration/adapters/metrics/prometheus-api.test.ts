import { describe, expect, it } from '@jest/globals';
import {
  exactAlternation,
  MetricsQueryError,
  PrometheusApi,
  promString,
} from '../../../../adapters/metrics/prometheus-api.ts';
import { victoriaPromUrl } from '../../../support/env.ts';

describe('Prometheus query API adapter', () => {
  it('escapes names for PromQL strings and exact regex alternations', () => {
    expect(promString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(exactAlternation(['node.0', 'node-1'])).toBe('node\\.0|node\\-1');
  });

  it('turns a bad query into a MetricsQueryError', async () => {
    await expect(new PrometheusApi(victoriaPromUrl()).query('sum(', Date.now())).rejects.toBeInstanceOf(
      MetricsQueryError,
    );
  });
});
