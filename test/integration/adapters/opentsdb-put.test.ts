import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { PrometheusApi, PrometheusSeriesSource } from '../../../adapters/metrics/prometheus-api.ts';
import { MetricsWriteError, OpenTsdbPutSink } from '../../../adapters/opentsdb-put.ts';
import { resolveContainerCgroup } from '../../../host-agent/cgroup/layout.ts';
import { UsagePublisher } from '../../../host-agent/publisher.ts';
import { captureLogger } from '../../support/capture-logger.ts';
import { makeCgroupTree } from '../../support/cgroup-tree.ts';
import { uniqueName, victoriaOpentsdbUrl, victoriaPromUrl } from '../../support/env.ts';
import {
  BDWATCHDOG_METRICS,
  startOpenTsdbStandIn,
  TSD_MAX_UNCHUNKED_BODY,
} from '../../support/opentsdb-standin.ts';

/** A stand-in TSD on 127.0.0.1 that answers what the test says and keeps what it received. */
function fakeTsd(answer: (points: unknown[]) => { status: number; body: string }, delayMs = 0) {
  const received: { url: string; encoding: string | undefined; points: unknown[] }[] = [];
  const load = { inFlight: 0, maxInFlight: 0 };
  const server: Server = createServer((req, res) => {
    load.inFlight += 1;
    load.maxInFlight = Math.max(load.maxInFlight, load.inFlight);
    res.on('close', () => {
      load.inFlight -= 1;
    });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      const encoding = req.headers['content-encoding'];
      const points = JSON.parse((encoding === 'gzip' ? gunzipSync(raw) : raw).toString()) as unknown[];
      received.push({ url: req.url ?? '', encoding, points });
      const a = answer(points);
      setTimeout(() => res.writeHead(a.status, { 'content-type': 'application/json' }).end(a.body), delayMs);
    });
  });
  return {
    received,
    load,
    start: () =>
      new Promise<string>((resolve) =>
        server.listen(0, '127.0.0.1', () =>
          resolve(`http://127.0.0.1:${(server.address() as AddressInfo).port}`),
        ),
      ),
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const point = (value: number, structure = 's1') => ({
  metric: 'structure.cpu.current',
  timestamp: Date.now() - 60_000,
  value,
  tags: { structure },
});

describe('OpenTSDB put', () => {
  it('stores points in VictoriaMetrics through its OpenTSDB listener', async () => {
    const structure = uniqueName('s');
    const at = Math.floor((Date.now() - 120_000) / 1000) * 1000;
    await new OpenTsdbPutSink(victoriaOpentsdbUrl()).put([
      { metric: 'structure.mem.current', timestamp: at, value: 2048, tags: { structure } },
      { metric: 'structure.mem.current', timestamp: at + 5_000, value: 1536, tags: { structure } },
    ]);
    await fetch(`${victoriaPromUrl()}/internal/force_flush`);
    const samples = await new PrometheusSeriesSource(new PrometheusApi(victoriaPromUrl())).samples(
      'structure.mem.current',
      { structure },
      at,
      at + 5_000,
    );
    expect(samples).toEqual([
      { t: at, v: 2048 },
      { t: at + 5_000, v: 1536 },
    ]);
  });

  describe('against a TSD that refuses some points', () => {
    const tsd = fakeTsd((points) =>
      points.length === 3
        ? {
            status: 400,
            body: JSON.stringify({
              success: 2,
              failed: 1,
              errors: [{ datapoint: points[1], error: 'Unable to parse value to a number' }],
            }),
          }
        : points.length === 2
          ? { status: 200, body: JSON.stringify({ success: 1, failed: 1, errors: [] }) }
          : { status: 204, body: '' },
    );
    let url = '';
    beforeAll(async () => {
      url = await tsd.start();
    });
    afterAll(async () => {
      await tsd.stop();
    });

    it('sends gzip JSON to /api/put?details in batches', async () => {
      await new OpenTsdbPutSink(url, { batchSize: 1 }).put([point(1)]);
      const last = tsd.received.at(-1);
      expect(last).toMatchObject({
        url: '/api/put?details',
        encoding: 'gzip',
        points: [point(1)].map((p) => ({ ...p, timestamp: expect.any(Number) })),
      });
    });

    it('treats a 400 as an error that lists the failed points, not as success', async () => {
      const err = await new OpenTsdbPutSink(url).put([point(1), point(2), point(3)]).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MetricsWriteError);
      expect((err as MetricsWriteError).failed).toEqual([
        { point: expect.objectContaining({ value: 2 }), error: 'Unable to parse value to a number' },
      ]);
      expect((err as Error).message).toMatch(/1 of 3 points refused/);
    });

    it('treats a 200 whose details count failures as an error', async () => {
      await expect(new OpenTsdbPutSink(url).put([point(1), point(2)])).rejects.toThrow(/1 points failed/);
    });
  });

  describe('against a slow TSD (each answer after 300 ms)', () => {
    const tsd = fakeTsd(() => ({ status: 204, body: '' }), 300);
    let url = '';
    beforeAll(async () => {
      url = await tsd.start();
    });
    afterAll(async () => {
      await tsd.stop();
    });

    it('sends batches `concurrency` at a time', async () => {
      const points = Array.from({ length: 8 }, (_, i) => point(i, `s${i}`));
      await new OpenTsdbPutSink(url, { batchSize: 1, concurrency: 4 }).put(points);
      expect(tsd.received.slice(-8).map((r) => r.points.length)).toEqual(Array(8).fill(1));
      expect(tsd.load.maxInFlight).toBe(4);
    });

    it('stops at its deadline: requests in flight aborted, the batches not sent named in the error', async () => {
      const before = tsd.received.length;
      const points = Array.from({ length: 20 }, (_, i) => point(i, `s${i}`));
      const sink = new OpenTsdbPutSink(url, { batchSize: 1, concurrency: 2, deadlineMs: 450 });
      const err = await sink.put(points).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(MetricsWriteError);
      expect((err as Error).message).toMatch(/ran past its 450 ms budget/);
      // 2 answered at ≈ 300 ms, 2 more started and aborted at 450 ms: far fewer than 20 were sent
      expect(tsd.received.length - before).toBeLessThanOrEqual(6);
    });
  });

  it('refuses invalid points before sending anything', async () => {
    const sink = new OpenTsdbPutSink('http://127.0.0.1:9');
    await expect(sink.put([{ ...point(1), value: Number.NaN }])).rejects.toThrow(/not finite/);
    await expect(sink.put([{ ...point(1), tags: {} }])).rejects.toThrow(/no tag/);
    await expect(sink.put([{ ...point(1), metric: 'bad metric' }])).rejects.toThrow(/refuses/);
  });

  it('names the endpoint when the TSD cannot be reached', async () => {
    await expect(
      new OpenTsdbPutSink('http://127.0.0.1:9', { timeoutMs: 500 }).put([point(1)]),
    ).rejects.toThrow(/cannot reach http:\/\/127\.0\.0\.1:9/);
  });
});

