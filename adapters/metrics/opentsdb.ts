/**
 * MetricsSource over OpenTSDB 2.4's `/api/query` as BDWatchdog fills it: per batch of
 * structures ONE query holding a sub-query per metric (`zimsum`, `<b>s-avg`, tag
 * `host: "a|b|c"`, a literal_or that filters and groups by container); the mean of each
 * series' buckets, summed over sub-metrics.
 *
 * What the TSD imposes (test/support/opentsdb-standin.ts cites the sources):
 * - A request body over 8,192 bytes AS SENT is refused with a 400 HTML page ("Chunked request
 *   not supported"): batches are bounded by body bytes (`maxBodyBytes`, default 8,000), and a
 *   body is gzip-compressed when that lets more names in (the TSD inflates it after the size
 *   check, so the compressed size is what counts). A 400 HTML answer halves the batch.
 * - One unknown tag value fails the whole literal_or ("No such name for 'tagv'"): the name is
 *   dropped and the batch asked again; unknown names are remembered (`unknownTtlMs`) so later
 *   calls do not ask for them, and names never resolved go in batches of their own, so a name
 *   that is still unknown never blinds a batch of names that are known.
 * - An unknown tag key ("No such name for 'tagk'", a TSD that never got a point) fails every
 *   query: the first batch goes alone until the key has resolved once, so a fresh TSD costs
 *   one query per call, not one per batch.
 * - Downsampled queries round the start UP to a bucket boundary and keep every bucket whose
 *   start is ≤ end, averaging points after `end` too: the query asks buckets that divide the
 *   window's both ends and ends 1 ms before the window's end, so the buckets read are exactly
 *   [start, end) and points after the window never count.
 * - Nothing cancels a query on the TSD when its client leaves: a timed-out request is never
 *   retried, and after a timeout or a refused connection the call asks nothing more.
 */
import { gzipSync } from 'node:zlib';
import type {
  MetricsSource,
  UsageCallOptions,
  UsageQuery,
  UsageResult,
  UsageWindow,
} from '../../core/ports/metrics-source.ts';
import type { Logger } from '../logger.ts';
import { queryMetrics, tagKey, UsageReducer } from './bdwatchdog-metrics.ts';
import {
  budgetFrom,
  type CallBudget,
  type HttpAnswer,
  type HttpOptions,
  type MetricsHttpError,
  postWithRetry,
  reasonOf,
} from './http.ts';

export interface OpenTsdbOptions {
  url: string;
  /** Upper bound on names per query (the byte bound usually binds first). */
  batchSize?: number;
  /** Request body bytes as sent; OpenTSDB refuses more than 8,192. */
  maxBodyBytes?: number;
  /** Compress bodies with gzip when that fits more names (default true). */
  gzip?: boolean;
  /** Queries in flight. */
  concurrency?: number;
  timeoutMs?: number;
  /** 0 or 1. */
  retries?: number;
  /** Longest downsample bucket, seconds (BDWatchdog's queries use 5); shortened to divide the window. */
  bucketS?: number;
  /** How long a name the TSD did not know is not asked again, ms. */
  unknownTtlMs?: number;
  logger?: Pick<Logger, 'warn' | 'info'>;
  fetch?: typeof fetch;
  /** Wall clock for the negative cache (tests). */
  now?: () => number;
  /**
   * Ask for the host agents' CPU series too and let it settle what the source
   * cannot (core/policy/idle-evidence.ts): an idle container with no BDWatchdog
   * points reads 0; a missing one stays null. Off: absent is null.
   */
  idleEvidence?: boolean;
}

/** The TSD's limit (Netty's HttpRequestDecoder chunk size, see the stand-in). */
export const TSD_BODY_LIMIT = 8192;
const UNKNOWN = /No such name for '(tagv|tagk|metrics)': '([^']*)'/;
const CACHE_CAP = 100_000;

type Encoded = { body: string | Uint8Array; size: number; gzip: boolean };
interface Batch {
  names: string[];
  enc?: Encoded;
}

interface CallState {
  key: string;
  window: UsageWindow;
  reducer: UsageReducer;
  budget: CallBudget;
  counter: { requests: number; bytes: number };
  metrics: string[];
  /** Set once a timeout or refused connection says the TSD is not answering: ask nothing more. */
  down: string | null;
  /** Set when the caller's time ran out or it cancelled: ask nothing more. */
  stopped: string | null;
  tagkMissing: boolean;
  unknownNew: string[];
  unknownCached: number;
  halved: number;
}

