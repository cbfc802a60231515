/**
 * The OpenTSDB 2.4 stand-in's storage and semantics (test/support/opentsdb-standin.ts serves them
 * over HTTP): the UID tables, one-hour rows, query parsing and evaluation (filters, grouping,
 * downsampling, aggregation, serialisation) and puts. Each behaviour names the OpenTSDB source
 * file it follows (paths under `src/` at tag v2.4.0); facts carry over from them, no code does.
 */
import type { StandInOptions, StandInPoint } from './opentsdb-standin.ts';

/** One HBase row holds one hour of a series (Const.MAX_TIMESPAN, src/core/Const.java). */
const ROW_SPAN_S = 3600;
const NAME = /^[\p{L}\p{N}\-_./]+$/u; // src/core/Tags.java validateString

interface Series {
  tags: Record<string, string>;
  /** Timestamp ms → value. */
  points: Map<number, number>;
}

/** An exception the TSD turns into a JSON error (src/tsd/BadRequestException.java). */
export class TsdError extends Error {
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
export function jsonError(err: TsdError): string {
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
export function htmlBadRequest(reason: string): string {
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

export interface QueryJson {
  start?: unknown;
  end?: unknown;
  msResolution?: unknown;
  ms?: unknown;
  queries?: unknown;
}

/** src/tsd/HttpJsonSerializer.java parseQueryV1 + src/core/TSQuery.java validateAndSetQuery. */
export function parseQueryJson(q: QueryJson, nowMs: number) {
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
export function parseQueryString(params: URLSearchParams): QueryJson {
  const queries = params.getAll('m').map((m) => {
    const braces = /^([^{]*)(?:\{(.*)\})?$/.exec(m);
    const parts = (braces?.[1] ?? '').split(':');
    if (parts.length < 2) throw new TsdError(400, `Invalid parameter m=${m} (missing aggregator or metric)`);
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

export type ParsedQuery = ReturnType<typeof parseQueryJson>;

/** The TSD's state: UID tables, series by metric, and an index by tag for the literal_or lookups. */
export class TsdStore {
  readonly opts: StandInOptions;
  readonly metricUids: Set<string>;
  readonly tagkUids = new Set<string>();
  readonly tagvUids = new Set<string>();
  /** metric → series key → series. */
  readonly store = new Map<string, Map<string, Series>>();
  /** metric → tagk → tagv → series. */
  readonly index = new Map<string, Map<string, Map<string, Series[]>>>();

  constructor(opts: StandInOptions) {
    this.opts = opts;
    this.metricUids = new Set(opts.metrics ?? []);
  }

  pointCount(metric?: string): number {
    let n = 0;
    for (const [m, byKey] of this.store)
      if (metric === undefined || m === metric) for (const s of byKey.values()) n += s.points.size;
    return n;
  }

  storePoint(p: StandInPoint): void {
    // src/core/TSDB.java addPointInternal: a timestamp beyond 32 bits is milliseconds.
    const ms = p.timestamp > 0xffffffff ? p.timestamp : p.timestamp * 1000;
    // tsd.core.auto_create_tagks / auto_create_tagvs default true (src/utils/Config.java).
    for (const [k, v] of Object.entries(p.tags)) {
      this.tagkUids.add(k);
      this.tagvUids.add(v);
    }
    const key = Object.entries(p.tags)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([k, v]) => `${k}=${v}`)
      .join(',');
    let byKey = this.store.get(p.metric);
    if (byKey === undefined) {
      byKey = new Map();
      this.store.set(p.metric, byKey);
    }
    let s = byKey.get(key);
    if (s === undefined) {
      s = { tags: { ...p.tags }, points: new Map() };
      byKey.set(key, s);
      let byTagk = this.index.get(p.metric);
      if (byTagk === undefined) {
        byTagk = new Map();
        this.index.set(p.metric, byTagk);
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

  runQuery(parsed: ReturnType<typeof parseQueryJson>): unknown[] {
    const out: unknown[] = [];
    for (const sub of parsed.subs) {
      // src/core/TsdbQuery.java configureFromQuery: the metric's UID first, then each filter's
      // tag key and (literal_or) tag values; an unknown one fails the whole query.
      if (!this.metricUids.has(sub.metric)) throw noSuchName('metrics', sub.metric);
      for (const f of sub.filters) {
        if (!this.tagkUids.has(f.tagk)) throw noSuchName('tagk', f.tagk);
        if (f.type === 'literal_or' && !this.opts.skipUnresolvedTagvs) {
          // src/query/filter/TagVLiteralOrFilter.java resolveTagkName: every literal is resolved;
          // unresolved ones fail unless tsd.query.skip_unresolved_tagvs.
          const unknown = f.values.find((v) => !this.tagvUids.has(v));
          if (unknown !== undefined) throw noSuchName('tagv', unknown);
        }
      }
      out.push(...this.querySeries(sub, parsed.startMs, parsed.endMs, parsed.msResolution));
    }
    return out;
  }

  querySeries(sub: SubQuery, startMs: number, endMs: number, msRes: boolean): unknown[] {
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
      const byTagv = this.index.get(sub.metric)?.get(lit.tagk);
      candidates = [...lit.set].flatMap((v) => byTagv?.get(v) ?? []);
    } else candidates = this.store.get(sub.metric)?.values() ?? [];
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
      const perSeries = members.map((s) => this.seriesValues(s, ds, startMs, scanStartMs, scanEndMs));
      const dps = this.aggregate(sub.aggregator, perSeries);
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
  seriesValues(
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
    for (const [b, vs] of buckets) out.set(b, this.reduce(ds.fn, vs));
    return out;
  }

  reduce(fn: string, vs: number[]): number {
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
  aggregate(agg: string, series: Map<number, number>[]): Map<number, number | null> {
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
        this.reduce(agg === 'zimsum' ? 'sum' : agg === 'mimmin' ? 'min' : agg === 'mimmax' ? 'max' : agg, vs),
      );
    }
    return out;
  }

  /** src/tsd/PutDataPointRpc.java processDataPoint + src/core/IncomingDataPoint.java validate. */
  put(body: string, params: URLSearchParams): { status: number; body: string } {
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
      const error = this.putOne(dp);
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

  putOne(dp: Record<string, unknown> | null): string | null {
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
    if (!this.metricUids.has(metric)) {
      if (!this.opts.autoCreateMetrics) return 'Unknown metric';
      this.metricUids.add(metric);
    }
    this.storePoint({ metric, timestamp: ts, value, tags: tags as Record<string, string> });
    return null;
  }
}
