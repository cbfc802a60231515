/**
 * The OpenTSDB adapter against the OpenTSDB 2.4 stand-in (test/support/opentsdb-standin.ts),
 * which answers as the TSD does: 8 KiB body limit with a 400 HTML page, 400 JSON errors for
 * unknown names, bucket alignment, one-hour rows, slow answers and cut connections.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { OpenTsdbMetricsSource } from '../../../../adapters/metrics/opentsdb.ts';
import type { UsageQuery } from '../../../../core/ports/metrics-source.ts';
import { captureLogger } from '../../../support/capture-logger.ts';
import {
  BDWATCHDOG_METRICS,
  type OpenTsdbStandIn,
  type StandInPoint,
  startOpenTsdbStandIn,
  TSD_MAX_UNCHUNKED_BODY,
} from '../../../support/opentsdb-standin.ts';
import { type UsageFixture, writeUsageFixture } from '../../../support/usage-fixture.ts';

let tsd: OpenTsdbStandIn;
let f: UsageFixture;

beforeAll(async () => {
  tsd = await startOpenTsdbStandIn({ metrics: BDWATCHDOG_METRICS });
  f = await writeUsageFixture(tsd.url);
});
afterAll(async () => {
  await tsd.stop();
});

const cpu = (structures: string[]): UsageQuery => ({
  structures,
  kind: 'container',
  resources: ['cpu'],
  window: f.window,
});

/** Requests the stand-in received during `run`. */
async function counted<T>(run: () => Promise<T>): Promise<{ out: T; requests: number; ms: number }> {
  const before = tsd.stats.requests;
  const t0 = performance.now();
  const out = await run();
  return { out, requests: tsd.stats.requests - before, ms: performance.now() - t0 };
}

describe('OpenTsdbMetricsSource against BDWatchdog data', () => {
  it('reads usage of a batch in one query: mean per series, summed over processes and sub-metrics', async () => {
    const src = new OpenTsdbMetricsSource({ url: tsd.url });
    const { out, requests } = await counted(() =>
      src.usage({
        structures: [f.a, f.b],
        kind: 'container',
        resources: ['cpu', 'mem', 'net'],
        window: f.window,
      }),
    );
    expect(out.usage.get(f.a)).toEqual({ cpu: 190, mem: 1000, net: 7 }); // (150 + 30) + 10; 800 + 200; 3 + 4
    expect(out.usage.get(f.b)).toEqual({ cpu: 50, mem: null, net: null });
    expect(out.queries).toBe(1);
    expect(requests).toBe(1);
  });

  it('drops a container that never reported, and remembers it until the negative cache expires', async () => {
    let wall = Date.now();
    const { logger, lines } = captureLogger();
    const src = new OpenTsdbMetricsSource({ url: tsd.url, unknownTtlMs: 60_000, now: () => wall, logger });
    const first = await src.usage(cpu([f.a, f.never, f.b]));
    expect(first.usage.get(f.a)).toEqual({ cpu: 190 });
    expect(first.usage.get(f.b)).toEqual({ cpu: 50 });
    expect(first.usage.get(f.never)).toEqual({ cpu: null });
    expect(first.queries).toBe(2); // 400 naming the unknown one, then the rest
    expect(first.rejected).toEqual([
      { structure: f.never, metric: '*', why: 'never reported (unknown tag value)', kind: 'unknown' },
    ]);
    const second = await src.usage(cpu([f.a, f.never, f.b]));
    expect(second.queries).toBe(1); // not asked again
    expect(second.usage.get(f.a)).toEqual({ cpu: 190 });
    expect(second.rejected[0]).toMatchObject({ structure: f.never, kind: 'unknown' });
    wall += 61_000;
    const expired = await src.usage(cpu([f.a, f.never, f.b]));
    // Known names in their own batch, the expired one alone: it cannot blind [a, b].
    expect(expired.queries).toBe(2);
    expect(expired.usage.get(f.b)).toEqual({ cpu: 50 });
    const unknownLines = lines().filter((l) => String(l.msg).startsWith('metrics: names unknown'));
    expect(unknownLines.map((l) => [l.unknownNew, l.unknownRemembered])).toEqual([
      [1, 0],
      [0, 1],
      [1, 0],
    ]);
    expect(lines().some((l) => String(l.msg).includes('outage'))).toBe(false);
  });

  it('rejects negative usage as bad data for that structure only', async () => {
    const src = new OpenTsdbMetricsSource({ url: tsd.url });
    const out = await src.usage(cpu([f.a, f.bad]));
    expect(out.usage.get(f.bad)).toEqual({ cpu: null });
    expect(out.usage.get(f.a)).toEqual({ cpu: 190 });
    expect(out.rejected.map((r) => [r.structure, r.kind])).toEqual([[f.bad, 'bad-data']]);
  });

  it('retries a 500 once while time is left, and reports a second one as an outage', async () => {
    const src = new OpenTsdbMetricsSource({ url: tsd.url });
    tsd.answerNext.push({ status: 500, body: 'boom' });
    const retried = await src.usage(cpu([f.a]));
    expect(retried.usage.get(f.a)).toEqual({ cpu: 190 });
    expect(retried.queries).toBe(2);
    tsd.answerNext.push({ status: 500, body: 'boom' }, { status: 500, body: 'boom' });
    const failed = await src.usage(cpu([f.a]));
    expect(failed.usage.get(f.a)).toEqual({ cpu: null });
    expect(failed.rejected[0]).toMatchObject({ kind: 'outage', why: expect.stringMatching(/HTTP 500/) });
    expect(failed.queries).toBe(2);
  });

  it('retries a cut connection once', async () => {
    const src = new OpenTsdbMetricsSource({ url: tsd.url });
    tsd.dropNext = 1;
    const { out, requests } = await counted(() => src.usage(cpu([f.a])));
    expect(out.usage.get(f.a)).toEqual({ cpu: 190 });
    expect(requests).toBe(2);
  });
});

