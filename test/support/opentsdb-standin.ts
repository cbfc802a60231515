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

/** HttpRequestDecoder's default maxChunkSize: a longer body is decoded as chunks. */
export const TSD_MAX_UNCHUNKED_BODY = 8192;
/** One HBase row holds one hour of a series (Const.MAX_TIMESPAN, src/core/Const.java). */
const ROW_SPAN_S = 3600;

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

interface Series {
  tags: Record<string, string>;
  /** Timestamp ms → value. */
  points: Map<number, number>;
}

/** An exception the TSD turns into a JSON error (src/tsd/BadRequestException.java). */
class TsdError extends Error {
  readonly status: number;
  readonly details: string;
  constructor(status: number, message: string, details = '') {
    super(message);
    this.status = status;
    this.details = details;
  }
}

/** src/uid/NoSuchUniqueName.java: "No such name for '<kind>': '<name>'", kind metrics|tagk|tagv. */
function noSuchName(kind: 'metrics' | 'tagk' | 'tagv', name: string): TsdError {
  const message = `No such name for '${kind}': '${name}'`;
  // src/tsd/QueryRpc.java: a NoSuchUniqueName becomes new BadRequestException(ex), which puts
  // the exception's message in both `message` and `details` (BadRequestException(String, Throwable)).
  return new TsdError(400, message, message);
}

/** src/tsd/HttpSerializer.java formatErrorV1; `trace` because tsd.http.show_stack_trace defaults to true. */
function jsonError(err: TsdError): string {
  const trace = `net.opentsdb.tsd.BadRequestException: ${err.message}\n\tat net.opentsdb.tsd.QueryRpc.handleQuery(QueryRpc.java)\n`;
  return JSON.stringify({
    error: {
      code: err.status,
      message: err.message,
      ...(err.details === '' ? {} : { details: err.details }),
      trace,
    },
  });
}

/**
 * src/tsd/HttpQuery.java badRequest + makePage: with no API version parsed yet the error is an
 * HTML page, the reason inside "The reason provided was:<blockquote>…</blockquote>".
 */
function htmlBadRequest(reason: string): string {
  return (
    '<!DOCTYPE html><html><head><meta http-equiv=content-type content="text/html;charset=utf-8">' +
    '<title>Bad Request</title>\n<style><!--\nbody{font-family:arial,sans-serif;margin-left:2em}' +
    'A.l:link{color:#6f6f6f}A.u:link{color:green}.fwf{font-family:monospace;white-space:pre-wrap}' +
    '//--></style></head>\n<body text=#000000 bgcolor=#ffffff><table border=0 cellpadding=2 ' +
    'cellspacing=0 width=100%><tr><td rowspan=3 width=1% nowrap><b><font color=#c71a32 size=10>T' +
    '</font><font color=#00a189 size=10>S</font><font color=#1a65b7 size=10>D</font>&nbsp;&nbsp;' +
    "</b><td>&nbsp;</td></tr><tr><td><font color=#507e9b><b>Looks like it's your fault this time" +
    '</b></td></tr><tr><td>&nbsp;</td></tr></table><blockquote><h1>Bad Request</h1>Sorry but your ' +
    'request was rejected as being invalid.<br/><br/>The reason provided was:<blockquote>' +
    `${reason}</blockquote></blockquote><table width=100% cellpadding=0 cellspacing=0><tr><td ` +
    'class=subg><img alt="" width=1 height=6></td></tr></table></body></html>'
  );
}

/**
 * src/utils/DateTime.java parseDateTimeString: digits only = seconds (≤ 10 digits) or ms
 * (13 digits), `<n><unit>-ago` relative to now; the JSON may carry a number or a string.
 */
function parseTime(raw: unknown, what: string, nowMs: number): number {
  if (typeof raw === 'number' && Number.isFinite(raw)) return raw > 9_999_999_999 ? raw : raw * 1000;
  if (typeof raw !== 'string' || raw === '') throw new TsdError(400, `Missing ${what} time`);
  if (raw === 'now') return nowMs;
  if (/^\d+$/.test(raw)) return raw.length > 10 ? Number(raw) : Number(raw) * 1000;
  const rel = /^(\d+)(ms|s|m|h|d|w|n|y)-ago$/.exec(raw);
  if (rel !== null) return nowMs - Number(rel[1]) * unitMs(rel[2] as string);
  throw new TsdError(400, `Invalid ${what} time: ${raw}`);
}

