import { describe, expect, it } from '@jest/globals';
import { OpenTsdbMetricsSource } from '../../../../adapters/metrics/opentsdb.ts';
import { PrometheusMetricsSource } from '../../../../adapters/metrics/prometheus.ts';
import { metricsSourceFromEnv, readOpsEnv, requireSetting } from '../../../../functions/ops/env.ts';

describe('operations environment', () => {
  it('defaults the table and the metrics backend, treating empty values as missing', () => {
    const env = readOpsEnv({ SC_TABLE: '', OTHER: 'x' });
    expect(env).toEqual({
      SC_TABLE: 'sc-state',
      SC_QUEUE_PREFIX: 'sc-',
      SC_ACTIVITY_RETENTION_DAYS: 7,
      SC_METRICS_BACKEND: 'opentsdb',
    });
    expect(Object.isFrozen(env)).toBe(true);
  });

  it('names a setting a function needs but was not given', () => {
    expect(() => requireSetting(readOpsEnv({}), 'SC_OPENTSDB_URL')).toThrow(/SC_OPENTSDB_URL must be set/);
    expect(() => metricsSourceFromEnv(readOpsEnv({}))).toThrow(/SC_METRICS_URL/);
    expect(() => readOpsEnv({ SC_METRICS_URL: 'not a url' })).toThrow(/SC_METRICS_URL/);
  });

  it('builds the usage source the environment names', () => {
    const url = 'http://127.0.0.1:4242';
    expect(metricsSourceFromEnv(readOpsEnv({ SC_METRICS_URL: url }))).toBeInstanceOf(OpenTsdbMetricsSource);
    expect(
      metricsSourceFromEnv(readOpsEnv({ SC_METRICS_URL: url, SC_METRICS_BACKEND: 'prometheus' })),
    ).toBeInstanceOf(PrometheusMetricsSource);
  });
});
