import { describe, expect, it } from '@jest/globals';
import { reasonOf } from '../../../../adapters/metrics/http.ts';
import { bucketQuery, OpenTsdbMetricsSource } from '../../../../adapters/metrics/opentsdb.ts';

/** A scripted /api/query: answers from a table of series, 400s like OpenTSDB 2.4 for unknown names. */
function scriptedTsdb(
  series: Record<string, Record<string, number[]>>,
  opts: { vagueErrors?: boolean } = {},
) {
  const bodies: { queries: { metric: string; tags: Record<string, string> }[] }[] = [];
  const fetchFn = (async (_url: string, init: { body: string }) => {
    const q = JSON.parse(init.body) as (typeof bodies)[number];
    bodies.push(q);
    const out: unknown[] = [];
    for (const sub of q.queries) {
      const byHost = series[sub.metric];
      if (byHost === undefined)
        return new Response(
          JSON.stringify({ error: { message: `No such name for 'metrics': '${sub.metric}'` } }),
          { status: 400 },
        );
      for (const host of (sub.tags.host ?? '').split('|')) {
        const known = Object.values(series).some((m) => host in m);
        if (!known) {
          const message = opts.vagueErrors ? "No such name for 'tagv'" : `No such name for 'tagv': '${host}'`;
          return new Response(JSON.stringify({ error: { message } }), { status: 400 });
        }
        const points = byHost[host];
        if (points)
          out.push({
            metric: sub.metric,
            tags: { host, pid: '1' },
            dps: Object.fromEntries(points.map((v, i) => [String(100 + 5 * i), v])),
          });
      }
    }
    return new Response(JSON.stringify(out), { status: 200 });
  }) as unknown as typeof fetch;
  return { fetchFn, bodies };
}

const window = { startS: 100, endS: 110 };

describe('OpenTsdbMetricsSource', () => {
  it('sends the original query shape: zimsum, 5s-avg, one sub-query per metric, names joined by |', async () => {
    const { fetchFn, bodies } = scriptedTsdb({
      'proc.cpu.user': { a: [100, 200] },
      'proc.cpu.kernel': { a: [10] },
    });
    const src = new OpenTsdbMetricsSource({ url: 'http://tsdb', fetch: fetchFn });
    const out = await src.usage({ structures: ['a'], kind: 'container', resources: ['cpu'], window });
    expect(out.usage.get('a')).toEqual({ cpu: 160 }); // (100 + 200) / 2 + 10
    expect(bodies[0]).toEqual({
      start: 100,
      end: 109_999, // ms: the last bucket kept starts ≤ end, so [105, 110) is the last one read
      queries: [
        { aggregator: 'zimsum', metric: 'proc.cpu.user', tags: { host: 'a' }, downsample: '5s-avg' },
        { aggregator: 'zimsum', metric: 'proc.cpu.kernel', tags: { host: 'a' }, downsample: '5s-avg' },
      ],
    });
  });

  it.each([
    [undefined, { startS: 100, endS: 101 }, '1s-avg'], // 1 s window: not 5 s of points from before it
    [10, { startS: 100, endS: 130 }, '10s-avg'], // the bucketS option
    [10, { startS: 100, endS: 103 }, '1s-avg'], // capped by the window, and dividing both its ends
    [undefined, { startS: 93, endS: 98 }, '1s-avg'], // the default 5 s window 2 s behind a multiple of 5
  ])(
    'asks buckets that tile the window exactly (bucketS %s, window %o → %s)',
    async (bucketS, w, expected) => {
      const { fetchFn, bodies } = scriptedTsdb({
        'proc.cpu.user': { a: [40] },
        'proc.cpu.kernel': { a: [2] },
      });
      const src = new OpenTsdbMetricsSource({
        url: 'http://tsdb',
        fetch: fetchFn,
        ...(bucketS ? { bucketS } : {}),
      });
      await src.usage({ structures: ['a'], kind: 'container', resources: ['cpu'], window: w });
      const body = bodies[0] as unknown as { queries: { downsample: string }[] };
      expect(body.queries.map((q) => q.downsample)).toEqual([expected, expected]);
    },
  );

  it('drops a metric the TSD does not know and keeps the others', async () => {
    const { fetchFn } = scriptedTsdb({ 'proc.cpu.user': { a: [50] } });
    const src = new OpenTsdbMetricsSource({ url: 'http://tsdb', fetch: fetchFn });
    const out = await src.usage({ structures: ['a'], kind: 'container', resources: ['cpu'], window });
    expect(out.usage.get('a')).toEqual({ cpu: 50 });
    expect(out.rejected).toEqual([
      {
        structure: null,
        metric: 'proc.cpu.kernel',
        why: 'metric not registered in the TSD',
        kind: 'unknown',
      },
    ]);
  });

  it('halves the batch when the 400 does not name the unknown container', async () => {
    const { fetchFn } = scriptedTsdb(
      { 'proc.mem.resident': { a: [1], b: [2], c: [3] } },
      { vagueErrors: true },
    );
    const src = new OpenTsdbMetricsSource({ url: 'http://tsdb', fetch: fetchFn });
    const out = await src.usage({
      structures: ['a', 'b', 'zz', 'c'],
      kind: 'container',
      resources: ['mem'],
      window,
    });
    expect([...out.usage.entries()]).toEqual([
      ['a', { mem: 1 }],
      ['b', { mem: 2 }],
      ['zz', { mem: null }],
      ['c', { mem: 3 }],
    ]);
    // [a b zz c] → 400; [a b] ok; [zz c] → 400; [zz] → 400 (rejected); [c] ok
    expect(out.queries).toBe(5);
  });
});

describe('bucketQuery', () => {
  it.each([
    [{ startS: 93, endS: 98 }, 5, { start: 93, end: 97_999, bucketS: 1 }], // 93 and 98 are no multiples of 5
    [{ startS: 90, endS: 100 }, 5, { start: 90, end: 99_999, bucketS: 5 }], // [90, 95) and [95, 100)
    [{ startS: 90, endS: 96 }, 5, { start: 90, end: 95_999, bucketS: 1 }],
    [{ startS: 100, endS: 130 }, 10, { start: 100, end: 129_999, bucketS: 10 }],
  ])('reads %o with %i s buckets as %o', (w, b, expected) => {
    expect(bucketQuery(w, b)).toEqual(expected);
  });
});

describe('reasonOf', () => {
  it('extracts the message from OpenTSDB JSON errors and HTML pages', () => {
    expect(
      reasonOf('{"error":{"code":400,"message":"No such name for \'tagv\': \'x\'","trace":"..."}}'),
    ).toBe("No such name for 'tagv': 'x'");
    const page = `<!DOCTYPE html><html><head><title>Bad Request</title><style>${'x'.repeat(900)}</style></head><body>The reason provided was:<blockquote>Chunked request not supported.</blockquote></blockquote></body></html>`;
    expect(reasonOf(page)).toBe('Chunked request not supported.');
    expect(reasonOf('<h1>Bad gateway</h1>')).toBe('Bad gateway');
  });
});