function gcd(a: number, b: number): number {
  let x = Math.abs(a);
  let y = Math.abs(b);
  while (y !== 0) [x, y] = [y, x % y];
  return x;
}

/**
 * The query's time range and bucket for a window [startS, endS): the longest bucket ≤ `bucketS`
 * dividing both ends (so OpenTSDB's rounding of the start changes nothing), and an end 1 ms
 * before the window's (OpenTSDB keeps a bucket whose start is ≤ end: the last one kept is
 * [endS − b, endS)).
 */
export function bucketQuery(
  window: UsageWindow,
  bucketS: number,
): { start: number; end: number; bucketS: number } {
  const b = Math.max(1, gcd(gcd(Math.max(1, Math.floor(bucketS)), window.startS), window.endS));
  return { start: window.startS, end: window.endS * 1000 - 1, bucketS: b };
}

export class OpenTsdbMetricsSource implements MetricsSource {
  private readonly url: string;
  private readonly batchSize: number;
  private readonly maxBody: number;
  private readonly gzip: boolean;
  private readonly concurrency: number;
  private readonly bucketS: number;
  private readonly ttlMs: number;
  private readonly http: HttpOptions;
  private readonly idleEvidence: boolean;
  private readonly log: Pick<Logger, 'warn' | 'info'> | null;
  private readonly now: () => number;
  /** Names (tag values) and metrics the TSD said it does not know, until when (wall ms). */
  private readonly unknownTagv = new Map<string, number>();
  private readonly unknownMetric = new Map<string, number>();
  /** Names that resolved at least once: batched apart from names never resolved. */
  private readonly known = new Set<string>();
  /** Tag keys that resolved at least once. */
  private readonly knownTagk = new Set<string>();
  /** The last call found the TSD not answering: the next one probes with one batch first. */
  private lastDown = false;

  constructor(opts: OpenTsdbOptions) {
    this.url = `${opts.url.replace(/\/$/, '')}/api/query`;
    this.batchSize = opts.batchSize ?? 5000;
    this.maxBody = Math.min(opts.maxBodyBytes ?? 8000, TSD_BODY_LIMIT);
    this.gzip = opts.gzip ?? true;
    this.concurrency = opts.concurrency ?? 4;
    this.bucketS = opts.bucketS ?? 5;
    this.ttlMs = opts.unknownTtlMs ?? 60_000;
    this.idleEvidence = opts.idleEvidence ?? false;
    this.http = {
      timeoutMs: opts.timeoutMs ?? 3000,
      retries: opts.retries ?? 1,
      ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
    };
    this.log = opts.logger ?? null;
    this.now = opts.now ?? Date.now;
  }

  async usage(q: UsageQuery, call?: UsageCallOptions): Promise<UsageResult> {
    const reducer = new UsageReducer();
    const nowWall = this.now();
    const st: CallState = {
      key: tagKey(q.kind),
      window: q.window,
      reducer,
      budget: budgetFrom(call),
      counter: { requests: 0, bytes: 0 },
      metrics: [],
      down: null,
      stopped: null,
      tagkMissing: false,
      unknownNew: [],
      unknownCached: 0,
      halved: 0,
    };
    for (const m of queryMetrics(q.kind, q.resources, this.idleEvidence)) {
      const until = this.unknownMetric.get(m);
      if (until !== undefined && until > nowWall)
        reducer.reject(null, m, 'metric not registered in the TSD (remembered)', 'unknown');
      else st.metrics.push(m);
    }
    const known: string[] = [];
    const fresh: string[] = [];
    for (const name of new Set(q.structures)) {
      const until = this.unknownTagv.get(name);
      if (until !== undefined && until > nowWall) {
        st.unknownCached += 1;
        reducer.reject(name, '*', 'never reported (unknown tag value, remembered)', 'unknown');
      } else (this.known.has(name) ? known : fresh).push(name);
    }
    if (st.metrics.length > 0) {
      const batches = [...this.pack(known, st), ...this.pack(fresh, st)];
      // A key never resolved, or a TSD that was not answering: one batch alone first.
      const probe = !this.knownTagk.has(st.key) || this.lastDown ? 1 : 0;
      if (probe > 0 && batches.length > 0) await this.runBatch(batches[0] as Batch, st);
      let next = probe;
      const lane = async () => {
        while (next < batches.length) {
          const b = batches[next++] as Batch;
          await this.runBatch(b, st);
        }
      };
      await Promise.all(Array.from({ length: Math.min(this.concurrency, batches.length) }, lane));
    }
    this.lastDown = st.down !== null;
    this.report(st, q.structures.length);
    return {
      usage: reducer.result(q.structures, q.kind, q.resources, this.idleEvidence),
      queries: st.counter.requests,
      bytes: st.counter.bytes,
      rejected: reducer.rejected,
    };
  }