describe('OpenTsdbMetricsSource under a slow TSD', () => {
  it('costs one timeout, not three, for a TSD answering after 30 s; logs an outage', async () => {
    const { logger, lines } = captureLogger();
    const src = new OpenTsdbMetricsSource({ url: tsd.url, timeoutMs: 1500, logger });
    await src.usage(cpu([f.a, f.b])); // the key and both names are known: the TSD answered once
    tsd.delayMs = 30_000;
    try {
      const { out, requests, ms } = await counted(() => src.usage(cpu([f.a, f.b]), { timeLeftMs: 10_000 }));
      expect(requests).toBe(1);
      expect(ms).toBeGreaterThanOrEqual(1400);
      expect(ms).toBeLessThan(2500); // the old adapter: 3 × 1.5 s
      expect(out.usage.get(f.a)).toEqual({ cpu: null });
      expect(out.rejected.every((r) => r.kind === 'outage')).toBe(true);
      const outage = lines().find((l) => String(l.msg).startsWith('metrics: TSD not answering (outage)'));
      expect(outage).toMatchObject({ reason: expect.stringMatching(/no answer in 1500 ms/), structures: 2 });
    } finally {
      tsd.delayMs = 0;
    }
  });

  it('never takes more than the time left, and asks nothing once it is spent', async () => {
    const src = new OpenTsdbMetricsSource({ url: tsd.url, timeoutMs: 3000 });
    tsd.delayMs = 30_000;
    try {
      const { requests, ms } = await counted(() => src.usage(cpu([f.a]), { timeLeftMs: 700 }));
      expect(ms).toBeLessThan(1100);
      expect(requests).toBe(1);
      const none = await counted(() => src.usage(cpu([f.a]), { timeLeftMs: 10 }));
      expect(none.requests).toBe(0);
      expect(none.out.rejected[0]).toMatchObject({ kind: 'outage', why: expect.stringMatching(/ms left/) });
    } finally {
      tsd.delayMs = 0;
    }
  });

  it('stops at once when the caller aborts', async () => {
    const src = new OpenTsdbMetricsSource({ url: tsd.url, timeoutMs: 3000 });
    tsd.delayMs = 30_000;
    try {
      const ac = new AbortController();
      setTimeout(() => ac.abort(), 200);
      const { ms, out } = await counted(() =>
        src.usage(cpu([f.a]), { signal: ac.signal, timeLeftMs: 10_000 }),
      );
      expect(ms).toBeLessThan(700);
      expect(out.rejected[0]?.kind).toBe('outage');
    } finally {
      tsd.delayMs = 0;
    }
  });
});

