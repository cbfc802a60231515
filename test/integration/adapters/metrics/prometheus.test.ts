import { beforeAll, describe, expect, it } from '@jest/globals';
import { PrometheusMetricsSource } from '../../../../adapters/metrics/prometheus.ts';
import { victoriaPromUrl } from '../../../support/env.ts';
import { type UsageFixture, writeUsageFixture } from '../../../support/usage-fixture.ts';

let f: UsageFixture;
beforeAll(async () => {
  f = await writeUsageFixture();
});

describe('PrometheusMetricsSource against VictoriaMetrics fed by BDWatchdog', () => {
  it('reads the same usage as the OpenTSDB path, one query per metric per batch', async () => {
    const src = new PrometheusMetricsSource({ url: victoriaPromUrl() });
    const out = await src.usage({
      structures: [f.a, f.b, f.never],
      kind: 'container',
      resources: ['cpu', 'mem', 'net'],
      window: f.window,
    });
    expect(out.usage.get(f.a)).toEqual({ cpu: 190, mem: 1000, net: 7 }); // (150 + 30) + 10; 800 + 200; 3 + 4
    expect(out.usage.get(f.b)).toEqual({ cpu: 50, mem: null, net: null });
    expect(out.usage.get(f.never)).toEqual({ cpu: null, mem: null, net: null });
    expect(out.queries).toBe(5); // cpu 2 + mem 1 + net 2 metrics × 1 batch
  });

  it('rejects negative usage for that structure only', async () => {
    const src = new PrometheusMetricsSource({ url: victoriaPromUrl() });
    const out = await src.usage({
      structures: [f.a, f.bad],
      kind: 'container',
      resources: ['cpu'],
      window: f.window,
    });
    expect(out.usage.get(f.bad)).toEqual({ cpu: null });
    expect(out.usage.get(f.a)).toEqual({ cpu: 190 });
    expect(out.rejected.map((r) => r.structure)).toEqual([f.bad]);
  });

  it('turns a malformed answer into counted no-data, never a throw', async () => {
    const garbage = (async () =>
      new Response('{"status":"success","data":{"resultType":"vector"}}')) as typeof fetch;
    const src = new PrometheusMetricsSource({ url: victoriaPromUrl(), fetch: garbage });
    const out = await src.usage({
      structures: [f.a],
      kind: 'container',
      resources: ['mem'],
      window: f.window,
    });
    expect(out.usage.get(f.a)).toEqual({ mem: null });
    expect(out.rejected).toHaveLength(1);
  });
});