  /** Distinct log lines: a TSD that does not answer is not a few containers it never heard of. */
  private report(st: CallState, asked: number): void {
    if (this.log === null) return;
    if (st.down !== null)
      this.log.warn(
        { url: this.url, reason: st.down, structures: asked, requests: st.counter.requests },
        'metrics: TSD not answering (outage); usage is null for the structures it did not answer',
      );
    if (st.stopped !== null)
      this.log.warn(
        { url: this.url, reason: st.stopped, structures: asked, requests: st.counter.requests },
        "metrics: the tick's time ran out before every batch was asked",
      );
    if (st.tagkMissing)
      this.log.warn(
        { url: this.url, tagk: st.key, structures: asked },
        'metrics: the TSD has no series tagged with this key yet (no container ever reported)',
      );
    if (st.unknownNew.length > 0 || st.unknownCached > 0)
      this.log.info(
        {
          unknownNew: st.unknownNew.length,
          unknownRemembered: st.unknownCached,
          sample: st.unknownNew.slice(0, 10),
          ttlMs: this.ttlMs,
        },
        'metrics: names unknown to the TSD (never reported); not asked again until they expire',
      );
    if (st.halved > 0)
      this.log.warn(
        { url: this.url, halved: st.halved, maxBodyBytes: this.maxBody },
        'metrics: the TSD refused a request body as too large; batch halved',
      );
  }

  private bodyOf(names: readonly string[], st: CallState): string {
    const { start, end, bucketS } = bucketQuery(st.window, this.bucketS);
    const tag = names.join('|');
    return JSON.stringify({
      start,
      end,
      queries: st.metrics.map((metric) => ({
        aggregator: 'zimsum',
        metric,
        tags: { [st.key]: tag },
        downsample: `${bucketS}s-avg`,
      })),
    });
  }

  /** The request for `names`: raw when it fits, else gzip; null when neither fits. */
  private encode(names: readonly string[], st: CallState): Encoded | null {
    const raw = this.bodyOf(names, st);
    const rawSize = Buffer.byteLength(raw);
    if (rawSize <= this.maxBody) return { body: raw, size: rawSize, gzip: false };
    if (!this.gzip) return null;
    const z = gzipSync(raw);
    return z.byteLength <= this.maxBody ? { body: z, size: z.byteLength, gzip: true } : null;
  }

  /**
   * Cuts `names` into batches whose body fits `maxBody`: the raw size is exact arithmetic; with
   * gzip a batch grows past the raw fit by the compression ratio seen (the previous batch's size
   * is the first guess), each candidate checked by compressing it: one to three tries a batch.
   */
  private pack(names: readonly string[], st: CallState): Batch[] {
    const out: Batch[] = [];
    const fixed = Buffer.byteLength(this.bodyOf([], st));
    const perName = (n: string) => st.metrics.length * (Buffer.byteLength(n) + 1);
    const gz = (from: number, n: number) => gzipSync(this.bodyOf(names.slice(from, from + n), st));
    let i = 0;
    let guess = 0;
    while (i < names.length) {
      let rawN = 0;
      let size = fixed;
      while (i + rawN < names.length && rawN < this.batchSize) {
        const add = perName(names[i + rawN] as string);
        if (size + add > this.maxBody) break;
        size += add;
        rawN += 1;
      }
      let n = Math.max(1, rawN);
      const hiCap = Math.min(names.length - i, this.batchSize);
      let fit: Buffer | null = null; // the compressed body of the `lo` names, when compressed
      if (this.gzip && n < hiCap) {
        let lo = n; // fits (raw)
        let hi = hiCap;
        let cand = Math.min(hi, Math.max(lo + 1, guess > 0 ? guess : lo * 4));
        for (let tries = 0; tries < 4 && cand > lo; tries++) {
          const body = gz(i, cand);
          const z = body.byteLength;
          if (z <= this.maxBody) {
            lo = cand;
            fit = body;
            if (cand >= hi || z > 0.9 * this.maxBody) break;
            cand = Math.min(hi, Math.floor((cand * this.maxBody * 0.95) / z));
          } else {
            hi = cand - 1;
            cand = Math.min(hi, Math.max(lo, Math.floor((cand * this.maxBody * 0.95) / z)));
          }
        }
        n = lo;
        guess = n;
      }
      const batch = names.slice(i, i + n);
      // The body compressed while sizing it is sent as is.
      out.push(
        fit === null
          ? { names: batch }
          : { names: batch, enc: { body: fit, size: fit.byteLength, gzip: true } },
      );
      i += n;
    }
    return out;
  }