describe('OpenTsdbMetricsSource at fleet scale', () => {
  const W = Math.floor(Date.now() / 1000 / 5) * 5 - 60;
  const window = { startS: W - 7, endS: W - 2 }; // the defaults: 5 s window, 2 s delay, ticks on multiples of 5
  const names = Array.from(
    { length: 10_000 },
    (_, i) => `c${String(i).padStart(5, '0')}-${'x'.repeat(10)}-${(i * 7919).toString(36).padStart(14, 'q')}`,
  );

  it('reads 10,000 containers with 32-character names and all five resources: every one has data, no body over 8 KiB', async () => {
    expect(names[0]).toHaveLength(32);
    const big = await startOpenTsdbStandIn({ metrics: BDWATCHDOG_METRICS });
    try {
      const points: StandInPoint[] = [];
      for (const host of names)
        for (const metric of BDWATCHDOG_METRICS)
          for (const [t, v] of [
            [W - 10, 5000], // before the window
            [W - 5, 10], // inside
            [W, 5000], // after it, inside the 5 s bucket the old query read
          ] as const)
            points.push({ metric, timestamp: t, value: v, tags: { host, pid: '1', command: 'java' } });
      big.load(points);
      const src = new OpenTsdbMetricsSource({ url: big.url, batchSize: 250 });
      const out = await src.usage({
        structures: names,
        kind: 'container',
        resources: ['cpu', 'mem', 'disk_read', 'disk_write', 'net'],
        window,
      });
      const missing = names.filter((n) => out.usage.get(n)?.cpu !== 20);
      expect(missing).toEqual([]);
      expect(out.usage.get(names[9999] as string)).toEqual({
        cpu: 20,
        mem: 10,
        disk_read: 10,
        disk_write: 10,
        net: 20,
      });
      expect(big.stats.chunkedRefused).toBe(0);
      expect(out.queries).toBe(40); // 10,000 / 250, each gzip body under 8 KiB
      expect(big.stats.bytesIn / out.queries).toBeLessThan(TSD_MAX_UNCHUNKED_BODY);
      const body = JSON.parse(big.queryBodies[0] as string) as {
        start: number;
        end: number;
        queries: { downsample: string }[];
      };
      expect([body.start, body.end, body.queries[0]?.downsample]).toEqual([
        W - 7,
        (W - 2) * 1000 - 1,
        '1s-avg',
      ]);
    } finally {
      await big.stop();
    }
  });

  it('halves a batch the TSD refuses as too large (400 HTML), and logs why', async () => {
    const small = await startOpenTsdbStandIn({ metrics: BDWATCHDOG_METRICS, bodyLimit: 2000 });
    const { logger, lines } = captureLogger();
    try {
      const some = names.slice(0, 300);
      small.load(
        some.map((host) => ({
          metric: 'proc.mem.resident',
          timestamp: W - 5,
          value: 3,
          tags: { host, pid: '1' },
        })),
      );
      const src = new OpenTsdbMetricsSource({ url: small.url, logger, gzip: false });
      const out = await src.usage({ structures: some, kind: 'container', resources: ['mem'], window });
      expect(some.filter((n) => out.usage.get(n)?.mem !== 3)).toEqual([]);
      expect(small.stats.chunkedRefused).toBeGreaterThan(0);
      expect(lines().find((l) => String(l.msg).includes('too large'))).toMatchObject({
        halved: expect.any(Number),
      });
    } finally {
      await small.stop();
    }
  });

  it('costs one query on a fresh TSD that never saw the tag key, for any number of containers', async () => {
    const fresh = await startOpenTsdbStandIn({ metrics: BDWATCHDOG_METRICS });
    const { logger, lines } = captureLogger();
    try {
      const src = new OpenTsdbMetricsSource({ url: fresh.url, logger });
      const out = await src.usage({
        structures: names.slice(0, 2000),
        kind: 'container',
        resources: ['cpu', 'mem'],
        window,
      });
      expect(out.queries).toBe(1); // the old adapter: 2N − 1 halvings per batch
      expect(fresh.stats.requests).toBe(1);
      expect(out.usage.get(names[0] as string)).toEqual({ cpu: null, mem: null });
      expect(out.rejected.every((r) => r.kind === 'unknown')).toBe(true);
      expect(lines().map((l) => l.msg)).toEqual([
        'metrics: the TSD has no series tagged with this key yet (no container ever reported)',
      ]);
    } finally {
      await fresh.stop();
    }
  });

  it('finds 100 unknown names among 250 in a bounded number of queries, then asks for none of them', async () => {
    const mixed = await startOpenTsdbStandIn({ metrics: BDWATCHDOG_METRICS });
    try {
      const some = names.slice(0, 250);
      const reported = some.filter((_, i) => i % 5 < 3); // 150 reported, 100 never did
      mixed.load(
        reported.map((host) => ({
          metric: 'proc.mem.resident',
          timestamp: W - 5,
          value: 3,
          tags: { host, pid: '1' },
        })),
      );
      const src = new OpenTsdbMetricsSource({ url: mixed.url });
      const first = await src.usage({ structures: some, kind: 'container', resources: ['mem'], window });
      expect(reported.filter((n) => first.usage.get(n)?.mem !== 3)).toEqual([]);
      expect(first.queries).toBeLessThanOrEqual(2 * 100 + 1);
      const second = await src.usage({ structures: some, kind: 'container', resources: ['mem'], window });
      expect(second.queries).toBe(1);
      expect(reported.filter((n) => second.usage.get(n)?.mem !== 3)).toEqual([]);
    } finally {
      await mixed.stop();
    }
  });
});