function unitMs(u: string): number {
  const ms: Record<string, number> = {
    ms: 1,
    s: 1000,
    m: 60_000,
    h: 3_600_000,
    d: 86_400_000,
    w: 604_800_000,
    n: 2_592_000_000,
    y: 31_536_000_000,
  };
  const v = ms[u];
  if (v === undefined) throw new TsdError(400, `Invalid units in the duration: ${u}`);
  return v;
}

interface Downsample {
  intervalMs: number;
  fn: string;
  fill: 'none' | 'nan' | 'null' | 'zero';
}

/** src/core/DownsamplingSpecification.java: `<interval>-<function>[-<fill policy>]`. */
function parseDownsample(spec: string): Downsample {
  const m =
    /^(\d+)(ms|s|m|h|d|w|n|y)-(avg|sum|min|max|count|zimsum|mimmin|mimmax)(?:-(none|nan|null|zero))?$/.exec(
      spec,
    );
  if (m === null) throw new TsdError(400, `Invalid downsampling specifier '${spec}' in [${spec}]`);
  const intervalMs = Number(m[1]) * unitMs(m[2] as string);
  if (intervalMs <= 0) throw new TsdError(400, 'Interval must be greater than zero');
  return { intervalMs, fn: m[3] as string, fill: (m[4] ?? 'none') as Downsample['fill'] };
}

/** src/core/Aggregators.java: the aggregators this stand-in implements. */
const AGGREGATORS = new Set(['zimsum', 'sum', 'avg', 'min', 'max', 'mimmin', 'mimmax', 'count']);

interface Filter {
  tagk: string;
  type: 'literal_or' | 'wildcard';
  values: string[];
  set: ReadonlySet<string>;
  groupBy: boolean;
}

/**
 * src/query/filter/TagVFilter.java tagsToFilters: a `tags` map value is a filter that also groups:
 * `*` (or containing `*`) a wildcard, `a|b|c` or `a` a literal_or; `type(expr)` names it.
 */
function tagFilter(tagk: string, raw: string, groupBy: boolean): Filter {
  const fn = /^(\w+)\((.*)\)$/.exec(raw);
  const type = fn ? fn[1] : raw.includes('*') ? 'wildcard' : 'literal_or';
  const expr = fn ? (fn[2] as string) : raw;
  if (type !== 'literal_or' && type !== 'wildcard')
    throw new TsdError(400, `Could not find a filter matching the type: ${type}`);
  // src/query/filter/TagVLiteralOrFilter.java: split on '|', each literal trimmed.
  const values = expr.split('|').map((v) => v.trim());
  return { tagk, type, values, set: new Set(values), groupBy };
}

function wildcardMatch(pattern: string, value: string): boolean {
  if (pattern === '*') return true;
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
  return re.test(value);
}

interface SubQuery {
  aggregator: string;
  metric: string;
  downsample: Downsample | null;
  filters: Filter[];
}

interface QueryJson {
  start?: unknown;
  end?: unknown;
  msResolution?: unknown;
  ms?: unknown;
  queries?: unknown;
}

