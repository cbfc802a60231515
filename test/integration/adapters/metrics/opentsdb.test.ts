import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { OpenTsdbMetricsSource } from '../../../../adapters/metrics/opentsdb.ts';
import { victoriaPromUrl } from '../../../support/env.ts';
import { type OpenTsdbFront, startOpenTsdbFront } from '../../../support/opentsdb-front.ts';
import { type UsageFixture, writeUsageFixture } from '../../../support/usage-fixture.ts';

let front: OpenTsdbFront;
let f: UsageFixture;

beforeAll(async () => {
  f = await writeUsageFixture();
  front = await startOpenTsdbFront(victoriaPromUrl());
});
afterAll(async () => {
  await front.stop();
});

describe('OpenTsdbMetricsSource against BDWatchdog data', () => {
  it('reads usage of a batch in one query: mean per series, summed over processes and sub-metrics', async () => {
    const src = new OpenTsdbMetricsSource({ url: front.url });
    const before = front.queries;
    const out = await src.usage({
      structures: [f.a, f.b],
      kind: 'container',
      resources: ['cpu', 'mem', 'net'],
      window: f.window,
    });
    expect(out.usage.get(f.a)).toEqual({ cpu: 190, mem: 1000, net: 7 }); // (150 + 30) + 10; 800 + 200; 3 + 4
    expect(out.usage.get(f.b)).toEqual({ cpu: 50, mem: null, net: null });
    expect(out.queries).toBe(1);
    expect(front.queries - before).toBe(1);
  });

  it('survives a container that never reported: drops it and asks again, the others keep their data', async () => {
    const src = new OpenTsdbMetricsSource({ url: front.url });
    const out = await src.usage({
      structures: [f.a, f.never, f.b],
      kind: 'container',
      resources: ['cpu'],
      window: f.window,
    });
    expect(out.usage.get(f.a)).toEqual({ cpu: 190 });
    expect(out.usage.get(f.b)).toEqual({ cpu: 50 });
    expect(out.usage.get(f.never)).toEqual({ cpu: null });
    expect(out.queries).toBe(2); // 400 naming the unknown one, then the rest
    expect(out.rejected).toEqual([
      { structure: f.never, metric: '*', why: 'never reported (unknown tag value)' },
    ]);
  });

  it('rejects negative usage as bad data for that structure only', async () => {
    const src = new OpenTsdbMetricsSource({ url: front.url });
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

  it('bounds batches: three structures in batches of two are two queries', async () => {
    const src = new OpenTsdbMetricsSource({ url: front.url, batchSize: 2 });
    const out = await src.usage({
      structures: [f.a, f.b, f.bad],
      kind: 'container',
      resources: ['cpu', 'mem'],
      window: f.window,
    });
    expect(out.queries).toBe(2);
    expect(out.usage.get(f.a)).toEqual({ cpu: 190, mem: 1000 });
  });

  it('turns malformed answers and server errors into counted no-data, never a throw', async () => {
    const src = new OpenTsdbMetricsSource({ url: front.url, retries: 1 });
    front.nextAnswers.push({ status: 200, body: '{"not":"an array"' });
    const bad = await src.usage({
      structures: [f.a],
      kind: 'container',
      resources: ['cpu'],
      window: f.window,
    });
    expect(bad.usage.get(f.a)).toEqual({ cpu: null });
    expect(bad.rejected[0]?.why).toMatch(/malformed/);
    front.nextAnswers.push({ status: 500, body: 'boom' }, { status: 500, body: 'boom' });
    const failed = await src.usage({
      structures: [f.a],
      kind: 'container',
      resources: ['cpu'],
      window: f.window,
    });
    expect(failed.usage.get(f.a)).toEqual({ cpu: null });
    expect(failed.rejected[0]?.why).toMatch(/HTTP 500/);
    front.nextAnswers.push({ status: 500, body: 'once' }); // one retry succeeds
    const retried = await src.usage({
      structures: [f.a],
      kind: 'container',
      resources: ['cpu'],
      window: f.window,
    });
    expect(retried.usage.get(f.a)).toEqual({ cpu: 190 });
  });
});