describe('OpenTSDB put against the OpenTSDB 2.4 stand-in', () => {
  const SNAPSHOT = ['structure.cpu.current', 'structure.mem.current', 'limit.cpu.upper'];
  const snapshot = (n: number) =>
    Array.from({ length: n }, (_, i) => ({
      metric: SNAPSHOT[i % 3] as string,
      timestamp: 1_795_835_100_000 + i * 1000,
      value: i,
      tags: { structure: `container-${String(i % 700).padStart(26, '0')}` },
    }));

  it('keeps every body under 8 KiB as sent, so no batch is refused whole (2,000 points)', async () => {
    const tsd = await startOpenTsdbStandIn({ metrics: SNAPSHOT });
    try {
      await new OpenTsdbPutSink(tsd.url).put(snapshot(2000));
      expect(tsd.pointCount()).toBe(2000);
      expect(tsd.stats.chunkedRefused).toBe(0);
      expect(tsd.stats.bytesIn / tsd.stats.puts).toBeLessThanOrEqual(TSD_MAX_UNCHUNKED_BODY);
    } finally {
      await tsd.stop();
    }
  });

  it('halves a batch the TSD refuses as too large (its 400 HTML page) and stores it all', async () => {
    const tsd = await startOpenTsdbStandIn({ metrics: SNAPSHOT, bodyLimit: 1500 });
    try {
      await new OpenTsdbPutSink(tsd.url).put(snapshot(600));
      expect(tsd.pointCount()).toBe(600);
      expect(tsd.stats.chunkedRefused).toBeGreaterThan(0);
    } finally {
      await tsd.stop();
    }
  });

  it('reports the points a TSD refused (?details), the others stored', async () => {
    const tsd = await startOpenTsdbStandIn({ metrics: ['structure.cpu.current'] }); // the others never registered
    try {
      const err = await new OpenTsdbPutSink(tsd.url).put(snapshot(30)).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(MetricsWriteError);
      const failed = (err as MetricsWriteError).failed;
      expect(failed).toHaveLength(20); // 2 of every 3 metrics are not registered
      expect(failed[0]).toEqual({
        point: expect.objectContaining({ metric: 'structure.mem.current' }),
        error: 'Unknown metric',
      });
      expect(tsd.pointCount()).toBe(10);
    } finally {
      await tsd.stop();
    }
  });

  it("gives the TSD's reason, not its HTML, when it refuses a whole request", async () => {
    const tsd = await startOpenTsdbStandIn({ metrics: SNAPSHOT });
    try {
      tsd.answerNext.push({
        status: 400,
        body: '{"error":{"code":400,"message":"Unable to parse the given JSON"}}',
      });
      await expect(new OpenTsdbPutSink(tsd.url).put(snapshot(3))).rejects.toThrow(
        /answered 400: Unable to parse the given JSON$/,
      );
    } finally {
      await tsd.stop();
    }
  });
});