  private async runBatch(batch: Batch, st: CallState): Promise<void> {
    let pending = batch.names;
    let ready = batch.enc;
    const metricsAtPack = st.metrics.length;
    let dropped = 0;
    while (pending.length > 0) {
      if (st.down !== null || st.stopped !== null || st.tagkMissing || st.metrics.length === 0) {
        const why = st.tagkMissing
          ? `no series tagged '${st.key}' in the TSD`
          : st.down !== null
            ? `not asked: ${st.down}`
            : st.stopped !== null
              ? `not asked: ${st.stopped}`
              : 'no registered metric to ask';
        for (const n of pending) st.reducer.reject(n, '*', why, st.tagkMissing ? 'unknown' : 'outage');
        return;
      }
      // The packed body while neither the names nor the metrics changed, else a fresh one.
      const enc =
        ready !== undefined && st.metrics.length === metricsAtPack ? ready : this.encode(pending, st);
      ready = undefined;
      if (enc === null) {
        // Cannot happen with packed batches unless a single name overflows the limit.
        if (pending.length === 1) {
          st.reducer.reject(
            pending[0] as string,
            '*',
            `name too long for one ${this.maxBody}-byte query`,
            'bad-data',
          );
          return;
        }
        await this.split(pending, st);
        return;
      }
      let answer: HttpAnswer;
      try {
        answer = await postWithRetry(
          this.url,
          {
            body: enc.body,
            headers: {
              'content-type': 'application/json',
              ...(enc.gzip ? { 'content-encoding': 'gzip' } : {}),
            },
          },
          this.http,
          st.budget,
          st.counter,
        );
      } catch (err) {
        const e = err as MetricsHttpError;
        // A TSD that times out or refuses connections: stop asking it in this call.
        if (e.failure === 'timeout' || e.failure === 'network') st.down ??= e.message;
        if (e.failure === 'no-time' || e.failure === 'aborted') st.stopped ??= e.message;
        for (const n of pending) st.reducer.reject(n, '*', `query failed: ${e.message}`, 'outage');
        return;
      }
      if (answer.status === 200) {
        if (this.parse(answer.body, pending, st)) {
          this.knownTagk.add(st.key);
          for (const n of pending) this.rememberKnown(n);
        }
        return;
      }
      const reason = reasonOf(answer.body);
      const unknown = answer.status === 400 ? UNKNOWN.exec(reason) : null;
      if (unknown?.[1] === 'tagv' && pending.includes(unknown[2] as string)) {
        const name = unknown[2] as string;
        this.rememberUnknown(this.unknownTagv, name);
        this.known.delete(name);
        st.unknownNew.push(name);
        st.reducer.reject(name, '*', 'never reported (unknown tag value)', 'unknown');
        pending = pending.filter((n) => n !== name);
        dropped += 1;
        // A second unknown name in one batch: more are likely; halve so they are found in parallel.
        if (dropped >= 2 && pending.length > 1) {
          await this.split(pending, st);
          return;
        }
        continue;
      }
      if (unknown?.[1] === 'metrics' && st.metrics.includes(unknown[2] as string)) {
        const metric = unknown[2] as string;
        this.rememberUnknown(this.unknownMetric, metric);
        st.reducer.reject(null, metric, 'metric not registered in the TSD', 'unknown');
        st.metrics = st.metrics.filter((m) => m !== metric);
        continue;
      }
      if (unknown?.[1] === 'tagk' && unknown[2] === st.key) {
        st.tagkMissing = true;
        this.knownTagk.delete(st.key);
        continue;
      }
      if (answer.status === 400 && /No such name/.test(reason)) {
        // An unknown name the message does not let us read (OpenTSDB 2.4 always names it; a
        // proxy or another version may not): halve until it is alone.
        if (pending.length === 1) {
          st.reducer.reject(pending[0] as string, '*', `unknown to the TSD: ${reason}`, 'unknown');
          return;
        }
        await this.split(pending, st);
        return;
      }
      if (answer.status === 400 && /chunked request not supported/i.test(reason)) {
        // The body was too large for this TSD after all (a smaller limit, a proxy): halve it.
        st.halved += 1;
        if (pending.length === 1) {
          st.reducer.reject(pending[0] as string, '*', `TSD refused the request: ${reason}`, 'outage');
          return;
        }
        await this.split(pending, st);
        return;
      }
      // 408 (HBase RPC timed out), 424 (HBase error) and any other answer: the TSD's trouble.
      const why = `HTTP ${answer.status}: ${reason}`;
      if (answer.status === 408 || answer.status === 424) st.down ??= why;
      for (const n of pending) st.reducer.reject(n, '*', why, 'outage');
      return;
    }
  }

