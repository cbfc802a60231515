/**
 * Writes points to an OpenTSDB-compatible `/api/put` (OpenTSDB 2.x,
 * VictoriaMetrics' OpenTSDB HTTP listener): gzip-compressed JSON, `?details`
 * so the server says which points it refused, in batches.
 *
 * The original framework treated a 400 as success; OpenTSDB answers 400 when
 * any point of a batch fails (the others are stored), so a 400 — or a 200 whose
 * details count failures — is an error here that lists the failed points.
 *
 * Batches go `concurrency` at a time; `deadlineMs` bounds the whole put (the
 * control tick publishes every tick and must not be held by a slow store):
 * past it, requests in flight are aborted and batches not sent are an error.
 */
import { gzipSync } from 'node:zlib';
import { ScError } from '../../core/errors.ts';
import { mapLimit } from '../../core/map-limit.ts';
import type { Point, PointSink } from '../../core/ports/time-series.ts';

export interface FailedPoint {
  point: unknown;
  error: string;
}

export class MetricsWriteError extends ScError {
  override name = 'MetricsWriteError';
  readonly failed: readonly FailedPoint[];
  constructor(
    message: string,
    failed: readonly FailedPoint[],
    options: { cause?: unknown; context?: Record<string, string | number> } = {},
  ) {
    super(message, options);
    this.failed = failed;
  }
}

/** OpenTSDB metric names and tag values: letters, digits, '-', '_', '.', '/'. */
const TSDB_TOKEN = /^[A-Za-z0-9_./-]+$/;

export function validatePoint(p: Point): string | null {
  if (!TSDB_TOKEN.test(p.metric)) return `metric "${p.metric}" has characters OpenTSDB refuses`;
  if (!Number.isFinite(p.value)) return `value of ${p.metric} is not finite`;
  if (!Number.isInteger(p.timestamp) || p.timestamp < 0) return `timestamp of ${p.metric} is not epoch ms`;
  const tags = Object.entries(p.tags);
  if (tags.length === 0) return `${p.metric} has no tag (OpenTSDB needs one)`;
  for (const [k, v] of tags)
    if (!TSDB_TOKEN.test(k) || !TSDB_TOKEN.test(v)) return `tag ${k}=${v} of ${p.metric} is invalid`;
  return null;
}

export interface PutSinkOptions {
  /** Points per request (default 500). */
  batchSize?: number;
  /** One request's timeout, ms (default 10 s). */
  timeoutMs?: number;
  /** Requests in flight (default 4). */
  concurrency?: number;
  /** The whole put's budget, ms; none by default. */
  deadlineMs?: number;
}

export class OpenTsdbPutSink implements PointSink {
  readonly url: string;
  readonly batchSize: number;
  readonly timeoutMs: number;
  readonly concurrency: number;
  readonly deadlineMs: number | null;

  /** `baseUrl` e.g. http://opentsdb:4242 (the `/api/put?details` path is added). */
  constructor(baseUrl: string, opts: PutSinkOptions = {}) {
    this.url = `${baseUrl.replace(/\/+$/, '')}/api/put?details`;
    this.batchSize = opts.batchSize ?? 500;
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.concurrency = opts.concurrency ?? 4;
    this.deadlineMs = opts.deadlineMs ?? null;
  }

  async put(points: readonly Point[]): Promise<void> {
    const invalid: FailedPoint[] = [];
    for (const p of points) {
      const problem = validatePoint(p);
      if (problem !== null) invalid.push({ point: p, error: problem });
    }
    if (invalid.length > 0)
      throw new MetricsWriteError(
        `${invalid.length} of ${points.length} points are invalid: ${invalid[0]?.error}`,
        invalid,
      );
    const batches: Point[][] = [];
    for (let i = 0; i < points.length; i += this.batchSize) batches.push(points.slice(i, i + this.batchSize));
    const deadline = this.deadlineMs === null ? null : AbortSignal.timeout(this.deadlineMs);
    let unsent = 0;
    const results = await mapLimit(batches, this.concurrency, async (batch) => {
      if (deadline?.aborted === true) {
        unsent += 1;
        return [];
      }
      return this.putBatch(batch, deadline);
    });
    if (unsent > 0)
      throw new MetricsWriteError(
        `put to ${this.url} ran past its ${this.deadlineMs} ms budget: ${unsent} of ${batches.length} batches not sent`,
        [],
        { context: { unsent, batches: batches.length } },
      );
    const failed = results.flat();
    if (failed.length > 0)
      throw new MetricsWriteError(
        `${failed.length} of ${points.length} points refused by ${this.url}: ${failed[0]?.error}`,
        failed,
      );
  }

  private async putBatch(batch: readonly Point[], deadline: AbortSignal | null): Promise<FailedPoint[]> {
    // OpenTSDB takes epoch seconds or milliseconds (13 digits); send ms as is.
    const body = gzipSync(JSON.stringify(batch));
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body,
        signal:
          deadline === null
            ? AbortSignal.timeout(this.timeoutMs)
            : AbortSignal.any([AbortSignal.timeout(this.timeoutMs), deadline]),
      });
    } catch (err) {
      if (deadline?.aborted === true)
        throw new MetricsWriteError(`put to ${this.url} ran past its ${this.deadlineMs} ms budget`, [], {
          cause: err,
        });
      throw new MetricsWriteError(`cannot reach ${this.url}`, [], { cause: err });
    }
    const text = await res.text();
    const details = parseDetails(text);
    if (res.status === 400) {
      if (details === null)
        throw new MetricsWriteError(`${this.url} answered 400: ${text.slice(0, 300)}`, [], {
          context: { status: 400 },
        });
      return details.errors.length > 0
        ? details.errors
        : [{ point: null, error: `${details.failed} points failed (no details)` }];
    }
    if (!res.ok)
      throw new MetricsWriteError(`${this.url} answered ${res.status}: ${text.slice(0, 300)}`, [], {
        context: { status: res.status },
      });
    // Some TSDs answer 200 (not 204) with details; failures there count too.
    if (details !== null && details.failed > 0)
      return details.errors.length > 0
        ? details.errors
        : [{ point: null, error: `${details.failed} points failed` }];
    return [];
  }
}

function parseDetails(text: string): { failed: number; errors: FailedPoint[] } | null {
  if (text.trim() === '') return null;
  try {
    const json = JSON.parse(text) as { failed?: unknown; errors?: unknown };
    const failed = typeof json.failed === 'number' ? json.failed : 0;
    const errors = Array.isArray(json.errors)
      ? json.errors.map((e: { datapoint?: unknown; error?: unknown }) => ({
          point: e?.datapoint ?? null,
          error: String(e?.error ?? 'unknown error'),
        }))
      : [];
    return { failed, errors };
  } catch {
    return null;
  }
}
