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
  SC_METRICS_IDLE_EVIDENCE: z
    .enum(['true', 'false'])
    .default('false')
    .transform((v) => v === 'true')
    .describe(
      "Settle absent usage with the host agents' `sc.agent.cpu` series: a container with no BDWatchdog points whose agent saw it running at ≤ 1 share reads 0 (idle: scaled down); without that series it stays null (held). Turn on where BDWatchdog sends the usage and the agents publish with SC_AGENT_PUBLISH_USAGE=false.",
    ),
});
export type MetricsQueryEnv = z.infer<typeof MetricsQueryEnv>;

/** How a tick reads usage from OpenTSDB, for docs/configuration.md (rendered under the control tick's table). */
export const METRICS_READS_DOC = [
  "**Reading BDWatchdog's OpenTSDB** (`SC_METRICS_BACKEND=opentsdb`). A tick asks for every guarded container in",
  'batches: one `/api/query` per batch, a sub-query per metric, the names as one literal_or (`host: "a|b|c"`).',
  'OpenTSDB 2.4 refuses a request body over 8,192 bytes as sent with a 400 HTML page, the whole batch without',
  'data; a batch therefore holds as many names as fit in `SC_METRICS_MAX_BODY_BYTES` (gzip-compressed when that',
  'fits more; the TSD inflates a body after its size check), at most `SC_METRICS_BATCH_SIZE`, and a refused batch',
  'is halved. A request gives up after `SC_METRICS_TIMEOUT_MS` or when the tick is out of time (its next tick, or',
  "the invocation's deadline less `SC_TICK_RESERVE_MS`), whichever is first. A timed-out request is never retried",
  '(OpenTSDB keeps working on a query whose client left); a refused connection or a 5xx is retried once if time is',
  'left; after a timeout or a refused connection the tick asks the TSD nothing more and logs',
  "`metrics: TSD not answering (outage)`. A container the TSD never heard of (400 `No such name for 'tagv'`)",
  'is dropped from its batch and not asked for again for `SC_METRICS_UNKNOWN_TTL_S` (logged as',
  '`metrics: names unknown to the TSD`); names not yet seen in an answer are batched apart, so one of them cannot',
  'blind the others; a TSD that never saw the tag key costs one query a tick. The window [now − `WINDOW_DELAY` −',
  '`WINDOW_TIMELAPSE`, now − `WINDOW_DELAY`) is read in downsample buckets that tile it (5 s when both ends are',
  'multiples of 5 s, else 1 s), ending 1 ms before its end: OpenTSDB rounds a start up to a bucket and keeps a',
  'bucket whose start is ≤ the end, so a 5 s bucket asked over [now − 7, now − 2] would read [now − 5, now).',
].join('\n');

export function metricsSourceFromEnv(
  env: MetricsQueryEnv & { SC_METRICS_BACKEND: 'opentsdb' | 'prometheus'; SC_METRICS_URL: string },
  logger?: Logger,
): MetricsSource {
  const common = {
    url: env.SC_METRICS_URL,
    batchSize: env.SC_METRICS_BATCH_SIZE,
    timeoutMs: env.SC_METRICS_TIMEOUT_MS,
    idleEvidence: env.SC_METRICS_IDLE_EVIDENCE,
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
