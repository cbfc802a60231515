/**
 * A stand-in for OpenTSDB 2.4.0 as BDWatchdog deploys it (`opentsdb.conf`: chunked requests off,
 * metrics pre-registered, tag keys/values auto-created), on 127.0.0.1, points kept in memory.
 * It answers `/api/query` (POST and GET) and `/api/put` the way the TSD's sources say it does;
 * each behaviour names the OpenTSDB source file it follows (paths under `src/` at tag v2.4.0).
 * Facts carry over from those files, no code does.
 *
 * Knobs for fault tests: `delayMs` (every answer waits this long; like OpenTSDB 2.x, the work
 * is done and counted even when the client has gone: nothing cancels a query on disconnect),
 * `dropNext` (the next N requests get their connection cut once the body is read) and
 * `answerNext` (raw answers served instead of the real ones, first in first out).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { gunzipSync, gzipSync, inflateSync } from 'node:zlib';
import {
  htmlBadRequest,
  jsonError,
  parseQueryJson,
  parseQueryString,
  type QueryJson,
  TsdError,
  TsdStore,
} from './opentsdb-standin-query.ts';

/** HttpRequestDecoder's default maxChunkSize: a longer body is decoded as chunks. */
export const TSD_MAX_UNCHUNKED_BODY = 8192;

export interface StandInOptions {
  /** Metric names registered with `tsdb mkmetric` (BDWatchdog's create-monitoring script). */
  metrics?: readonly string[];
  /** tsd.core.auto_create_metrics (default false, as in BDWatchdog's opentsdb.conf). */
  autoCreateMetrics?: boolean;
  /** tsd.query.skip_unresolved_tagvs (default false). */
  skipUnresolvedTagvs?: boolean;
  /** Longest body accepted, bytes (8192; smaller plays a proxy or a TSD with a smaller chunk size). */
  bodyLimit?: number;
}

export interface StandInPoint {
  metric: string;
  /** Epoch seconds or milliseconds (OpenTSDB tells them apart by magnitude). */
  timestamp: number;
  value: number;
  tags: Record<string, string>;
}

export interface StandInStats {
  /** Requests received, any route. */
  requests: number;
  /** `/api/query` requests that reached the query code (not refused before it). */
  queries: number;
  puts: number;
  /** Bytes of request bodies as sent (before any gzip is undone). */
  bytesIn: number;
  /** Requests refused with the chunked-request HTML page. */
  chunkedRefused: number;
  /** Answers written after the client had already gone (work the TSD did for nobody). */
  answeredAfterClientLeft: number;
  inFlight: number;
  maxInFlight: number;
}

export interface OpenTsdbStandIn {
  url: string;
  stats: StandInStats;
  /** Every answer waits this long, ms. */
  delayMs: number;
  /** The next N requests have their connection cut once their body is read. */
  dropNext: number;
  /** Raw answers served before the real ones. */
  answerNext: { status: number; body: string; contentType?: string }[];
  /** `/api/query` bodies received (decoded; the first 1,000 since the last reset), for assertions. */
  queryBodies: string[];
  /** Store points directly (fixtures too large to post), registering their tag names like a put. */
  load(points: readonly StandInPoint[]): void;
  /** Register a metric, like `tsdb mkmetric`. */
  mkmetric(name: string): void;
  /** Points stored, per metric (all metrics when none given). */
  pointCount(metric?: string): number;
  resetStats(): void;
  stop(): Promise<void>;
}

