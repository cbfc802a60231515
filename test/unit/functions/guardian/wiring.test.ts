import { describe, expect, it } from '@jest/globals';
import { readEnvConfig } from '../../../../adapters/env.ts';
import { OpenTsdbMetricsSource } from '../../../../adapters/metrics/opentsdb.ts';
import { PrometheusMetricsSource } from '../../../../adapters/metrics/prometheus.ts';
import { OpenTsdbPutSink } from '../../../../adapters/opentsdb-put.ts';
import {
  buildControlTick,
  ControlTickEnv,
  metricsSourceFor,
  readControlTickEnv,
} from '../../../../functions/guardian/wiring.ts';

describe('control-tick environment', () => {
  it('refuses a missing metrics URL, naming it', () => {
    expect(() => readEnvConfig(ControlTickEnv, {}, 'guardian environment')).toThrow(/SC_METRICS_URL/);
  });
  it('picks the metrics adapter by backend, OpenTSDB by default', () => {
    const tsdb = readEnvConfig(ControlTickEnv, { SC_METRICS_URL: 'http://tsdb:4242' }, 'env');
    expect(tsdb.SC_METRICS_BATCH_SIZE).toBe(250);
    expect(metricsSourceFor(tsdb)).toBeInstanceOf(OpenTsdbMetricsSource);
    const prom = readEnvConfig(
      ControlTickEnv,
      { SC_METRICS_URL: 'http://vm:8428', SC_METRICS_BACKEND: 'prometheus' },
      'env',
    );
    expect(metricsSourceFor(prom)).toBeInstanceOf(PrometheusMetricsSource);
  });
  it('names the table SC_TABLE, as every deployable does', () => {
    const env = readEnvConfig(ControlTickEnv, { SC_METRICS_URL: 'http://x:1', SC_TABLE: 'my-table' }, 'env');
    expect(env.SC_TABLE).toBe('my-table');
    expect(env.SC_QUEUE_PREFIX).toBe('sc-');
    expect(() =>
      readEnvConfig(ControlTickEnv, { SC_METRICS_URL: 'http://x:1', SC_TABLE_NAME: 't' }, 'env', {
        ownPrefix: 'SC_',
      }),
    ).toThrow(/unknown setting SC_TABLE_NAME/);
  });
  it('clocks by invocation unless told otherwise, and needs the clock queue for the queue clock', () => {
    expect(readEnvConfig(ControlTickEnv, { SC_METRICS_URL: 'http://x:1' }, 'env').SC_CONTROL_CLOCK).toBe(
      'invocation',
    );
    expect(() =>
      readEnvConfig(ControlTickEnv, { SC_METRICS_URL: 'http://x:1', SC_CONTROL_CLOCK: 'queue' }, 'env'),
    ).toThrow(/SC_CLOCK_QUEUE_URL/);
    const q = readEnvConfig(
      ControlTickEnv,
      { SC_METRICS_URL: 'http://x:1', SC_CONTROL_CLOCK: 'queue', SC_CLOCK_QUEUE_URL: 'http://q/1/clock' },
      'env',
    );
    expect(q).toMatchObject({ SC_CLOCK_CHECKPOINT_S: 300, SC_CLOCK_FULL_READ_S: 300 });
  });

  it('publishes tick snapshots to SC_OPENTSDB_URL when it is set, and nowhere otherwise', () => {
    const env = { SC_METRICS_URL: 'http://x:1', AWS_REGION: 'us-east-1' };
    expect(buildControlTick(readControlTickEnv(env)).snapshots).toBeNull();
    const w = buildControlTick(readControlTickEnv({ ...env, SC_OPENTSDB_URL: 'http://tsdb:4242/' }));
    expect(w.snapshots).toBeInstanceOf(OpenTsdbPutSink);
    expect((w.snapshots as OpenTsdbPutSink).url).toBe('http://tsdb:4242/api/put?details');
    expect(() => readControlTickEnv({ ...env, SC_OPENTSDB_URL: 'not a url' })).toThrow(/SC_OPENTSDB_URL/);
  });

  it('holds activity lines 60 s by default, SC_ACTIVITY_HOLD_S otherwise (0–900)', () => {
    const env = { SC_METRICS_URL: 'http://x:1', AWS_REGION: 'us-east-1' };
    expect(buildControlTick(readControlTickEnv(env)).activity.holdMs).toBe(60_000);
    expect(buildControlTick(readControlTickEnv({ ...env, SC_ACTIVITY_HOLD_S: '0' })).activity.holdMs).toBe(0);
    expect(() => readControlTickEnv({ ...env, SC_ACTIVITY_HOLD_S: '901' })).toThrow(/SC_ACTIVITY_HOLD_S/);
  });

  it('is parsed once, frozen, and the builder takes it as parsed', () => {
    const env = readControlTickEnv({
      SC_METRICS_URL: 'http://x:1',
      AWS_REGION: 'us-east-1',
      SC_TICK_RESERVE_MS: '2500',
    });
    expect(Object.isFrozen(env)).toBe(true);
    expect(env.SC_TICK_RESERVE_MS).toBe(2500);
    expect(buildControlTick(env).env).toBe(env);
    expect(() => readControlTickEnv({ AWS_REGION: 'us-east-1' })).toThrow(
      /control-tick environment.*SC_METRICS_URL/,
    );
  });

  it('refuses unknown SC_ settings', () => {
    expect(() =>
      readEnvConfig(
        ControlTickEnv,
        { SC_METRICS_URL: 'http://x:1', SC_METRICS_BACKEN: 'prometheus' },
        'env',
        {
          ownPrefix: 'SC_',
        },
      ),
    ).toThrow(/unknown setting SC_METRICS_BACKEN/);
  });
});