describe('OpenTsdbMetricsSource reads the window it is asked for', () => {
  // One process, a point every second with value = seconds after W − 20.
  const W = Math.floor(Date.now() / 1000 / 5) * 5 - 120;
  let tsdW: OpenTsdbStandIn;
  beforeAll(async () => {
    tsdW = await startOpenTsdbStandIn({ metrics: BDWATCHDOG_METRICS });
    const pts: StandInPoint[] = [];
    for (let t = W - 20; t <= W + 5; t++)
      pts.push({
        metric: 'proc.mem.resident',
        timestamp: t,
        value: t - (W - 20),
        tags: { host: 'w', pid: '1' },
      });
    tsdW.load(pts);
  });
  afterAll(async () => {
    await tsdW.stop();
  });

  it.each([
    // [W − 7, W − 2): points 13..17 → 15. OpenTSDB asked for 5s-avg over [W − 7, W − 2] would read
    // the bucket [W − 5, W): 15..19 → 17, WINDOW_DELAY lost.
    [{ startS: W - 7, endS: W - 2 }, '1s-avg', 15],
    // [W − 10, W): two 5 s buckets, 10..14 and 15..19 → 14.5; not the bucket [W, W + 5).
    [{ startS: W - 10, endS: W }, '5s-avg', 14.5],
    // [W − 3, W − 2): one point, 17.
    [{ startS: W - 3, endS: W - 2 }, '1s-avg', 17],
  ])('window %o is read with %s buckets: mean %d', async (window, downsample, mean) => {
    const src = new OpenTsdbMetricsSource({ url: tsdW.url });
    tsdW.resetStats();
    const out = await src.usage({ structures: ['w'], kind: 'container', resources: ['mem'], window });
    expect(out.usage.get('w')).toEqual({ mem: mean });
    const body = JSON.parse(tsdW.queryBodies[0] as string) as { queries: { downsample: string }[] };
    expect(body.queries[0]?.downsample).toBe(downsample);
  });

  it('shows what the old query read: 5s-avg over [W − 7, W − 2] answers the bucket [W − 5, W)', async () => {
    const res = await fetch(`${tsdW.url}/api/query`, {
      method: 'POST',
      body: JSON.stringify({
        start: W - 7,
        end: W - 2,
        queries: [
          { aggregator: 'zimsum', metric: 'proc.mem.resident', tags: { host: 'w' }, downsample: '5s-avg' },
        ],
      }),
    });
    expect(((await res.json()) as { dps: unknown }[])[0]?.dps).toEqual({ [W - 5]: 17 }); // avg(15..19)
  });
});