export async function startOpenTsdbStandIn(opts: StandInOptions = {}): Promise<OpenTsdbStandIn> {
  const tsd = new TsdStore(opts);

  const stats: StandInStats = {
    requests: 0,
    queries: 0,
    puts: 0,
    bytesIn: 0,
    chunkedRefused: 0,
    answeredAfterClientLeft: 0,
    inFlight: 0,
    maxInFlight: 0,
  };

  const standIn: OpenTsdbStandIn = {
    url: '',
    stats,
    delayMs: 0,
    dropNext: 0,
    answerNext: [],
    queryBodies: [],
    load(points) {
      for (const p of points) {
        if (opts.autoCreateMetrics) tsd.metricUids.add(p.metric);
        tsd.storePoint(p);
      }
    },
    mkmetric(name) {
      tsd.metricUids.add(name);
    },
    pointCount: (metric) => tsd.pointCount(metric),
    resetStats() {
      for (const k of Object.keys(stats) as (keyof StandInStats)[]) if (k !== 'inFlight') stats[k] = 0;
      standIn.queryBodies.length = 0;
    },
    stop: async () => undefined,
  };

  const timers = new Set<NodeJS.Timeout>();

  function handle(req: IncomingMessage, res: ServerResponse, raw: Buffer): void {
    const reply = (status: number, body: string, contentType = 'application/json; charset=UTF-8') => {
      const send = () => {
        if (res.destroyed || req.socket.destroyed) {
          stats.answeredAfterClientLeft += 1;
          stats.inFlight -= 1;
          return;
        }
        stats.inFlight -= 1;
        // src/tsd/PipelineFactory.java installs HttpContentCompressor: answers are gzip-compressed
        // for a client that accepts it.
        if (body !== '' && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''))) {
          const z = gzipSync(body);
          res.writeHead(status, {
            'content-type': contentType,
            'content-encoding': 'gzip',
            'content-length': z.byteLength,
          });
          res.end(z);
          return;
        }
        res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) });
        res.end(body);
      };
      if (standIn.delayMs > 0) {
        const timer = setTimeout(() => {
          timers.delete(timer);
          send();
        }, standIn.delayMs);
        timers.add(timer);
      } else send();
    };
    stats.inFlight += 1;
    stats.maxInFlight = Math.max(stats.maxInFlight, stats.inFlight);
    if (standIn.dropNext > 0) {
      standIn.dropNext -= 1;
      stats.inFlight -= 1;
      req.socket.destroy();
      return;
    }
    // src/tsd/PipelineFactory.java: HttpRequestDecoder (maxChunkSize 8192) runs BEFORE the
    // HttpContentDecompressor, and with tsd.http.request.enable_chunked=false no aggregator is
    // installed; src/tsd/RpcHandler.java handleHttpQuery then refuses any chunked request before
    // routing, so the api version is still 0 and HttpQuery.badRequest answers an HTML page.
    // The limit is on the body AS SENT (gzip-compressed size when Content-Encoding: gzip).
    const chunked = req.headers['transfer-encoding'] !== undefined;
    if (chunked || raw.length > (opts.bodyLimit ?? TSD_MAX_UNCHUNKED_BODY)) {
      stats.chunkedRefused += 1;
      reply(400, htmlBadRequest('Chunked request not supported.'), 'text/html; charset=UTF-8');
      return;
    }
    const injected = standIn.answerNext.shift();
    if (injected !== undefined) {
      reply(injected.status, injected.body, injected.contentType);
      return;
    }
    let body: string;
    try {
      const enc = req.headers['content-encoding'];
      // HttpContentDecompressor: gzip and deflate bodies are inflated before the RPC sees them.
      body = (enc === 'gzip' ? gunzipSync(raw) : enc === 'deflate' ? inflateSync(raw) : raw).toString('utf8');
    } catch (err) {
      reply(400, jsonError(new TsdError(400, 'Unable to decompress the request', (err as Error).message)));
      return;
    }
    const url = new URL(req.url ?? '/', 'http://tsd');
    try {
      if (url.pathname === '/api/query') {
        stats.queries += 1;
        let q: QueryJson;
        if (req.method === 'POST') {
          if (standIn.queryBodies.length < 1000) standIn.queryBodies.push(body);
          try {
            q = JSON.parse(body) as QueryJson;
          } catch (err) {
            throw new TsdError(400, 'Unable to parse the given JSON', (err as Error).message);
          }
        } else if (req.method === 'GET') q = parseQueryString(url.searchParams);
        else
          throw new TsdError(
            405,
            'Method not allowed',
            `The HTTP method [${req.method}] is not permitted for this endpoint`,
          );
        const parsed = parseQueryJson(q, Date.now());
        reply(200, JSON.stringify(tsd.runQuery(parsed)));
        return;
      }
      if (url.pathname === '/api/put') {
        stats.puts += 1;
        if (req.method !== 'POST')
          throw new TsdError(
            405,
            'Method not allowed',
            `The HTTP method [${req.method}] is not permitted for this endpoint`,
          );
        const a = tsd.put(body, url.searchParams);
        reply(a.status, a.body);
        return;
      }
      throw new TsdError(404, 'Endpoint not found', `The requested endpoint [${url.pathname}] was not found`);
    } catch (err) {
      if (err instanceof TsdError) reply(err.status, jsonError(err));
      else reply(500, jsonError(new TsdError(500, (err as Error).message)));
    }
  }

  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    stats.requests += 1;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      stats.bytesIn += raw.length;
      handle(req, res, raw);
    });
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  standIn.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  standIn.stop = () =>
    new Promise((resolve) => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      server.close(() => resolve());
    });
  return standIn;
}

/** BDWatchdog's per-process metrics, as its create-monitoring-opentsdb-metrics.sh registers them. */
export const BDWATCHDOG_METRICS = [
  'proc.cpu.user',
  'proc.cpu.kernel',
  'proc.mem.resident',
  'proc.mem.virtual',
  'proc.disk.reads.mb',
  'proc.disk.writes.mb',
  'proc.net.tcp.in.mb',
  'proc.net.tcp.out.mb',
] as const;