  private async split(names: string[], st: CallState): Promise<void> {
    const half = Math.ceil(names.length / 2);
    await Promise.all([
      this.runBatch({ names: names.slice(0, half) }, st),
      this.runBatch({ names: names.slice(half) }, st),
    ]);
  }

  private rememberUnknown(cache: Map<string, number>, name: string): void {
    if (cache.size >= CACHE_CAP) {
      const nowWall = this.now();
      for (const [k, until] of cache) if (until <= nowWall || cache.size >= CACHE_CAP) cache.delete(k);
    }
    cache.set(name, this.now() + this.ttlMs);
  }

  private rememberKnown(name: string): void {
    this.unknownTagv.delete(name);
    if (this.known.size >= CACHE_CAP) this.known.clear();
    this.known.add(name);
  }

  /** Reads one answer; false when it is not OpenTSDB's shape (nothing learnt from it). */
  private parse(text: string, asked: readonly string[], st: CallState): boolean {
    const { reducer, key } = st;
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      for (const n of asked) reducer.reject(n, '*', 'malformed response (not JSON)', 'outage');
      return false;
    }
    if (!Array.isArray(data)) {
      for (const n of asked) reducer.reject(n, '*', 'malformed response (not an array)', 'outage');
      return false;
    }
    const set = new Set(asked);
    const { start, end } = bucketQuery(st.window, this.bucketS);
    for (const series of data) {
      const s = series as { metric?: unknown; tags?: Record<string, unknown>; dps?: unknown } | null;
      const name = s?.tags?.[key];
      if (typeof s?.metric !== 'string' || typeof name !== 'string' || !set.has(name)) {
        reducer.reject(
          typeof name === 'string' ? name : null,
          String(s?.metric ?? '?'),
          'malformed series',
          'bad-data',
        );
        continue;
      }
      const dps = s.dps;
      const values: unknown[] = [];
      const take = (t: number, v: unknown) => {
        // Keys are seconds, or ms with msResolution; a bucket outside the window is not ours.
        const ts = t > 9_999_999_999 ? t / 1000 : t;
        if (!(ts >= start && ts * 1000 <= end)) return;
        // A filled bucket ("NaN" or null under a nan/null fill policy) is no data, not bad data.
        if (v === null || v === 'NaN' || (typeof v === 'number' && Number.isNaN(v))) return;
        values.push(v);
      };
      if (Array.isArray(dps)) {
        for (const p of dps) if (Array.isArray(p)) take(Number(p[0]), p[1]);
      } else if (dps !== null && typeof dps === 'object') {
        const obj = dps as Record<string, unknown>;
        for (const t in obj) take(Number(t), obj[t]);
      } else {
        reducer.reject(name, s.metric, 'malformed series (no dps)', 'bad-data');
        continue;
      }
      reducer.addSeries(name, s.metric, values);
    }
    return true;
  }
}
