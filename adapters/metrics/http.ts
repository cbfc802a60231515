/**
 * One bounded HTTP exchange with a metrics backend. Every attempt's timeout is
 * the smaller of the configured one and the time the caller has left; the
 * caller's AbortSignal cancels it. At most one retry, only after a failed
 * connection or a 5xx, and only while time is left — never after a timeout:
 * OpenTSDB 2.x keeps working on a query whose client has gone (nothing in
 * its HTTP pipeline cancels one), so a retry would only double the load on a
 * slow TSD. 4xx answers go back to the caller, who decides what they mean.
 */

export interface HttpAnswer {
  status: number;
  contentType: string;
  body: string;
}

export interface HttpOptions {
  timeoutMs: number;
  /** 0 or 1 (more is refused: a tick has no time for a third copy). */
  retries: number;
  fetch?: typeof fetch;
}

/** How much time one call may use: a monotonic deadline (performance.now() ms) and a signal. */
export interface CallBudget {
  deadline: number;
  signal?: AbortSignal;
}

/** Below this many ms left, no request is started (it could not be answered in time). */
export const MIN_ATTEMPT_MS = 50;

export type MetricsFailure = 'timeout' | 'network' | 'server' | 'aborted' | 'no-time';

export class MetricsHttpError extends Error {
  override name = 'MetricsHttpError';
  readonly failure: MetricsFailure;
  readonly status: number | null;
  constructor(
    message: string,
    failure: MetricsFailure,
    status: number | null = null,
    opts?: { cause?: unknown },
  ) {
    super(message, opts);
    this.failure = failure;
    this.status = status;
  }
}

export function budgetFrom(opts: { signal?: AbortSignal; timeLeftMs?: number } | undefined): CallBudget {
  const left = opts?.timeLeftMs ?? Number.POSITIVE_INFINITY;
  return {
    deadline: performance.now() + Math.max(0, left),
    ...(opts?.signal === undefined ? {} : { signal: opts.signal }),
  };
}

export function timeLeft(budget: CallBudget): number {
  return budget.deadline - performance.now();
}

async function attempt(
  url: string,
  init: { body: string | Uint8Array; headers: Record<string, string> },
  opts: HttpOptions,
  budget: CallBudget,
): Promise<HttpAnswer> {
  if (budget.signal?.aborted) throw new MetricsHttpError(`POST ${url}: aborted`, 'aborted');
  const left = timeLeft(budget);
  if (left < MIN_ATTEMPT_MS)
    throw new MetricsHttpError(`POST ${url}: not sent, ${Math.max(0, Math.round(left))} ms left`, 'no-time');
  const timeoutMs = Math.min(opts.timeoutMs, left);
  const timeout = AbortSignal.timeout(Math.max(1, Math.floor(timeoutMs)));
  const signal = budget.signal === undefined ? timeout : AbortSignal.any([timeout, budget.signal]);
  let res: Response;
  let body: string;
  try {
    res = await (opts.fetch ?? fetch)(url, {
      method: 'POST',
      headers: init.headers,
      body: init.body,
      signal,
    });
    body = await res.text();
  } catch (err) {
    if (budget.signal?.aborted)
      throw new MetricsHttpError(`POST ${url}: aborted`, 'aborted', null, { cause: err });
    if (timeout.aborted)
      throw new MetricsHttpError(`POST ${url}: no answer in ${Math.round(timeoutMs)} ms`, 'timeout', null, {
        cause: err,
      });
    const cause = (err as Error & { cause?: { code?: string } }).cause?.code;
    throw new MetricsHttpError(
      `POST ${url} failed: ${(err as Error).message}${cause ? ` (${cause})` : ''}`,
      'network',
      null,
      { cause: err },
    );
  }
  if (res.status >= 500)
    throw new MetricsHttpError(`POST ${url}: HTTP ${res.status} ${reasonOf(body)}`, 'server', res.status);
  return { status: res.status, contentType: res.headers.get('content-type') ?? '', body };
}

export async function postWithRetry(
  url: string,
  init: { body: string | Uint8Array; headers: Record<string, string> },
  opts: HttpOptions,
  budget: CallBudget = { deadline: Number.POSITIVE_INFINITY },
  counter?: { requests: number; bytes: number },
): Promise<HttpAnswer> {
  const retries = Math.min(1, Math.max(0, opts.retries));
  for (let i = 0; ; i++) {
    const size = typeof init.body === 'string' ? Buffer.byteLength(init.body) : init.body.byteLength;
    try {
      if (timeLeft(budget) >= MIN_ATTEMPT_MS && !budget.signal?.aborted && counter) {
        counter.requests += 1;
        counter.bytes += size;
      }
      return await attempt(url, init, opts, budget);
    } catch (err) {
      const e = err as MetricsHttpError;
      const again =
        i < retries &&
        (e.failure === 'network' || e.failure === 'server') &&
        timeLeft(budget) >= MIN_ATTEMPT_MS;
      if (!again) throw err;
      // A short pause, never past the deadline.
      await new Promise((r) => setTimeout(r, Math.min(50, Math.max(0, timeLeft(budget) - MIN_ATTEMPT_MS))));
    }
  }
}

/**
 * The reason a backend gave, readable: OpenTSDB's JSON `error.message`, the reason inside its
 * HTML error page (src/tsd/HttpQuery.java makePage: "The reason provided was:<blockquote>…"),
 * else the text without markup, cut to 300 characters.
 */
export function reasonOf(body: string): string {
  try {
    const j = JSON.parse(body) as { error?: { message?: unknown } | string };
    if (typeof j.error === 'object' && typeof j.error?.message === 'string') return j.error.message;
    if (typeof j.error === 'string') return j.error;
  } catch {
    // not JSON
  }
  const html = /The reason provided was:<blockquote>([\s\S]*?)<\/blockquote>/.exec(body);
  if (html?.[1] !== undefined) return html[1].trim();
  return body
    .replace(/<[^>]*>/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 300);
}
