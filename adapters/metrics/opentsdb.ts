/**
 * MetricsSource over OpenTSDB's `/api/query` as BDWatchdog fills it: per
 * bounded batch of structures, ONE query holding a sub-query per metric
 * (`zimsum`, `5s-avg`, tag `host: "a|b|c"`, which filters and groups by
 * container); the mean of each series' points, summed over sub-metrics. The
 * downsample bucket is never longer than the window (a 1 s window asks
 * `1s-avg`: a 5 s bucket would average in points from before the window).
 * A 400 "No such name for 'tagv'" (a container that never reported) drops
 * that name and asks again, so it never blinds the rest of the batch.
 */
import { mapLimit } from '../../core/map-limit.ts';
import type { MetricsSource, UsageQuery, UsageResult, UsageWindow } from '../../core/ports/metrics-source.ts';
import { chunk, queryMetrics, tagKey, UsageReducer } from './bdwatchdog-metrics.ts';
import { type HttpOptions, postWithRetry } from './http.ts';

export interface OpenTsdbOptions {
  url: string;
  /** Structures per query. */
  batchSize?: number;
  /** Queries in flight. */
  concurrency?: number;
  timeoutMs?: number;
  retries?: number;
  /** Downsample bucket, seconds (BDWatchdog's queries use 5); capped by the window's length. */
  bucketS?: number;
  fetch?: typeof fetch;
  /**
   * Ask for the host agents' CPU series too and let it settle what the source
   * cannot (core/policy/idle-evidence.ts): an idle container with no BDWatchdog
   * points reads 0; a missing one stays null. Off: absent is null.
   */
  idleEvidence?: boolean;
}

const UNKNOWN_TAGV = /No such name for 'tagv': '([^']+)'/;
const UNKNOWN_METRIC = /No such name for 'metrics': '([^']+)'/;

export class OpenTsdbMetricsSource implements MetricsSource {
  private readonly url: string;
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly bucketS: number;
  private readonly http: HttpOptions;
  private readonly idleEvidence: boolean;

  constructor(opts: OpenTsdbOptions) {
    this.url = `${opts.url.replace(/\/$/, '')}/api/query`;
    this.batchSize = opts.batchSize ?? 250;
    this.concurrency = opts.concurrency ?? 4;
    this.bucketS = opts.bucketS ?? 5;
    this.idleEvidence = opts.idleEvidence ?? false;
    this.http = {
      timeoutMs: opts.timeoutMs ?? 3000,
      retries: opts.retries ?? 2,
      ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
    };
  }

  async usage(q: UsageQuery): Promise<UsageResult> {
    const reducer = new UsageReducer();
    const metrics = queryMetrics(q.kind, q.resources, this.idleEvidence);
    const counter = { queries: 0 };
    await mapLimit(chunk(q.structures, this.batchSize), this.concurrency, (names) =>
      this.queryBatch(names, metrics, tagKey(q.kind), q.window, reducer, counter),
    );
    return {
      usage: reducer.result(q.structures, q.kind, q.resources, this.idleEvidence),
      queries: counter.queries,
      rejected: reducer.rejected,
    };
  }

  private async queryBatch(
    names: readonly string[],
    metrics: readonly string[],
    key: string,
    window: UsageWindow,
    reducer: UsageReducer,
    counter: { queries: number },
  ): Promise<void> {
    let pending = [...names];
    let wanted = [...metrics];
    // Each round either succeeds or removes one name or metric, so this ends.
    for (
      let round = 0;
      round <= names.length + metrics.length && pending.length > 0 && wanted.length > 0;
      round++
    ) {
      const bucketS = Math.max(1, Math.min(this.bucketS, window.endS - window.startS));
      const body = JSON.stringify({
        start: window.startS,
        end: window.endS,
        queries: wanted.map((metric) => ({
          aggregator: 'zimsum',
          metric,
          tags: { [key]: pending.join('|') },
          downsample: `${bucketS}s-avg`,
        })),
      });
      counter.queries += 1;
      let answer: Awaited<ReturnType<typeof postWithRetry>>;
      try {
        answer = await postWithRetry(this.url, { body, contentType: 'application/json' }, this.http);
      } catch (err) {
        for (const n of pending) reducer.reject(n, '*', `query failed: ${(err as Error).message}`);
        return;
      }
      if (answer.status === 200) {
        this.parse(answer.body, new Set(pending), key, reducer);
        return;
      }
      const tagv = answer.status === 400 ? UNKNOWN_TAGV.exec(answer.body)?.[1] : undefined;
      if (tagv !== undefined && pending.includes(tagv)) {
        reducer.reject(tagv, '*', 'never reported (unknown tag value)');
        pending = pending.filter((n) => n !== tagv);
        continue;
      }
      const metric = answer.status === 400 ? UNKNOWN_METRIC.exec(answer.body)?.[1] : undefined;
      if (metric !== undefined && wanted.includes(metric)) {
        reducer.reject(null, metric, 'metric not registered in the TSD');
        wanted = wanted.filter((m) => m !== metric);
        continue;
      }
      if (answer.status === 400 && pending.length > 1 && /No such name/.test(answer.body)) {
        // Unknown name we cannot read from the message: halve and ask each half.
        const half = Math.ceil(pending.length / 2);
        await this.queryBatch(pending.slice(0, half), wanted, key, window, reducer, counter);
        await this.queryBatch(pending.slice(half), wanted, key, window, reducer, counter);
        return;
      }
      for (const n of pending) reducer.reject(n, '*', `HTTP ${answer.status}: ${answer.body.slice(0, 200)}`);
      return;
    }
  }

  private parse(text: string, asked: ReadonlySet<string>, key: string, reducer: UsageReducer): void {
    let data: unknown;
    try {
      data = JSON.parse(text);
    } catch {
      for (const n of asked) reducer.reject(n, '*', 'malformed response (not JSON)');
      return;
    }
    if (!Array.isArray(data)) {
      for (const n of asked) reducer.reject(n, '*', 'malformed response (not an array)');
      return;
    }
    for (const series of data) {
      const s = series as { metric?: unknown; tags?: Record<string, unknown>; dps?: unknown } | null;
      const name = s?.tags?.[key];
      if (typeof s?.metric !== 'string' || typeof name !== 'string' || !asked.has(name)) {
        reducer.reject(typeof name === 'string' ? name : null, String(s?.metric ?? '?'), 'malformed series');
        continue;
      }
      const dps = s.dps;
      let values: unknown[];
      if (Array.isArray(dps)) values = dps.map((p) => (Array.isArray(p) ? p[1] : undefined));
      else if (dps !== null && typeof dps === 'object') values = Object.values(dps);
      else {
        reducer.reject(name, s.metric, 'malformed series (no dps)');
        continue;
      }
      reducer.addSeries(name, s.metric, values);
    }
  }
}
