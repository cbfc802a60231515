/**
 * The metrics-query settings every reader of usage shares (the control tick today), composed
 * into its strict env schema, and the MetricsSource built from them. docs/configuration.md's
 * table is generated from these descriptions (`npm run docs`).
 */
import { z } from 'zod';
import type { MetricsSource } from '../../core/ports/metrics-source.ts';
import type { Logger } from '../logger.ts';
import { OpenTsdbMetricsSource, TSD_BODY_LIMIT } from './opentsdb.ts';
import { PrometheusMetricsSource } from './prometheus.ts';

export const MetricsQueryEnv = z.object({
  SC_METRICS_BATCH_SIZE: z.coerce
    .number()
    .int()
    .min(1)
    .max(5000)
    .default(250)
    .describe(
      'Structures asked for in one metrics query, at most (Prometheus: one regex per metric; OpenTSDB: one literal_or per sub-query, also bounded by SC_METRICS_MAX_BODY_BYTES).',
    ),
  SC_METRICS_MAX_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(TSD_BODY_LIMIT)
    .default(8000)
    .describe(
      "OpenTSDB: request body bytes as sent, at most (the TSD answers a longer body with a 400 HTML page, 'Chunked request not supported'); bodies are gzip-compressed when that fits more names.",
    ),
  SC_METRICS_TIMEOUT_MS: z.coerce
    .number()
    .int()
    .min(100)
    .max(30000)
    .default(3000)
    .describe(
      'Timeout of one metrics request, ms; never longer than the time the tick has left. A timed-out request is not retried; a refused connection or a 5xx is retried once if time is left.',
    ),
  SC_METRICS_UNKNOWN_TTL_S: z.coerce
    .number()
    .int()
    .min(0)
    .max(3600)
    .default(60)
    .describe(
      'OpenTSDB: a container name (or metric) the TSD does not know is not asked for again for this long, s — a container that starts reporting waits at most this long for its first usage.',
    ),
});
export type MetricsQueryEnv = z.infer<typeof MetricsQueryEnv>;

export function metricsSourceFromEnv(
  env: MetricsQueryEnv & { SC_METRICS_BACKEND: 'opentsdb' | 'prometheus'; SC_METRICS_URL: string },
  logger?: Logger,
): MetricsSource {
  const common = {
    url: env.SC_METRICS_URL,
    batchSize: env.SC_METRICS_BATCH_SIZE,
    timeoutMs: env.SC_METRICS_TIMEOUT_MS,
  };
  return env.SC_METRICS_BACKEND === 'opentsdb'
    ? new OpenTsdbMetricsSource({
        ...common,
        maxBodyBytes: env.SC_METRICS_MAX_BODY_BYTES,
        unknownTtlMs: env.SC_METRICS_UNKNOWN_TTL_S * 1000,
        ...(logger === undefined ? {} : { logger }),
      })
    : new PrometheusMetricsSource(common);
}
