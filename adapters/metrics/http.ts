/**
 * One bounded HTTP exchange with a metrics backend: a timeout per attempt,
 * a few retries with backoff on network errors and 5xx, none on 4xx (the
 * caller decides what a 4xx means).
 */
import pRetry, { AbortError } from 'p-retry';

export interface HttpAnswer {
  status: number;
  body: string;
}

export interface HttpOptions {
  timeoutMs: number;
  retries: number;
  fetch?: typeof fetch;
}

export class MetricsHttpError extends Error {
  override name = 'MetricsHttpError';
}

export async function postWithRetry(
  url: string,
  init: { body: string; contentType: string },
  opts: HttpOptions,
): Promise<HttpAnswer> {
  const doFetch = opts.fetch ?? fetch;
  return pRetry(
    async () => {
      let res: Response;
      try {
        res = await doFetch(url, {
          method: 'POST',
          headers: { 'content-type': init.contentType },
          body: init.body,
          signal: AbortSignal.timeout(opts.timeoutMs),
        });
      } catch (err) {
        throw new MetricsHttpError(`POST ${url} failed: ${(err as Error).message}`, { cause: err });
      }
      const body = await res.text();
      if (res.status >= 500)
        throw new MetricsHttpError(`POST ${url}: HTTP ${res.status} ${body.slice(0, 200)}`);
      return { status: res.status, body };
    },
    {
      retries: opts.retries,
      minTimeout: 50,
      maxTimeout: 500,
      shouldRetry: ({ error }) => !(error instanceof AbortError),
    },
  );
}
