/**
 * The OpenTSDB 2.4 stand-in answers as the TSD's sources say (each behaviour is cited in
 * test/support/opentsdb-standin.ts): these tests pin what the adapters rely on.
 */
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  BDWATCHDOG_METRICS,
  type OpenTsdbStandIn,
  startOpenTsdbStandIn,
} from '../../../support/opentsdb-standin.ts';

let tsd: OpenTsdbStandIn;
// An hour row boundary, well in the past: rows are [H, H + 3600).
const H = Math.floor(Date.now() / 1000 / 3600) * 3600 - 7200;

async function post(path: string, body: unknown, headers: Record<string, string> = {}) {
  const raw = typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body);
  const res = await fetch(`${tsd.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: raw,
  });
  return { status: res.status, type: res.headers.get('content-type') ?? '', text: await res.text() };
}

const q = (
  start: number,
  end: number,
  tags: Record<string, string>,
  downsample?: string,
  metric = 'proc.cpu.user',
) => ({
  start,
  end,
  queries: [{ aggregator: 'zimsum', metric, tags, ...(downsample ? { downsample } : {}) }],
});

beforeAll(async () => {
  tsd = await startOpenTsdbStandIn({ metrics: BDWATCHDOG_METRICS });
  const points = [];
  // ct-a: two processes, a point per second over [H + 100, H + 120).
  for (let t = H + 100; t < H + 120; t++) {
    points.push({
      metric: 'proc.cpu.user',
      timestamp: t,
      value: t - H,
      tags: { host: 'ct-a', pid: '1', command: 'java' },
    });
    points.push({
      metric: 'proc.cpu.user',
      timestamp: t,
      value: 1,
      tags: { host: 'ct-a', pid: '2', command: 'sh' },
    });
  }
  // ct-idle: one point early in the same hour row only.
  points.push({
    metric: 'proc.cpu.user',
    timestamp: H + 5,
    value: 7,
    tags: { host: 'ct-idle', pid: '9', command: 'java' },
  });
  // ct-old: points in the previous hour's row only.
  points.push({
    metric: 'proc.cpu.user',
    timestamp: H - 10,
    value: 7,
    tags: { host: 'ct-old', pid: '9', command: 'java' },
  });
  tsd.load(points);
});
afterAll(async () => {
  await tsd.stop();
});

describe('OpenTSDB 2.4 stand-in: /api/query', () => {
  it('answers one result per group with aggregateTags and dps keyed by second', async () => {
    const a = await post('/api/query', q(H + 100, H + 101, { host: 'ct-a' }));
    expect(a.status).toBe(200);
    expect(JSON.parse(a.text)).toEqual([
      {
        metric: 'proc.cpu.user',
        tags: { host: 'ct-a' },
        aggregateTags: ['pid', 'command'],
        dps: { [H + 100]: 101, [H + 101]: 102 }, // zimsum of (t − H) and 1
      },
    ]);
  });

  it('groups a literal_or by container and a wildcard too; an idle series inside the row answers dps {}, an older row is absent', async () => {
    const one = JSON.parse(
      (await post('/api/query', q(H + 100, H + 101, { host: 'ct-a|ct-idle|ct-old' }))).text,
    ) as {
      tags: { host: string };
      dps: Record<string, number>;
    }[];
    expect(one.map((r) => [r.tags.host, Object.keys(r.dps).length])).toEqual([
      ['ct-a', 2],
      ['ct-idle', 0],
    ]);
    const wild = JSON.parse((await post('/api/query', q(H + 100, H + 101, { host: '*' }))).text) as {
      tags: { host: string };
    }[];
    expect(wild.map((r) => r.tags.host).sort()).toEqual(['ct-a', 'ct-idle']);
  });

  it('rounds a downsampled start UP to a bucket and keeps the bucket whose start is ≤ end, points after end included', async () => {
    // start H+102 → first bucket H+105; end H+112 → last bucket [H+110, H+115) averages H+110..H+114.
    const r = JSON.parse(
      (await post('/api/query', q(H + 102, H + 112, { host: 'ct-a' }, '5s-avg'))).text,
    ) as {
      dps: Record<string, number>;
    }[];
    expect(r[0]?.dps).toEqual({
      [H + 105]: 108, // avg(105..109) + 1
      [H + 110]: 113, // avg(110..114) + 1: the points at H+113 and H+114 are after `end`
    });
  });

  it('writes "NaN" for a filled empty bucket and ms keys with msResolution', async () => {
    const body = { ...q(H + 115, H + 130, { host: 'ct-a' }, '5s-avg-nan'), msResolution: true };
    const r = JSON.parse((await post('/api/query', body)).text) as { dps: Record<string, unknown> }[];
    expect(r[0]?.dps).toEqual({
      [(H + 115) * 1000]: 118, // avg(115..119) + 1
      [(H + 120) * 1000]: 'NaN',
      [(H + 125) * 1000]: 'NaN',
      [(H + 130) * 1000]: 'NaN',
    });
  });

  it.each([
    ['tagv', { host: 'ct-a|ct-never' }, 'proc.cpu.user', "No such name for 'tagv': 'ct-never'"],
    ['tagk', { structure: 'x' }, 'proc.cpu.user', "No such name for 'tagk': 'structure'"],
    ['metrics', { host: 'ct-a' }, 'proc.cpu.nope', "No such name for 'metrics': 'proc.cpu.nope'"],
  ])(
    'fails the whole query with a 400 JSON error for an unknown %s',
    async (_kind, tags, metric, message) => {
      const a = await post('/api/query', q(H + 100, H + 110, tags, '5s-avg', metric));
      expect(a.status).toBe(400);
      const e = JSON.parse(a.text) as { error: Record<string, unknown> };
      expect(e.error).toEqual({
        code: 400,
        message,
        details: message,
        trace: expect.stringContaining(message),
      });
    },
  );

  it('refuses a body over 8,192 bytes as sent with a 400 HTML page, and reads gzip bodies by their compressed size', async () => {
    const names = Array.from({ length: 400 }, (_, i) => `container-${String(i).padStart(22, '0')}`);
    const big = JSON.stringify(q(H + 100, H + 110, { host: names.join('|') }, '5s-avg'));
    expect(Buffer.byteLength(big)).toBeGreaterThan(8192);
    const html = await post('/api/query', big);
    expect(html.status).toBe(400);
    expect(html.type).toMatch(/text\/html/);
    expect(html.text).toContain(
      'The reason provided was:<blockquote>Chunked request not supported.</blockquote>',
    );
    const z = gzipSync(big);
    expect(z.byteLength).toBeLessThan(8192);
    const gz = await post('/api/query', z, { 'content-encoding': 'gzip' });
    expect(gz.status).toBe(400); // parsed: the names are unknown, a JSON error, not the HTML page
    expect(JSON.parse(gz.text).error.message).toMatch(/No such name for 'tagv'/);
    const exact = '{"start":1,"end":2,"queries":[]}'.padEnd(8192, ' ');
    expect((await post('/api/query', exact)).type).toMatch(/json/); // 8,192 exactly is not chunked
  });

  it('answers GET /api/query?start=&m= like the POST', async () => {
    const res = await fetch(
      `${tsd.url}/api/query?start=${H + 100}&end=${H + 101}&m=zimsum:proc.cpu.user{host=ct-a}`,
    );
    expect(res.status).toBe(200);
    expect(((await res.json()) as { dps: unknown }[])[0]?.dps).toEqual({ [H + 100]: 101, [H + 101]: 102 });
  });

  it('refuses an end before the start and an unknown aggregator', async () => {
    const a = await post('/api/query', q(H + 110, H + 100, { host: 'ct-a' }));
    expect(a.status).toBe(400);
    expect(JSON.parse(a.text).error.message).toMatch(/must be greater than the start time/);
    const b = await post('/api/query', {
      start: H,
      queries: [{ aggregator: 'median', metric: 'proc.cpu.user' }],
    });
    expect(JSON.parse(b.text).error.message).toBe('No such aggregator: median');
  });
});

describe('OpenTSDB 2.4 stand-in: /api/put', () => {
  const dp = (value: unknown, metric = 'proc.mem.resident') => ({
    metric,
    timestamp: String(H + 50),
    value,
    tags: { host: 'ct-put', pid: '1' },
  });

  it('answers 204 with no flag, {success, failed} with ?summary, and errors [] with ?details', async () => {
    expect(await post('/api/put', [dp('812.16')])).toMatchObject({ status: 204, text: '' });
    expect(JSON.parse((await post('/api/put?summary', [dp(1)])).text)).toEqual({ success: 1, failed: 0 });
    expect(JSON.parse((await post('/api/put?details', [dp(2)])).text)).toEqual({
      success: 1,
      failed: 0,
      errors: [],
    });
  });

  it('stores the good points of a batch and reports each bad one with ?details (400)', async () => {
    const a = await post('/api/put?details', [dp(3), dp('abc'), dp(4, 'proc.unregistered')]);
    expect(a.status).toBe(400);
    expect(JSON.parse(a.text)).toEqual({
      success: 1,
      failed: 2,
      errors: [
        { datapoint: dp('abc'), error: 'Unable to parse value to a number' },
        { datapoint: dp(4, 'proc.unregistered'), error: 'Unknown metric' },
      ],
    });
    const plain = await post('/api/put', [dp(3), dp('abc')]);
    expect(plain.status).toBe(400);
    expect(JSON.parse(plain.text).error).toMatchObject({
      code: 400,
      message: 'One or more data points had errors',
      details: 'Please see the TSD logs or append "details" to the put request',
    });
  });

  it('refuses a put body over 8,192 bytes with the HTML page and accepts it gzip-compressed', async () => {
    const many = Array.from({ length: 150 }, (_, i) => ({ ...dp(i), timestamp: H + i }));
    const raw = JSON.stringify(many);
    expect(Buffer.byteLength(raw)).toBeGreaterThan(8192);
    expect((await post('/api/put', raw)).type).toMatch(/text\/html/);
    expect((await post('/api/put?summary', gzipSync(raw), { 'content-encoding': 'gzip' })).text).toBe(
      JSON.stringify({ success: 150, failed: 0 }),
    );
  });

  it('refuses an empty batch', async () => {
    const a = await post('/api/put', []);
    expect(a.status).toBe(400);
    expect(JSON.parse(a.text).error.message).toBe('No datapoints found in content');
  });
});
