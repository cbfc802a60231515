/**
 * MetricsSource over the Prometheus query API (VictoriaMetrics fed by
 * BDWatchdog's /api/put, or Prometheus): the same semantics as the OpenTSDB
 * adapter — per container and 5 s bucket the sum over its processes of their
 * average (zimsum of 5s-avg), then the mean of the buckets that have data,
 * summed over sub-metrics. One range query per metric per bounded batch, the
 * batch as a regex on the group tag. Unknown names simply return no series.
 */
import { mapLimit } from '../../core/map-limit.ts';
import type {
  MetricsSource,
  UsageCallOptions,
  UsageQuery,
  UsageResult,
  UsageWindow,
} from '../../core/ports/metrics-source.ts';
import { chunk, queryMetrics, regexEscape, tagKey, UsageReducer } from './bdwatchdog-metrics.ts';
import {
  budgetFrom,
  type CallBudget,
  type HttpOptions,
  type MetricsHttpError,
  postWithRetry,
} from './http.ts';

export interface PrometheusOptions {
  url: string;
  batchSize?: number;
  concurrency?: number;
  timeoutMs?: number;
  retries?: number;
  /** Bucket length, seconds (OpenTSDB's downsample). */
  bucketS?: number;
  fetch?: typeof fetch;
  /**
   * Ask for the host agents' CPU series too and let it settle what the source
   * cannot (core/policy/idle-evidence.ts): an idle container with no BDWatchdog
   * points reads 0; a missing one stays null. Off: absent is null.
   */
  idleEvidence?: boolean;
}

export class PrometheusMetricsSource implements MetricsSource {
  private readonly url: string;
  private readonly batchSize: number;
  private readonly concurrency: number;
  private readonly bucketS: number;
  private readonly http: HttpOptions;
  private readonly idleEvidence: boolean;

  constructor(opts: PrometheusOptions) {
    this.url = `${opts.url.replace(/\/$/, '')}/api/v1/query_range`;
    this.batchSize = opts.batchSize ?? 250;
    this.concurrency = opts.concurrency ?? 4;
    this.bucketS = opts.bucketS ?? 5;
    this.idleEvidence = opts.idleEvidence ?? false;
    this.http = {
      timeoutMs: opts.timeoutMs ?? 3000,
      retries: opts.retries ?? 1,
      ...(opts.fetch === undefined ? {} : { fetch: opts.fetch }),
    };
  }

  /** The PromQL for one metric over a batch (exported for the docs and tests). */
  static promql(metric: string, key: string, names: readonly string[], bucketS: number): string {
    const re = names.map(regexEscape).join('|');
    return `sum by (${key}) (avg_over_time({__name__="${metric}",${key}=~"${re}"}[${bucketS}s]))`;
  }

  async usage(q: UsageQuery, call?: UsageCallOptions): Promise<UsageResult> {
    const reducer = new UsageReducer();
    const budget = budgetFrom(call);
    const counter = { requests: 0, bytes: 0 };
    const key = tagKey(q.kind);
    const metrics = queryMetrics(q.kind, q.resources, this.idleEvidence);
    const jobs = chunk(q.structures, this.batchSize).flatMap((names) =>
      metrics.map((metric) => ({ names, metric })),
    );
    await mapLimit(jobs, this.concurrency, ({ names, metric }) =>
      this.queryOne(names, metric, key, q.window, reducer, budget, counter),
    );
    return {
      usage: reducer.result(q.structures, q.kind, q.resources, this.idleEvidence),
      queries: counter.requests,
      bytes: counter.bytes,
      rejected: reducer.rejected,
    };
  }

  private async queryOne(
    names: readonly string[],
    metric: string,
    key: string,
    window: UsageWindow,
    reducer: UsageReducer,
    budget: CallBudget,
    counter: { requests: number; bytes: number },
  ): Promise<void> {
    const step = Math.max(1, Math.min(this.bucketS, window.endS - window.startS));
    const form = new URLSearchParams({
      query: PrometheusMetricsSource.promql(metric, key, names, step),
      // Evaluations at start+step … end cover (start, end] in buckets of `step` seconds.
      start: String(window.startS + step),
      end: String(window.endS),
      step: `${step}s`,
    });
    let answer: Awaited<ReturnType<typeof postWithRetry>>;
    try {
      answer = await postWithRetry(
        this.url,
        { body: form.toString(), headers: { 'content-type': 'application/x-www-form-urlencoded' } },
        this.http,
        budget,
        counter,
      );
    } catch (err) {
      for (const n of names)
        reducer.reject(n, metric, `query failed: ${(err as MetricsHttpError).message}`, 'outage');
      return;
    }
    const asked = new Set(names);
    let parsed: { status?: unknown; data?: { resultType?: unknown; result?: unknown } } | null = null;
    try {
      parsed = answer.status === 200 ? JSON.parse(answer.body) : null;
    } catch {
      parsed = null;
    }
    const result =
      parsed?.status === 'success' && parsed.data?.resultType === 'matrix' ? parsed.data.result : undefined;
    if (!Array.isArray(result)) {
      for (const n of names)
        reducer.reject(
          n,
          metric,
          `malformed response (HTTP ${answer.status}): ${answer.body.slice(0, 200)}`,
          'outage',
        );
      return;
    }
    for (const series of result) {
      const s = series as { metric?: Record<string, unknown>; values?: unknown } | null;
      const name = s?.metric?.[key];
      if (typeof name !== 'string' || !asked.has(name) || !Array.isArray(s?.values)) {
        reducer.reject(typeof name === 'string' ? name : null, metric, 'malformed series');
        continue;
      }
      reducer.addSeries(
        name,
        metric,
        s.values.map((p) => (Array.isArray(p) ? p[1] : undefined)),
      );
    }
  }
}