export async function startOpenTsdbStandIn(opts: StandInOptions = {}): Promise<OpenTsdbStandIn> {
  const metricUids = new Set(opts.metrics ?? []);
  const tagkUids = new Set<string>();
  const tagvUids = new Set<string>();
  /** metric → series key → series. */
  const store = new Map<string, Map<string, Series>>();
  /** metric → tagk → tagv → series (for the literal_or lookups). */
  const index = new Map<string, Map<string, Map<string, Series[]>>>();

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

  function storePoint(p: StandInPoint): void {
    // src/core/TSDB.java addPointInternal: a timestamp beyond 32 bits is milliseconds.
    const ms = p.timestamp > 0xffffffff ? p.timestamp : p.timestamp * 1000;
    // tsd.core.auto_create_tagks / auto_create_tagvs default true (src/utils/Config.java).
    for (const [k, v] of Object.entries(p.tags)) {
      tagkUids.add(k);
      tagvUids.add(v);
    }
    const key = Object.entries(p.tags)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    let byKey = store.get(p.metric);
    if (byKey === undefined) {
      byKey = new Map();
      store.set(p.metric, byKey);
    }
    let s = byKey.get(key);
    if (s === undefined) {
      s = { tags: { ...p.tags }, points: new Map() };
      byKey.set(key, s);
      let byTagk = index.get(p.metric);
      if (byTagk === undefined) {
        byTagk = new Map();
        index.set(p.metric, byTagk);
      }
      for (const [k, v] of Object.entries(p.tags)) {
        let byTagv = byTagk.get(k);
        if (byTagv === undefined) {
          byTagv = new Map();
          byTagk.set(k, byTagv);
        }
        const list = byTagv.get(v) ?? [];
        list.push(s);
        byTagv.set(v, list);
      }
    }
    // tsd.storage.fix_duplicates=true (BDWatchdog's opentsdb.conf): the last write wins.
    s.points.set(ms, p.value);
  }

  /** src/tsd/HttpJsonSerializer.java parseQueryV1 + src/core/TSQuery.java validateAndSetQuery. */
  function parseQueryJson(q: QueryJson, nowMs: number) {
    const startMs = parseTime(q.start, 'start', nowMs);
    const endMs = q.end === undefined ? nowMs : parseTime(q.end, 'end', nowMs);
    if (endMs <= startMs)
      throw new TsdError(400, `End time [${endMs}] must be greater than the start time [${startMs}]`);
    if (!Array.isArray(q.queries) || q.queries.length === 0) throw new TsdError(400, 'Missing queries');
    const subs: SubQuery[] = q.queries.map((raw: unknown) => {
      const s = raw as {
        aggregator?: unknown;
        metric?: unknown;
        downsample?: unknown;
        tags?: unknown;
        filters?: unknown;
      };
      if (typeof s.aggregator !== 'string' || s.aggregator === '')
        throw new TsdError(400, 'Missing the aggregation function');
      if (!AGGREGATORS.has(s.aggregator)) throw new TsdError(400, `No such aggregator: ${s.aggregator}`);
      if (typeof s.metric !== 'string' || s.metric === '')
        throw new TsdError(400, 'Missing the metric or tsuids, provide at least one');
      const filters: Filter[] = [];
      if (s.tags !== undefined && s.tags !== null) {
        for (const [k, v] of Object.entries(s.tags as Record<string, unknown>))
          filters.push(tagFilter(k, String(v), true));
      }
      if (Array.isArray(s.filters)) {
        for (const f of s.filters as { type?: string; tagk?: string; filter?: string; groupBy?: boolean }[])
          filters.push(tagFilter(String(f.tagk), `${f.type}(${f.filter})`, f.groupBy === true));
      }
      return {
        aggregator: s.aggregator,
        metric: s.metric,
        downsample:
          typeof s.downsample === 'string' && s.downsample !== '' ? parseDownsample(s.downsample) : null,
        filters,
      };
    });
    return { startMs, endMs, msResolution: q.msResolution === true || q.ms === true, subs };
  }

  /**
   * src/tsd/QueryRpc.java parseQuery (GET): `m=<agg>:[<downsample>:]<metric>{k=v,...}`,
   * possibly several.
   */
  function parseQueryString(params: URLSearchParams): QueryJson {
    const queries = params.getAll('m').map((m) => {
      const braces = /^([^{]*)(?:\{(.*)\})?$/.exec(m);
      const parts = (braces?.[1] ?? '').split(':');
      if (parts.length < 2)
        throw new TsdError(400, `Invalid parameter m=${m} (missing aggregator or metric)`);
      const tags: Record<string, string> = {};
      for (const kv of (braces?.[2] ?? '').split(',').filter((x) => x !== '')) {
        const eq = kv.indexOf('=');
        if (eq < 1) throw new TsdError(400, `invalid tag: ${kv}`);
        tags[kv.slice(0, eq)] = kv.slice(eq + 1);
      }
      const downsample = parts.find((p, i) => i > 0 && i < parts.length - 1 && /^\d/.test(p));
      return { aggregator: parts[0], metric: parts[parts.length - 1], downsample, tags };
    });
    return {
      start: params.get('start') ?? undefined,
      end: params.get('end') ?? undefined,
      msResolution: params.has('ms'),
      queries,
    };
  }

  function runQuery(parsed: ReturnType<typeof parseQueryJson>): unknown[] {
    const out: unknown[] = [];
    for (const sub of parsed.subs) {
      // src/core/TsdbQuery.java configureFromQuery: the metric's UID first, then each filter's
      // tag key and (literal_or) tag values; an unknown one fails the whole query.
      if (!metricUids.has(sub.metric)) throw noSuchName('metrics', sub.metric);
      for (const f of sub.filters) {
        if (!tagkUids.has(f.tagk)) throw noSuchName('tagk', f.tagk);
        if (f.type === 'literal_or' && !opts.skipUnresolvedTagvs) {
          // src/query/filter/TagVLiteralOrFilter.java resolveTagkName: every literal is resolved;
          // unresolved ones fail unless tsd.query.skip_unresolved_tagvs.
          const unknown = f.values.find((v) => !tagvUids.has(v));
          if (unknown !== undefined) throw noSuchName('tagv', unknown);
        }
      }
      out.push(...querySeries(sub, parsed.startMs, parsed.endMs, parsed.msResolution));
    }
    return out;
  }

  function querySeries(sub: SubQuery, startMs: number, endMs: number, msRes: boolean): unknown[] {
    const ds = sub.downsample;
    // src/core/TsdbQuery.java getScanStartTimeSeconds / getScanEndTimeSeconds: the start is
    // aligned down to its downsample interval, then to its hour row; the end is moved to the
    // interval FOLLOWING it (always forward), then up to an hour boundary. Whole rows are read.
    const startS = Math.floor(startMs / 1000);
    const alignedStartS = ds ? startS - ((startS * 1000) % ds.intervalMs) / 1000 : startS;
    const scanStartMs = (alignedStartS - (alignedStartS % ROW_SPAN_S)) * 1000;
    let endS = Math.floor(endMs / 1000);
    if (ds) endS += (ds.intervalMs - ((endS * 1000) % ds.intervalMs)) / 1000;
    if (endS % ROW_SPAN_S !== 0) endS += ROW_SPAN_S - (endS % ROW_SPAN_S);
    const scanEndMs = endS * 1000;

    // Candidate series: narrowed by the first literal_or filter, then every filter checked.
    const lit = sub.filters.find((f) => f.type === 'literal_or');
    let candidates: Iterable<Series>;
    if (lit !== undefined) {
      const byTagv = index.get(sub.metric)?.get(lit.tagk);
      candidates = [...lit.set].flatMap((v) => byTagv?.get(v) ?? []);
    } else candidates = store.get(sub.metric)?.values() ?? [];
    const groups = new Map<string, Series[]>();
    for (const s of candidates) {
      const ok = sub.filters.every((f) => {
        const v = s.tags[f.tagk];
        if (v === undefined) return false;
        return f.type === 'literal_or' ? f.set.has(v) : f.values.some((p) => wildcardMatch(p, v));
      });
      if (!ok) continue;
      // A series is in the answer when one of its rows is scanned, even if no point of the row
      // falls in [start, end]: it then serialises with empty dps.
      let inRows = false;
      for (const t of s.points.keys())
        if (t >= scanStartMs && t < scanEndMs) {
          inRows = true;
          break;
        }
      if (!inRows) continue;
      const gkey = sub.filters
        .filter((f) => f.groupBy)
        .map((f) => `${f.tagk}=${s.tags[f.tagk]}`)
        .join(',');
      const list = groups.get(gkey) ?? [];
      if (!list.includes(s)) list.push(s);
      groups.set(gkey, list);
    }

    const out: unknown[] = [];
    for (const members of groups.values()) {
      const perSeries = members.map((s) => seriesValues(s, ds, startMs, scanStartMs, scanEndMs));
      const dps = aggregate(sub.aggregator, perSeries);
      if (ds !== null && ds.fill !== 'none') {
        // src/core/FillingDownsampler.java: missing intervals between the aligned start and the
        // end are filled with NaN, null or 0.
        const first = Math.ceil(startMs / ds.intervalMs) * ds.intervalMs;
        for (let t = first; t <= endMs; t += ds.intervalMs)
          if (!dps.has(t)) dps.set(t, ds.fill === 'zero' ? 0 : ds.fill === 'null' ? null : Number.NaN);
      }
      // src/tsd/HttpJsonSerializer.java formatQueryAsyncV1: only points with start ≤ ts ≤ end are
      // written; keys in seconds unless msResolution; NaN written by Jackson as the string "NaN".
      const obj: Record<string, number | string | null> = {};
      for (const t of [...dps.keys()].sort((a, b) => a - b)) {
        if (t < startMs || t > endMs) continue;
        const v = dps.get(t) as number | null;
        obj[String(msRes ? t : Math.floor(t / 1000))] = v !== null && Number.isNaN(v) ? 'NaN' : v;
      }
      // src/core/SpanGroup.java getTags / getAggregatedTags: tags shared (same value) by every
      // member are `tags`; keys present with differing values are `aggregateTags`.
      const tags: Record<string, string> = {};
      const aggregateTags = new Set<string>();
      const first = members[0] as Series;
      for (const [k, v] of Object.entries(first.tags)) {
        if (members.every((m) => m.tags[k] === v)) tags[k] = v;
        else aggregateTags.add(k);
      }
      for (const m of members) for (const k of Object.keys(m.tags)) if (!(k in tags)) aggregateTags.add(k);
      out.push({ metric: sub.metric, tags, aggregateTags: [...aggregateTags], dps: obj });
    }
    return out;
  }

  /**
   * One series' values: downsampled (src/core/Downsampler.java seekInterval rounds the start UP
   * to an interval boundary; a bucket holds [t, t + interval) and every point of the scanned rows
   * counts, so the last bucket averages points after `end` too), or raw points from `start` on.
   */
  function seriesValues(
    s: Series,
    ds: Downsample | null,
    startMs: number,
    scanStartMs: number,
    scanEndMs: number,
  ): Map<number, number> {
    const out = new Map<number, number>();
    if (ds === null) {
      for (const [t, v] of s.points) if (t >= startMs && t < scanEndMs) out.set(t, v);
      return out;
    }
    const seekMs = Math.floor((startMs + ds.intervalMs - 1) / ds.intervalMs) * ds.intervalMs;
    const buckets = new Map<number, number[]>();
    for (const [t, v] of s.points) {
      if (t < Math.max(seekMs, scanStartMs) || t >= scanEndMs) continue;
      const b = t - (t % ds.intervalMs);
      const list = buckets.get(b) ?? [];
      list.push(v);
      buckets.set(b, list);
    }
    for (const [b, vs] of buckets) out.set(b, reduce(ds.fn, vs));
    return out;
  }

  function reduce(fn: string, vs: number[]): number {
    switch (fn) {
      case 'sum':
      case 'zimsum':
        return vs.reduce((a, b) => a + b, 0);
      case 'min':
      case 'mimmin':
        return Math.min(...vs);
      case 'max':
      case 'mimmax':
        return Math.max(...vs);
      case 'count':
        return vs.length;
      default:
        return vs.reduce((a, b) => a + b, 0) / vs.length;
    }
  }

  /**
   * src/core/AggregationIterator.java: zimsum/mimmin/mimmax/count use the values present at a
   * timestamp (missing = absent); sum/avg/min/max interpolate a series linearly between its own
   * points and leave it out beyond them.
   */
  function aggregate(agg: string, series: Map<number, number>[]): Map<number, number | null> {
    // One series: every aggregator returns its values (count: 1 each).
    if (series.length === 1 && agg !== 'count') return new Map(series[0]);
    const times = [...new Set(series.flatMap((s) => [...s.keys()]))].sort((a, b) => a - b);
    const lerp = agg === 'sum' || agg === 'avg' || agg === 'min' || agg === 'max';
    const sorted = lerp ? series.map((s) => [...s.entries()].sort((a, b) => a[0] - b[0])) : [];
    const out = new Map<number, number | null>();
    for (const t of times) {
      const vs: number[] = [];
      series.forEach((s, i) => {
        const v = s.get(t);
        if (v !== undefined) vs.push(v);
        else if (lerp) {
          const pts = sorted[i] as [number, number][];
          const after = pts.findIndex(([pt]) => pt > t);
          if (after > 0) {
            const [t0, v0] = pts[after - 1] as [number, number];
            const [t1, v1] = pts[after] as [number, number];
            vs.push(v0 + ((v1 - v0) * (t - t0)) / (t1 - t0));
          }
        }
      });
      if (vs.length === 0) continue;
      // NaN (a filled bucket) propagates through the arithmetic as in Java.
      out.set(
        t,
        reduce(agg === 'zimsum' ? 'sum' : agg === 'mimmin' ? 'min' : agg === 'mimmax' ? 'max' : agg, vs),
      );
    }
    return out;
  }

  /** src/tsd/PutDataPointRpc.java processDataPoint + src/core/IncomingDataPoint.java validate. */
  function put(body: string, params: URLSearchParams): { status: number; body: string } {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch (err) {
      return {
        status: 400,
        body: jsonError(new TsdError(400, 'Unable to parse the given JSON', (err as Error).message)),
      };
    }
    const dps = Array.isArray(parsed) ? parsed : [parsed];
    if (dps.length === 0)
      return { status: 400, body: jsonError(new TsdError(400, 'No datapoints found in content')) };
    const details = params.has('details');
    const summary = params.has('summary');
    const errors: { datapoint: unknown; error: string }[] = [];
    let success = 0;
    for (const dp of dps as Record<string, unknown>[]) {
      const error = putOne(dp);
      if (error === null) success += 1;
      else errors.push({ datapoint: dp, error });
    }
    const failed = dps.length - success;
    if (!details && !summary) {
      return failed > 0
        ? {
            status: 400,
            body: jsonError(
              new TsdError(
                400,
                'One or more data points had errors',
                'Please see the TSD logs or append "details" to the put request',
              ),
            ),
          }
        : { status: 204, body: '' };
    }
    const out = details ? { success, failed, errors } : { success, failed };
    return { status: failed > 0 ? 400 : 200, body: JSON.stringify(out) };
  }

  const NAME = /^[\p{L}\p{N}\-_./]+$/u; // src/core/Tags.java validateString

  function putOne(dp: Record<string, unknown> | null): string | null {
    if (dp === null || typeof dp !== 'object') return 'Unexpected null datapoint encountered in set.';
    const metric = dp.metric;
    if (typeof metric !== 'string' || metric === '') return 'Metric name was empty';
    const ts =
      typeof dp.timestamp === 'string' && /^\d+$/.test(dp.timestamp) ? Number(dp.timestamp) : dp.timestamp;
    if (typeof ts !== 'number' || !Number.isInteger(ts) || ts <= 0) return 'Invalid timestamp';
    const raw = dp.value;
    if (raw === undefined || raw === null || raw === '') return 'Empty value';
    const tags = dp.tags as Record<string, unknown> | undefined;
    if (tags === undefined || tags === null || typeof tags !== 'object' || Object.keys(tags).length < 1)
      return 'Missing tags';
    const value = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : Number.NaN;
    if (!Number.isFinite(value)) return 'Unable to parse value to a number';
    if (!NAME.test(metric)) return `Invalid metric name ("${metric}"): illegal character`;
    for (const [k, v] of Object.entries(tags)) {
      if (!NAME.test(k)) return `Invalid tag name ("${k}"): illegal character`;
      if (typeof v !== 'string' || !NAME.test(v))
        return `Invalid tag value ("${String(v)}"): illegal character`;
    }
    if (!metricUids.has(metric)) {
      if (!opts.autoCreateMetrics) return 'Unknown metric';
      metricUids.add(metric);
    }
    storePoint({ metric, timestamp: ts, value, tags: tags as Record<string, string> });
    return null;
  }

  const standIn: OpenTsdbStandIn = {
    url: '',
    stats,
    delayMs: 0,
    dropNext: 0,
    answerNext: [],
    queryBodies: [],
    load(points) {
      for (const p of points) {
        if (opts.autoCreateMetrics) metricUids.add(p.metric);
        storePoint(p);
      }
    },
    mkmetric(name) {
      metricUids.add(name);
    },
    pointCount(metric) {
      let n = 0;
      for (const [m, byKey] of store)
        if (metric === undefined || m === metric) for (const s of byKey.values()) n += s.points.size;
      return n;
    },
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
        reply(200, JSON.stringify(runQuery(parsed)));
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
        const a = put(body, url.searchParams);
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
