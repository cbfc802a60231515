/**
 * A small client of the Prometheus HTTP query API (VictoriaMetrics answers it
 * too), for the report: raw samples of a series over a range and tag values
 * (which structures have snapshots). Usage for the control loop goes through
 * adapters/metrics/prometheus.ts (MetricsSource).
 */
import { ScError } from '../../core/errors.ts';
import type { Sample, SeriesSource } from '../../core/ports/time-series.ts';

export class MetricsQueryError extends ScError {
  override name = 'MetricsQueryError';
}

/** A PromQL double-quoted string literal. */
export function promString(s: string): string {
  return `"${s.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A regular expression matching exactly one of `values` (RE2 syntax). */
export function exactAlternation(values: readonly string[]): string {
  return values.map((v) => v.replace(/[.*+?^${}()|[\]\\-]/g, '\\$&')).join('|');
}

export function selector(metric: string, tags: Record<string, string>): string {
  const matchers = [
    `__name__=${promString(metric)}`,
    ...Object.entries(tags).map(([k, v]) => `${k}=${promString(v)}`),
  ];
  return `{${matchers.join(',')}}`;
}

interface PromVectorOrMatrix {
  status: string;
  error?: string;
  data?: {
    resultType: string;
    result: { metric: Record<string, string>; value?: [number, string]; values?: [number, string][] }[];
  };
}

export class PrometheusApi {
  readonly baseUrl: string;
  readonly timeoutMs: number;

  constructor(baseUrl: string, opts: { timeoutMs?: number } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.timeoutMs = opts.timeoutMs ?? 10_000;
  }

  /** Instant query at `timeMs` (POST form, so long selectors fit). */
  async query(promql: string, timeMs: number): Promise<NonNullable<PromVectorOrMatrix['data']>> {
    const body = new URLSearchParams({ query: promql, time: (timeMs / 1000).toFixed(3) });
    const json = (await this.call('/api/v1/query', body)) as PromVectorOrMatrix;
    if (json.data === undefined) throw new MetricsQueryError(`query answered no data: ${promql}`);
    return json.data;
  }

  async labelValues(label: string, match: string, fromMs: number, toMs: number): Promise<string[]> {
    const body = new URLSearchParams({
      'match[]': match,
      start: (fromMs / 1000).toFixed(3),
      end: (toMs / 1000).toFixed(3),
    });
    const json = (await this.call(`/api/v1/label/${encodeURIComponent(label)}/values`, body)) as {
      data?: string[];
    };
    return json.data ?? [];
  }

  private async call(path: string, body: URLSearchParams): Promise<unknown> {
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      throw new MetricsQueryError(`cannot reach ${this.baseUrl}${path}`, { cause: err });
    }
    const text = await res.text();
    if (!res.ok)
      throw new MetricsQueryError(`${path} answered ${res.status}: ${text.slice(0, 300)}`, {
        context: { status: res.status },
      });
    try {
      const json = JSON.parse(text) as { status?: string; error?: string };
      if (json.status !== 'success')
        throw new MetricsQueryError(`${path} failed: ${json.error ?? text.slice(0, 300)}`);
      return json;
    } catch (err) {
      if (err instanceof MetricsQueryError) throw err;
      throw new MetricsQueryError(`${path} answered something other than JSON`, { cause: err });
    }
  }
}

/** Raw samples through a range-vector instant query: exactly the stored points in [from, to]. */
export class PrometheusSeriesSource implements SeriesSource {
  readonly api: PrometheusApi;
  constructor(api: PrometheusApi) {
    this.api = api;
  }

  async samples(
    metric: string,
    tags: Record<string, string>,
    fromMs: number,
    toMs: number,
  ): Promise<Sample[]> {
    // A range selector [d] at time t covers (t − d, t]; one extra ms makes it [from, to].
    const spanMs = Math.max(1, toMs - fromMs + 1);
    const data = await this.api.query(`${selector(metric, tags)}[${spanMs}ms]`, toMs);
    const samples: Sample[] = [];
    for (const series of data.result)
      for (const [t, v] of series.values ?? []) samples.push({ t: Math.round(t * 1000), v: Number(v) });
    return samples.sort((a, b) => a.t - b.t);
  }

  async tagValues(metric: string, tag: string, fromMs: number, toMs: number): Promise<string[]> {
    return (await this.api.labelValues(tag, selector(metric, {}), fromMs, toMs)).sort();
  }
}
