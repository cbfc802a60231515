import { describe, expect, it } from '@jest/globals';
import { OpenTsdbPutSink } from '../../../../adapters/metrics/opentsdb-put.ts';
import {
  exactAlternation,
  MetricsQueryError,
  PrometheusApi,
  PrometheusUsageSource,
  promString,
} from '../../../../adapters/metrics/prometheus-api.ts';
import { uniqueName, victoriaOpentsdbUrl, victoriaPromUrl } from '../../../support/env.ts';

describe('Prometheus query API adapter', () => {
  it('escapes names for PromQL strings and exact regex alternations', () => {
    expect(promString('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(exactAlternation(['node.0', 'node-1'])).toBe('node\\.0|node\\-1');
  });

  it("reads containers' mean usage over a window from BDWatchdog's series, summing sub-metrics", async () => {
    // c1: user 100, 120 and kernel 20, 40 → 110 + 30 = 140 shares; mem 512, 1024 → 768 MiB. c2 sends nothing.
    const c1 = `${uniqueName('node')}.x`;
    const c2 = uniqueName('idle');
    const end = Math.floor((Date.now() - 60_000) / 1000) * 1000;
    const at = [end - 8_000, end - 3_000];
    const tags = { host: c1 };
    await new OpenTsdbPutSink(victoriaOpentsdbUrl()).put([
      { metric: 'proc.cpu.user', timestamp: at[0] as number, value: 100, tags },
      { metric: 'proc.cpu.user', timestamp: at[1] as number, value: 120, tags },
      { metric: 'proc.cpu.kernel', timestamp: at[0] as number, value: 20, tags },
      { metric: 'proc.cpu.kernel', timestamp: at[1] as number, value: 40, tags },
      { metric: 'proc.mem.resident', timestamp: at[0] as number, value: 512, tags },
      { metric: 'proc.mem.resident', timestamp: at[1] as number, value: 1024, tags },
      // outside the window: ignored
      { metric: 'proc.cpu.user', timestamp: end - 20_000, value: 5000, tags },
    ]);
    await fetch(`${victoriaPromUrl()}/internal/force_flush`);
    const usage = await new PrometheusUsageSource(new PrometheusApi(victoriaPromUrl())).usage(
      [c1, c2],
      ['cpu', 'mem'],
      {
        startMs: end - 10_000,
        endMs: end,
      },
    );
    expect(usage.get(c1)).toEqual({ cpu: 140, mem: 768 });
    expect(usage.has(c2)).toBe(false);
  });

  it('turns a bad query into a MetricsQueryError', async () => {
    await expect(new PrometheusApi(victoriaPromUrl()).query('sum(', Date.now())).rejects.toBeInstanceOf(
      MetricsQueryError,
    );
  });
});