describe("the host agent's usage publisher against the OpenTSDB 2.4 stand-in", () => {
  it('puts a host of 60 containers (over 8 KiB of points) without a refusal, and reports refused points', async () => {
    const tree = makeCgroupTree('v2');
    const tsd = await startOpenTsdbStandIn({ metrics: BDWATCHDOG_METRICS });
    const { logger, lines } = captureLogger();
    try {
      const containers = Array.from({ length: 60 }, (_, i) => {
        const name = `publisher-container-${String(i).padStart(12, '0')}`;
        tree.addContainer(name);
        const cg = resolveContainerCgroup(tree.root, 'v2', name);
        if (cg === null) throw new Error('fixture');
        return { name, cg, veth: null, pid: 7 };
      });
      let now = 0;
      let plainJson = 0; // what the same points weigh as the plain JSON body the publisher used to send
      const recording = (async (url: string, init: RequestInit) => {
        plainJson += gunzipSync(init.body as Buffer).byteLength;
        return fetch(url, init);
      }) as typeof fetch;
      const pub = new UsagePublisher({
        url: tsd.url,
        log: logger,
        now: () => now,
        containers: () => containers,
        fetch: recording,
      });
      await pub.tick();
      now = 2000;
      for (const c of containers)
        tree.write(
          c.name,
          'unified',
          'cpu.stat',
          'usage_usec 2000000\nuser_usec 1000000\nsystem_usec 1000000\n',
        );
      const sent = await pub.tick();
      expect(sent).toBeGreaterThanOrEqual(120); // cpu user + kernel at least, per container
      expect(tsd.pointCount()).toBe(sent);
      expect(tsd.stats.chunkedRefused).toBe(0);
      // As plain JSON in one body (the publisher before) this was over 8 KiB: refused whole.
      expect(plainJson).toBeGreaterThan(TSD_MAX_UNCHUNKED_BODY);

      const strict = await startOpenTsdbStandIn({ metrics: ['proc.cpu.user'] });
      try {
        const pub2 = new UsagePublisher({
          url: strict.url,
          log: logger,
          now: () => now,
          containers: () => containers,
        });
        await pub2.tick();
        now = 4000;
        const stored = await pub2.tick();
        expect(stored).toBe(60); // proc.cpu.user only
        expect(strict.pointCount()).toBe(60);
        // every point but proc.cpu.user is refused and reported (the agent's own sc.agent.cpu included)
        const refused = lines().findLast((l) => l.msg === 'usage points refused by the TSD')?.refused;
        expect(refused).toBeGreaterThanOrEqual(sent - 60);
      } finally {
        await strict.stop();
      }
    } finally {
      await tsd.stop();
      tree.cleanup();
    }
  });
});
